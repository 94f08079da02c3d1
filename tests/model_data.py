"""A small build folder for the model tests: synthetic documents → tokenizer → shards (the real writers)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import ShardsConfig, TokenizerConfig
from pipeline.shards import write_shards
from pipeline.tokenizer import train_tokenizer

SUBJECTS = ["the miller", "a baker", "the river", "my neighbour", "the old mill", "every farmer", "the wind"]
VERBS = ["grinds", "carries", "watches", "turns", "sells", "remembers", "follows"]
OBJECTS = ["the grain", "fresh bread", "the wheel", "a sack of flour", "the stones", "the morning light"]
ENDINGS = [".", " every day.", " before dawn.", " with great care.", " near the water."]


def synthetic_documents(n_docs: int, seed: int = 0) -> list[tuple[str, str]]:
    """(doc_id, text) pairs of simple, learnable sentences."""
    rng = random.Random(seed)
    docs = []
    for i in range(n_docs):
        sentences = [
            f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
            for _ in range(rng.randint(3, 8))
        ]
        docs.append((f"doc-{i:05d}", " ".join(sentences)))
    return docs


def make_data_dir(root: Path, n_docs: int = 300, seq_len: int = 32, vocab_size: int = 320,
                  val_fraction: float = 0.2, seed: int = 0, mask_token: bool = False) -> Path:
    """root/manifest.json + root/shards/*.arrow + root/tokenizer/tokenizer.json."""
    docs = synthetic_documents(n_docs, seed)
    kept = root / "work" / "kept" / "part-00000.parquet"
    kept.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"doc_id": [d for d, _ in docs], "text": [t for _, t in docs]}), kept)
    tokenizer = root / "tokenizer" / "tokenizer.json"
    train_tokenizer([kept], TokenizerConfig(vocab_size=vocab_size, min_frequency=1, mask_token=mask_token), seed, tokenizer,
                    val_fraction=val_fraction)
    write_shards([kept], tokenizer, ShardsConfig(seq_len=seq_len, val_fraction=val_fraction, rows_per_shard=100),
                 seed, root, config_sha256="test")
    return root
