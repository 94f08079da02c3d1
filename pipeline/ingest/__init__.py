"""Readers that stream documents out of files, folders and globs.

`discover_inputs` turns the user's arguments into a sorted list of `InputFile`s (and the files it
cannot read, with the reason); `read_documents` streams one file as `Document`s and `InvalidRecord`s.
Nothing here holds more than one record (or one Arrow batch) in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.guard import GuardCounts, guarded
from pipeline.ingest.discover import InputFile, UnreadableFile, discover_inputs, split_large_inputs
from pipeline.ingest.hf_disk import read_hf_disk
from pipeline.ingest.jsonl import read_jsonl
from pipeline.ingest.parquet import read_parquet
from pipeline.ingest.text import read_text

__all__ = ["GuardCounts", "InputFile", "UnreadableFile", "discover_inputs", "read_documents", "split_large_inputs"]

_READERS = {
    "jsonl": read_jsonl,
    "text": read_text,
    "parquet": read_parquet,
    "hf_disk": read_hf_disk,
}


def read_documents(item: InputFile, config: IngestConfig,
                   counts: GuardCounts | None = None) -> Iterator[Document | InvalidRecord]:
    """Every document of one input file, in file order, with valid Unicode; unreadable parts come
    out as InvalidRecords, whatever the reader raised (`counts` collects what the guard did)."""
    reader = _READERS[item.format]
    if item.start or item.end is not None:  # a piece of a large JSONL file
        records = read_jsonl(Path(item.path), item.relative, config, item.start, item.end, item.first_line)
    else:
        records = reader(Path(item.path), item.relative, config)
    yield from guarded(records, f"{item.relative}:unreadable", item.relative, counts or GuardCounts())
