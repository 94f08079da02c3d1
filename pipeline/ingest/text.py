"""Plain .txt files: one document per file, or one per blank-line-separated block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.jsonl import file_chunks, iter_lines


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8-sig")  # Project Gutenberg and Windows editors start with a BOM


def read_text(path: Path, relative: str, config: IngestConfig) -> Iterator[Document | InvalidRecord]:
    if config.text_mode == "file":
        size = path.stat().st_size
        if size > config.max_record_bytes:
            yield InvalidRecord(relative, relative, "too_large", f"{size} bytes > ingest.max_record_bytes")
            return
        try:
            text = _decode(path.read_bytes())
        except UnicodeDecodeError as e:
            yield InvalidRecord(relative, relative, "utf8", f"byte {e.start}: {e.reason}")
            return
        yield Document(id=relative, text=text, source=relative)
        return
    yield from _read_paragraphs(path, relative, config)


def _read_paragraphs(path: Path, relative: str, config: IngestConfig) -> Iterator[Document | InvalidRecord]:
    """Blocks separated by blank lines; each id is `<relative>:<line the block starts on>`."""
    block: list[str] = []
    start = 0
    block_bytes = 0

    def flush() -> Document | InvalidRecord | None:
        if not block:
            return None
        if block_bytes > config.max_record_bytes:
            return InvalidRecord(f"{relative}:{start}", relative, "too_large", "block larger than ingest.max_record_bytes")
        return Document(id=f"{relative}:{start}", text="".join(block).rstrip("\r\n"), source=relative)

    for number, raw in iter_lines(file_chunks(path), config.max_record_bytes):
        if raw is None:
            yield InvalidRecord(f"{relative}:{number}", relative, "too_large", "line longer than ingest.max_record_bytes")
            continue
        try:
            line = _decode(raw) if number == 1 else raw.decode("utf-8")
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
    record = flush()
    if record is not None:
        yield record
