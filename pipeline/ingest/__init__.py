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
from pipeline.ingest.discover import InputFile, UnreadableFile, discover_inputs, split_large_inputs
from pipeline.ingest.hf_disk import read_hf_disk
from pipeline.ingest.html import read_html
from pipeline.ingest.jsonl import read_jsonl
from pipeline.ingest.parquet import read_parquet
from pipeline.ingest.text import read_text
from pipeline.ingest.warc import read_warc

__all__ = ["InputFile", "UnreadableFile", "discover_inputs", "read_documents", "split_large_inputs"]

_READERS = {
    "jsonl": read_jsonl,
    "text": read_text,
    "parquet": read_parquet,
    "hf_disk": read_hf_disk,
}
_WEB_READERS = {"warc": read_warc, "html": read_html}  # these also take the extraction settings


def read_documents(item: InputFile, config: IngestConfig,
                   extract: ExtractConfig | None = None) -> Iterator[Document | InvalidRecord | SkippedRecord]:
    """Every document of one input file, in file order; unreadable parts come out as InvalidRecords
    (and the records of a web archive that are not documents as SkippedRecords)."""
    reader = _READERS.get(item.format)
    try:
        if item.format in _WEB_READERS:
            yield from _WEB_READERS[item.format](Path(item.path), item.relative, config, extract or ExtractConfig())
        elif item.start or item.end is not None:  # a piece of a large JSONL file
            yield from read_jsonl(Path(item.path), item.relative, config, item.start, item.end, item.first_line)
        else:
            assert reader is not None
            yield from reader(Path(item.path), item.relative, config)
    except (OSError, ValueError, EOFError) as e:
        # Anything a reader did not classify itself still ends in the ledger, never as a crash.
        yield InvalidRecord(id=f"{item.relative}:unreadable", source=item.relative, reason="unreadable", detail=str(e)[:300])
