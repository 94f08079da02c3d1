"""Inbox drops for the service tests: small generated JSONL files, with planted copies across drops."""

from __future__ import annotations

import json
import random
from pathlib import Path

from corpus import english_doc

TINY_SERVICE = {
    "ingest": {"workers": 1},
    "dedup": {"workers": 1},
    "tokenizer": {"vocab_size": 400},
    "shards": {"seq_len": 32, "val_fraction": 0.2, "rows_per_shard": 64, "workers": 1},
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 32},
    "train": {"max_steps": 6, "batch_size": 4, "eval_interval": 3, "eval_batches": 2, "log_interval": 3,
              "checkpoint_interval": 6, "warmup_steps": 1, "device": "cpu", "dtype": "float32"},
}


def documents(prefix: str, n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{"id": f"{prefix}-{i:03d}", "text": english_doc(rng)} for i in range(n)]


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # hidden while written: discovery skips dot files
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp.replace(path)
    return path


def three_drops(inbox: Path) -> list[list[str]]:
    """Drop functions' content: each drop is a new file; drops 2 and 3 repeat documents of earlier drops.
    Returns, per drop, the ids that are copies of an earlier drop's documents."""
    first, second, third = documents("a", 12, 1), documents("b", 10, 2), documents("c", 8, 3)
    drops = [
        ("drop1.jsonl", first, []),
        ("drop2.jsonl", second + [{"id": "b-copy-a3", "text": first[3]["text"]},
                                  {"id": "b-near-a5", "text": first[5]["text"].replace("The ", "A ", 1) + " The end."}],
         ["b-copy-a3", "b-near-a5"]),
        ("drop3.jsonl", third + [{"id": "c-copy-b2", "text": second[2]["text"]}], ["c-copy-b2"]),
    ]
    return [(inbox / name, records, copies) for name, records, copies in drops]
