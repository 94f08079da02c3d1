"""The per-record guard: whatever one record raises, it gets an invalid:<why> row and the file goes on."""

import json

import pyarrow.parquet as pq

from pipeline.annotate import Annotator, annotate_file
from pipeline.config import parse_config
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest import GuardCounts, discover_inputs, read_documents
from pipeline.ingest.guard import guarded

CONFIG = parse_config({"language": {"enabled": False}, "toxicity": {"enabled": False}, "quality": {"enabled": False}})
GOOD = "A good document that must come through beside its broken neighbours."


def _lines(*raw: bytes) -> bytes:
    return b"\n".join(raw) + b"\n"


def test_deep_nesting_and_lone_surrogates_do_not_stop_a_file(tmp_path):
    deep = b'{"id": "deep", "text": "x", "meta": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_lines(
        json.dumps({"id": "good-1", "text": GOOD}).encode(),
        deep,
        b'{"id": "sur-text", "text": "half a pair \\ud800 here"}',
        b'{"id": "sur-meta", "text": "fine text", "tag": "\\udfff", "\\ud801key": 1}',
        b'{"id": "sur-id-\\udc00", "text": "fine text"}',
        json.dumps({"id": "good-2", "text": GOOD}).encode(),
    ))
    [item], _ = discover_inputs([str(path)])
    stats = annotate_file(Annotator(CONFIG), item, CONFIG, tmp_path / "part.parquet")
    rows = {r["doc_id"]: r for r in pq.read_table(tmp_path / "part.parquet").to_pylist()}
    assert stats["documents"] == 6 and len(rows) == 6
    assert rows["bad.jsonl:2"]["drop_reason"] == "invalid:too_deep"
    assert rows["good-1"]["drop_reason"] is None and rows["good-2"]["drop_reason"] is None
    assert rows["sur-text"]["text"] == "half a pair \ufffd here"
    assert json.loads(rows["sur-meta"]["metadata"]) == {"tag": "\ufffd", "\ufffdkey": 1}
    assert "sur-id-\ufffd" in rows
    assert stats["surrogates_replaced"] == 4


class ExplodingCleaner:
    def __call__(self, doc):
        if "boom" in doc.text:
            raise MemoryError("one giant value")
        return doc


def test_a_cleaner_error_quarantines_only_its_record():
    annotator = Annotator(CONFIG)
    annotator.cleaner = ExplodingCleaner()
    rows = annotator.rows([Document("a", GOOD), Document("b", "boom"), InvalidRecord("c", "s", "json", "x"),
                           Document("d", GOOD + " again")])
    assert [r["drop_reason"] for r in rows] == [None, "invalid:clean:too_large", "invalid:json", None]
    assert [r["text"] for r in rows] == [GOOD, None, None, GOOD + " again"]


def test_a_reader_that_raises_keeps_what_it_read_and_says_why():
    def reader():
        yield Document("a", "fine")
        raise RecursionError("maximum recursion depth exceeded")

    counts = GuardCounts()
    records = list(guarded(reader(), "f:unreadable", "f", counts))
    assert records[0].id == "a"
    assert isinstance(records[1], InvalidRecord) and records[1].reason == "too_deep"
    assert counts.records_caught == 1


def test_metadata_too_deep_to_serialise_is_quarantined(tmp_path):
    nested: object = "leaf"
    for _ in range(5000):
        nested = [nested]
    counts = GuardCounts()
    [record] = list(guarded(iter([Document("a", "fine", metadata={"x": nested})]), "f:unreadable", "f", counts))
    assert isinstance(record, InvalidRecord) and record.reason == "metadata:too_deep"


def test_every_reader_is_guarded(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "\\ud83d alone"}\n')
    [item], _ = discover_inputs([str(tmp_path / "a.jsonl")])
    counts = GuardCounts()
    [doc] = list(read_documents(item, CONFIG.ingest, counts))
    assert doc.text == "\ufffd alone" and counts.surrogates_replaced == 1
