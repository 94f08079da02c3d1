"""Summarise a build folder into the report dict (what report.json holds).

Everything here reads files another stage wrote and counts; nothing is recomputed from text.
Only ledger.parquet is required; every other input (manifest.json, work/stats.json,
dedup/stats.json, dedup/clusters.parquet, config.yaml) may be absent and its section is then empty.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from pipeline.report.bad_input import bad_input
from pipeline.report.ledger_view import (
    UNKNOWN_REASON,
    Ledger,
    drop_reasons,
    encode,
    funnel,
    languages,
    lengths,
    pii,
    ratio,
    score_distribution,
    sources,
)

REPORT_SCHEMA_VERSION = 1
EXAMPLE_CLUSTERS = 5
MEMBERS_PER_CLUSTER = 6


def plain(value: Any) -> Any:
    """A JSON-safe copy of `value`: finite floats only (NaN/inf become null), string keys, no numpy types."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _read_json(path: Path, warnings: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        warnings.append(f"{path.name} could not be read ({e}); its section is left empty")
        return None
    if not isinstance(data, dict):
        warnings.append(f"{path.name} does not hold a JSON object; its section is left empty")
        return None
    return data


def clusters(path: Path, warnings: list[str]) -> tuple[list[dict[str, int]], list[dict[str, Any]], int]:
    """Cluster-size histogram, the largest clusters with their members, and the number of clusters."""
    if not path.is_file():
        return [], [], 0
    try:
        table = pq.read_table(path)
        if "build" not in table.column_names:  # the earlier build a member lives in (null: this build)
            table = table.append_column("build", pa.nulls(table.num_rows, pa.string()))
        table = table.select(["cluster_id", "doc_id", "kept", "first_line", "build"])
    except (OSError, pa.ArrowInvalid, KeyError) as e:
        warnings.append(f"dedup/clusters.parquet could not be read ({e}); duplicate clusters are not shown")
        return [], [], 0
    labels, codes = encode(table.column("cluster_id").cast(pa.string()).fill_null(""))
    sizes = np.bincount(codes, minlength=len(labels))
    histogram = [{"size": int(s), "clusters": int(c)} for s, c in zip(*np.unique(sizes, return_counts=True))]
    # Largest first; ties by cluster id, so the choice never depends on row order.
    big = np.flatnonzero(sizes > 1)
    if len(big) > EXAMPLE_CLUSTERS:
        big = big[sizes[big] >= np.sort(sizes[big])[-EXAMPLE_CLUSTERS]]
    largest = sorted(big.tolist(), key=lambda i: (-sizes[i], labels[i]))
    examples = []
    for i in largest[:EXAMPLE_CLUSTERS]:
        members = table.take(pa.array(np.flatnonzero(codes == i)))
        members = members.take(pc.sort_indices(members, sort_keys=[("kept", "descending"), ("doc_id", "ascending")]))
        examples.append({
            "cluster_id": members.column("cluster_id")[0].as_py(),
            "size": int(sizes[i]),
            "members": [{"doc_id": m["doc_id"], "kept": bool(m["kept"]), "first_line": m["first_line"],
                         "build": m["build"]} for m in members.slice(0, MEMBERS_PER_CLUSTER).to_pylist()],
        })
    return histogram, examples, len(labels)


def duplicates(ledger: Ledger, reasons: list[dict[str, Any]], dedup_dir: Path, warnings: list[str]) -> dict[str, Any]:
    by_stage = {stage: sum(r["documents"] for r in reasons if r["stage"] == stage) for stage in ("exact_dedup", "near_dedup")}
    exact, near = by_stage["exact_dedup"], by_stage["near_dedup"]
    candidates = ledger.kept + exact + near  # the documents that survived the filters
    earlier = ledger.dropped_from_earlier_builds
    histogram, examples, n_clusters = clusters(dedup_dir / "clusters.parquet", warnings)
    return {
        "candidates": candidates,
        "exact": exact,
        "near": near,
        "exact_rate": ratio(exact, candidates),
        "near_rate": ratio(near, candidates),
        "from_earlier_builds": earlier,
        "clusters": n_clusters,
        "cluster_sizes": histogram,
        "example_clusters": examples,
        "index_stats": plain(_read_json(dedup_dir / "stats.json", warnings)),
    }


def input_files(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """The input files as the build listed them; the path relative to the build's argument when known."""
    files = []
    for entry in plain(stats.get("inputs") or []):
        if isinstance(entry, dict):
            files.append({"path": entry.get("relative") or entry.get("path"), "format": entry.get("format"),
                          "documents": entry.get("documents"), "invalid": entry.get("invalid"),
                          "bytes": entry.get("bytes")})
    return files


def tokens(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    totals = manifest.get("totals") or {}
    shards = [s for s in manifest.get("shards") or [] if isinstance(s, dict)]
    return plain({
        **{k: totals.get(k) for k in ("train_tokens", "val_tokens", "train_rows", "val_rows", "documents")},
        "seq_len": manifest.get("seq_len"),
        "dtype": manifest.get("dtype"),
        "shards": len(shards),
        "shard_bytes": sum(s.get("bytes") or 0 for s in shards),
    })


def tokenizer(manifest: dict[str, Any] | None, stats: dict[str, Any]) -> dict[str, Any] | None:
    described = (manifest or {}).get("tokenizer") or {}
    trained = stats.get("tokenizer")
    if not described and not trained:
        return None
    fields = {k: described.get(k) for k in ("model", "vocab_size", "eot_id", "pad_id", "sha256")}
    return plain({**fields, "stats": trained if isinstance(trained, dict) else {}})


def timings(stats: dict[str, Any]) -> dict[str, Any]:
    stages = []
    for name, entry in (stats.get("stages") or {}).items():
        if name == "report":  # the report cannot time itself; a report rerun after a kill would list it
            continue
        entry = entry if isinstance(entry, dict) else {"seconds": entry}
        seconds = plain(entry.get("seconds"))
        details = {k: v for k, v in plain(entry).items() if k != "seconds"}
        stages.append({"stage": str(name), "seconds": seconds if isinstance(seconds, (int, float)) else None,
                       "details": details})
    total = sum(s["seconds"] or 0 for s in stages)
    return {"stages": stages, "total_seconds": round(total, 3)}


def config_summary(path: Path, manifest: dict[str, Any] | None, warnings: list[str]) -> dict[str, Any] | None:
    """The thresholds a reader needs to judge the histograms, from DIR/config.yaml."""
    if not path.is_file():
        return None
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        warnings.append(f"config.yaml could not be read ({e}); thresholds are not shown")
        return None
    section = lambda name: config.get(name) if isinstance(config.get(name), dict) else {}  # noqa: E731
    return plain({
        "sha256": (manifest or {}).get("config_sha256"),
        "language_allowed": [str(code) for code in section("language").get("allowed") or []],
        "language_min_score": section("language").get("min_score"),
        "toxicity_threshold": section("toxicity").get("threshold"),
        "pii_mode": section("pii").get("mode"),
    })


def consistency(ledger: Ledger, manifest: dict[str, Any] | None) -> list[str]:
    notes = []
    if ledger.kept_with_reason:
        notes.append(f"{ledger.kept_with_reason} kept rows carry a drop_reason; they are counted as kept")
    if ledger.dropped_without_reason:
        notes.append(f"{ledger.dropped_without_reason} dropped rows have no drop_reason; they are counted as '{UNKNOWN_REASON}'")
    documents = ((manifest or {}).get("totals") or {}).get("documents")
    if documents is not None and documents != ledger.kept:
        notes.append(f"manifest.json counts {documents} documents but the ledger keeps {ledger.kept}")
    return notes


def summarize(build_dir: Path) -> dict[str, Any]:
    """The report dict for one build folder (see schemas/report.schema.json)."""
    build_dir = Path(build_dir)
    warnings: list[str] = []
    ledger = Ledger(build_dir / "ledger.parquet")
    manifest = _read_json(build_dir / "manifest.json", warnings)
    stats = _read_json(build_dir / "work" / "stats.json", warnings) or {}
    warnings += consistency(ledger, manifest)

    reasons = drop_reasons(ledger)
    files = input_files(stats)
    unreadable = [f for f in plain(stats.get("unreadable") or []) if isinstance(f, dict)]
    by_source, n_sources = sources(ledger)
    dups = duplicates(ledger, reasons, build_dir / "dedup", warnings)
    tokens_written = tokens(manifest)
    kept = ledger.kept
    length = lengths(ledger)
    splits = dict(sorted(ledger.values["split"].kept.items())) if "split" in ledger.values else {}
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "summary": {
            "documents_in": ledger.rows,
            "documents_kept": kept,
            "documents_dropped": ledger.rows - kept,
            "kept_fraction": ratio(kept, ledger.rows),
            "input_files": len(files) if files else n_sources,
            "unreadable_files": len(unreadable),
            "input_bytes": sum(f.get("bytes") or 0 for f in files) if files else None,
            "kept_chars": length["kept"]["total"] if length else None,
            "duplicates": dups["exact"] + dups["near"],
            "train_tokens": (tokens_written or {}).get("train_tokens"),
            "val_tokens": (tokens_written or {}).get("val_tokens"),
        },
        "config": config_summary(build_dir / "config.yaml", manifest, warnings),
        "funnel": funnel(ledger.rows, reasons),
        "drop_reasons": reasons,
        "inputs": {"files": files, "unreadable": unreadable, "sources": n_sources, "by_source": by_source},
        "bad_input": bad_input(build_dir / "ledger.parquet", stats),
        "languages": languages(ledger),
        "lengths": length,
        "language_score": score_distribution(ledger, "language_score"),
        "toxicity_score": score_distribution(ledger, "toxicity_score"),
        "pii": pii(ledger),
        "duplicates": dups,
        "splits": splits,
        "tokens": tokens_written,
        "tokenizer": tokenizer(manifest, stats),
        "timings": timings(stats),
        "warnings": warnings,
    }
