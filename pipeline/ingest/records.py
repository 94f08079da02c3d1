"""Turn a row of a tabular source (Parquet, HF datasets) into a Document."""

from __future__ import annotations

from typing import Any

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.guard import why


def record_to_document(record: dict[str, Any], relative: str, row: int, config: IngestConfig) -> Document | InvalidRecord:
    fallback_id = f"{relative}:{row}"
    text = record.pop(config.text_field, None)
    if not isinstance(text, str):
        return InvalidRecord(fallback_id, relative, "no_text", f"'{config.text_field}' is null or not a string")
    if len(text) > config.max_record_bytes:
        return InvalidRecord(fallback_id, relative, "too_large", "text longer than ingest.max_record_bytes")
    raw_id = record.pop(config.id_field, None)
    doc_id = str(raw_id) if raw_id not in (None, "") else fallback_id
    return Document(id=doc_id, text=text, source=relative, metadata=record)


def guarded_record_to_document(record: dict[str, Any], relative: str, row: int, config: IngestConfig) -> Document | InvalidRecord:
    """record_to_document, with anything one row raises recorded as that row's reason."""
    try:
        return record_to_document(record, relative, row, config)
    except Exception as e:
        return InvalidRecord(f"{relative}:{row}", relative, why(e), str(e)[:300])
