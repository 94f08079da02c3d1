"""End to end: raw files (good and broken) → build folder → train 20 steps → eval."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.build import BuildError, build
from pipeline.config import parse_config
from corpus import make_corpus

TINY = {
    "ingest": {"workers": 2},
    "tokenizer": {"vocab_size": 512},
    "shards": {"seq_len": 32, "val_fraction": 0.2, "rows_per_shard": 64},
    "model": {"n_layer": 2, "n_head": 2, "n_embd": 32},
    "train": {"max_steps": 20, "batch_size": 4, "eval_interval": 10, "eval_batches": 2, "log_interval": 5,
              "checkpoint_interval": 10, "warmup_steps": 2},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, make_corpus(root)


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    root, _ = corpus
    out = tmp_path_factory.mktemp("build")
    results = build([str(root)], out, parse_config(TINY))
    return out, results


def read_ledger(out):
    return pq.read_table(out / "ledger.parquet").to_pylist()


def test_ledger_has_one_row_per_input_document(built, corpus):
    out, _ = built
    _, counts = corpus
    rows = read_ledger(out)
    by_source = {}
    for row in rows:
        by_source[row["source"]] = by_source.get(row["source"], 0) + 1
    for source, expected in counts.items():
        if expected > 0:
            assert by_source[source] == expected, source
    assert len({(r["source"], r["doc_id"]) for r in rows}) == len(rows)


def test_broken_inputs_end_in_the_ledger_or_report_while_good_documents_come_through(built):
    out, _ = built
    rows = {r["doc_id"]: r for r in read_ledger(out)}
    assert rows["fine-1"]["kept"]
    assert rows["broken.jsonl:2"]["drop_reason"] == "invalid:json"
    assert rows["broken.jsonl:3"]["drop_reason"] == "invalid:utf8"
    assert rows["latin1.txt"]["encoding"] is not None  # transcoded, not quarantined
    assert rows["latin1.txt"]["first_line"] == "Caf\u00e9 au lait, d\u00e9j\u00e0 vu."
    truncated = [r for r in rows.values() if r["source"] == "truncated.jsonl.gz"]
    assert truncated[-1]["drop_reason"] == "invalid:truncated_archive"
    assert any(r["kept"] for r in truncated[:-1])
    report = json.loads((out / "report.json").read_text())
    assert "notes.pdf" in json.dumps(report)
    assert (out / "report.html").stat().st_size > 1000


def test_filters_and_dedup_reasons(built):
    out, _ = built
    rows = {r["doc_id"]: r for r in read_ledger(out)}
    assert rows["copy-of-003"]["drop_reason"] == "exact_duplicate"
    assert rows["copy-of-003"]["duplicate_of"] == "doc-003"
    assert rows["near-005"]["drop_reason"] == "near_duplicate"
    assert rows["near-005"]["duplicate_of"] == "doc-005"
    assert rows["too-short"]["drop_reason"].startswith("quality:")
    assert rows["german-1"]["language"] == "de"
    assert rows["doc-000"]["language"] == "en" and rows["doc-000"]["toxicity_score"] is not None


def test_documents_kept_are_exactly_those_in_the_shards(built):
    out, _ = built
    from tokenizers import Tokenizer

    manifest = json.loads((out / "manifest.json").read_text())
    kept = [r for r in read_ledger(out) if r["kept"]]
    kept_text = {}
    for part in sorted((out / "work" / "kept").glob("*.parquet")):
        kept_text.update(zip(*pq.read_table(part).to_pydict().values()))
    assert set(kept_text) == {r["doc_id"] for r in kept}
    tokenizer = Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json"))
    expected = {split: sum(len(tokenizer.encode(kept_text[r["doc_id"]]).ids) + 1 for r in kept if r["split"] == split)
                for split in ("train", "val")}
    for split in ("train", "val"):
        shard_tokens = sum(s["tokens"] for s in manifest["shards"] if s["split"] == split)
        rows = sum(s["rows"] for s in manifest["shards"] if s["split"] == split)
        assert rows > 0
        # Each row of seq_len + 1 ids overlaps nothing; at most one partial row per shard is the remainder.
        assert expected[split] - len([s for s in manifest["shards"] if s["split"] == split]) * 33 <= shard_tokens
        assert shard_tokens <= expected[split]
        for shard in manifest["shards"]:
            table = pa.ipc.open_stream(out / shard["path"]).read_all()
            ids = np.concatenate(table.column("input_ids").to_numpy(zero_copy_only=False))
            assert ids.max() < manifest["tokenizer"]["vocab_size"]


def test_second_build_is_byte_identical(built, corpus, tmp_path):
    out, _ = built
    root, _ = corpus
    again = tmp_path / "again"
    build([str(root)], again, parse_config(TINY | {"ingest": {"workers": 1}}))
    assert (again / "tokenizer" / "tokenizer.json").read_bytes() == (out / "tokenizer" / "tokenizer.json").read_bytes()
    first = sorted(p.relative_to(out) for p in (out / "shards").glob("*.arrow"))
    assert first == sorted(p.relative_to(again) for p in (again / "shards").glob("*.arrow"))
    for rel in first:
        assert (again / rel).read_bytes() == (out / rel).read_bytes(), rel


def test_rebuilding_into_a_folder_of_other_inputs_is_refused(built, tmp_path):
    out, _ = built
    (tmp_path / "other.jsonl").write_text('{"id": "x", "text": "another input"}\n')  # readable, so the inputs check passes
    with pytest.raises(BuildError, match="--overwrite"):
        build([str(tmp_path)], out, parse_config(TINY))


def test_train_and_eval_on_the_build(built, tmp_path):
    out, _ = built
    from model.evaluate import evaluate
    from model.train import train

    run = tmp_path / "run"
    train(out, run, parse_config(TINY), progress=False)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(m["step"] for m in metrics) == 20
    result = evaluate(run, out, progress=False)
    for key in ("val_loss", "perplexity", "bits_per_byte", "unigram_perplexity"):
        assert np.isfinite(result[key]) and result[key] > 0
    assert json.loads((run / "eval.json").read_text())["val_loss"] == pytest.approx(result["val_loss"])


def test_large_jsonl_files_annotated_in_pieces_give_the_same_ledger(built, corpus, tmp_path):
    root, _ = corpus
    whole_out, _ = built
    out = tmp_path / "pieces"
    results = build([str(root)], out, parse_config({**TINY, "ingest": {"workers": 2, "split_bytes": 200}}))
    assert results["discover"]["pieces"] > results["discover"]["files"]
    assert read_ledger(out) == read_ledger(whole_out)
    stats = lambda folder: [(f["relative"], f["documents"], f["invalid"], f["survivors"], f["bytes"])  # noqa: E731
                            for f in json.loads((folder / "work" / "stats.json").read_text())["inputs"]]
    assert stats(out) == stats(whole_out)
