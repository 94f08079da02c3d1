"""pipeline/shards.py: packing, splits, provenance, determinism, and readers other than ours."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import jsonschema
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model.data import ShardDataset
from pipeline import encode_pieces, shards
from pipeline.config import Config, ShardsConfig
from pipeline.shard_schema import MANIFEST_SCHEMA, shard_schema_json
from pipeline.shards import split_of, trace_token, write_shards
from pipeline.tokenizer import load_tokenizer, train_tokenizer
from shard_fixtures import make_kept_parts, read_kept


def build(root: Path, parts: list[Path], model: str = "bpe", seq_len: int = 24, rows_per_shard: int = 200) -> dict:
    config = Config()
    config.tokenizer.vocab_size = 700
    config.tokenizer.model = model
    config.shards.seq_len = seq_len
    config.shards.rows_per_shard = rows_per_shard
    config.shards.val_fraction = 0.15
    tokenizer_path = root / "tokenizer" / "tokenizer.json"
    train_tokenizer(parts, config.tokenizer, config.seed, tokenizer_path)
    return write_shards(parts, tokenizer_path, config.shards, config.seed, root, config.sha256())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], dict]:
    root = tmp_path_factory.mktemp("build")
    parts = make_kept_parts(root / "work" / "kept", docs=200, seed=1)
    return root, parts, build(root, parts)


def shard_rows(root: Path, entry: dict) -> np.ndarray:
    with pa.ipc.open_stream(root / entry["path"]) as reader:
        table = reader.read_all()
    return np.stack(table.column("input_ids").to_numpy(zero_copy_only=False))


def test_manifest_describes_the_shards(built: tuple[Path, list[Path], dict]) -> None:
    root, _, manifest = built
    on_disk = json.loads((root / "manifest.json").read_text())
    assert on_disk == {k: v for k, v in manifest.items() if k != "timing"}
    assert manifest["dtype"] == "uint16" and manifest["row_len"] == 25
    assert sorted(p.name for p in (root / "shards").glob("*.arrow")) == sorted(Path(s["path"]).name for s in manifest["shards"])
    for entry in manifest["shards"]:
        rows = shard_rows(root, entry)
        assert rows.shape == (entry["rows"], 25) and entry["rows"] <= 200
        assert entry["bytes"] == (root / entry["path"]).stat().st_size
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    assert len(train) >= 2 and [s["index"] for s in train] == list(range(len(train)))
    assert manifest["totals"]["train_rows"] == sum(s["rows"] for s in train)


def test_no_token_is_lost(built: tuple[Path, list[Path], dict]) -> None:
    root, parts, manifest = built
    tokenizer = load_tokenizer(root / "tokenizer" / "tokenizer.json")
    texts = read_kept(parts)
    expected_tokens = sum(len(e.ids) for e in tokenizer.encode_batch(list(texts.values()), add_special_tokens=False))
    splits = manifest["splits"]
    assert sum(s["document_tokens"] for s in splits.values()) == expected_tokens
    assert sum(s["documents"] for s in splits.values()) == len(texts)
    for split, summary in splits.items():
        in_shards = sum(s["tokens"] for s in manifest["shards"] if s["split"] == split)
        assert in_shards == summary["shard_tokens"] == summary["rows"] * 25
        assert summary["document_tokens"] + summary["separator_tokens"] == in_shards + summary["dropped_tail_tokens"]
        assert 0 <= summary["dropped_tail_tokens"] < 25  # at most one partial row per split
        eot_in_shards = sum(int((shard_rows(root, s) == manifest["tokenizer"]["eot_id"]).sum())
                            for s in manifest["shards"] if s["split"] == split)
        assert summary["documents"] - 1 <= eot_in_shards <= summary["documents"]


def test_split_is_by_document(built: tuple[Path, list[Path], dict]) -> None:
    root, parts, manifest = built
    tables = {split: pq.read_table(root / manifest["splits"][split]["docs_table"]["path"]) for split in ("train", "val")}
    ids = {split: set(t.column("doc_id").to_pylist()) for split, t in tables.items()}
    assert not ids["train"] & ids["val"] and ids["train"] | ids["val"] == set(read_kept(parts))
    assert all(split_of(d, 0.15, Config().seed) == split for split, docs in ids.items() for d in docs)
    assert 10 <= len(ids["val"]) <= 60
    # A pure function of the doc_id: a duplicate follows its representative (split_of(duplicate_of)).
    assert split_of("doc-x", 0.5, 1) == split_of("doc-x", 0.5, 1)
    shares = [split_of(f"d{i}", 0.3, 7) == "val" for i in range(5000)]
    assert 0.27 < sum(shares) / 5000 < 0.33
    assert split_of("anything", 0.0, 7) == "train"


def test_provenance_traces_every_sampled_token_to_its_document(built: tuple[Path, list[Path], dict]) -> None:
    root, parts, manifest = built
    tokenizer = load_tokenizer(root / "tokenizer" / "tokenizer.json")
    texts = read_kept(parts)
    encoded = {doc_id: tokenizer.encode(text, add_special_tokens=False).ids for doc_id, text in texts.items()}
    rng = np.random.default_rng(0)
    eot = manifest["tokenizer"]["eot_id"]
    for entry in manifest["shards"]:
        rows = shard_rows(root, entry)
        for row, position in zip(rng.integers(0, len(rows), 40), rng.integers(0, 25, 40)):
            doc_id, offset = trace_token(root, entry["path"], int(row), int(position))
            ids = encoded[doc_id]
            assert rows[row, position] == (ids[offset] if offset < len(ids) else eot)
            assert offset <= len(ids)


def test_shuffle_is_seeded_and_writes_are_deterministic(built: tuple[Path, list[Path], dict], tmp_path: Path) -> None:
    root, parts, manifest = built
    again = build(tmp_path, parts)
    for a, b in zip(manifest["shards"], again["shards"]):
        assert (root / a["path"]).read_bytes() == (tmp_path / b["path"]).read_bytes()
        assert (root / a["provenance"]["path"]).read_bytes() == (tmp_path / b["provenance"]["path"]).read_bytes()
    assert (root / "manifest.json").read_bytes() == (tmp_path / "manifest.json").read_bytes()
    assert not list(tmp_path.glob(".tokenize-*")) and not list(tmp_path.rglob("*.tmp"))
    docs = pq.read_table(root / manifest["splits"]["train"]["docs_table"]["path"])
    first = pq.read_table(root / manifest["shards"][0]["provenance"]["path"])
    first_docs = first.column("doc_index").to_numpy()[first.column("position").to_numpy() == 0][:20]
    assert not np.array_equal(np.unique(first_docs), np.arange(len(np.unique(first_docs)))), \
        "document order should be shuffled, not the kept order"
    assert len(docs) == manifest["splits"]["train"]["documents"]


def test_other_readers_open_a_shard(built: tuple[Path, list[Path], dict]) -> None:
    root, _, manifest = built
    entry = manifest["shards"][0]
    expected = shard_rows(root, entry)
    hf = datasets.Dataset.from_file(str(root / entry["path"]))
    assert len(hf) == entry["rows"] and hf[3]["input_ids"] == expected[3].tolist()
    frame = pl.read_ipc_stream(root / entry["path"])
    assert frame.height == entry["rows"] and frame["input_ids"][5].to_list() == expected[5].tolist()
    with pa.memory_map(str(root / entry["path"])) as source:
        table = pa.ipc.open_stream(source).read_all()
    assert table.schema.field("input_ids").type == pa.list_(pa.uint16(), 25)


def test_wordpiece_tokenizer_builds_and_reads(tmp_path: Path) -> None:
    parts = make_kept_parts(tmp_path / "work" / "kept", docs=80, seed=2)
    manifest = build(tmp_path, parts, model="wordpiece", seq_len=16)
    assert manifest["tokenizer"]["model"] == "wordpiece"
    assert manifest["splits"]["train"]["rows"] > 10
    dataset = ShardDataset(tmp_path, "train")
    assert (dataset.rows(np.arange(len(dataset))) < dataset.vocab_size).all()


def test_stale_shards_of_an_earlier_build_are_removed(tmp_path: Path) -> None:
    parts = make_kept_parts(tmp_path / "work" / "kept", docs=120, seed=4)
    first = build(tmp_path, parts, rows_per_shard=50)
    second = build(tmp_path, parts, rows_per_shard=5000)
    assert len(first["shards"]) > len(second["shards"])
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "shards").glob("*.arrow")) == \
        sorted(s["path"] for s in second["shards"])


def test_parallel_encoding_writes_the_same_shards(built: tuple[Path, list[Path], dict], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root, parts, manifest = built
    monkeypatch.setattr(shards, "PARALLEL_MIN_BYTES", 0)  # start the worker pool even for this small input
    monkeypatch.setattr(encode_pieces, "PIECE_BYTES", 1)  # a piece per row group, so results arrive interleaved
    (tmp_path / "tokenizer").mkdir()
    shutil.copy(root / "tokenizer" / "tokenizer.json", tmp_path / "tokenizer" / "tokenizer.json")
    config = ShardsConfig(seq_len=24, rows_per_shard=200, val_fraction=0.15, workers=2)
    parallel = write_shards(parts, tmp_path / "tokenizer" / "tokenizer.json", config, Config().seed, tmp_path,
                            Config().sha256())
    assert parallel["splits"] == manifest["splits"] and len(parallel["shards"]) == len(manifest["shards"])
    for a, b in zip(manifest["shards"], parallel["shards"]):
        assert (root / a["path"]).read_bytes() == (tmp_path / b["path"]).read_bytes()


def test_manifest_validates_and_schema_files_are_current(built: tuple[Path, list[Path], dict]) -> None:
    root, _, _ = built
    jsonschema.validate(json.loads((root / "manifest.json").read_text()), MANIFEST_SCHEMA)
    schemas = Path(__file__).resolve().parents[1] / "schemas"
    render = lambda data: json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # noqa: E731 (schemas/generate.py's format)
    assert (schemas / "manifest.schema.json").read_text() == render(MANIFEST_SCHEMA)
    assert (schemas / "shard.arrow-schema.json").read_text() == render(shard_schema_json())
    broken = json.loads((root / "manifest.json").read_text())
    broken["shards"][0]["sha256"] = "not-a-hash"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, MANIFEST_SCHEMA)


def test_vocabulary_beyond_uint16_gets_uint32_rows(built: tuple[Path, list[Path], dict], tmp_path: Path) -> None:
    root, parts, _ = built
    tokenizer = load_tokenizer(root / "tokenizer" / "tokenizer.json")
    tokenizer.add_tokens([f"<|extra_{i:05d}|>" for i in range(65536)])
    tokenizer.save(str(tmp_path / "big.json"))
    big = write_shards(parts[:1], tmp_path / "big.json", ShardsConfig(seq_len=24, val_fraction=0.0), 0, tmp_path, "x")
    assert big["dtype"] == "uint32" and big["tokenizer"]["vocab_size"] > 65536
    dataset = ShardDataset(tmp_path, "train")
    assert dataset.dtype == np.uint32
    assert len(dataset) == big["totals"]["train_rows"] > 0
    assert (dataset.rows(np.arange(len(dataset))) < big["tokenizer"]["vocab_size"]).all()
    assert datasets.Dataset.from_file(str(tmp_path / big["shards"][0]["path"])).features["input_ids"].feature.dtype == "uint32"
