"""Generated corpora for the tokenizer, shard and reader tests (no shared data needed)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "the", "and", "ing", "ion", "er", "st"]
UNICODE_LINES = [
    "Emoji and families: 👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽 — done.",
    "Zero-width: a\u200bb\u200cc\u200dd\ufeffe, soft\u00adhyphen.",
    "Bidi marks: \u202eevil\u202c \u2067isolate\u2069 \u200fRLM\u200e LRM.",
    "Mixed scripts: naïve café, Ελληνικά, русский, 日本語のテキスト, العربية, हिन्दी.",
]

ZIPF_CUM_WEIGHTS = list(itertools.accumulate(1 / (k + 1) for k in range(400)))


def make_text(rng: random.Random, words: int) -> str:
    vocab = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(400)]
    out = []
    for i, word in enumerate(rng.choices(vocab, cum_weights=ZIPF_CUM_WEIGHTS, k=words)):
        out.append(word.capitalize() if i == 0 or out[-1].endswith(".") else word)
        if rng.random() < 0.08:
            out[-1] += "."
        if rng.random() < 0.02:
            out.append("\n\n")
    text = " ".join(out)
    if rng.random() < 0.2:
        text += "\n" + rng.choice(UNICODE_LINES)
    return text


def make_kept_parts(folder: Path, docs: int = 300, parts: int = 2, seed: int = 0, words: tuple[int, int] = (20, 400)) -> list[Path]:
    """`parts` kept-part parquet files (doc_id, text), like DIR/work/kept/ after dedup."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    per_part = (docs + parts - 1) // parts
    for p in range(parts):
        ids = [f"doc-{seed}-{p * per_part + i:06d}" for i in range(per_part) if p * per_part + i < docs]
        texts = [make_text(rng, rng.randint(*words)) for _ in ids]
        path = folder / f"part-{p:05d}.parquet"
        pq.write_table(pa.table({"doc_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())}), path)
        paths.append(path)
    return paths


def read_kept(parts: list[Path]) -> dict[str, str]:
    out = {}
    for part in parts:
        table = pq.read_table(part)
        out.update(zip(table.column("doc_id").to_pylist(), table.column("text").to_pylist()))
    return out
