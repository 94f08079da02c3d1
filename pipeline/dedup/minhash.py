"""Stage 1 of dedup: a MinHash signature and an exact key for every document, written to disk.

Shingles are word n-grams of the normalised words (see exact.py). Each word is hashed once with
xxh3-64; the hash of an n-gram is the polynomial t0*M^(n-1) + ... + t(n-1) mod 2^64 of its word
hashes (one vectorised pass per n), folded to 32 bits for datasketch's "affine32" scheme. A text
with fewer than n words is one shingle. datasketch's `MinHash.generator` turns the shingle hashes
into signatures (hashfunc=int: the values are already hashes); a signature row is exactly the
`hashvalues` of a `LeanMinHash(seed, scheme="affine32")`.

The input is split into spans (whole row groups of one part, about SPAN_ROWS rows): the pieces
that a runner (pipeline/pieces.py) signs in parallel. Local workers are *spawned*, never forked (a fork inherits the parent's
threads' locks: Prefect's, pyarrow's); a script that calls this must guard its entry point with
`if __name__ == "__main__":`, since a spawned child imports the parent's main module.

Per span, three .npy files (written streaming, then renamed into place; .status.npy last, so its
presence means the span is complete):
  <span>.sig.npy     uint32 (rows, num_perm)  the signature (all-max for rows without shingles)
  <span>.exact.npy   uint64 (rows, 2)         the exact key (high, low)
  <span>.status.npy  uint8  (rows,)           0 NULL text (not a candidate), 1 no shingle, 2 signed
Every row of the part gets a record, so a row's position is its record number: disk is
4*num_perm + 17 bytes a row (465 bytes at num_perm=112); memory stays one batch per worker.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow.parquet as pq
import xxhash
from datasketch import LeanMinHash, MinHash

from pipeline.dedup.exact import EXACT_HASH_ID, NORMALISATION_ID, exact_key, normalised_words
from pipeline.parquet_stream import open_parquet
from pipeline.pieces import Runner

SCHEME = "affine32"
SHINGLE_HASH_ID = "xxh3_64(word) -> poly64(M=0x9E3779B97F4A7C15) -> fold32"
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
SPAN_ROWS = 65_536
BATCH_ROWS = 2_048
NULL_TEXT, NO_SHINGLE, SIGNED = 0, 1, 2


@dataclass(frozen=True)
class SignatureSettings:
    """Everything that decides a signature's values: two indexes compare only if these match."""

    num_perm: int
    seed: int
    ngram: int
    scheme: str = SCHEME
    shingle_hash: str = SHINGLE_HASH_ID
    normalisation: str = NORMALISATION_ID
    exact_hash: str = EXACT_HASH_ID

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def differences(self, other: dict[str, Any]) -> list[str]:
        """Human-readable 'key: theirs != ours' lines; empty when compatible."""
        mine = self.to_dict()
        return [f"{key}: {other.get(key)!r} != {mine[key]!r}" for key in mine if other.get(key) != mine[key]]


def shingle_hashes64(words: list[str], ngram: int) -> np.ndarray:
    """uint64 hash of every word n-gram (one n-gram when the text is shorter)."""
    if not words:
        return np.empty(0, dtype=np.uint64)
    tokens = np.fromiter(map(xxhash.xxh3_64_intdigest, words), dtype=np.uint64, count=len(words))
    width = min(ngram, len(tokens))
    count = len(tokens) - width + 1
    hashes = tokens[:count].copy()
    for offset in range(1, width):
        hashes *= _MULTIPLIER
        hashes += tokens[offset : offset + count]
    return hashes


def fold32(hashes: np.ndarray) -> np.ndarray:
    return (hashes ^ (hashes >> np.uint64(32))).astype(np.uint32)


def sign_texts(texts: list[str | None], settings: SignatureSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signatures uint32 (n, num_perm), exact keys uint64 (n, 2), status uint8 (n,))."""
    n = len(texts)
    exact = np.zeros((n, 2), dtype=np.uint64)
    status = np.zeros(n, dtype=np.uint8)
    shingle_lists: list[list[int]] = []
    for i, text in enumerate(texts):
        if text is None:
            shingle_lists.append([])
            continue
        words = normalised_words(text)
        exact[i] = exact_key(words, text)
        shingles = fold32(shingle_hashes64(words, settings.ngram))
        status[i] = SIGNED if len(shingles) else NO_SHINGLE
        shingle_lists.append(shingles.tolist())
    signatures = np.empty((n, settings.num_perm), dtype=np.uint32)
    minhashes = MinHash.generator(shingle_lists, num_perm=settings.num_perm, seed=settings.seed,
                                  hashfunc=int, scheme=settings.scheme)
    for i, minhash in enumerate(minhashes):
        signatures[i] = minhash.hashvalues
    return signatures, exact, status


def lean_minhash(signature: np.ndarray, settings: SignatureSettings) -> LeanMinHash:
    """A stored signature row as datasketch's storage type (for jaccard(), LSH, serialize())."""
    return LeanMinHash(seed=settings.seed, hashvalues=signature, scheme=settings.scheme)


@dataclass(frozen=True)
class Span:
    """Whole row groups of one part, signed by one task."""

    part: int
    path: str
    row_groups: tuple[int, ...]
    row_start: int
    n_rows: int

    @property
    def stem(self) -> str:
        return f"p{self.part:05d}-r{self.row_start:012d}"


def plan_spans(parts: list[Path], span_rows: int = SPAN_ROWS) -> list[Span]:
    """Deterministic spans in (part, row) order."""
    spans: list[Span] = []
    for part, path in enumerate(parts):
        metadata = pq.ParquetFile(path).metadata
        groups: list[int] = []
        start = rows = 0
        for group in range(metadata.num_row_groups):
            groups.append(group)
            rows += metadata.row_group(group).num_rows
            if rows >= span_rows:
                spans.append(Span(part, str(path), tuple(groups), start, rows))
                start, rows, groups = start + rows, 0, []
        if groups and rows:
            spans.append(Span(part, str(path), tuple(groups), start, rows))
    return spans


def part_rows(parts: list[Path]) -> list[int]:
    return [pq.ParquetFile(path).metadata.num_rows for path in parts]


class NpyStreamWriter:
    """Writes an .npy of known shape chunk by chunk, then renames it into place."""

    def __init__(self, path: Path, dtype: Any, shape: tuple[int, ...]) -> None:
        self.path, self.shape, self.dtype = path, shape, np.dtype(dtype)
        self.tmp = path.with_name(path.name + ".tmp")
        self.file = open(self.tmp, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(self.file, header)
        self.rows = 0

    def write(self, array: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(array, dtype=self.dtype).tobytes())
        self.rows += len(array)

    def close(self) -> None:
        self.file.close()
        if self.rows != self.shape[0]:
            raise RuntimeError(f"{self.path}: wrote {self.rows} rows, expected {self.shape[0]}")
        os.replace(self.tmp, self.path)


def npy_data_offset(path: Path) -> tuple[int, tuple[int, ...], np.dtype]:
    """(byte offset of the data, shape, dtype) of an .npy file, without mapping it."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(f)
        return f.tell(), shape, dtype


class SignatureFiles:
    """The three arrays of one span (or of an index): read in chunks or by row, never mapped,
    so reading does not hold file pages in the process's resident memory."""

    def __init__(self, folder: Path, stem: str) -> None:
        self.sig = folder / f"{stem}.sig.npy"
        self.exact = folder / f"{stem}.exact.npy"
        self.status = folder / f"{stem}.status.npy"

    def complete(self) -> bool:
        return self.status.is_file() and self.sig.is_file() and self.exact.is_file()

    def writers(self, n_rows: int, num_perm: int) -> tuple[NpyStreamWriter, NpyStreamWriter, NpyStreamWriter]:
        return (NpyStreamWriter(self.sig, np.uint32, (n_rows, num_perm)),
                NpyStreamWriter(self.exact, np.uint64, (n_rows, 2)),
                NpyStreamWriter(self.status, np.uint8, (n_rows,)))

    def read_status(self) -> np.ndarray:
        return np.load(self.status)

    def read_exact(self) -> np.ndarray:
        return np.load(self.exact)

    def iter_signatures(self, chunk_rows: int = 32_768) -> Iterator[np.ndarray]:
        offset, shape, dtype = npy_data_offset(self.sig)
        row_bytes = shape[1] * dtype.itemsize
        with open(self.sig, "rb") as f:
            f.seek(offset)
            for start in range(0, shape[0], chunk_rows):
                rows = min(chunk_rows, shape[0] - start)
                yield np.frombuffer(f.read(rows * row_bytes), dtype=dtype).reshape(rows, shape[1])

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        offset, shape, dtype = npy_data_offset(self.sig)
        row_bytes = shape[1] * dtype.itemsize
        out = np.empty((len(rows), shape[1]), dtype=dtype)
        fd = os.open(self.sig, os.O_RDONLY)
        try:
            for i, row in enumerate(rows.tolist()):
                out[i] = np.frombuffer(os.pread(fd, row_bytes, offset + row * row_bytes), dtype=dtype)
        finally:
            os.close(fd)
        return out


def sign_span(span: Span, settings: SignatureSettings, out_dir: Path) -> str:
    files = SignatureFiles(out_dir, span.stem)
    if files.complete():
        return span.stem
    part = open_parquet(span.path)
    if "text" not in part.schema_arrow.names:
        raise ValueError(f"{span.path} has no 'text' column; dedup reads the annotate parts (doc_id, text)")
    writers = files.writers(span.n_rows, settings.num_perm)
    for batch in part.iter_batches(batch_size=BATCH_ROWS, row_groups=list(span.row_groups), columns=["text"]):
        for writer, array in zip(writers, sign_texts(batch.column(0).to_pylist(), settings)):
            writer.write(array)
    for writer in writers:  # status last: its presence marks the span complete
        writer.close()
    return span.stem


def sign_span_piece(span: Span, settings: SignatureSettings, out_dir: str) -> str:
    """The piece a runner calls (any process, any machine): one span's three files."""
    return sign_span(span, settings, Path(out_dir))


def sign_spans(spans: list[Span], settings: SignatureSettings, out_dir: Path, runner: Runner) -> None:
    """Sign every span not yet on disk, each a piece of `runner`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [span for span in spans if not SignatureFiles(out_dir, span.stem).complete()]
    runner(sign_span_piece, [(span, settings, str(out_dir)) for span in todo])
