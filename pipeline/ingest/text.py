"""Plain .txt files: one document per file, or one per blank-line-separated block.

A text file may be in any encoding (detected and transcoded, see encoding.py) and compressed
whatever its name says (see compression.py)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import zstandard

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.compression import TruncatedArchive, file_chunks
from pipeline.ingest.encoding import TextStream, detect_legacy, utf8_stream
from pipeline.ingest.jsonl import iter_lines

_STREAM_ERRORS = (TruncatedArchive, zlib.error, zstandard.ZstdError)


def read_text(path: Path, relative: str, config: IngestConfig) -> Iterator[Document | InvalidRecord]:
    stream = utf8_stream(file_chunks(path), legacy=True)
    if stream.binary:
        yield InvalidRecord(relative, relative, "binary", f"not text: {stream.binary}", stream.encoding)
        return
    if config.text_mode == "file":
        yield _read_whole(stream, relative, config)
        return
    records = 0
    for record in _read_paragraphs(stream, relative, config):
        records += 1
        yield record
    if records == 0:  # not one block: the file still gets its row
        yield InvalidRecord(relative, relative, "empty_file", "no text block", stream.encoding)


def _read_whole(stream: TextStream, relative: str, config: IngestConfig) -> Document | InvalidRecord:
    raw = bytearray()
    try:
        for chunk in stream.chunks:
            raw += chunk
            if len(raw) > config.max_record_bytes:  # stop reading: memory stays bounded
                return InvalidRecord(relative, relative, "too_large", f"more than ingest.max_record_bytes="
                                     f"{config.max_record_bytes} bytes", stream.encoding)
    except _STREAM_ERRORS as e:
        return InvalidRecord(relative, relative, "truncated_archive", f"compressed stream ends early: {e}",
                             stream.encoding)
    try:
        return Document(id=relative, text=raw.decode("utf-8"), source=relative, encoding=stream.encoding)
    except UnicodeDecodeError as e:
        # UTF-8 for its first 64 KiB, then not: the whole file decides (it is at most max_record_bytes).
        encoding = detect_legacy(bytes(raw))
        if encoding is None or encoding == "utf-8":
            return InvalidRecord(relative, relative, "utf8", f"byte {e.start}: {e.reason}")
        return Document(id=relative, text=raw.decode(encoding, errors="replace"), source=relative, encoding=encoding)


def _read_paragraphs(stream: TextStream, relative: str, config: IngestConfig) -> Iterator[Document | InvalidRecord]:
    """Blocks separated by blank lines; each id is `<relative>:<line the block starts on>`."""
    block: list[str] = []
    start = 0
    block_bytes = 0
    number = 0

    def flush() -> Document | InvalidRecord | None:
        if not block:
            return None
        if block_bytes > config.max_record_bytes:
            return InvalidRecord(f"{relative}:{start}", relative, "too_large", "block larger than ingest.max_record_bytes",
                                 stream.encoding)
        return Document(id=f"{relative}:{start}", text="".join(block).rstrip("\r\n"), source=relative,
                        encoding=stream.encoding)

    try:
        for number, raw in iter_lines(stream.chunks, config.max_record_bytes):
            if raw is None:
                yield InvalidRecord(f"{relative}:{number}", relative, "too_large", "line longer than ingest.max_record_bytes",
                                    stream.encoding)
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield InvalidRecord(f"{relative}:{number}", relative, "utf8", f"byte {e.start}: {e.reason}")
                continue
            if line.strip():
                if not block:
                    start = number
                block_bytes += len(raw)
                if block_bytes <= config.max_record_bytes:  # past the limit, only count: memory stays bounded
                    block.append(line)
                continue
            record = flush()
            if record is not None:
                yield record
            block, block_bytes = [], 0
    except _STREAM_ERRORS as e:
        record = flush()
        if record is not None:
            yield record
        yield InvalidRecord(f"{relative}:{number + 1}", relative, "truncated_archive",
                            f"compressed stream ends early after line {number}: {e}", stream.encoding)
        return
    record = flush()
    if record is not None:
        yield record
