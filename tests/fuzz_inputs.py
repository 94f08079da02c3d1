"""Hypothesis strategies for bad input, and the invariants every reader and every build must keep.

Shared by tests/test_fuzz.py (a CI profile of seconds) and benchmarks/fuzz.py (the long profile).

Generated inputs: JSONL files whose lines are good documents, random JSON (deep, wide, wrong
types, lone surrogates, NUL and control characters, huge strings), nesting 50,000 deep, lines of
undecodable bytes and over-long lines; optionally with a BOM, CR line ends, gzip or zstd (one
member or several), truncated anywhere, and named as something they are not. Text files of
random bytes or of text in a random encoding. Parquet is fuzzed through its values (the same JSON
values as metadata columns are not possible: Arrow types them), so it is left to tests/test_ingest.py.
"""

from __future__ import annotations

import codecs
import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import zstandard
from hypothesis import strategies as st

from corpus import english_doc

MAX_RECORD_BYTES = 4096

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ODD = st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\x85", "\r", "\n", "\t", "\ufeff", "\u2028", "\ufffd", "\U0001f600"])
ANY_TEXT = st.text(st.characters() | SURROGATES | ODD, max_size=60)
LEAF = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
JSON_VALUE = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
                          max_leaves=25)


@dataclass
class FuzzFile:
    name: str
    data: bytes
    good: list[str] = field(default_factory=list)  # ids of good documents written intact
    lines: int | None = None  # non-blank lines, when the file is plain JSONL read line by line
    intact: bool = True  # not truncated: every good document must come through


@st.composite
def jsonl_line(draw: st.DrawFn, good_id: str) -> tuple[bytes, bool]:
    """One line (without its newline) and whether it is the good document `good_id`."""
    kind = draw(st.sampled_from(["good", "good", "record", "value", "deep", "garbage", "huge", "text_types"]))
    if kind == "good":
        doc = {"id": good_id, "text": english_doc(random.Random(good_id))}
        return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode(), True
    if kind == "record":
        record = draw(st.dictionaries(ANY_TEXT, JSON_VALUE, max_size=5))
        record["text"] = draw(ANY_TEXT)
        ascii_only = draw(st.booleans())
        # ensure_ascii=False writes a lone surrogate as itself: surrogatepass turns it into invalid UTF-8
        return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"), False
    if kind == "value":
        return json.dumps(draw(JSON_VALUE)).encode("utf-8", "surrogatepass"), False
    if kind == "deep":
        depth = draw(st.sampled_from([10, 900, 1100, 5000, 50_000]))
        return b'{"text": "deep", "m": ' + b"[" * depth + b"]" * depth + b"}", False
    if kind == "garbage":
        body = draw(st.binary(min_size=1, max_size=200)).replace(b"\n", b" ").replace(b"\r", b" ")
        return b"#" + body, False
    if kind == "huge":
        return b'{"text": "' + b"x" * (MAX_RECORD_BYTES + draw(st.integers(1, 3000))) + b'"}', False
    return json.dumps({"text": draw(JSON_VALUE), "id": draw(JSON_VALUE)}).encode("utf-8", "surrogatepass"), False


def _compress(kind: str, data: bytes, members: int) -> bytes:
    if kind == "plain" or not data:
        return data
    cut = [len(data) * i // members for i in range(members + 1)]
    pieces = [data[a:b] for a, b in zip(cut, cut[1:])]
    if kind == "gzip":
        return b"".join(gzip.compress(p) for p in pieces)
    return b"".join(zstandard.ZstdCompressor().compress(p) for p in pieces)


@st.composite
def jsonl_file(draw: st.DrawFn, index: int) -> FuzzFile:
    lines, good = [], []
    for n in range(draw(st.integers(0, 12))):
        line, is_good = draw(jsonl_line(f"good-{index}-{n}"))
        lines.append(line)
        if is_good:
            good.append(f"good-{index}-{n}")
    ending = draw(st.sampled_from([b"\n", b"\n", b"\r\n", b"\r"]))
    if ending == b"\r" and any(b"\r" in line or b"\n" in line for line in lines):
        ending = b"\n"
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    compression = draw(st.sampled_from(["plain", "plain", "gzip", "zstd"]))
    body = _compress(compression, data, draw(st.integers(1, 3)))
    truncated = compression != "plain" and draw(st.integers(0, 3)) == 0 and len(body) > 2
    if truncated:
        body = body[: draw(st.integers(1, len(body) - 1))]
    name = f"f{index}" + draw(st.sampled_from([".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson"]))
    plain_lines = None
    if compression == "plain":
        plain_lines = sum(1 for line in lines if line.strip())
    return FuzzFile(name, body, good if not truncated else [], plain_lines, not truncated)


@st.composite
def text_file(draw: st.DrawFn, index: int) -> FuzzFile:
    kind = draw(st.sampled_from(["random", "encoded", "encoded"]))
    name = f"t{index}.txt"
    if kind == "random":
        return FuzzFile(name, draw(st.binary(max_size=3000)))
    text = english_doc(random.Random(index)) + draw(st.text(max_size=40))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252", "gb18030"]))
    data = text.encode(encoding, "replace")
    if draw(st.booleans()):
        data = gzip.compress(data)
    return FuzzFile(name, data)


@st.composite
def input_folder(draw: st.DrawFn) -> list[FuzzFile]:
    files = [draw(jsonl_file(i)) for i in range(draw(st.integers(1, 4)))]
    files += [draw(text_file(i)) for i in range(draw(st.integers(0, 2)))]
    return files


def write_folder(root: Path, files: list[FuzzFile]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for f in files:
        (root / f.name).write_bytes(f.data)


@dataclass
class Tally:
    """What a fuzzing run tried and found (the long profile prints it)."""

    inputs: int = 0
    files: int = 0
    records: int = 0
    good_checked: int = 0
    good_lost: int = 0
    builds: int = 0


def check_readers(root: Path, files: list[FuzzFile], tally: Tally) -> None:
    """Every reader: no exception; valid Unicode out; one record per non-blank line of plain JSONL
    (or one row for the whole file when it is binary or empty); every intact good document comes
    through, text unchanged."""
    from pipeline.config import IngestConfig
    from pipeline.documents import Document, InvalidRecord
    from pipeline.ingest import discover_inputs, read_documents
    from pipeline.ingest.guard import metadata_json

    config = IngestConfig(max_record_bytes=MAX_RECORD_BYTES)
    found, unreadable = discover_inputs([str(root)])
    assert not unreadable
    by_name = {f.name: f for f in files}
    tally.inputs += 1
    for item in found:
        records = list(read_documents(item, config))  # must not raise
        tally.files += 1
        tally.records += len(records)
        assert records, f"{item.relative}: a file without a single ledger row"
        for record in records:
            assert isinstance(record, (Document, InvalidRecord))
            if isinstance(record, Document):
                record.text.encode("utf-8")
                record.id.encode("utf-8")
                (metadata_json(record.metadata) or "").encode("utf-8")
            else:
                (record.id + record.detail).encode("utf-8")
        spec = by_name[item.relative]
        if spec.lines is not None and item.relative.endswith((".jsonl", ".ndjson", ".gz", ".zst")):
            whole_file = len(records) == 1 and getattr(records[0], "reason", None) in ("binary", "empty_file")
            assert len(records) == spec.lines or whole_file, f"{item.relative}: {len(records)} rows for {spec.lines} lines"
        texts = {r.id: r.text for r in records if isinstance(r, Document)}
        for good_id in spec.good:
            tally.good_checked += 1
            if texts.get(good_id) != english_doc(random.Random(good_id)):
                tally.good_lost += 1
                raise AssertionError(f"{item.relative}: good document {good_id} lost")


def check_build(root: Path, out: Path, files: list[FuzzFile], tally: Tally) -> None:
    """A whole build: it completes; every file has ledger rows (as many as its reader yields); every
    intact good document is kept; the ledger is valid Unicode."""
    import pyarrow.parquet as pq

    from fault_build import TINY_BUILD
    from pipeline.build import build
    from pipeline.config import parse_config

    config = parse_config({**TINY_BUILD, "ingest": {"workers": 1, "max_record_bytes": MAX_RECORD_BYTES}})
    good = [g for f in files for g in f.good]
    if not good:  # nothing to train a tokenizer on: the build then ends with a clear BuildError by design
        config = parse_config({**config.model_dump(mode="json"), "tokenizer": {"enabled": False}})
    build([str(root)], out, config)
    tally.builds += 1
    ledger = pq.read_table(out / "ledger.parquet")
    tally.files += len(files)
    tally.records += ledger.num_rows
    kept = set(pq.read_table(out / "ledger.parquet", filters=[("kept", "==", True)]).column("doc_id").to_pylist())
    sources = set(ledger.column("source").to_pylist())
    assert sources == {f.name for f in files}
    for good_id in good:
        tally.good_checked += 1
        if good_id not in kept:
            tally.good_lost += 1
            raise AssertionError(f"good document {good_id} not kept")
    assert all(r for r, k in zip(ledger.column("drop_reason").to_pylist(), ledger.column("kept").to_pylist()) if not k)
