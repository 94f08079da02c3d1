"""The Arrow schema of ledger.parquet: one row per input document, kept or dropped for one reason.

The ledger writer builds its table with `LEDGER_SCHEMA`, the report reads against it, and
schemas/ledger.arrow-schema.json is generated from it (schemas/generate.py), so the three agree.
Each field carries its meaning in the field metadata, which Parquet stores with the file.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

LEDGER_SCHEMA_VERSION = 2

# (name, type, nullable, meaning) in the column order of ledger.parquet.
_FIELDS: list[tuple[str, pa.DataType, bool, str]] = [
    ("doc_id", pa.string(), False, "the input's id field, or '<relative path>:<line>' when it had none"),
    ("source", pa.string(), False, "the input file the document came from"),
    ("kept", pa.bool_(), False, "true when the document reaches the tokenizer and the shards"),
    ("drop_reason", pa.string(), True,
     "why it was dropped (null when kept): invalid:<why>, empty, quality:<filter>:<rule>, language, toxicity, "
     "pii, exact_duplicate, near_duplicate (the first failing filter in chain order)"),
    ("language", pa.string(), True, "langdetect language code (null when not computed)"),
    ("language_score", pa.float64(), True, "langdetect probability of `language`, in [0, 1]"),
    ("toxicity_score", pa.float64(), True, "toxicity score in [0, 1] (worst window for long documents)"),
    ("flagged_word_ratio", pa.float64(), True, "share of words on the flagged-word list"),
    ("pii_email", pa.int64(), True, "email addresses found (redacted in the kept text when pii.mode is redact)"),
    ("pii_ip", pa.int64(), True, "IP addresses found"),
    ("pii_phone", pa.int64(), True, "phone numbers found"),
    ("duplicate_of", pa.string(), True, "doc_id of the copy kept in this document's place (duplicates only)"),
    ("first_line", pa.string(), False, "first non-empty line of the raw text, at most 120 characters, for auditing"),
    ("duplicate_of_build", pa.string(), True, "folder name of the earlier build that holds the kept copy, if any"),
    ("n_chars", pa.int64(), False, "characters of the cleaned text (of the raw text when dropped before cleaning)"),
    ("split", pa.string(), True, "'train' or 'val' for kept documents; a duplicate gets the split of its kept copy; null otherwise"),
    ("metadata", pa.string(), True, "the input record's other fields (besides id and text) as JSON; null when none"),
    ("encoding", pa.string(), True, "the encoding the input was transcoded from (e.g. cp1252, utf-16-le); null for UTF-8"),
]

LEDGER_SCHEMA: pa.Schema = pa.schema(
    [pa.field(name, type_, nullable=nullable, metadata={"description": meaning})
     for name, type_, nullable, meaning in _FIELDS],
    metadata={"gristmill.ledger.schema_version": str(LEDGER_SCHEMA_VERSION)},
)


def ledger_schema_json() -> dict[str, Any]:
    """LEDGER_SCHEMA as plain JSON (what schemas/ledger.arrow-schema.json holds)."""
    return {
        "title": "gristmill ledger.parquet",
        "description": "Arrow schema of DIR/ledger.parquet: one row per input document, in input order.",
        "schema_version": LEDGER_SCHEMA_VERSION,
        "fields": [
            {"name": f.name, "type": str(f.type), "nullable": f.nullable,
             "description": f.metadata[b"description"].decode()}
            for f in LEDGER_SCHEMA
        ],
    }


def check_ledger(table: pa.Table) -> None:
    """Raise ValueError naming every column whose name, type or nullability departs from LEDGER_SCHEMA."""
    problems = []
    have = {f.name: f for f in table.schema}
    for expected in LEDGER_SCHEMA:
        got = have.pop(expected.name, None)
        if got is None:
            problems.append(f"missing column '{expected.name}' ({expected.type})")
        elif not got.type.equals(expected.type):
            problems.append(f"column '{expected.name}' is {got.type}, expected {expected.type}")
        elif not expected.nullable and table.column(expected.name).null_count:
            problems.append(f"column '{expected.name}' holds nulls but must not")
    problems += [f"unexpected column '{name}'" for name in have]
    if problems:
        raise ValueError("ledger does not match LEDGER_SCHEMA (pipeline/ledger_schema.py): " + "; ".join(problems))
