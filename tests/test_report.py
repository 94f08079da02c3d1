"""The report reads a build folder by its file contracts only: the fixture below writes one by hand."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.ledger_schema import LEDGER_SCHEMA
from pipeline.report import build_report, report_markdown

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["data/news.jsonl", "data/forum.jsonl.gz", "data/books.txt", "data/web.parquet"]
HOSTILE = [
    "<script>alert('pwned')</script>",
    "</td></table><img src=x onerror=alert(1)>",
    "\u202eevil right-to-left override",
    'quote " and \x00 nul \x1b escape & ampersand',
]
REASONS = {  # drop reason → rows of it in the fixture
    "invalid:json": 9, "invalid:utf8": 4, "empty": 11,
    "quality:gopher_quality:gopher_short_doc": 30, "quality:gopher_repetition:top_2_gram": 14,
    "quality:c4:lorem_ipsum": 3, "quality:fineweb:line_punct_ratio": 12,
    "language": 21, "toxicity": 8, "pii": 6, "exact_duplicate": 25, "near_duplicate": 17,
}
KEPT = 240


def _row(rng: random.Random, i: int, reason: str | None) -> dict:
    before_clean = reason is not None and reason.startswith(("invalid", "empty"))
    language = None if before_clean else rng.choice(["en"] * 8 + ["de", "fr"])
    if reason == "language":
        language = rng.choice(["de", "fr", "zh-cn", "ja", "ru"])
    pii = [0, 0, 0] if before_clean else [rng.choice([0] * 9 + [1]), rng.choice([0] * 19 + [2]), 0]
    if reason == "pii":
        pii = [rng.randint(1, 3), 0, rng.randint(1, 2)]
    first_line = HOSTILE[i % len(HOSTILE)] if i % 37 == 0 else f"Line one of document {i} about topic {rng.randint(1, 50)}"
    return {
        "doc_id": f"{SOURCES[i % 4]}:{i}" if i % 53 else f"<b>id-{i}</b>",
        "source": SOURCES[i % 4],
        "kept": reason is None,
        "drop_reason": reason,
        "language": language,
        "language_score": None if before_clean else round(rng.uniform(0.3, 1.0), 4),
        "toxicity_score": None if before_clean else round(
            rng.uniform(0.85, 1.0) if reason == "toxicity" else rng.betavariate(1, 12), 4),
        "flagged_word_ratio": None if before_clean else round(rng.uniform(0, 0.02), 4),
        "pii_email": None if before_clean else pii[0],
        "pii_ip": None if before_clean else pii[1],
        "pii_phone": None if before_clean else pii[2],
        "duplicate_of": None,
        "first_line": first_line,
        "duplicate_of_build": None,
        "n_chars": 0 if reason == "empty" else int(rng.lognormvariate(7, 1.2)),
        "split": None if reason else ("val" if rng.random() < 0.1 else "train"),
    }


def make_build(root: Path, seed: int = 0) -> tuple[Path, list[dict]]:
    """A build folder as `gristmill build` leaves it: ledger, manifest, stats, dedup index, config."""
    rng = random.Random(seed)
    reasons = [None] * KEPT + [r for r, n in REASONS.items() for _ in range(n)]
    rng.shuffle(reasons)
    rows = [_row(rng, i, r) for i, r in enumerate(reasons)]
    kept_ids = [r["doc_id"] for r in rows if r["kept"]]
    clusters: list[dict] = []
    for n, row in enumerate(r for r in rows if r["drop_reason"] in ("exact_duplicate", "near_duplicate")):
        original = kept_ids[n % 7]  # a few originals with several copies: clusters of different sizes
        row["duplicate_of"] = original
        row["duplicate_of_build"] = "build-2024-01" if n % 10 == 0 else None
        clusters.append({"cluster_id": n % 7, "doc_id": row["doc_id"], "kept": False, "first_line": row["first_line"]})
    by_id = {r["doc_id"]: r for r in rows}
    clusters += [{"cluster_id": c, "doc_id": kept_ids[c], "kept": True, "first_line": by_id[kept_ids[c]]["first_line"]}
                 for c in range(7)]
    clusters.append({"cluster_id": 99, "doc_id": kept_ids[20], "kept": True, "first_line": "a singleton"})
    clusters.append({"cluster_id": 3, "doc_id": "old.jsonl:7", "kept": False, "first_line": "from before",
                     "build": "build-2024-01"})  # a member of an earlier build

    build = root / "build"
    (build / "work").mkdir(parents=True)
    (build / "dedup").mkdir()
    pq.write_table(pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA), build / "ledger.parquet")
    clusters_schema = pa.schema([("cluster_id", pa.int64()), ("doc_id", pa.string()), ("kept", pa.bool_()),
                                 ("first_line", pa.string()), ("build", pa.string())])
    pq.write_table(pa.Table.from_pylist(clusters, schema=clusters_schema), build / "dedup" / "clusters.parquet")
    dedup_stats = {"documents": 400, "candidates": 282, "exact_duplicates": 25, "near_duplicates": 17,
                   "cluster_size_histogram": {"1": 1, "5-8": 7}, "near": {"threshold": 0.8, "candidate_pairs": 91},
                   "against": [{"build": "build-2024-01", "documents": 1000}]}
    (build / "dedup" / "stats.json").write_text(json.dumps(dedup_stats))
    val = sum(r["split"] == "val" for r in rows)
    manifest = {
        "schema_version": 1, "seq_len": 256, "dtype": "uint16", "config_sha256": "ab" * 32,
        "shards": [{"path": "shards/train-00000.arrow", "split": "train", "rows": 900, "tokens": 231300,
                    "sha256": "0" * 64, "bytes": 470000},
                   {"path": "shards/val-00000.arrow", "split": "val", "rows": 40, "tokens": 10280,
                    "sha256": "1" * 64, "bytes": 21000}],
        "tokenizer": {"path": "tokenizer/tokenizer.json", "sha256": "2" * 64, "vocab_size": 8192, "eot_id": 0,
                      "pad_id": 1, "model": "bpe"},
        "totals": {"train_rows": 900, "val_rows": 40, "train_tokens": 231300, "val_tokens": 10280, "documents": KEPT},
    }
    (build / "manifest.json").write_text(json.dumps(manifest))
    stats = {  # the shape pipeline/build.py writes; the report must not need any of it
        "inputs": [{"path": f"/home/someone/{s}", "relative": s, "format": s.split(".")[1], "bytes": 10_000 * (i + 1),
                    "documents": sum(r["source"] == s for r in rows), "invalid": 3, "survivors": 80, "seconds": 0.5}
                   for i, s in enumerate(SOURCES)],
        "unreadable": [{"path": "data/broken.json.gz", "reason": "truncated gzip <stream>"}],
        "stages": {"discover": {"files": 4, "seconds": 1.25}, "annotate": {"documents": 400, "seconds": 12.5},
                   "dedup": {"seconds": 3.0}, "ledger": {"kept": KEPT, "reasons": {"empty": 11}, "seconds": 0.75},
                   "tokenizer": {"seconds": 4.0}, "shards": {"seconds": 2.0}},
        "tokenizer": {"model": "bpe", "docs_seen": KEPT, "bytes_seen": 1_234_567, "vocab_size": 8192, "seconds": 4.0,
                      "report": {"bytes_per_token": 4.21, "tokens_per_word": 1.31, "vocab_used_share": 0.83,
                                 "longest_tokens": [{"token": " <script>alert(1)</script>", "id": 8000, "bytes": 26},
                                                    {"token": " internationalisation", "id": 7001, "bytes": 21}],
                                 "stability": {"second_sample_seed": 1338, "vocab_overlap": 0.91}}},
    }
    (build / "work" / "stats.json").write_text(json.dumps(stats))
    (build / "config.yaml").write_text("seed: 1337\nlanguage:\n  allowed: [en, de, fr]\n  min_score: 0.65\n"
                                       "toxicity:\n  threshold: 0.8\npii:\n  mode: redact\n")
    assert val > 0
    return build, rows


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[dict], dict]:
    build, rows = make_build(tmp_path_factory.mktemp("report"))
    return build, rows, build_report(build)


def _validate(report: dict) -> None:
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)


def test_counts_match_the_ledger(built):
    build, rows, report = built
    s = report["summary"]
    assert s["documents_in"] == len(rows) == s["documents_kept"] + s["documents_dropped"]
    assert s["documents_kept"] == KEPT
    assert {r["reason"]: r["documents"] for r in report["drop_reasons"]} == REASONS
    funnel = {step["stage"]: step for step in report["funnel"]}
    assert funnel["input"]["remaining"] == len(rows)
    assert funnel["kept"]["remaining"] == KEPT
    assert funnel["quality"]["dropped"] == sum(n for r, n in REASONS.items() if r.startswith("quality"))
    assert funnel["ingest"]["dropped"] == 13 and funnel["exact_dedup"]["dropped"] == 25
    assert "other" not in funnel
    for before, after in zip(report["funnel"], report["funnel"][1:]):
        assert after["remaining"] == before["remaining"] - after["dropped"]
    # every example really has the reason it is listed under
    by_id = {r["doc_id"]: r for r in rows}
    for reason in report["drop_reasons"]:
        assert 1 <= len(reason["examples"]) <= 5
        assert all(by_id[e["doc_id"]]["drop_reason"] == reason["reason"] for e in reason["examples"])
    assert json.loads((build / "report.json").read_text()) == report


def test_distributions_and_sections(built):
    _, rows, report = built
    languages = Counter(r["language"] or "unknown" for r in rows)
    assert {lang["language"]: lang["documents"] for lang in report["languages"]} == languages
    assert sum(lang["kept"] for lang in report["languages"]) == KEPT
    assert sum(report["lengths"]["histogram"]["all"]) == len(rows)
    assert sum(report["lengths"]["histogram"]["kept"]) == KEPT
    scored = sum(r["toxicity_score"] is not None for r in rows)
    assert sum(report["toxicity_score"]["histogram"]["all"]) == report["toxicity_score"]["documents_scored"] == scored
    assert report["pii"]["email"] == sum(r["pii_email"] or 0 for r in rows)
    assert report["pii"]["total"] == sum((r["pii_email"] or 0) + (r["pii_ip"] or 0) + (r["pii_phone"] or 0) for r in rows)
    d = report["duplicates"]
    assert (d["exact"], d["near"], d["candidates"]) == (25, 17, KEPT + 42)
    assert d["from_earlier_builds"] == 5
    assert d["cluster_sizes"] == [{"size": 1, "clusters": 1}, {"size": 7, "clusters": 6}, {"size": 8, "clusters": 1}]
    assert d["example_clusters"][0]["cluster_id"] == 3 and d["example_clusters"][0]["size"] == 8
    assert d["index_stats"]["near"]["candidate_pairs"] == 91
    assert d["example_clusters"][0]["members"][0]["kept"] is True
    assert d["example_clusters"][0]["size"] == max(c["size"] for c in d["example_clusters"])
    assert report["tokens"]["train_tokens"] == 231300 and report["tokens"]["shards"] == 2
    assert report["tokenizer"]["stats"]["report"]["bytes_per_token"] == 4.21
    assert report["inputs"]["files"][0] == {"path": SOURCES[0], "format": "jsonl", "documents": 100, "invalid": 3,
                                            "bytes": 10_000}
    assert report["splits"]["train"] + report["splits"]["val"] == KEPT
    assert report["inputs"]["unreadable"][0]["path"] == "data/broken.json.gz"
    assert report["timings"]["total_seconds"] == 23.5
    assert report["timings"]["stages"][3] == {"stage": "ledger", "seconds": 0.75,
                                              "details": {"kept": KEPT, "reasons": {"empty": 11}}}
    assert report["config"]["toxicity_threshold"] == 0.8
    assert report["warnings"] == []
    _validate(report)


def test_html_escapes_document_text(built):
    build, _, _ = built
    page = (build / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<img src=x" not in page and "<b>id-" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;id-" in page
    assert "&lt;script&gt;alert(1)" in page  # a tokenizer token is corpus text too
    assert "/home/someone" not in page  # input paths are shown relative to the build's arguments
    assert "\x00" not in page and "\x1b" not in page
    assert "<bdi>\u202eevil" in page  # isolated, so it cannot flip the rest of the line
    assert "http://" not in page and "https://" not in page  # nothing is fetched: pictures are data URIs
    assert page.count('src="data:image/svg+xml;base64,') == 3


def test_same_inputs_same_bytes(built, tmp_path):
    build, _, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(build, copy)
    for name in ("report.json", "report.html"):
        (copy / name).unlink()
    # a fresh interpreter: hash randomisation and matplotlib's per-process state must not leak into the bytes
    subprocess.run([sys.executable, "-c", "import sys; from pipeline.report import build_report; build_report(sys.argv[1])",
                    str(copy)], check=True, cwd=REPO)
    for name in ("report.json", "report.html"):
        assert (copy / name).read_bytes() == (build / name).read_bytes(), name


def test_only_a_ledger(tmp_path):
    build, rows = make_build(tmp_path)
    for path in sorted(build.rglob("*"), reverse=True):
        if path.name != "ledger.parquet":
            path.rmdir() if path.is_dir() else path.unlink()
    report = build_report(build)
    assert report["summary"]["documents_in"] == len(rows)
    assert report["tokens"] is None and report["tokenizer"] is None and report["config"] is None
    assert report["duplicates"]["exact"] == 25 and report["duplicates"]["cluster_sizes"] == []
    assert report["timings"]["stages"] == [] and report["inputs"]["files"] == []
    assert report["inputs"]["sources"] == len(SOURCES)
    assert (build / "report.html").stat().st_size > 0
    _validate(report)


def test_minimal_and_inconsistent_ledger(tmp_path):
    table = pa.table({"doc_id": ["a", "b", "c", "d"], "kept": [True, False, False, True],
                      "drop_reason": [None, None, "mystery:new_filter", "empty"]})
    pq.write_table(table, tmp_path / "ledger.parquet")
    (tmp_path / "manifest.json").write_text("{not json")
    report = build_report(tmp_path)
    assert report["summary"]["documents_kept"] + report["summary"]["documents_dropped"] == 4
    assert {r["reason"]: r["stage"] for r in report["drop_reasons"]} == {"unknown": "other", "mystery:new_filter": "other"}
    assert [s["stage"] for s in report["funnel"]][-2:] == ["other", "kept"]
    assert report["funnel"][-1]["remaining"] == 2
    assert len(report["warnings"]) == 3  # unreadable manifest, kept row with a reason, dropped row without one
    assert report["lengths"] is None and report["languages"] == [] and report["pii"] is None
    _validate(report)


def test_empty_ledger(tmp_path):
    pq.write_table(LEDGER_SCHEMA.empty_table(), tmp_path / "ledger.parquet")
    report = build_report(tmp_path)
    assert report["summary"]["documents_in"] == 0 and report["summary"]["kept_fraction"] == 0.0
    assert report["drop_reasons"] == [] and report["lengths"]["all"]["p50"] is None
    _validate(report)


def test_missing_ledger_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="gristmill build"):
        build_report(tmp_path)


def test_markdown_summary_holds_no_document_text(built):
    _, _, report = built
    text = report_markdown(report)
    assert f"**{report['summary']['documents_in']:,}** documents in" in text
    assert "`quality:gopher_quality:gopher_short_doc` | 30 |" in text
    assert "Tokens written: 231,300 train, 10,280 val." in text
    assert "<" not in text and "Line one" not in text


def test_report_does_not_depend_on_the_batch_size(tmp_path, monkeypatch):
    # the ledger is read in batches: counts, bins, percentiles and examples must add up across them
    from pipeline.report import ledger_view
    from pipeline.report.summary import summarize

    build, _ = make_build(tmp_path)
    whole = summarize(build)
    monkeypatch.setattr(ledger_view, "BATCH_ROWS", 7)
    assert summarize(build) == whole
