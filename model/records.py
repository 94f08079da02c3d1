"""Read the small labelled files fine-tuning and task evaluation take: TSV/CSV, JSON, JSONL, Parquet.

Every row is accounted for: a row that lacks a required field, or whose line is not valid JSON,
is not used and is counted under a stable reason (`invalid:json`, `missing:<field>`), which the
commands print and write into their JSON results. These files are small (thousands of rows): they
are read whole.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


@dataclass
class Records:
    rows: list[dict[str, Any]]
    skipped: Counter = field(default_factory=Counter)  # reason -> rows

    @property
    def read(self) -> int:
        return len(self.rows) + sum(self.skipped.values())


def _raw_rows(path: Path) -> tuple[list[Any], Counter]:
    suffix = path.suffix.lower()
    skipped: Counter = Counter()
    if suffix in (".tsv", ".csv"):
        with path.open(encoding="utf-8", newline="") as f:
            # SMS texts hold quote characters: for TSV quotes are data, not syntax
            reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",",
                                    quoting=csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL)
            return list(reader), skipped
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path} holds a JSON {type(data).__name__}; expected a list of records (or use .jsonl)")
        return data, skipped
    if suffix == ".jsonl":
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                skipped["invalid:json"] += 1
        return rows, skipped
    if suffix == ".parquet":
        return pq.read_table(path).to_pylist(), skipped
    raise ValueError(f"{path}: unknown file type {suffix!r}; use .tsv, .csv, .json, .jsonl or .parquet")


def read_records(path: str | Path, required: list[str]) -> Records:
    """Rows of path that have every required field (non-empty); the rest counted by reason."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    raw, skipped = _raw_rows(path)
    rows = []
    for row in raw:
        if not isinstance(row, dict):
            skipped["invalid:not_a_record"] += 1
            continue
        absent = next((name for name in required if row.get(name) in (None, "")), None)
        if absent is not None:
            skipped[f"missing:{absent}"] += 1
            continue
        rows.append(row)
    if not rows:
        fields = sorted(raw[0]) if raw and isinstance(raw[0], dict) else []
        raise ValueError(f"{path} has no usable row with fields {required} (fields seen: {fields}; skipped: {dict(skipped)}): "
                         "name the fields with --text-field / --label-field")
    return Records(rows, skipped)
