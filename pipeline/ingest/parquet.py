"""Parquet files with a text column, read batch by batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.records import guarded_record_to_document
from pipeline.parquet_stream import open_parquet


def read_parquet(path: Path, relative: str, config: IngestConfig) -> Iterator[Document | InvalidRecord]:
    try:
        parquet = open_parquet(path)
    except Exception as e:  # pyarrow raises ArrowInvalid/OSError subclasses for corrupt footers
        yield InvalidRecord(f"{relative}:unreadable", relative, "parquet", str(e)[:300])
        return
    if config.text_field not in parquet.schema_arrow.names:
        yield InvalidRecord(f"{relative}:unreadable", relative, "no_text",
                            f"no column '{config.text_field}' (columns: {', '.join(parquet.schema_arrow.names)})")
        return
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            yield guarded_record_to_document(record, relative, row, config)
            row += 1
