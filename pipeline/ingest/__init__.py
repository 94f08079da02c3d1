"""Readers that stream documents out of files, folders and globs.

`discover_inputs` turns the user's arguments into a sorted list of `InputFile`s (and the files it
cannot read, with the reason); `read_documents` streams one file as `Document`s and `InvalidRecord`s.
Nothing here holds more than one record (or one Arrow batch) in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.config import ExtractConfig, IngestConfig
from pipeline.documents import Document, InvalidRecord, SkippedRecord
from pipeline.ingest.guard import GuardCounts, guarded
from pipeline.ingest.discover import InputFile, UnreadableFile, discover_inputs, split_large_inputs
from pipeline.ingest.hf_disk import read_hf_disk
from pipeline.ingest.html import read_html
from pipeline.ingest.jsonl import read_jsonl
from pipeline.ingest.parquet import read_parquet
from pipeline.ingest.text import read_text
from pipeline.ingest.warc import read_warc

__all__ = ["GuardCounts", "InputFile", "UnreadableFile", "discover_inputs", "read_documents", "split_large_inputs"]

_READERS = {
    "jsonl": read_jsonl,
    "text": read_text,
    "parquet": read_parquet,
    "hf_disk": read_hf_disk,
}
_WEB_READERS = {"warc": read_warc, "html": read_html}  # these also take the extraction settings


def read_documents(item: InputFile, config: IngestConfig,
                   extract: ExtractConfig | None = None,
                   counts: GuardCounts | None = None) -> Iterator[Document | InvalidRecord | SkippedRecord]:
    """Every document of one input file, in file order, with valid Unicode; unreadable parts come
    out as InvalidRecords, whatever the reader raised (`counts` collects what the guard did), and
    the records of a web archive that are not documents as SkippedRecords."""
    reader = _READERS.get(item.format)
    if item.format in _WEB_READERS:
        records = _WEB_READERS[item.format](Path(item.path), item.relative, config, extract or ExtractConfig())
    elif item.start or item.end is not None:  # a piece of a large JSONL file
        records = read_jsonl(Path(item.path), item.relative, config, item.start, item.end, item.first_line)
    else:
        assert reader is not None
        records = reader(Path(item.path), item.relative, config)
    yield from guarded(records, f"{item.relative}:unreadable", item.relative, counts or GuardCounts())
