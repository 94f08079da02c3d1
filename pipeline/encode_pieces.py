"""Encoding as pieces: the kept documents cut into runs of row groups, each encoded on its own.

A piece reads its row groups of one kept part, encodes them (pipeline.encoder: the same ids as
tokenizers) and writes two files beside the others in the encoding folder:
  piece-NNNNN.ids       the ids of its documents end to end (uint16 or uint32, raw)
  piece-NNNNN.parquet   one row per document: doc_id, row in the part, n_tokens, val
(the Parquet file is renamed into place last, so its presence means the piece is whole).
The merge appends the pieces to the per-split spills in plan order, which is the kept order, so
the shards are the same bytes whichever process or machine encoded which piece.

Memory: a piece holds one batch of texts and their ids (about ENCODE_BATCH_CHARS characters);
the merge holds one piece's ids at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.encoder import TokenizersEncoder, WordCacheEncoder, make_encoder
from pipeline.parquet_stream import open_parquet

PIECE_BYTES = 8_000_000  # uncompressed kept bytes per piece (a row group or a few): both cores busy from ~16 MB of text
ENCODE_BATCH_CHARS = 2_000_000
DOCS_SCHEMA = pa.schema([("doc_id", pa.string()), ("row", pa.int64()), ("n_tokens", pa.int64()), ("val", pa.bool_())])


@dataclass(frozen=True)
class EncodePiece:
    """Whole row groups of one kept part."""

    index: int
    part_index: int
    path: str
    row_groups: tuple[int, ...]
    first_row: int

    @property
    def stem(self) -> str:
        return f"piece-{self.index:05d}"


def plan_pieces(kept_parts: list[Path], piece_bytes: int | None = None) -> list[EncodePiece]:
    """Runs of row groups of about piece_bytes each, in kept order (a piece never spans two parts)."""
    piece_bytes = piece_bytes or PIECE_BYTES
    pieces: list[EncodePiece] = []
    for part_index, part in enumerate(kept_parts):
        metadata = pq.ParquetFile(part).metadata
        groups: list[int] = []
        size = row = first_row = 0
        for group in range(metadata.num_row_groups):
            if groups and size >= piece_bytes:
                pieces.append(EncodePiece(len(pieces), part_index, str(part), tuple(groups), first_row))
                groups, size, first_row = [], 0, row
            groups.append(group)
            size += metadata.row_group(group).total_byte_size
            row += metadata.row_group(group).num_rows
        if groups:
            pieces.append(EncodePiece(len(pieces), part_index, str(part), tuple(groups), first_row))
    return pieces


_ENCODERS: dict[tuple[str, int, int], WordCacheEncoder | TokenizersEncoder] = {}


def _encoder(tokenizer_path: str) -> WordCacheEncoder | TokenizersEncoder:
    """One encoder (and its word cache) per process and tokenizer file, kept across pieces."""
    stat = os.stat(tokenizer_path)
    key = (tokenizer_path, stat.st_mtime_ns, stat.st_size)
    if key not in _ENCODERS:
        _ENCODERS.clear()
        _ENCODERS[key] = make_encoder(tokenizer_path)
    return _ENCODERS[key]


def encode_piece(piece: EncodePiece, tokenizer_path: str, dtype: str, val_fraction: float, seed: int,
                 out_dir: str) -> dict[str, Any]:
    """Encode one piece into out_dir/<stem>.ids and <stem>.parquet; return its document and byte counts."""
    from pipeline.shards import split_of

    ids_path, docs_path = Path(out_dir) / f"{piece.stem}.ids", Path(out_dir) / f"{piece.stem}.parquet"
    if docs_path.is_file():  # a retried chunk: this piece finished before its worker was lost
        return {"documents": pq.ParquetFile(docs_path).metadata.num_rows, "text_bytes": int(
            pq.ParquetFile(docs_path).schema_arrow.metadata[b"text_bytes"])}
    encoder, token_dtype = _encoder(tokenizer_path), np.dtype(dtype)
    doc_ids: list[str] = []
    rows: list[int] = []
    lengths: list[np.ndarray] = []
    texts: list[str] = []
    text_bytes = 0
    row = piece.first_row
    with open(ids_path, "wb") as ids_file:
        def flush() -> None:
            ids, counts = encoder.encode_batch(texts, token_dtype)
            ids_file.write(ids.tobytes())
            lengths.append(counts)
            texts.clear()

        size = 0
        for batch in open_parquet(piece.path).iter_batches(batch_size=4096, row_groups=list(piece.row_groups),
                                                            columns=["doc_id", "text"]):
            for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                if text is not None:
                    doc_ids.append(doc_id)
                    rows.append(row)
                    texts.append(text)
                    size += len(text)
                    text_bytes += len(text.encode("utf-8"))
                row += 1
            if size >= ENCODE_BATCH_CHARS:
                flush()
                size = 0
        if texts:
            flush()
    n_tokens = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int64)
    table = pa.table({"doc_id": pa.array(doc_ids, pa.string()), "row": pa.array(rows, pa.int64()),
                      "n_tokens": pa.array(n_tokens, pa.int64()),
                      "val": pa.array([split_of(d, val_fraction, seed) == "val" for d in doc_ids], pa.bool_())},
                     schema=DOCS_SCHEMA.with_metadata({"text_bytes": str(text_bytes)}))
    tmp = docs_path.with_name(docs_path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, docs_path)
    return {"documents": len(doc_ids), "text_bytes": text_bytes}


def read_piece(piece: EncodePiece, out_dir: Path, dtype: np.dtype) -> tuple[pa.Table, np.ndarray]:
    """A finished piece's documents and ids (the merge's view)."""
    docs = pq.read_table(out_dir / f"{piece.stem}.parquet")
    return docs, np.fromfile(out_dir / f"{piece.stem}.ids", dtype=dtype)
