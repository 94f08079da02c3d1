"""Issue 10's "Done when": a folder mixing 40+ distinct defects with good documents builds, keeps
every good document, and gives every bad record a reason (the report's bad-input section says which)."""

import json

import pyarrow.parquet as pq
import pytest

from defects import make_defects
from fault_build import TINY_BUILD, run_build


@pytest.mark.slow
def test_a_folder_of_defects_builds_keeps_every_good_document_and_explains_every_bad_record(tmp_path):
    root = tmp_path / "inbox"
    good, defects = make_defects(root)
    assert len(set(defects)) >= 25
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({**TINY_BUILD, "ingest": {"workers": 2, "max_record_bytes": 200_000}}))
    out = tmp_path / "build"
    result = run_build(root, out, config)
    assert result.returncode == 0, result.stderr[-3000:]

    ledger = pq.read_table(out / "ledger.parquet").to_pylist()
    kept = {r["doc_id"] for r in ledger if r["kept"]}
    assert sorted(set(good) - kept) == []  # every good document comes through
    assert all(r["drop_reason"] for r in ledger if not r["kept"])  # every bad record has a reason
    for row in ledger:
        for value in (row["doc_id"], row["first_line"], row["metadata"]):
            assert value is None or isinstance(value.encode("utf-8"), bytes)  # encode raises on a lone surrogate

    report = json.loads((out / "report.json").read_text())
    unreadable = {Path_name(u["path"]) for u in report["inputs"]["unreadable"]}
    assert unreadable == {"crawl.warc", "crawl.warc.gz"}
    sources = {r["source"] for r in ledger}
    every_file = {p.name for p in root.iterdir()}
    assert every_file == sources | unreadable  # every file accounted for: ledger rows or an unreadable entry

    reasons = {r["drop_reason"] for r in ledger if r["drop_reason"]}
    for expected in ("invalid:binary", "invalid:too_deep", "invalid:json", "invalid:utf8", "invalid:too_large",
                     "invalid:truncated_archive", "invalid:empty_file", "invalid:no_text", "invalid:not_an_object",
                     "invalid:parquet", "empty"):
        assert expected in reasons, expected
    bad = {f["source"]: f for f in report["bad_input"]["files"]}
    assert bad["surrogates.jsonl"]["surrogates_replaced"] == 3
    assert set(bad["latin1.txt"]["encodings"]) and set(bad["utf16.jsonl"]["encodings"]) == {"utf-16-le"}
    assert bad["deep.jsonl"]["quarantined"] == {"invalid:too_deep": 1}
    assert report["bad_input"]["transcoded"] >= 7
    assert "Bad input" in (out / "report.html").read_text()


def Path_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
