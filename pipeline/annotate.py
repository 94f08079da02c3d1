"""Ingest, clean and annotate one input file: every document gets one row, kept or not.

This is the per-file, embarrassingly parallel part of a build. Each input file becomes one part
file (`work/annotate/part-NNNNN.parquet`) holding, in input order, every document's signals and the
first filter's drop reason; survivors also carry their cleaned text for dedup and tokenization.
Memory is bounded by one batch of rows.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.clean import TextCleaner, first_line
from pipeline.config import Config
from pipeline.documents import EMPTY, INVALID, Document, InvalidRecord, drop_reason
from pipeline.ingest import InputFile, read_documents

SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    "language": pa.string(),
    "language_score": pa.float64(),
    "toxicity_score": pa.float64(),
    "flagged_word_ratio": pa.float64(),
    "pii_email": pa.int64(),
    "pii_ip": pa.int64(),
    "pii_phone": pa.int64(),
}

PART_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("drop_reason", pa.string()),
        *[pa.field(name, kind) for name, kind in SIGNAL_COLUMNS.items()],
        pa.field("first_line", pa.string()),
        pa.field("metadata", pa.string()),
    ]
)

BATCH_ROWS = 2048
# Documents the filters see together (tweets gain most from batching), and a bound in
# characters so that a batch of books stays small.
FILTER_BATCH_DOCS = 256
FILTER_BATCH_CHARS = 4_000_000


class Annotator:
    """Clean + every filter of the chain, built once per worker process."""

    def __init__(self, config: Config) -> None:
        from pipeline.filters import build_filters  # the filters load models: import where used

        self.cleaner = TextCleaner(config.clean)
        self.filters = build_filters(config)

    def rows(self, records: list[Document | InvalidRecord]) -> list[dict[str, Any]]:
        """One part-file row per record, in order; the filters see the batch's documents together."""
        from pipeline.filters import filter_many

        rows: list[dict[str, Any]] = []
        docs: list[Document] = []
        reasons: dict[int, str | None] = {}
        for record in records:
            if isinstance(record, InvalidRecord):
                rows.append({"doc_id": record.id, "source": record.source, "n_chars": 0, "text": None,
                             "drop_reason": f"{INVALID}:{record.reason}", "first_line": record.detail[:120],
                             "metadata": None})
                continue
            doc = record
            rows.append({"doc_id": doc.id, "source": doc.source, "first_line": first_line(doc.text),
                         "metadata": json.dumps(doc.metadata, ensure_ascii=False, sort_keys=True, default=str)
                         if doc.metadata else None})
            self.cleaner(doc)
            if doc.text.strip():
                docs.append(doc)
            else:
                reasons[id(doc)] = EMPTY
        # Every filter sees every document, so each signal is recorded even after an earlier
        # filter has already condemned it; the first failure in chain order is the reason.
        for document_filter in self.filters:
            for doc, result in zip(docs, filter_many(document_filter, docs)):
                if isinstance(result, Exception):  # one odd document must not end the whole run
                    failed = f"{INVALID}:filter_error:{document_filter.name}:{type(result).__name__}"
                else:
                    failed = drop_reason(result, default=document_filter.name)
                reasons[id(doc)] = reasons.get(id(doc)) or failed
        for row, record in zip(rows, records):
            if isinstance(record, InvalidRecord):
                continue
            reason = reasons.get(id(record))
            row.update({name: record.signals.get(name) for name in SIGNAL_COLUMNS})
            row.update({"n_chars": len(record.text), "drop_reason": reason, "text": record.text if reason is None else None})
        return rows


def annotate_file(annotator: Annotator, item: InputFile, config: Config, out_path: Path) -> dict[str, Any]:
    """Write one part file atomically; return its statistics (also saved beside it as JSON)."""
    started = time.perf_counter()
    tmp = out_path.with_name(out_path.name + ".tmp")
    counts = {"documents": 0, "invalid": 0, "survivors": 0}
    rows: list[dict[str, Any]] = []
    records: list[Document | InvalidRecord] = []
    batch_chars = 0

    def annotate_records() -> None:
        nonlocal batch_chars
        for row in annotator.rows(records):
            counts["survivors"] += row["drop_reason"] is None
            rows.append(row)
        records.clear()
        batch_chars = 0

    with pq.ParquetWriter(tmp, PART_SCHEMA, compression="zstd") as writer:
        for record in read_documents(item, config.ingest):
            counts["documents"] += 1
            counts["invalid"] += isinstance(record, InvalidRecord)
            records.append(record)
            batch_chars += len(record.text) if isinstance(record, Document) else 0
            if len(records) >= FILTER_BATCH_DOCS or batch_chars >= FILTER_BATCH_CHARS:
                annotate_records()
            if len(rows) >= BATCH_ROWS:
                writer.write_table(pa.Table.from_pylist(rows, schema=PART_SCHEMA))
                rows.clear()
        annotate_records()
        if rows or counts["documents"] == 0:
            writer.write_table(pa.Table.from_pylist(rows, schema=PART_SCHEMA))
    os.replace(tmp, out_path)
    stats = {"path": item.path, "relative": item.relative, "format": item.format, "bytes": item.bytes,
             "start": item.start, **counts, "seconds": round(time.perf_counter() - started, 3)}
    stats_path = out_path.with_suffix(".json")
    stats_tmp = stats_path.with_name(stats_path.name + ".tmp")
    stats_tmp.write_text(json.dumps(stats, indent=1))
    os.replace(stats_tmp, stats_path)  # written last: its presence means the part is complete
    return stats


# -- the piece a runner calls: any process, any machine; the annotator is built once per process --
_ANNOTATORS: dict[str, tuple[Annotator, Config]] = {}


def annotate_piece(item: InputFile, out_path: str, config_json: str) -> dict[str, Any]:
    """Annotate one input file (or piece of one) into its part file; skip it when already whole."""
    stats_path = Path(out_path).with_suffix(".json")
    if stats_path.is_file():  # a retried chunk: this piece finished before the worker was lost
        return json.loads(stats_path.read_text())
    if config_json not in _ANNOTATORS:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        _ANNOTATORS.clear()
        config = Config.model_validate_json(config_json)
        _ANNOTATORS[config_json] = (Annotator(config), config)
    annotator, config = _ANNOTATORS[config_json]
    return annotate_file(annotator, item, config, Path(out_path))
