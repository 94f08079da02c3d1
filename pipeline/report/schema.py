"""JSON Schema of report.json; schemas/generate.py writes it to schemas/report.schema.json.

Written next to summary.py so a change to the report and to its contract land in one place;
tests validate a built report against the committed file.
"""

from __future__ import annotations

from typing import Any

from pipeline.report.summary import REPORT_SCHEMA_VERSION


def _object(properties: dict[str, Any], description: str = "", nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["object", "null"] if nullable else "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    return {"description": description, **schema} if description else schema


def _list(items: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description, "type": "array", "items": items} if description else {"type": "array", "items": items}


COUNT = {"type": "integer", "minimum": 0}
FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
TEXT = {"type": ["string", "null"]}
MAYBE_COUNT = {"type": ["integer", "null"], "minimum": 0}
MAYBE_NUMBER = {"type": ["number", "null"]}
SCALARS = {"type": "object", "description": "free-form values passed through from the stage that wrote them"}

HISTOGRAM = _object({
    "edges": _list({"type": "number"}, "bin edges: bin i holds values in [edges[i], edges[i+1]) (the last bin is closed)"),
    "all": _list(COUNT, "documents per bin, all rows with a value"),
    "kept": _list(COUNT, "documents per bin, kept rows only"),
})

PERCENTILES = _object({
    "documents": COUNT, "total": COUNT, "mean": MAYBE_NUMBER, "min": MAYBE_COUNT, "p10": MAYBE_COUNT,
    "p50": MAYBE_COUNT, "p90": MAYBE_COUNT, "p99": MAYBE_COUNT, "max": MAYBE_COUNT,
})

SCORES = _object({
    "documents_scored": COUNT, "mean": MAYBE_NUMBER, "histogram": HISTOGRAM,
}, "distribution of a [0, 1] score (null when the ledger lacks the column)", nullable=True)

EXAMPLE = _object({
    "doc_id": TEXT, "source": TEXT,
    "first_line": {"type": ["string", "null"], "description": "untrusted document text: escape before display"},
    "n_chars": MAYBE_COUNT,
    "detail": {"type": ["string", "null"], "description": "the signal behind the drop, in words"},
})

STAGE = {"type": "string", "enum": ["input", "ingest", "clean", "language", "quality", "toxicity", "pii",
                                      "exact_dedup", "near_dedup", "other", "kept"]}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://gristmill.invalid/schemas/report.schema.json",
    "title": "gristmill report.json",
    "description": "Data-quality report of one build folder, computed from ledger.parquet, manifest.json, "
                   "work/stats.json and dedup/. Sections whose input file is absent are null or empty.",
    **_object({
        "schema_version": {"const": REPORT_SCHEMA_VERSION},
        "summary": _object({
            "documents_in": COUNT, "documents_kept": COUNT, "documents_dropped": COUNT, "kept_fraction": FRACTION,
            "input_files": COUNT, "unreadable_files": COUNT, "input_bytes": MAYBE_COUNT, "kept_chars": MAYBE_COUNT,
            "duplicates": COUNT, "train_tokens": MAYBE_COUNT, "val_tokens": MAYBE_COUNT,
        }, "headline numbers"),
        "config": _object({
            "sha256": TEXT, "language_allowed": {"type": "array", "items": {"type": "string"}},
            "language_min_score": MAYBE_NUMBER, "toxicity_threshold": MAYBE_NUMBER, "pii_mode": TEXT,
        }, "thresholds from config.yaml (null when absent)", nullable=True),
        "funnel": _list(_object({
            "stage": STAGE, "label": {"type": "string"}, "dropped": COUNT, "remaining": COUNT,
        }), "documents left after each stage, from input to kept; 'other' appears only for unknown reason codes"),
        "drop_reasons": _list(_object({
            "reason": {"type": "string"}, "stage": STAGE, "documents": COUNT, "fraction": FRACTION,
            "examples": _list(EXAMPLE, "a few dropped documents spread evenly over the ledger"),
        }), "one entry per drop_reason code, in funnel order, then by count"),
        "inputs": _object({
            "files": _list(_object({"path": TEXT, "format": TEXT, "documents": MAYBE_COUNT, "invalid": MAYBE_COUNT,
                                    "bytes": MAYBE_COUNT}), "input files as work/stats.json lists them"),
            "unreadable": _list({"type": "object"}, "files that could not be read at all (path, reason)"),
            "sources": COUNT,
            "by_source": _list(_object({"source": {"type": "string"}, "documents": COUNT, "kept": COUNT}),
                               "the largest sources by documents"),
        }),
        "bad_input": _object({
            "quarantined": {**COUNT, "description": "records dropped as invalid:<why>"},
            "transcoded": {**COUNT, "description": "documents read from an encoding other than UTF-8"},
            "surrogates_replaced": {**COUNT, "description": "lone surrogates replaced with U+FFFD"},
            "unreadable_files": COUNT,
            "files": _list(_object({
                "source": {"type": "string"},
                "quarantined": {"type": "object", "additionalProperties": COUNT, "description": "invalid:<why> -> records"},
                "encodings": {"type": "object", "additionalProperties": COUNT, "description": "encoding -> documents"},
                "surrogates_replaced": COUNT,
            }), "input files with bad records, transcoded documents or replaced surrogates"),
        }, "bad input, per file (pipeline/report/bad_input.py)"),
        "languages": _list(_object({"language": {"type": "string"}, "documents": COUNT, "kept": COUNT}),
                           "documents per language code ('unknown' when none was detected), largest first"),
        "lengths": _object({"all": PERCENTILES, "kept": PERCENTILES, "histogram": HISTOGRAM},
                           "n_chars distribution (null when the ledger lacks n_chars)", nullable=True),
        "language_score": SCORES,
        "toxicity_score": SCORES,
        "pii": {"description": "PII found (sums of pii_email, pii_ip, pii_phone); null when not recorded",
                "type": ["object", "null"],
                "required": ["total", "documents_with_pii", "kept_documents_with_pii"],
                "properties": {"email": COUNT, "ip": COUNT, "phone": COUNT, "total": COUNT,
                               "documents_with_pii": COUNT, "kept_documents_with_pii": COUNT},
                "additionalProperties": False},
        "duplicates": _object({
            "candidates": {**COUNT, "description": "documents that survived the filters and entered dedup"},
            "exact": COUNT, "near": COUNT,
            "exact_rate": {**FRACTION, "description": "exact / candidates"},
            "near_rate": {**FRACTION, "description": "near / candidates"},
            "from_earlier_builds": COUNT,
            "clusters": COUNT,
            "cluster_sizes": _list(_object({"size": COUNT, "clusters": COUNT}), "from dedup/clusters.parquet"),
            "example_clusters": _list(_object({
                "cluster_id": {"type": ["integer", "string"]}, "size": COUNT,
                "members": _list(_object({"doc_id": TEXT, "kept": {"type": "boolean"}, "first_line": TEXT,
                                           "build": {**TEXT, "description": "the earlier build holding it (null: this one)"}})),
            }), "the largest clusters, kept member first"),
            "index_stats": {**SCALARS, "type": ["object", "null"], "description": "dedup/stats.json as written by dedup"},
        }),
        "splits": {"type": "object", "additionalProperties": COUNT, "description": "kept documents per split"},
        "tokens": {
            "description": "what the shards hold, from manifest.json (null without one)",
            "type": ["object", "null"],
            "required": ["train_tokens", "val_tokens", "train_rows", "val_rows", "documents", "seq_len", "dtype",
                         "shards", "shard_bytes"],
            "properties": {"train_tokens": MAYBE_COUNT, "val_tokens": MAYBE_COUNT, "train_rows": MAYBE_COUNT,
                           "val_rows": MAYBE_COUNT, "documents": MAYBE_COUNT, "seq_len": MAYBE_COUNT,
                           "dtype": TEXT, "shards": COUNT, "shard_bytes": COUNT},
            "additionalProperties": False,
        },
        "tokenizer": _object({
            "model": TEXT, "vocab_size": MAYBE_COUNT, "eot_id": MAYBE_COUNT, "pad_id": MAYBE_COUNT, "sha256": TEXT,
            "stats": {**SCALARS, "description": "the tokenizer's own statistics from work/stats.json"},
        }, "from manifest.json and work/stats.json (null without either)", nullable=True),
        "timings": _object({
            "stages": _list(_object({"stage": {"type": "string"}, "seconds": MAYBE_NUMBER, "details": SCALARS})),
            "total_seconds": {"type": "number"},
        }, "stage timings from work/stats.json"),
        "warnings": _list({"type": "string"}, "inconsistencies found while reading the build folder"),
    }),
}
