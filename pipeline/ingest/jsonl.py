"""JSON Lines, plain or compressed (.gz, .zst): one document per line, `id` and `text` plus metadata."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import zstandard

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.guard import why

CHUNK = 1 << 20


class TruncatedArchive(Exception):
    """The compressed stream ended before its end-of-stream marker."""


def _gzip_chunks(raw: IO[bytes]) -> Iterator[bytes]:
    # zlib directly rather than gzip.open: every byte decompressed before a cut is kept.
    decompressor = zlib.decompressobj(wbits=31)
    in_member = False
    while compressed := raw.read(CHUNK):
        while compressed:
            in_member = True
            yield decompressor.decompress(compressed)
            compressed = b""
            if decompressor.eof:  # a next gzip member follows (concatenated .gz files)
                compressed = decompressor.unused_data
                decompressor, in_member = zlib.decompressobj(wbits=31), False
    if in_member and not decompressor.eof:
        raise TruncatedArchive("gzip stream ends before its end marker")


def _zstd_chunks(raw: IO[bytes]) -> Iterator[bytes]:
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    while True:
        compressed = raw.read(CHUNK)
        if not compressed:
            break
        yield decompressor.decompress(compressed)
    if not decompressor.eof:
        raise TruncatedArchive("zstd stream ends before its end marker")


def file_chunks(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The file's bytes, decompressed; for a plain file, only bytes [start, end)."""
    name = path.name.lower()
    with open(path, "rb") as raw:
        if name.endswith(".gz"):
            yield from _gzip_chunks(raw)
        elif name.endswith((".zst", ".zstd")):
            yield from _zstd_chunks(raw)
        else:
            raw.seek(start)
            left = None if end is None else end - start
            while chunk := raw.read(CHUNK if left is None else min(CHUNK, left)):
                yield chunk
                if left is not None:
                    left -= len(chunk)


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
    try:
        for number, raw in iter_lines(file_chunks(path, start, end), config.max_record_bytes, first_line):
            if raw is None:
                yield InvalidRecord(f"{relative}:{number}", relative, "too_large",
                                    f"line longer than ingest.max_record_bytes={config.max_record_bytes}")
                continue
            try:
                record = parse_record(raw, relative, number, config)
            except Exception as e:  # RecursionError (deep nesting), MemoryError, ...: this line only
                record = InvalidRecord(f"{relative}:{number}", relative, why(e), str(e)[:300])
            if record is not None:
                yield record
    except (TruncatedArchive, zlib.error, zstandard.ZstdError) as e:
        yield InvalidRecord(f"{relative}:{number + 1}", relative, "truncated_archive",
                            f"compressed stream ends early or is corrupt after line {number}: {e}")
