"""The contracts of the shards: their Arrow schema, the provenance sidecars, and manifest.json.

schemas/shard.arrow-schema.json and schemas/manifest.schema.json are rendered from here
(`shard_schema_json()`, `MANIFEST_SCHEMA`); tests/test_shards.py checks that the files match and
that a built manifest validates.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1


def _field(name: str, type_: str, description: str, nullable: bool = False) -> dict[str, Any]:
    return {"name": name, "type": type_, "nullable": nullable, "description": description}


def shard_schema_json() -> dict[str, Any]:
    return {
        "title": "gristmill shards: DIR/shards/{split}-{NNNNN}.arrow and their provenance",
        "description": (
            "Arrow IPC *streaming* format (what datasets.Dataset.from_file memory-maps; pyarrow.ipc.open_stream and "
            "polars.read_ipc_stream read it too), one record batch per shard. Each split's kept documents, in a "
            "seeded shuffled order, are laid end to end with <|endoftext|> after each document and cut into rows "
            "of seq_len + 1 ids (inputs are row[:-1], targets row[1:]). Remainder: the last partial row of each "
            "split (fewer than seq_len + 1 ids) is dropped; manifest.json records it as "
            "splits.<split>.dropped_tail_tokens, so shard_tokens + dropped_tail_tokens = document_tokens + "
            "separator_tokens. No padding is ever written."
        ),
        "schema_version": SCHEMA_VERSION,
        "fields": [
            _field("input_ids", "fixed_size_list<uint16 | uint32>[seq_len + 1]",
                   "token ids; uint16 when the vocabulary has at most 65536 ids, else uint32 (manifest.json: dtype)"),
        ],
        "metadata": {
            "gristmill.schema_version": "this schema's version",
            "gristmill.split": "train or val",
            "gristmill.row_len": "seq_len + 1",
        },
        "sidecars": {
            "shards/provenance/{split}-{NNNNN}.parquet": {
                "description": (
                    "One entry where each row starts and one where each document starts inside the shard, sorted by "
                    "(row, position). To trace the token at (row, p): take the last entry with (row, position) <= "
                    "(row, p); it is in the same row; the token is token (token_offset + p - position) of document "
                    "doc_index. An offset equal to the document's n_tokens is the <|endoftext|> written after it "
                    "(pipeline.shards.trace_token does this)."),
                "fields": [
                    _field("row", "uint32", "row within the shard"),
                    _field("position", "uint32", "position within the row, 0..seq_len"),
                    _field("doc_index", "uint32", "row of shards/provenance/{split}-docs.parquet"),
                    _field("token_offset", "uint32", "offset of this position within that document's tokens"),
                ],
            },
            "shards/provenance/{split}-docs.parquet": {
                "description": "The split's documents in kept order (part order, then row order).",
                "fields": [
                    _field("doc_index", "uint32", "0, 1, 2, ..."),
                    _field("doc_id", "string", "the document's id (ledger.parquet doc_id)"),
                    _field("part", "uint32", "index of the kept part file (work/kept/part-NNNNN.parquet, sorted)"),
                    _field("row_in_part", "uint64", "row of the document in that part file"),
                    _field("n_tokens", "uint32", "tokens of the document, without the separator"),
                ],
            },
        },
    }


_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_COUNT = {"type": "integer", "minimum": 0}
_FILE = {"type": "object", "required": ["path", "sha256"],
         "properties": {"path": {"type": "string", "description": "relative to DIR"}, "sha256": _SHA256}}

_SPLIT = {
    "type": "object",
    "required": ["documents", "document_tokens", "separator_tokens", "stream_tokens", "rows", "shard_tokens",
                 "dropped_tail_tokens", "shards", "docs_table"],
    "properties": {
        "documents": {**_COUNT, "description": "kept documents in this split"},
        "document_tokens": {**_COUNT, "description": "their tokens, separators not counted"},
        "separator_tokens": {**_COUNT, "description": "one <|endoftext|> per document"},
        "stream_tokens": {**_COUNT, "description": "document_tokens + separator_tokens"},
        "rows": _COUNT,
        "shard_tokens": {**_COUNT, "description": "rows x row_len"},
        "dropped_tail_tokens": {**_COUNT, "description": "the last partial row, dropped (< row_len)"},
        "shards": _COUNT,
        "docs_table": _FILE,
    },
}

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gristmill DIR/manifest.json",
    "description": "What pipeline.shards.write_shards wrote; model.data.ShardDataset checks every shard against it.",
    "type": "object",
    "required": ["schema_version", "format", "column", "seq_len", "row_len", "dtype", "seed", "val_fraction",
                 "rows_per_shard", "packing", "tokenizer", "shards", "splits", "totals", "config_sha256"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "format": {"const": "arrow-ipc-stream"},
        "column": {"const": "input_ids"},
        "seq_len": {"type": "integer", "minimum": 1},
        "row_len": {"type": "integer", "minimum": 2, "description": "seq_len + 1"},
        "dtype": {"enum": ["uint16", "uint32"]},
        "seed": {"type": "integer"},
        "val_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        "rows_per_shard": {"type": "integer", "minimum": 1},
        "packing": {
            "type": "object",
            "properties": {
                "separator": {"const": "eot_after_each_document"},
                "document_order": {"const": "seeded_shuffle_per_split"},
                "remainder": {"const": "last_partial_row_of_each_split_dropped"},
            },
        },
        "tokenizer": {
            "type": "object",
            "required": ["path", "sha256", "vocab_size", "eot_id", "pad_id", "model"],
            "properties": {
                "path": {"type": "string", "description": "relative to DIR when inside it, else absolute"},
                "sha256": _SHA256,
                "vocab_size": {"type": "integer", "minimum": 1},
                "eot_id": _COUNT,
                "pad_id": _COUNT,
                "model": {"enum": ["bpe", "wordpiece"]},
            },
        },
        "shards": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "split", "index", "rows", "tokens", "bytes", "sha256", "sample_sha256", "provenance"],
                "properties": {
                    "path": {"type": "string", "pattern": "^shards/(train|val)-[0-9]{5}\\.arrow$"},
                    "split": {"enum": ["train", "val"]},
                    "index": _COUNT,
                    "rows": {"type": "integer", "minimum": 1},
                    "tokens": {**_COUNT, "description": "rows x row_len"},
                    "bytes": {**_COUNT, "description": "file size"},
                    "sha256": _SHA256,
                    "sample_sha256": {**_SHA256, "description": "pipeline.shards.sample_sha256: size + 16 blocks of 64 KiB (verify='fast')"},
                    "provenance": _FILE,
                },
            },
        },
        "splits": {"type": "object", "required": ["train", "val"],
                   "properties": {"train": _SPLIT, "val": _SPLIT}},
        "totals": {
            "type": "object",
            "required": ["train_rows", "val_rows", "train_tokens", "val_tokens", "documents", "text_bytes"],
            "properties": {name: _COUNT for name in
                           ("train_rows", "val_rows", "train_tokens", "val_tokens", "documents", "text_bytes")},
        },
        "config_sha256": {"type": "string"},
    },
}
