"""Evaluation: eval.json, the unigram baseline and bits per byte, computed independently here."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from model.evaluate import evaluate, token_byte_lengths
from model.generate import generate_text
from model.train import train
from model_data import make_data_dir, synthetic_documents
from pipeline.config import Config
from pipeline.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = make_data_dir(root / "data", n_docs=150)
    config = Config.model_validate({"model": {"preset": "tiny"},
                                    "train": {"max_steps": 60, "batch_size": 8, "num_threads": 1, "warmup_steps": 5,
                                              "learning_rate": 1e-2, "min_lr": 1e-3}})
    train(data, root / "run", config, progress=False)
    return data, root / "run"


def read_split(data_dir, split) -> np.ndarray:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    rows = []
    for shard in manifest["shards"]:
        if shard["split"] == split:
            table = pa.ipc.open_stream(pa.memory_map(str(data_dir / shard["path"]))).read_all()
            rows += table.column("input_ids").to_pylist()
    return np.array(rows, dtype=np.int64)


def test_eval_json_and_its_unigram_baseline(run):
    data, run_dir = run
    result = evaluate(run_dir, data, progress=False)
    assert json.loads((run_dir / "eval.json").read_text()) == json.loads(json.dumps(result))
    assert {"val_loss", "perplexity", "bits_per_byte", "unigram_perplexity", "val_tokens", "samples", "step"} <= set(result)

    train_rows, val_rows = read_split(data, "train"), read_split(data, "val")
    vocab = json.loads((data / "manifest.json").read_text())["tokenizer"]["vocab_size"]
    assert result["val_rows"] == len(val_rows)
    targets = val_rows[:, 1:].ravel()
    assert result["val_tokens"] == targets.size  # every validation row, no padding in packed shards
    counts = np.bincount(train_rows.ravel(), minlength=vocab)
    log_p = np.log((counts + 1) / (counts.sum() + vocab))
    assert result["unigram_perplexity"] == pytest.approx(math.exp(-log_p[targets].mean()), rel=1e-9)

    lengths = token_byte_lengths(load_tokenizer(run_dir / "tokenizer.json"))
    n_bytes = int(lengths[targets].sum())
    assert result["val_bytes"] == n_bytes
    assert result["bits_per_byte"] == pytest.approx(result["val_loss"] * targets.size / math.log(2) / n_bytes)
    assert result["perplexity"] == pytest.approx(math.exp(result["val_loss"]))
    # 60 steps of a tiny model already beat a context-free model on these sentences
    assert result["perplexity"] < result["unigram_perplexity"]
    assert len(result["samples"]) == 3 and all(s["completion"] for s in result["samples"])


def test_byte_lengths_add_up_to_the_utf8_text(run):
    _, run_dir = run
    tokenizer = load_tokenizer(run_dir / "tokenizer.json")
    lengths = token_byte_lengths(tokenizer)
    for text in [synthetic_documents(1, seed=5)[0][1], "naïve café — 東京 🙂 over the water"]:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert lengths[ids].sum() == len(text.encode("utf-8"))
    assert lengths[tokenizer.token_to_id("<|endoftext|>")] == 0


def test_generate_text_is_seeded_and_starts_with_the_prompt(run):
    _, run_dir = run
    first = generate_text(run_dir, "The miller", max_new_tokens=20, seed=1)
    assert first.startswith("The miller") and len(first) > len("The miller")
    assert generate_text(run_dir, "The miller", max_new_tokens=20, seed=1) == first
    assert generate_text(run_dir, "", max_new_tokens=10, temperature=0.0)  # empty prompt: starts a document
