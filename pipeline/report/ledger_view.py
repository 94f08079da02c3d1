"""What the ledger alone says: the funnel, the drop reasons with examples, the distributions.

The ledger can hold millions of rows: string columns are grouped through Arrow's dictionary
encoding and numbers through numpy, never row by row in Python (examples are a few look-ups).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import documents as codes

EXAMPLES_PER_REASON = 5
TOP_SOURCES = 50
SCORE_BINS = 20

# The funnel, in the order the pipeline applies its stages (the filters in pipeline/filters' chain
# order: language before quality, as in FineWeb); a drop reason's code before the first colon names
# its stage. "other" collects codes this table does not know (it should stay empty).
FUNNEL = [
    ("ingest", "after ingest", codes.INVALID),
    ("clean", "after clean", codes.EMPTY),
    ("language", "after language", codes.LANGUAGE),
    ("quality", "after quality", codes.QUALITY),
    ("toxicity", "after toxicity", codes.TOXICITY),
    ("pii", "after PII", codes.PII),
    ("exact_dedup", "after exact dedup", codes.EXACT_DUPLICATE),
    ("near_dedup", "after near dedup", codes.NEAR_DUPLICATE),
]
STAGE_OF_CODE = {code: stage for stage, _, code in FUNNEL}
STAGE_ORDER = {stage: i for i, (stage, _, _) in enumerate(FUNNEL)} | {"other": len(FUNNEL)}
UNKNOWN_REASON = "unknown"  # a dropped row whose drop_reason is null
# The ledger columns the report reads (not `metadata`: the inputs' own fields can be large).
COLUMNS = ["doc_id", "source", "kept", "drop_reason", "language", "language_score", "toxicity_score",
           "pii_email", "pii_ip", "pii_phone", "duplicate_of", "first_line", "duplicate_of_build", "n_chars", "split"]


def stage_of(reason: str) -> str:
    return STAGE_OF_CODE.get(reason.split(":", 1)[0], "other")


def ratio(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


class Ledger:
    """The ledger's columns, read once; string columns are grouped through Arrow's dictionary encoding
    (hashing in C++), which keeps a report of millions of rows to seconds."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run `gristmill build` first, the report reads its ledger")
        names = set(pq.read_schema(path).names)
        missing = {"doc_id", "kept", "drop_reason"} - names
        if missing:
            raise ValueError(f"{path} lacks the column(s) {sorted(missing)}; see schemas/ledger.arrow-schema.json")
        self.table = pq.read_table(path, columns=[name for name in COLUMNS if name in names])
        self.rows = self.table.num_rows
        self.kept = self.table.column("kept").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
        # The reason of every dropped row ("unknown" when it has none), null for kept rows.
        reasons = self.table.column("drop_reason").fill_null(UNKNOWN_REASON)
        self.reasons, self.reason_codes = encode(pc.if_else(pa.array(self.kept), None, reasons))

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def counts(self, name: str, missing: str) -> tuple[dict[str, int], dict[str, int]]:
        """Rows per value of a string column (nulls counted as `missing`): all rows, and kept rows."""
        labels, codes = encode(self.table.column(name).fill_null(missing))
        everyone = np.bincount(codes, minlength=len(labels))
        kept = np.bincount(codes[self.kept], minlength=len(labels))
        return dict(zip(labels, everyone.tolist())), {k: v for k, v in zip(labels, kept.tolist()) if v}

    def numbers(self, name: str) -> np.ndarray:
        """A float column with nulls as NaN (so masks stay aligned with the rows)."""
        return self.table.column(name).cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False)

    def present(self, name: str) -> np.ndarray:
        """True where the column holds a value."""
        return self.table.column(name).is_valid().to_numpy(zero_copy_only=False)

    def value(self, name: str, row: int) -> Any:
        return self.table.column(name)[row].as_py() if self.has(name) else None


def encode(column: pa.ChunkedArray | pa.Array) -> tuple[list[str], np.ndarray]:
    """Distinct values and, per row, the index of its value (-1 for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    return encoded.dictionary.to_pylist(), encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _example_rows(rows: np.ndarray, k: int) -> list[int]:
    """k rows spread evenly over `rows` (in ledger order): deterministic, and not all from one file."""
    n = len(rows)
    return sorted({int(rows[i * n // k]) for i in range(min(k, n))})


def _detail(ledger: Ledger, stage: str, row: int) -> str | None:
    """The signal that explains a drop, in words."""
    if stage == "language":
        score = ledger.value("language_score", row)
        return f"{ledger.value('language', row)} ({score:.2f})" if score is not None else ledger.value("language", row)
    if stage == "toxicity":
        score = ledger.value("toxicity_score", row)
        return f"toxicity {score:.2f}" if score is not None else None
    if stage == "pii":
        found = [f"{ledger.value('pii_' + kind, row)} {kind}" for kind in ("email", "ip", "phone")
                 if ledger.value("pii_" + kind, row)]
        return ", ".join(found) or None
    if stage in ("exact_dedup", "near_dedup"):
        of, build = ledger.value("duplicate_of", row), ledger.value("duplicate_of_build", row)
        return None if of is None else f"copy of {of}" + (f" (build {build})" if build else "")
    return None


def _example(ledger: Ledger, stage: str, row: int) -> dict[str, Any]:
    return {
        "doc_id": ledger.value("doc_id", row),
        "source": ledger.value("source", row),
        "first_line": ledger.value("first_line", row),
        "n_chars": ledger.value("n_chars", row),
        "detail": _detail(ledger, stage, row),
    }


def drop_reasons(ledger: Ledger) -> list[dict[str, Any]]:
    order = np.argsort(ledger.reason_codes, kind="stable")  # rows grouped by reason, ledger order inside
    sorted_codes = ledger.reason_codes[order]
    out = []
    for i, reason in enumerate(ledger.reasons):
        members = order[np.searchsorted(sorted_codes, i, "left"):np.searchsorted(sorted_codes, i, "right")]
        stage = stage_of(reason)  # "unknown" (no reason given) falls under "other"
        out.append({
            "reason": reason,
            "stage": stage,
            "documents": len(members),
            "fraction": ratio(len(members), ledger.rows),
            "examples": [_example(ledger, stage, r) for r in _example_rows(members, EXAMPLES_PER_REASON)],
        })
    return sorted(out, key=lambda r: (STAGE_ORDER[r["stage"]], -r["documents"], r["reason"]))


def funnel(rows: int, reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    dropped_by_stage = {stage: 0 for stage in STAGE_ORDER}
    for r in reasons:
        dropped_by_stage[r["stage"]] += r["documents"]
    steps = [{"stage": "input", "label": "input", "dropped": 0, "remaining": rows}]
    remaining = rows
    stages = [(stage, label) for stage, label, _ in FUNNEL]
    if dropped_by_stage["other"]:
        stages.append(("other", "after other reasons"))
    for stage, label in stages:
        remaining -= dropped_by_stage[stage]
        steps.append({"stage": stage, "label": label, "dropped": dropped_by_stage[stage], "remaining": remaining})
    steps.append({"stage": "kept", "label": "kept", "dropped": 0, "remaining": remaining})
    return steps


def _percentiles(values: np.ndarray) -> dict[str, Any]:
    if not len(values):
        return {"documents": 0, "total": 0, "mean": None, "min": None, "p10": None, "p50": None,
                "p90": None, "p99": None, "max": None}
    p10, p50, p90, p99 = np.percentile(values, [10, 50, 90, 99], method="lower").tolist()
    return {"documents": int(len(values)), "total": int(values.sum()), "mean": round(float(values.mean()), 3),
            "min": int(values.min()), "p10": int(p10), "p50": int(p50), "p90": int(p90), "p99": int(p99),
            "max": int(values.max())}


def _length_edges(largest: int) -> list[int]:
    """Bin edges 0, 1, 2, 5, 10, 20, 50, ... past `largest`: the same bins in every build, readable labels."""
    edges, step = [0], 1
    while edges[-1] <= largest:
        edges += [step, 2 * step, 5 * step]
        step *= 10
    while edges[-2] > largest:
        edges.pop()
    return edges


def lengths(ledger: Ledger) -> dict[str, Any] | None:
    if not ledger.has("n_chars"):
        return None
    n_chars = ledger.numbers("n_chars")
    valid = ~np.isnan(n_chars)
    values = n_chars[valid].astype(np.int64)
    kept_values = n_chars[valid & ledger.kept].astype(np.int64)
    edges = _length_edges(int(values.max()) if len(values) else 0)
    all_counts, _ = np.histogram(values, bins=edges)
    kept_counts, _ = np.histogram(kept_values, bins=edges)
    first = int(np.argmax(all_counts > 0)) if all_counts.any() else 0  # drop empty leading bins
    return {
        "all": _percentiles(values),
        "kept": _percentiles(kept_values),
        "histogram": {"edges": edges[first:], "all": all_counts[first:].tolist(), "kept": kept_counts[first:].tolist()},
    }


def score_distribution(ledger: Ledger, name: str) -> dict[str, Any] | None:
    if not ledger.has(name):
        return None
    scores = ledger.numbers(name)
    scored = ~np.isnan(scores)
    values = np.clip(scores[scored], 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
    all_counts, _ = np.histogram(values, bins=edges)
    kept_counts, _ = np.histogram(np.clip(scores[scored & ledger.kept], 0.0, 1.0), bins=edges)
    return {
        "documents_scored": int(scored.sum()),
        "mean": round(float(values.mean()), 6) if len(values) else None,
        "histogram": {"edges": [round(e, 6) for e in edges.tolist()], "all": all_counts.tolist(),
                      "kept": kept_counts.tolist()},
    }


def languages(ledger: Ledger) -> list[dict[str, Any]]:
    if not ledger.has("language"):
        return []
    everyone, kept = ledger.counts("language", missing="unknown")
    rows = [{"language": lang, "documents": n, "kept": kept.get(lang, 0)} for lang, n in everyone.items()]
    return sorted(rows, key=lambda r: (-r["documents"], r["language"]))


def pii(ledger: Ledger) -> dict[str, Any] | None:
    kinds = [k for k in ("email", "ip", "phone") if ledger.has("pii_" + k)]
    if not kinds:
        return None
    found = {k: np.nan_to_num(ledger.numbers("pii_" + k)).astype(np.int64) for k in kinds}
    per_doc = sum(found.values())
    return {
        **{k: int(found[k].sum()) for k in ("email", "ip", "phone") if k in found},
        "total": int(per_doc.sum()),
        "documents_with_pii": int((per_doc > 0).sum()),
        "kept_documents_with_pii": int(((per_doc > 0) & ledger.kept).sum()),
    }


def sources(ledger: Ledger) -> tuple[list[dict[str, Any]], int]:
    if not ledger.has("source"):
        return [], 0
    everyone, kept = ledger.counts("source", missing="")
    rows = sorted(({"source": s, "documents": n, "kept": kept.get(s, 0)} for s, n in everyone.items()),
                  key=lambda r: (-r["documents"], r["source"]))
    return rows[:TOP_SOURCES], len(rows)
