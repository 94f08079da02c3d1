import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest import discover_inputs, read_documents


def read_all(paths, config=None):
    found, unreadable = discover_inputs([str(p) for p in paths])
    records = [r for item in found for r in read_documents(item, config or IngestConfig())]
    return records, unreadable


def lines(*records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_jsonl_keeps_metadata_and_derives_missing_ids(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(lines({"id": "x1", "text": "hello", "lang": "en"}, {"text": "no id"}))
    records, _ = read_all([tmp_path])
    assert [r.id for r in records] == ["x1", "a.jsonl:2"]
    assert records[0].metadata == {"lang": "en"} and records[0].source == "a.jsonl"


def test_compressed_jsonl(tmp_path):
    payload = lines({"id": "1", "text": "one"}, {"id": "2", "text": "two"})
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(payload))
    records, _ = read_all([tmp_path])
    assert [(r.source, r.text) for r in records] == [("a.jsonl.gz", "one"), ("a.jsonl.gz", "two"),
                                                    ("b.jsonl.zst", "one"), ("b.jsonl.zst", "two")]


def test_bad_lines_become_invalid_records(tmp_path):
    good = json.dumps({"id": "ok", "text": "fine"}).encode()
    data = good + b"\n{not json\n" + b'{"id": "u", "text": "\xff\xfe"}\n' + b"[1, 2]\n" + b'{"id": "t"}\n\n' + good + b"\n"
    (tmp_path / "a.jsonl").write_bytes(data)
    records, _ = read_all([tmp_path])
    reasons = [r.reason if isinstance(r, InvalidRecord) else "doc" for r in records]
    assert reasons == ["doc", "json", "utf8", "not_an_object", "no_text", "doc"]
    assert records[1].id == "a.jsonl:2"


def test_huge_line_is_skipped_in_bounded_memory(tmp_path):
    big = json.dumps({"id": "big", "text": "x" * 5000}).encode()
    (tmp_path / "a.jsonl").write_bytes(big + b"\n" + lines({"id": "after", "text": "small"}))
    records, _ = read_all([tmp_path], IngestConfig(max_record_bytes=1000))
    assert isinstance(records[0], InvalidRecord) and records[0].reason == "too_large"
    assert records[1].id == "after"


def test_truncated_gzip_keeps_what_was_readable(tmp_path):
    payload = lines(*[{"id": str(i), "text": f"document number {i} " * 20} for i in range(200)])
    blob = gzip.compress(payload)
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    records, _ = read_all([tmp_path])
    docs = [r for r in records if isinstance(r, Document)]
    assert 0 < len(docs) < 200
    assert isinstance(records[-1], InvalidRecord) and records[-1].reason == "truncated_archive"


def test_text_file_and_paragraph_modes(tmp_path):
    (tmp_path / "book.txt").write_bytes("\ufeffFirst para\nline two\n\n\nSecond para\r\n".encode())
    records, _ = read_all([tmp_path])
    assert len(records) == 1 and records[0].id == "book.txt" and not records[0].text.startswith("\ufeff")
    records, _ = read_all([tmp_path], IngestConfig(text_mode="paragraphs"))
    assert [r.id for r in records] == ["book.txt:1", "book.txt:5"]
    assert records[0].text == "First para\nline two"


def test_a_text_file_in_a_legacy_encoding_is_transcoded(tmp_path):
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 latin-1")
    records, _ = read_all([tmp_path])
    assert records[0].text == "caf\u00e9 latin-1" and records[0].encoding is not None


def test_parquet_and_hf_disk(tmp_path):
    pq.write_table(pa.table({"text": ["a doc", None], "url": ["u1", "u2"]}), tmp_path / "p.parquet")
    import datasets

    datasets.Dataset.from_dict({"id": ["h1"], "text": ["from hf"]}).save_to_disk(str(tmp_path / "hf"))
    records, unreadable = read_all([tmp_path])
    by_id = {r.id: r for r in records}
    assert by_id["p.parquet:0"].metadata == {"url": "u1"}
    assert isinstance(by_id["p.parquet:1"], InvalidRecord)
    assert by_id["h1"].text == "from hf" and by_id["h1"].source == "hf"
    assert unreadable == []


def test_unsupported_and_missing_inputs_are_listed(tmp_path):
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    (tmp_path / "ok.txt").write_text("fine")
    found, unreadable = discover_inputs([str(tmp_path), str(tmp_path / "nope.jsonl"), str(tmp_path / "*.csv")])
    assert [f.relative for f in found] == ["ok.txt"]
    reasons = sorted(u.reason.split(":")[0] for u in unreadable)
    assert reasons == ["no_match", "not_found", "unsupported_format"]


def test_globs(tmp_path):
    for name in ("a.jsonl", "b.jsonl", "c.txt"):
        (tmp_path / name).write_bytes(lines({"text": name}))
    found, _ = discover_inputs([str(tmp_path / "*.jsonl")])
    assert [f.relative for f in found] == ["a.jsonl", "b.jsonl"]


def test_a_large_jsonl_file_read_in_pieces_gives_the_same_records(tmp_path):
    from dataclasses import asdict

    from pipeline.ingest import split_large_inputs

    rows = []
    for i in range(300):
        if i % 41 == 7:
            rows.append(b"{not json")
        elif i % 53 == 11:
            rows.append(b"")
        elif i % 17 == 3:
            rows.append(json.dumps({"text": "no id " * (i % 9 + 1)}).encode())  # falls back to path:line
        else:
            rows.append(json.dumps({"id": f"d{i}", "text": "words " * (i % 23 + 1), "n": i}).encode())
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(rows))  # no newline after the last line
    [item], _ = discover_inputs([str(path)])

    pieces = split_large_inputs([item], 500)
    assert len(pieces) > 10
    assert sum(p.bytes for p in pieces) == path.stat().st_size
    assert [p.start for p in pieces[1:]] == [p.end for p in pieces[:-1]] and pieces[-1].end is None
    whole = [asdict(r) for r in read_documents(item, IngestConfig())]
    in_pieces = [asdict(r) for p in pieces for r in read_documents(p, IngestConfig())]
    assert in_pieces == whole
    assert split_large_inputs([item], None) == [item]
    assert split_large_inputs([item], 10**9) == [item]


def test_a_large_file_gone_before_splitting_still_gets_a_ledger_reason(tmp_path):
    from pipeline.ingest import split_large_inputs

    path = tmp_path / "gone.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": "x " * 50}) + "\n" for i in range(50)))
    [item], _ = discover_inputs([str(path)])
    path.unlink()
    assert split_large_inputs([item], 100) == [item]
    [record] = list(read_documents(item, IngestConfig()))
    assert isinstance(record, InvalidRecord) and record.reason == "unreadable"
