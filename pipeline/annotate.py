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
from pipeline.documents import EMPTY, INVALID, Document, InvalidRecord, SkippedRecord, drop_reason
from pipeline.faults import fault_point, worker_fault
from pipeline.ingest import GuardCounts, InputFile, read_documents
from pipeline.ingest.guard import metadata_json, why

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
        pa.field("encoding", pa.string()),
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
        """One part-file row per record, in order; the filters see the batch's documents together.

        Whatever one record raises (in cleaning, in a filter, in building its row) becomes that
        record's `invalid:` reason; the other records of the batch are decided as usual."""
        from pipeline.filters import filter_many

        rows: list[dict[str, Any]] = []
        docs: list[Document] = []
        reasons: dict[int, str | None] = {}
        for record in records:
            if isinstance(record, InvalidRecord):
                rows.append(invalid_row(record))
                continue
            doc = record
            try:
                row = {"doc_id": doc.id, "source": doc.source, "first_line": first_line(doc.text),
                       "metadata": metadata_json(doc.metadata), "encoding": doc.encoding, "text": None}
                self.cleaner(doc)
            except Exception as e:
                rows.append(invalid_row(InvalidRecord(doc.id, doc.source, f"clean:{why(e)}", str(e)[:300],
                                                      doc.encoding)))
                continue
            rows.append(row)
            if doc.text.strip():
                docs.append(doc)
            else:
                reasons[id(doc)] = EMPTY
        # Every filter sees every document, so each signal is recorded even after an earlier
        # filter has already condemned it; the first failure in chain order is the reason.
        for document_filter in self.filters:
            for doc, result in zip(docs, filter_many(document_filter, docs)):
                if isinstance(result, BaseException):  # one odd document must not end the whole run
                    failed = f"{INVALID}:filter_error:{document_filter.name}:{type(result).__name__}"
                else:
                    failed = drop_reason(result, default=document_filter.name)
                reasons[id(doc)] = reasons.get(id(doc)) or failed
        for row, record in zip(rows, records):
            if isinstance(record, InvalidRecord) or row["text"] is INVALID_TEXT:
                continue
            reason = reasons.get(id(record))
            row.update({name: record.signals.get(name) for name in SIGNAL_COLUMNS})
            row.update({"n_chars": len(record.text), "drop_reason": reason, "text": record.text if reason is None else None})
        for row in rows:
            if row["text"] is INVALID_TEXT:
                row["text"] = None
        return rows


# Marks a row that is already final (the record failed before the filters); never written.
INVALID_TEXT = object()


def invalid_row(record: InvalidRecord) -> dict[str, Any]:
    return {"doc_id": record.id, "source": record.source, "n_chars": 0, "text": INVALID_TEXT,
            "drop_reason": f"{INVALID}:{record.reason}", "first_line": record.detail[:120], "metadata": None,
            "encoding": record.encoding}


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as a part table. A row Arrow refuses (it should not happen: ingest repairs
    Unicode) is written as `invalid:unwritable` instead of sinking the whole file."""
    try:
        return pa.Table.from_pylist(rows, schema=PART_SCHEMA)
    except Exception:
        safe = []
        for row in rows:
            try:
                pa.Table.from_pylist([row], schema=PART_SCHEMA)
                safe.append(row)
            except Exception as e:
                safe.append({"doc_id": row["doc_id"].encode("utf-8", "replace").decode("utf-8"),
                             "source": row["source"].encode("utf-8", "replace").decode("utf-8"), "n_chars": 0,
                             "text": None, "drop_reason": f"{INVALID}:unwritable:{type(e).__name__}",
                             "first_line": str(e)[:120].encode("utf-8", "replace").decode("utf-8"),
                             "metadata": None, "encoding": None})
        return pa.Table.from_pylist(safe, schema=PART_SCHEMA)


def annotate_file(annotator: Annotator, item: InputFile, config: Config, out_path: Path) -> dict[str, Any]:
    """Write one part file atomically; return its statistics (also saved beside it as JSON)."""
    started = time.perf_counter()
    tmp = out_path.with_name(out_path.name + ".tmp")
    counts = {"documents": 0, "invalid": 0, "survivors": 0}
    guard = GuardCounts()
    skipped: dict[str, int] = {}  # web-archive records that are not documents, per kind
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
        for record in read_documents(item, config.ingest, config.extract, guard):
            if isinstance(record, SkippedRecord):
                skipped[record.kind] = skipped.get(record.kind, 0) + 1
                continue
            counts["documents"] += 1
            counts["invalid"] += isinstance(record, InvalidRecord)
            records.append(record)
            batch_chars += len(record.text) if isinstance(record, Document) else 0
            if len(records) >= FILTER_BATCH_DOCS or batch_chars >= FILTER_BATCH_CHARS:
                annotate_records()
            if len(rows) >= BATCH_ROWS:
                writer.write_table(rows_table(rows))
                rows.clear()
        annotate_records()
        if rows or counts["documents"] == 0:
            writer.write_table(rows_table(rows))
    fault_point("annotate.part_tmp_written", tmp)
    os.replace(tmp, out_path)
    fault_point("annotate.part_written", out_path)
    stats = {"path": item.path, "relative": item.relative, "format": item.format, "bytes": item.bytes,
             "start": item.start, **counts,
             "surrogates_replaced": guard.surrogates_replaced, "seconds": round(time.perf_counter() - started, 3)}
    if skipped:
        stats["skipped_records"] = dict(sorted(skipped.items()))
    _write_stats(out_path, stats)
    return stats


def record_failed_piece(item: InputFile, out_path: Path, error: str) -> dict[str, Any]:
    """An empty part for a piece that failed twice, with the error in its statistics: the build
    goes on, the ledger has no rows from it, and the report lists its file as unreadable."""
    tmp = out_path.with_name(out_path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist([], schema=PART_SCHEMA), tmp, compression="zstd")
    os.replace(tmp, out_path)
    stats = {"path": item.path, "relative": item.relative, "format": item.format, "bytes": item.bytes,
             "start": item.start, "documents": 0, "invalid": 0, "survivors": 0, "surrogates_replaced": 0,
             "seconds": 0.0, "error": error}
    _write_stats(out_path, stats)
    return stats


def _write_stats(out_path: Path, stats: dict[str, Any]) -> None:
    stats_path = out_path.with_suffix(".json")
    stats_tmp = stats_path.with_name(stats_path.name + ".tmp")
    stats_tmp.write_text(json.dumps(stats, indent=1))
    os.replace(stats_tmp, stats_path)  # written last: its presence means the part is complete


# -- worker-process plumbing (spawned processes rebuild the annotator once each) --------------
_WORKER: tuple[Annotator, Config] | None = None


def init_worker(config_json: str) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    config = Config.model_validate_json(config_json)
    _WORKER = (Annotator(config), config)


def annotate_in_worker(item: InputFile, out_path: str) -> dict[str, Any]:
    assert _WORKER is not None, "init_worker was not run in this process"
    worker_fault(item.relative)
    annotator, config = _WORKER
    return annotate_file(annotator, item, config, Path(out_path))


# -- the piece a runner calls (flows/executor.py: any process, any machine); the annotator is
# built once per process and config, and kept across the pieces that process runs ----------------
_ANNOTATORS: dict[str, tuple[Annotator, Config]] = {}


def annotate_piece(item: InputFile, out_path: str, config_json: str) -> dict[str, Any]:
    """Annotate one input file (or piece of one) into its part file; skip it when already whole.

    A piece that raises is tried once more; a second failure writes an empty part whose
    statistics carry the error (record_failed_piece), so the build goes on and lists the file
    as unreadable, as the local pool does. A machine error (disk full) is raised.
    """
    stats_path = Path(out_path).with_suffix(".json")
    if stats_path.is_file():  # a rerun chunk: this piece finished before its worker was lost
        return json.loads(stats_path.read_text())
    if config_json not in _ANNOTATORS:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        _ANNOTATORS.clear()
        config = Config.model_validate_json(config_json)
        _ANNOTATORS[config_json] = (Annotator(config), config)
    annotator, config = _ANNOTATORS[config_json]
    from pipeline.pieces import is_machine_error

    for attempt in range(2):
        try:
            worker_fault(item.relative)
            return annotate_file(annotator, item, config, Path(out_path))
        except Exception as e:
            if is_machine_error(e):
                raise
            if attempt:
                return record_failed_piece(item, Path(out_path), f"{type(e).__name__}: {e}"[:500])
    raise AssertionError("unreachable")
