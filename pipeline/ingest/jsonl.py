"""JSON Lines, plain or compressed (.gz, .zst): one document per line, `id` and `text` plus metadata."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import zstandard

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.compression import TruncatedArchive, file_chunks
from pipeline.ingest.encoding import utf8_stream
from pipeline.ingest.guard import why

__all__ = ["file_chunks", "iter_lines", "parse_record", "read_jsonl"]


def iter_lines(chunks: Iterator[bytes], max_bytes: int, first_line: int = 1) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line; bytes is None for a line longer than max_bytes.

    A huge line is skipped as it streams past, never held in memory whole.
    """
    number = first_line - 1
    pending = bytearray()
    oversized = False
    for chunk in chunks:
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            piece = chunk[start:] if newline < 0 else chunk[start:newline + 1]
            if not oversized:
                pending += piece
                if len(pending) > max_bytes:
                    oversized, pending = True, bytearray()
            if newline < 0:
                break
            number += 1
            yield number, (None if oversized else bytes(pending))
            pending, oversized = bytearray(), False
            start = newline + 1
    if pending or oversized:
        number += 1
        yield number, (None if oversized else bytes(pending))


def parse_record(
    raw: bytes, relative: str, number: int, config: IngestConfig
) -> Document | InvalidRecord | None:
    """One JSONL line as a Document (None for a blank line)."""
    fallback_id = f"{relative}:{number}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return InvalidRecord(fallback_id, relative, "utf8", f"byte {e.start}: {e.reason}")
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        return InvalidRecord(fallback_id, relative, "json", e.msg)
    if not isinstance(record, dict):
        return InvalidRecord(fallback_id, relative, "not_an_object", type(record).__name__)
    text = record.pop(config.text_field, None)
    if not isinstance(text, str):
        return InvalidRecord(fallback_id, relative, "no_text", f"field '{config.text_field}' missing or not a string")
    raw_id = record.pop(config.id_field, None)
    doc_id = str(raw_id) if raw_id not in (None, "") else fallback_id
    return Document(id=doc_id, text=text, source=relative, metadata=record)


def read_jsonl(
    path: Path, relative: str, config: IngestConfig, start: int = 0, end: int | None = None, first_line: int = 1
) -> Iterator[Document | InvalidRecord]:
    """The documents of a JSONL file, or of its lines from byte `start` (line `first_line`) to `end`."""
    number = first_line - 1
    # A piece after the first starts mid-file: its head is not the file's (discover only cuts
    # plain UTF-8 files, see split_large_inputs).
    stream = utf8_stream(file_chunks(path, start, end), legacy=False, sniff_head=start == 0)
    if stream.binary:
        yield InvalidRecord(relative, relative, "binary", f"not text: {stream.binary}")
        return
    records = 0
    try:
        for number, raw in iter_lines(stream.chunks, config.max_record_bytes, first_line):
            if raw is None:
                records += 1
                yield InvalidRecord(f"{relative}:{number}", relative, "too_large",
                                    f"line longer than ingest.max_record_bytes={config.max_record_bytes}")
                continue
            try:
                record = parse_record(raw, relative, number, config)
            except Exception as e:  # RecursionError (deep nesting), MemoryError, ...: this line only
                record = InvalidRecord(f"{relative}:{number}", relative, why(e), str(e)[:300])
            if record is not None:
                record.encoding = stream.encoding
                records += 1
                yield record
    except (TruncatedArchive, zlib.error, zstandard.ZstdError) as e:
        yield InvalidRecord(f"{relative}:{number + 1}", relative, "truncated_archive",
                            f"compressed stream ends early or is corrupt after line {number}: {e}")
        return
    if records == 0 and start == 0:  # an empty or blank file still gets its row: nothing is silently lost
        yield InvalidRecord(relative, relative, "empty_file", f"no record in {number} line(s)")
