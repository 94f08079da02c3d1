"""The report's "bad input" section: per input file, the records quarantined (with their reasons
and counts), the encodings transcoded, the lone surrogates replaced, and the files not read at all.

One pass over the ledger's `source`, `drop_reason` and `encoding` columns; memory grows with the
number of distinct (file, reason) and (file, encoding) pairs, not with rows.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from pipeline.parquet_stream import open_parquet

BATCH_ROWS = 65_536


def bad_input(ledger_path: Path, stats: dict[str, Any]) -> dict[str, Any]:
    parquet = open_parquet(ledger_path)
    names = set(parquet.schema_arrow.names)
    columns = [c for c in ("source", "drop_reason", "encoding") if c in names]
    quarantined: Counter[tuple[str, str]] = Counter()
    transcoded: Counter[tuple[str, str]] = Counter()
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        data = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
        invalid = pc.fill_null(pc.starts_with(data["drop_reason"], "invalid:"), False)
        if pc.any(invalid).as_py():
            picked = batch.filter(invalid)
            quarantined.update(zip(picked.column("source").to_pylist(), picked.column("drop_reason").to_pylist()))
        if "encoding" in data and data["encoding"].null_count < len(batch):
            picked = batch.filter(pc.is_valid(data["encoding"]))
            transcoded.update(zip(picked.column("source").to_pylist(), picked.column("encoding").to_pylist()))
    surrogates = Counter()
    for entry in stats.get("inputs") or []:
        if isinstance(entry, dict) and entry.get("surrogates_replaced"):
            surrogates[str(entry.get("relative") or entry.get("path"))] += int(entry["surrogates_replaced"])
    files: dict[str, dict[str, Any]] = {}

    def file(source: str) -> dict[str, Any]:
        return files.setdefault(source, {"source": source, "quarantined": {}, "encodings": {}, "surrogates_replaced": 0})

    for (source, reason), count in sorted(quarantined.items()):
        file(source)["quarantined"][reason] = count
    for (source, encoding), count in sorted(transcoded.items()):
        file(source)["encodings"][encoding] = count
    for source, count in sorted(surrogates.items()):
        file(source)["surrogates_replaced"] = count
    unreadable = [f for f in stats.get("unreadable") or [] if isinstance(f, dict)]
    return {
        "quarantined": sum(quarantined.values()),
        "transcoded": sum(transcoded.values()),
        "surrogates_replaced": sum(surrogates.values()),
        "unreadable_files": len(unreadable),
        "files": sorted(files.values(), key=lambda f: f["source"]),
    }
