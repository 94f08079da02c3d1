"""What the ledger alone says: the funnel, the drop reasons with examples, the distributions.

The ledger can hold more rows than memory: it is read in batches of BATCH_ROWS, string columns
grouped through Arrow's dictionary encoding and numbers binned through numpy, never row by row
in Python; what is kept between batches grows with distinct values, not with rows.
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
from pipeline.parquet_stream import open_parquet

EXAMPLES_PER_REASON = 5
TOP_SOURCES = 50
SCORE_BINS = 20

# The funnel, in the order the pipeline applies its stages (the filters in pipeline/filters' chain
# order: language before quality, as in FineWeb); a drop reason's code before the first colon names
# its stage. "other" collects codes this table does not know (it should stay empty).
FUNNEL = [
    ("ingest", "after ingest", codes.INVALID),
    ("clean", "after clean", codes.EMPTY),
    ("url", "after URL filter", codes.URL),
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


BATCH_ROWS = 65_536
# The columns a drop reason's examples show (read in the second pass, for a few rows only).
EXAMPLE_COLUMNS = ["doc_id", "source", "first_line", "n_chars", "language", "language_score", "toxicity_score",
                   "pii_email", "pii_ip", "pii_phone", "duplicate_of", "duplicate_of_build"]
SCORES = ("language_score", "toxicity_score")
COUNTED = ("language", "source", "split")  # string columns whose values are counted
PII_KINDS = ("email", "ip", "phone")


class ValueCounts:
    """Rows per value of a column, all rows and kept rows, summed over batches."""

    def __init__(self) -> None:
        self.everyone: dict[Any, int] = {}
        self.kept: dict[Any, int] = {}

    def add(self, values: pa.Array, kept: np.ndarray | None = None) -> None:
        labels, codes = encode(values)
        for target, selected in ((self.everyone, codes), (self.kept, codes[kept] if kept is not None else codes[:0])):
            for label, n in zip(labels, np.bincount(selected, minlength=len(labels)).tolist()):
                if n:
                    target[label] = target.get(label, 0) + n


class Ledger:
    """What the report needs from the ledger, gathered batch by batch: memory grows with the
    number of distinct values (reasons, languages, sources, document lengths), not with rows.

    The first pass counts and bins everything; a second pass picks each drop reason's examples,
    spread evenly over its rows in ledger order, which needs the counts of the first."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run `gristmill build` first, the report reads its ledger")
        self.path = path
        self.names = set(pq.read_schema(path).names)
        missing = {"doc_id", "kept", "drop_reason"} - self.names
        if missing:
            raise ValueError(f"{path} lacks the column(s) {sorted(missing)}; see schemas/ledger.arrow-schema.json")
        self.rows = 0
        self.kept = 0
        self.kept_with_reason = 0
        self.dropped_without_reason = 0
        self.dropped_from_earlier_builds = 0  # dropped rows whose original lives in an earlier build
        self.reasons = ValueCounts()  # dropped rows only
        self.values = {name: ValueCounts() for name in COUNTED if self.has(name)}
        self.lengths = ValueCounts()  # n_chars -> rows: distinct lengths, not rows
        edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
        self.score_edges = edges
        self.scores = {name: {"all": np.zeros(SCORE_BINS, np.int64), "kept": np.zeros(SCORE_BINS, np.int64),
                              "sum": 0.0, "count": 0} for name in SCORES if self.has(name)}
        self.pii = {kind: 0 for kind in PII_KINDS if self.has("pii_" + kind)}
        self.pii_documents = 0
        self.pii_kept_documents = 0
        columns = [name for name in COLUMNS if name in self.names and name not in ("doc_id", "first_line", "duplicate_of")]
        for batch in open_parquet(path).iter_batches(batch_size=BATCH_ROWS, columns=columns):
            self._count(batch)

    def has(self, name: str) -> bool:
        return name in self.names

    def _count(self, batch: pa.RecordBatch) -> None:
        column = lambda name: batch.column(batch.schema.get_field_index(name))  # noqa: E731
        kept = column("kept").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
        has_reason = column("drop_reason").is_valid().to_numpy(zero_copy_only=False)
        self.rows += len(kept)
        self.kept += int(kept.sum())
        self.kept_with_reason += int((kept & has_reason).sum())
        self.dropped_without_reason += int((~kept & ~has_reason).sum())
        dropped = pa.array(~kept)
        self.reasons.add(pc.filter(column("drop_reason").fill_null(UNKNOWN_REASON), dropped))
        for name, counts in self.values.items():
            counts.add(column(name).fill_null(MISSING[name]), kept)
        if self.has("n_chars"):
            n_chars = column("n_chars")
            valid = n_chars.is_valid().to_numpy(zero_copy_only=False)
            self.lengths.add(pc.filter(n_chars, pa.array(valid)), kept[valid])
        for name, bins in self.scores.items():
            scores = column(name).cast(pa.float64()).fill_null(math.nan).to_numpy(zero_copy_only=False)
            scored = ~np.isnan(scores)
            values = np.clip(scores[scored], 0.0, 1.0)
            bins["all"] += np.histogram(values, bins=self.score_edges)[0]
            bins["kept"] += np.histogram(np.clip(scores[scored & kept], 0.0, 1.0), bins=self.score_edges)[0]
            bins["sum"] += float(values.sum())
            bins["count"] += len(values)
        if self.pii:
            per_doc = np.zeros(len(kept), np.int64)
            for kind in self.pii:
                found = column("pii_" + kind).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
                self.pii[kind] += int(found.sum())
                per_doc += found
            self.pii_documents += int((per_doc > 0).sum())
            self.pii_kept_documents += int(((per_doc > 0) & kept).sum())
        if self.has("duplicate_of_build"):
            earlier = column("duplicate_of_build").is_valid().to_numpy(zero_copy_only=False)
            self.dropped_from_earlier_builds += int((earlier & ~kept).sum())

    def examples(self, per_reason: int) -> dict[str, list[dict[str, Any]]]:
        """Up to `per_reason` rows of each drop reason, spread evenly over its rows in ledger order."""
        wanted = {reason: {i * n // per_reason for i in range(min(per_reason, n))}
                  for reason, n in self.reasons.everyone.items()}
        seen = dict.fromkeys(wanted, 0)
        found: dict[str, list[dict[str, Any]]] = {reason: [] for reason in wanted}
        columns = ["kept", "drop_reason"] + [name for name in EXAMPLE_COLUMNS if self.has(name)]
        for batch in open_parquet(self.path).iter_batches(batch_size=BATCH_ROWS, columns=columns):
            kept = batch.column(0).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
            reasons = batch.column(1).fill_null(UNKNOWN_REASON).to_pylist()
            for row in np.flatnonzero(~kept).tolist():
                reason = reasons[row]
                if seen[reason] in wanted[reason]:
                    found[reason].append(batch.slice(row, 1).to_pylist()[0])
                seen[reason] += 1
        return found


MISSING = {"language": "unknown", "source": "", "split": "none"}


def encode(column: pa.ChunkedArray | pa.Array) -> tuple[list[Any], np.ndarray]:
    """Distinct values and, per row, the index of its value (-1 for null)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    return encoded.dictionary.to_pylist(), encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _detail(stage: str, row: dict[str, Any]) -> str | None:
    """The signal that explains a drop, in words."""
    if stage == "language":
        score = row.get("language_score")
        return f"{row.get('language')} ({score:.2f})" if score is not None else row.get("language")
    if stage == "toxicity":
        score = row.get("toxicity_score")
        return f"toxicity {score:.2f}" if score is not None else None
    if stage == "pii":
        found = [f"{row.get('pii_' + kind)} {kind}" for kind in PII_KINDS if row.get("pii_" + kind)]
        return ", ".join(found) or None
    if stage in ("exact_dedup", "near_dedup"):
        of, build = row.get("duplicate_of"), row.get("duplicate_of_build")
        return None if of is None else f"copy of {of}" + (f" (build {build})" if build else "")
    return None


def _example(stage: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_id": row.get("doc_id"),
        "source": row.get("source"),
        "first_line": row.get("first_line"),
        "n_chars": row.get("n_chars"),
        "detail": _detail(stage, row),
    }


def drop_reasons(ledger: Ledger) -> list[dict[str, Any]]:
    examples = ledger.examples(EXAMPLES_PER_REASON)
    out = []
    for reason, n in ledger.reasons.everyone.items():
        stage = stage_of(reason)  # "unknown" (no reason given) falls under "other"
        out.append({
            "reason": reason,
            "stage": stage,
            "documents": n,
            "fraction": ratio(n, ledger.rows),
            "examples": [_example(stage, row) for row in examples[reason]],
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


def _percentiles(counts: dict[int, int]) -> dict[str, Any]:
    """np.percentile(method="lower") and the rest, from each distinct value's number of rows."""
    if not counts:
        return {"documents": 0, "total": 0, "mean": None, "min": None, "p10": None, "p50": None,
                "p90": None, "p99": None, "max": None}
    values = np.array(sorted(counts), dtype=np.int64)
    rows = np.array([counts[v] for v in values.tolist()], dtype=np.int64)
    n = int(rows.sum())
    total = int((values * rows).sum())
    below = np.cumsum(rows)  # rows with a value <= values[i]
    at = lambda q: int(values[np.searchsorted(below, math.floor(q * (n - 1)), side="right")])  # noqa: E731
    return {"documents": n, "total": total, "mean": round(total / n, 3), "min": int(values[0]),
            "p10": at(0.10), "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": int(values[-1])}


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
    everyone, kept = ledger.lengths.everyone, ledger.lengths.kept
    edges = _length_edges(max(everyone) if everyone else 0)

    def histogram(counts: dict[int, int]) -> np.ndarray:
        values = np.array(list(counts), dtype=np.int64)
        return np.histogram(values, bins=edges, weights=np.array(list(counts.values()), dtype=np.int64))[0].astype(np.int64)

    all_counts, kept_counts = histogram(everyone), histogram(kept)
    first = int(np.argmax(all_counts > 0)) if all_counts.any() else 0  # drop empty leading bins
    return {
        "all": _percentiles(everyone),
        "kept": _percentiles(kept),
        "histogram": {"edges": edges[first:], "all": all_counts[first:].tolist(), "kept": kept_counts[first:].tolist()},
    }


def score_distribution(ledger: Ledger, name: str) -> dict[str, Any] | None:
    if name not in ledger.scores:
        return None
    bins = ledger.scores[name]
    return {
        "documents_scored": bins["count"],
        "mean": round(bins["sum"] / bins["count"], 6) if bins["count"] else None,
        "histogram": {"edges": [round(e, 6) for e in ledger.score_edges.tolist()], "all": bins["all"].tolist(),
                      "kept": bins["kept"].tolist()},
    }


def languages(ledger: Ledger) -> list[dict[str, Any]]:
    if "language" not in ledger.values:
        return []
    counts = ledger.values["language"]
    rows = [{"language": lang, "documents": n, "kept": counts.kept.get(lang, 0)} for lang, n in counts.everyone.items()]
    return sorted(rows, key=lambda r: (-r["documents"], r["language"]))


def pii(ledger: Ledger) -> dict[str, Any] | None:
    if not ledger.pii:
        return None
    return {
        **ledger.pii,
        "total": sum(ledger.pii.values()),
        "documents_with_pii": ledger.pii_documents,
        "kept_documents_with_pii": ledger.pii_kept_documents,
    }


def sources(ledger: Ledger) -> tuple[list[dict[str, Any]], int]:
    if "source" not in ledger.values:
        return [], 0
    counts = ledger.values["source"]
    rows = sorted(({"source": s, "documents": n, "kept": counts.kept.get(s, 0)} for s, n in counts.everyone.items()),
                  key=lambda r: (-r["documents"], r["source"]))
    return rows[:TOP_SOURCES], len(rows)
