"""Tokenize the kept documents and pack them into Arrow shards, with a manifest.

Two passes, so the corpus is never held in memory:
1. tokenize: cut the kept parts into pieces (runs of row groups) that a runner encodes in
   parallel (pipeline/encode_pieces.py; by default `workers` local processes), then append each
   piece's ids, in kept order, to a per-split spill file on disk; the split is a pure function of
   the doc_id (split_of).
2. pack: shuffle the split's document order with a seeded permutation, lay the documents end to
   end with `<|endoftext|>` after each one, cut the stream into rows of seq_len + 1 ids, and write
   rows_per_shard rows per shard. The stream's last partial row (fewer than seq_len + 1 ids) is
   dropped: at most seq_len ids per split, recorded as dropped_tail_tokens.

Each shard is one Arrow IPC *stream* (what datasets.Dataset.from_file memory-maps) holding one
record batch, column `input_ids`: fixed_size_list<uint16|uint32>[seq_len + 1]. Provenance lives
beside it (schemas/shard.arrow-schema.json says how to trace a token to its document).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import ShardsConfig
from pipeline.encode_pieces import encode_piece, plan_pieces, read_piece
from pipeline.pieces import LocalPool, Runner
from pipeline.faults import fault_point
from pipeline.shard_schema import SCHEMA_VERSION
from pipeline.tokenizer import EOT_TOKEN, PAD_TOKEN, file_sha256, is_validation_doc, load_tokenizer

SPLITS = ("train", "val")
PARALLEL_MIN_BYTES = 8_000_000  # kept parquet bytes below which starting worker processes costs more than it saves
SAMPLE_BLOCKS, SAMPLE_BLOCK_BYTES = 16, 65536  # the part of a shard that fast verification hashes


def split_of(doc_id: str, val_fraction: float, seed: int) -> str:
    """'train' or 'val' from a seeded hash of doc_id.

    A duplicate belongs to the split of its kept representative: split_of(duplicate_of, ...).
    """
    return "val" if is_validation_doc(doc_id, val_fraction, seed) else "train"


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def shard_schema(row_len: int, dtype: np.dtype, split: str) -> pa.Schema:
    metadata = {"gristmill.schema_version": str(SCHEMA_VERSION), "gristmill.split": split,
                "gristmill.row_len": str(row_len)}
    return pa.schema([pa.field("input_ids", pa.list_(pa.from_numpy_dtype(dtype), row_len), nullable=False)],
                     metadata=metadata)


def sample_sha256(path: str | Path) -> str:
    """sha256 of the file size and SAMPLE_BLOCKS blocks spread evenly over the file (fast verification)."""
    size = os.path.getsize(path)
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        for start in np.linspace(0, max(0, size - SAMPLE_BLOCK_BYTES), SAMPLE_BLOCKS).astype(np.int64):
            f.seek(int(start))
            digest.update(f.read(SAMPLE_BLOCK_BYTES))
    return digest.hexdigest()


def _atomic_path(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    # mkstemp creates the file 0600; published files get the usual umask-derived mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def write_json_atomic(data: dict[str, Any], path: Path) -> None:
    tmp = _atomic_path(path)
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    tmp = _atomic_path(path)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


@dataclass
class SplitSpill:
    """One split's documents, tokenized, in kept order: ids appended to a file on disk."""

    path: Path
    dtype: np.dtype
    doc_ids: list[str] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._file = open(self.path, "wb")

    def append(self, doc_ids: list[str], parts: list[int], rows: list[int], ids: np.ndarray, lengths: list[int]) -> None:
        self.doc_ids += doc_ids
        self.parts += parts
        self.rows += rows
        self.lengths += lengths
        self._file.write(ids.tobytes())

    def close(self) -> np.ndarray:
        self._file.close()
        if self.path.stat().st_size == 0:  # no document, or only empty ones: nothing to map
            return np.zeros(0, self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r")


class Tokenizing:
    """Pass 1: kept parts → encoding pieces (run by `runner`) → per-split spill files, in kept order."""

    def __init__(self, tokenizer_path: Path, val_fraction: float, seed: int, workdir: Path, runner: Runner):
        self.tokenizer_path = tokenizer_path
        self.dtype = token_dtype(load_tokenizer(tokenizer_path).get_vocab_size())
        self.runner = runner
        self.val_fraction, self.seed, self.workdir = val_fraction, seed, workdir
        self.spills = {split: SplitSpill(workdir / f"{split}.ids", self.dtype) for split in SPLITS}
        self.text_bytes = 0

    def run(self, kept_parts: list[Path]) -> dict[str, SplitSpill]:
        pieces_dir = self.workdir / "pieces"
        pieces_dir.mkdir(exist_ok=True)
        pieces = plan_pieces(kept_parts)
        jobs = [(piece, str(self.tokenizer_path), self.dtype.str, self.val_fraction, self.seed, str(pieces_dir))
                for piece in pieces]
        counts = self.runner(encode_piece, jobs)
        self.text_bytes = sum(c["text_bytes"] for c in counts)
        for piece in pieces:  # the merge: plan order is kept order
            docs, ids = read_piece(piece, pieces_dir, self.dtype)
            lengths = docs.column("n_tokens").to_numpy()
            is_val = docs.column("val").to_numpy(zero_copy_only=False)
            token_is_val = np.repeat(is_val, lengths)
            doc_ids, rows = docs.column("doc_id").to_pylist(), docs.column("row").to_pylist()
            for split, chosen, token_chosen in (("train", ~is_val, ~token_is_val), ("val", is_val, token_is_val)):
                picked = np.flatnonzero(chosen)
                if picked.size:
                    self.spills[split].append([doc_ids[i] for i in picked], [piece.part_index] * len(picked),
                                              [rows[i] for i in picked], ids[token_chosen], lengths[picked].tolist())
            del ids
            for suffix in (".ids", ".parquet"):
                (pieces_dir / f"{piece.stem}{suffix}").unlink()
        return self.spills


class Packing:
    """Pass 2: one split's spill → shuffled, packed shards with provenance sidecars."""

    def __init__(self, split: str, spill: SplitSpill, ids: np.ndarray, config: ShardsConfig, seed: int,
                 eot_id: int, out_dir: Path):
        self.split, self.spill, self.ids = split, spill, ids
        self.row_len = config.seq_len + 1
        self.rows_per_shard = config.rows_per_shard
        self.eot_id, self.out_dir = eot_id, out_dir
        lengths = np.asarray(spill.lengths, dtype=np.int64)
        self.doc_offsets = np.concatenate([[0], np.cumsum(lengths)])[:-1]
        self.lengths = lengths
        # Seeded document order; a split's own stream so adding val docs never reorders train.
        self.order = np.random.default_rng([seed, SPLITS.index(split)]).permutation(len(lengths))
        segment = lengths[self.order] + 1  # the document and its <|endoftext|>
        self.stream_starts = np.concatenate([[0], np.cumsum(segment)])[:-1]
        self.stream_tokens = int(segment.sum())
        self.n_rows = self.stream_tokens // self.row_len

    def run(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        shards = []
        for index, first_row in enumerate(range(0, self.n_rows, self.rows_per_shard)):
            last_row = min(first_row + self.rows_per_shard, self.n_rows)
            shards.append(self._write_shard(index, first_row, last_row))
        docs_path = self.out_dir / "provenance" / f"{self.split}-docs.parquet"
        write_parquet_atomic(pa.table({
            "doc_index": pa.array(np.arange(len(self.lengths), dtype=np.uint32)),
            "doc_id": pa.array(self.spill.doc_ids, pa.string()),
            "part": pa.array(self.spill.parts, pa.uint32()),
            "row_in_part": pa.array(self.spill.rows, pa.uint64()),
            "n_tokens": pa.array(self.lengths.astype(np.uint32)),
        }), docs_path)
        document_tokens = int(self.lengths.sum())
        shard_tokens = self.n_rows * self.row_len
        summary = {
            "documents": len(self.lengths),
            "document_tokens": document_tokens,
            "separator_tokens": len(self.lengths),
            "stream_tokens": self.stream_tokens,
            "rows": self.n_rows,
            "shard_tokens": shard_tokens,
            "dropped_tail_tokens": self.stream_tokens - shard_tokens,
            "shards": len(shards),
            "docs_table": {"path": str(docs_path.relative_to(self.out_dir.parent)), "sha256": file_sha256(docs_path)},
        }
        return shards, summary

    def _fill(self, window_start: int, window_end: int) -> np.ndarray:
        """The stream's tokens in [window_start, window_end)."""
        buffer = np.empty(window_end - window_start, dtype=self.ids.dtype if self.ids.size else np.uint16)
        first = int(np.searchsorted(self.stream_starts, window_start, side="right")) - 1
        last = int(np.searchsorted(self.stream_starts, window_end, side="left"))
        for k in range(max(first, 0), last):
            start, doc = int(self.stream_starts[k]), int(self.order[k])
            n, offset = int(self.lengths[doc]), int(self.doc_offsets[doc])
            lo, hi = max(window_start, start), min(window_end, start + n)
            if hi > lo:
                buffer[lo - window_start:hi - window_start] = self.ids[offset + lo - start:offset + hi - start]
            if window_start <= start + n < window_end:
                buffer[start + n - window_start] = self.eot_id
        return buffer

    def _provenance(self, window_start: int, window_end: int) -> pa.Table:
        """One entry where each row starts and where each document starts inside the shard."""
        row_starts = np.arange(window_start, window_end, self.row_len, dtype=np.int64)
        lo, hi = np.searchsorted(self.stream_starts, [window_start, window_end], side="left")
        positions = np.union1d(row_starts, self.stream_starts[lo:hi])
        k = np.searchsorted(self.stream_starts, positions, side="right") - 1
        local = positions - window_start
        return pa.table({
            "row": pa.array((local // self.row_len).astype(np.uint32)),
            "position": pa.array((local % self.row_len).astype(np.uint32)),
            "doc_index": pa.array(self.order[k].astype(np.uint32)),
            "token_offset": pa.array((positions - self.stream_starts[k]).astype(np.uint32)),
        })

    def _write_shard(self, index: int, first_row: int, last_row: int) -> dict[str, Any]:
        window_start, window_end = first_row * self.row_len, last_row * self.row_len
        tokens = self._fill(window_start, window_end)
        schema = shard_schema(self.row_len, tokens.dtype, self.split)
        column = pa.FixedSizeListArray.from_arrays(pa.array(tokens), self.row_len)
        path = self.out_dir / f"{self.split}-{index:05d}.arrow"
        tmp = _atomic_path(path)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            writer.write_batch(pa.record_batch([column], schema=schema))
        fault_point("shards.shard_tmp_written")
        os.replace(tmp, path)
        fault_point("shards.shard_written")
        provenance_path = self.out_dir / "provenance" / f"{self.split}-{index:05d}.parquet"
        write_parquet_atomic(self._provenance(window_start, window_end), provenance_path)
        root = self.out_dir.parent
        return {
            "path": str(path.relative_to(root)),
            "split": self.split,
            "index": index,
            "rows": last_row - first_row,
            "tokens": window_end - window_start,
            "bytes": path.stat().st_size,
            "sha256": file_sha256(path),
            "sample_sha256": sample_sha256(path),
            "provenance": {"path": str(provenance_path.relative_to(root)), "sha256": file_sha256(provenance_path)},
        }


def _tokenizer_entry(tokenizer_path: Path, out_dir: Path) -> dict[str, Any]:
    tokenizer = load_tokenizer(tokenizer_path)
    model_type = json.loads(tokenizer.to_str())["model"]["type"]
    resolved = tokenizer_path.resolve()
    try:
        path = str(resolved.relative_to(out_dir.resolve()))
    except ValueError:
        path = str(resolved)
    return {"path": path, "sha256": file_sha256(tokenizer_path), "vocab_size": tokenizer.get_vocab_size(),
            "eot_id": tokenizer.token_to_id(EOT_TOKEN), "pad_id": tokenizer.token_to_id(PAD_TOKEN),
            "model": {"BPE": "bpe", "WordPiece": "wordpiece"}.get(model_type, model_type.lower())}


def _remove_stale(shard_dir: Path, keep: set[Path]) -> None:
    """Shards of an earlier build that this one did not rewrite (a glob must not pick them up)."""
    for pattern in ("*-[0-9][0-9][0-9][0-9][0-9].arrow", "provenance/*.parquet"):
        for path in shard_dir.glob(pattern):
            if path not in keep:
                path.unlink()


def write_shards(kept_parts: list[Path], tokenizer_path: Path, config: ShardsConfig, seed: int,
                 out_dir: Path, config_sha256: str, runner: Runner | None = None) -> dict[str, Any]:
    """Tokenize and pack the kept documents into out_dir/shards/*.arrow and write out_dir/manifest.json.

    Returns the manifest dict, plus a "timing" key (seconds per pass, MB/s) that is not written
    to manifest.json so that the file stays byte-identical across runs.
    """
    out_dir, tokenizer_path = Path(out_dir), Path(tokenizer_path)
    shard_dir = out_dir / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer_entry(tokenizer_path, out_dir)
    row_len = config.seq_len + 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".tokenize-", dir=out_dir) as workdir:
        kept_parts = [Path(p) for p in kept_parts]
        if runner is None:
            small = sum(p.stat().st_size for p in kept_parts) < PARALLEL_MIN_BYTES
            runner = LocalPool(1 if small else config.workers)
        tokenizing = Tokenizing(tokenizer_path, config.val_fraction, seed, Path(workdir), runner)
        spills = tokenizing.run(kept_parts)
        tokenized = time.perf_counter()
        shards, splits = [], {}
        for split in SPLITS:
            ids = spills[split].close()
            packing = Packing(split, spills[split], ids, config, seed, tokenizer["eot_id"], shard_dir)
            split_shards, splits[split] = packing.run()
            shards += split_shards
            del ids
    packed = time.perf_counter()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "format": "arrow-ipc-stream",
        "column": "input_ids",
        "seq_len": config.seq_len,
        "row_len": row_len,
        "dtype": str(tokenizing.dtype),
        "seed": seed,
        "val_fraction": config.val_fraction,
        "rows_per_shard": config.rows_per_shard,
        "packing": {"separator": "eot_after_each_document", "document_order": "seeded_shuffle_per_split",
                    "remainder": "last_partial_row_of_each_split_dropped"},
        "tokenizer": tokenizer,
        "shards": shards,
        "splits": splits,
        "totals": {
            "train_rows": splits["train"]["rows"], "val_rows": splits["val"]["rows"],
            "train_tokens": splits["train"]["shard_tokens"], "val_tokens": splits["val"]["shard_tokens"],
            "documents": splits["train"]["documents"] + splits["val"]["documents"],
            "text_bytes": tokenizing.text_bytes,
        },
        "config_sha256": config_sha256,
    }
    write_json_atomic(manifest, out_dir / "manifest.json")
    keep = {out_dir / s["path"] for s in shards} | {out_dir / s["provenance"]["path"] for s in shards}
    keep |= {out_dir / s["docs_table"]["path"] for s in splits.values()}
    _remove_stale(shard_dir, keep)
    seconds = packed - started
    return manifest | {"timing": {
        "tokenize_seconds": round(tokenized - started, 3),
        "pack_seconds": round(packed - tokenized, 3),
        "mb_per_s": round(tokenizing.text_bytes / 1e6 / seconds, 2) if seconds else None,
    }}


def trace_token(data_dir: str | Path, shard_path: str, row: int, position: int) -> tuple[str, int]:
    """(doc_id, token_offset) of the token at (row, position) of a shard; token_offset equal to the
    document's n_tokens means the token is the <|endoftext|> written after that document."""
    data_dir = Path(data_dir)
    manifest = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))
    entry = next((s for s in manifest["shards"] if s["path"] == shard_path), None)
    if entry is None:
        raise KeyError(f"{shard_path} is not in {data_dir / 'manifest.json'}: use a path from its shards list")
    provenance = pq.read_table(data_dir / entry["provenance"]["path"])
    rows = provenance.column("row").to_numpy()
    positions = provenance.column("position").to_numpy()
    key = rows.astype(np.int64) * manifest["row_len"] + positions
    at = int(np.searchsorted(key, row * manifest["row_len"] + position, side="right")) - 1
    doc_index = int(provenance.column("doc_index")[at].as_py())
    offset = int(provenance.column("token_offset")[at].as_py()) + position - int(positions[at])
    docs = pq.read_table(data_dir / manifest["splits"][entry["split"]]["docs_table"]["path"], columns=["doc_id"])
    return docs.column("doc_id")[doc_index].as_py(), offset
