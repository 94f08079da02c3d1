"""Decisions → ledger.parquet: one row per input document, kept or with its one reason.

Streams batch by batch: memory holds one batch of rows plus the dedup decisions (one small row per
dropped duplicate). The same pass writes the kept documents' text to `work/kept/`, which the
tokenizer and the shard writer read.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import Config
from pipeline.faults import fault_point
from pipeline.ledger_schema import LEDGER_SCHEMA
from pipeline.parquet_stream import open_parquet

if TYPE_CHECKING:
    from pipeline.build import BuildDir

BATCH_ROWS = 4096
KEPT_SCHEMA = pa.schema([pa.field("doc_id", pa.string(), nullable=False), pa.field("text", pa.string(), nullable=False)])


def _dedup_decisions(path: Path) -> dict[tuple[int, int], tuple[str, str, str | None]]:
    if not path.is_file():
        return {}
    table = pq.read_table(path)
    return {
        (part, row): (reason, duplicate_of, build)
        for part, row, reason, duplicate_of, build in zip(
            table.column("part").to_pylist(), table.column("row").to_pylist(),
            table.column("drop_reason").to_pylist(), table.column("duplicate_of").to_pylist(),
            table.column("duplicate_of_build").to_pylist())
    }


def write_ledger(build_dir: BuildDir, config: Config) -> dict[str, Any]:
    decisions = _dedup_decisions(build_dir.work / "dedup_decisions.parquet")
    build_dir.kept.mkdir(parents=True, exist_ok=True)
    for stale in build_dir.kept.glob("part-*"):
        stale.unlink()
    reasons: Counter[str] = Counter()
    kept_total = 0
    tmp = build_dir.ledger.with_name("ledger.parquet.tmp")
    with pq.ParquetWriter(tmp, LEDGER_SCHEMA, compression="zstd") as ledger:
        for part_index, part in enumerate(build_dir.annotate_parts()):
            kept_path = build_dir.kept / f"part-{part_index:05d}.parquet"
            kept_tmp = kept_path.with_name(kept_path.name + ".tmp")
            kept_writer: pq.ParquetWriter | None = None
            first_row = 0
            for batch in open_parquet(part).iter_batches(batch_size=BATCH_ROWS):
                columns = batch.to_pydict()
                kept_ids, kept_texts = _decide_batch(columns, part_index, first_row, decisions, config, reasons)
                first_row += batch.num_rows
                ledger.write_table(pa.Table.from_pydict({f.name: columns[f.name] for f in LEDGER_SCHEMA},
                                                        schema=LEDGER_SCHEMA))
                if kept_ids:
                    kept_writer = kept_writer or pq.ParquetWriter(kept_tmp, KEPT_SCHEMA, compression="zstd")
                    kept_writer.write_table(pa.table({"doc_id": kept_ids, "text": kept_texts}, schema=KEPT_SCHEMA))
                    kept_total += len(kept_ids)
            if kept_writer is not None:
                kept_writer.close()
                os.replace(kept_tmp, kept_path)
            fault_point("ledger.part_done")
    os.replace(tmp, build_dir.ledger)
    return {"kept": kept_total, "dropped": sum(reasons.values()), "reasons": dict(sorted(reasons.items()))}


def _decide_batch(columns: dict[str, list[Any]], part_index: int, first_row: int,
                  decisions: dict[tuple[int, int], tuple[str, str, str | None]], config: Config,
                  reasons: Counter[str]) -> tuple[list[str], list[str]]:
    """Fill the batch's decision columns in place; return the kept documents' ids and texts."""
    from pipeline.shards import split_of

    kept_flags, drop_reasons, duplicate_of, duplicate_build, splits = [], [], [], [], []
    kept_ids, kept_texts = [], []
    for offset, (doc_id, reason) in enumerate(zip(columns["doc_id"], columns["drop_reason"])):
        dup_of = dup_build = None
        if reason is None and (part_index, first_row + offset) in decisions:
            reason, dup_of, dup_build = decisions[(part_index, first_row + offset)]
        kept = reason is None
        kept_flags.append(kept)
        drop_reasons.append(reason)
        duplicate_of.append(dup_of)
        duplicate_build.append(dup_build)
        # A duplicate belongs to its kept copy's split, so no near-copy of a training
        # document can leak into validation through a later build.
        representative = doc_id if kept else dup_of
        splits.append(split_of(representative, config.shards.val_fraction, config.seed)
                      if representative is not None else None)
        if kept:
            kept_ids.append(doc_id)
            kept_texts.append(columns["text"][offset])
        else:
            reasons[reason] += 1
    columns.update({"kept": kept_flags, "drop_reason": drop_reasons, "duplicate_of": duplicate_of,
                    "duplicate_of_build": duplicate_build, "split": splits})
    return kept_ids, kept_texts
