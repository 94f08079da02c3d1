"""Stages 2 and 3 of dedup: LSH buckets → verified candidate pairs → union-find clusters.

Every document gets a global *key*: the documents of earlier builds' indexes first (in the order
of `dedup.against`), then this build's rows in (part, row) order. Smaller key = earlier = kept.

Banding never builds a dict of signatures. One streaming pass over the signature files writes,
for each band, the 64-bit hash of that band of every document (band-major, 8 bytes a document a
band). Then, one band at a time, a numpy argsort of (band hash, key) puts colliding documents
next to each other; each run of equal hashes (an LSH bucket) yields candidate pairs: all pairs
when the bucket is small, the first member with every other plus neighbours when it is large
(a boilerplate text shared by thousands of documents would otherwise give millions of pairs).
Candidates are kept as sorted unique int64 codes (a * n + b).

Verification reads the two signatures of a candidate pair back from disk (pread, in chunks) and
compares them. "estimated" accepts a pair whose MinHash estimate could come from a Jaccard at the
threshold (estimate >= threshold - 2.5 standard errors, sqrt(t(1-t)/num_perm)): a true pair at
the threshold passes ~99% of the time, but so does a pair at J = 0.7 some of the time. "exact"
(the default) lets the estimate settle only the clear cases (more than 3 standard errors above,
or 4 below, the threshold) and re-reads the texts of the doubtful pairs to compute their n-gram
Jaccard, so a merge means J >= threshold. Pairs with an earlier build's document, whose text is
not in its index, keep the estimate's verdict.

Clusters are the connected components of the verified pairs (union-find over the documents that
have a pair only); the root of a component is its smallest key: the kept document.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq

from pipeline.dedup.exact import normalised_words
from pipeline.dedup.minhash import SignatureFiles, Span, shingle_hashes64
from pipeline.parquet_stream import open_parquet
from pipeline.pieces import LocalPool, Runner

ALL_PAIRS_MAX_BUCKET = 32
VERIFY_CHUNK_PAIRS = 16_384
ESTIMATE_STANDARD_ERRORS = 2.5
_FMIX = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_BAND_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Source:
    """A run of consecutive keys backed by one set of signature files."""

    files: SignatureFiles
    offset: int  # key of its first row
    n_rows: int
    build: str | None = None  # an earlier build's folder name; None for this build
    span: Span | None = None  # this build's rows: where their text lives


class Catalog:
    """Maps global keys to the signature files that hold them."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.offsets = np.array([s.offset for s in sources] + [sources[-1].offset + sources[-1].n_rows]
                                if sources else [0], dtype=np.int64)
        self.n_keys = int(self.offsets[-1])
        self.n_index = sum(s.n_rows for s in sources if s.build is not None)

    def status(self) -> np.ndarray:
        if not self.sources:
            return np.empty(0, dtype=np.uint8)
        return np.concatenate([s.files.read_status() for s in self.sources])

    def exact_keys(self) -> np.ndarray:
        if not self.sources:
            return np.empty((0, 2), dtype=np.uint64)
        return np.concatenate([s.files.read_exact() for s in self.sources])

    def source_of(self, keys: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, keys, side="right") - 1

    def read_signatures(self, keys: np.ndarray) -> np.ndarray:
        """Signature rows of sorted unique keys, read by pread (no mapping)."""
        which = self.source_of(keys)
        parts = []
        for index in np.unique(which):
            source = self.sources[index]
            parts.append(source.files.read_rows(keys[which == index] - source.offset))
        return np.concatenate(parts) if parts else np.empty((0, 0), dtype=np.uint32)


def _fmix64(h: np.ndarray) -> np.ndarray:
    shift, m1, m2 = _FMIX
    h ^= h >> shift
    h *= m1
    h ^= h >> shift
    h *= m2
    h ^= h >> shift
    return h


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 (bands, n): one hash of each band's `rows` signature values."""
    n = len(signatures)
    values = signatures[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    hashes = np.zeros((n, bands), dtype=np.uint64)
    for r in range(rows):
        hashes *= _BAND_MULTIPLIER
        hashes += values[:, :, r]
        hashes = _fmix64(hashes)
    return np.ascontiguousarray(hashes.T)


def write_band_files(catalog: Catalog, bands: int, rows: int, folder: Path) -> list[Path]:
    """One raw uint64 file per band holding every key's band hash, in key order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"band-{b:03d}.u64" for b in range(bands)]
    files = [open(path, "wb") for path in paths]
    try:
        for source in catalog.sources:
            for chunk in source.files.iter_signatures():
                for f, band in zip(files, band_hashes(chunk, bands, rows)):
                    f.write(band.tobytes())
    finally:
        for f in files:
            f.close()
    return paths


def bucket_pairs(sorted_hashes: np.ndarray, sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) pairs with a < b from runs of equal hashes; keys ascend within a run."""
    n = len(sorted_hashes)
    if n < 2:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(sorted_hashes[1:], sorted_hashes[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    sizes = np.diff(np.append(starts, n))
    firsts, seconds = [], []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= ALL_PAIRS_MAX_BUCKET)]).tolist():
        run_starts = starts[sizes == size]
        i, j = np.triu_indices(size, 1)
        firsts.append(sorted_keys[run_starts[:, None] + i].ravel())
        seconds.append(sorted_keys[run_starts[:, None] + j].ravel())
    for start, size in zip(starts[sizes > ALL_PAIRS_MAX_BUCKET].tolist(), sizes[sizes > ALL_PAIRS_MAX_BUCKET].tolist()):
        members = sorted_keys[start : start + size]
        firsts += [np.full(size - 1, members[0]), members[1:-1]]  # star on the first, then a chain
        seconds += [members[1:], members[2:]]
    if not firsts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(firsts), np.concatenate(seconds)


def band_pairs_piece(band_path: str, participants_path: str, n_keys: int, n_index: int, out_path: str) -> str:
    """One LSH band's buckets → the sorted unique codes of its candidate pairs, in their own file.

    The piece a runner calls (any process, any machine); memory is about 50 bytes a participant.
    Pairs of two earlier-build documents are skipped: both are already published.
    """
    out = Path(out_path)
    if out.is_file():  # a retried chunk: this band finished before its worker was lost
        return out_path
    participants = np.load(participants_path)
    hashes = np.fromfile(band_path, dtype=np.uint64)[participants]
    order = np.argsort(hashes, kind="stable")
    first, second = bucket_pairs(hashes[order], participants[order])
    del hashes, order
    keep = second >= n_index
    codes = np.unique(first[keep] * np.int64(n_keys) + second[keep])
    tmp = out.with_name(out.name + ".tmp.npy")
    np.save(tmp, codes)
    os.replace(tmp, out)
    return out_path


def candidate_pairs(band_files: list[Path], participants: np.ndarray, n_keys: int, n_index: int,
                    runner: Runner | None = None) -> np.ndarray:
    """Sorted unique int64 codes a * n_keys + b of the pairs that share a band.

    participants: sorted keys that take part. Each band is a piece (band_pairs_piece) writing its
    pairs beside the band file; the merge is a running union, so the driver holds the union and
    one band's pairs.
    """
    if not band_files:
        return np.empty(0, dtype=np.int64)
    folder = band_files[0].parent
    for stale in folder.glob("*.pairs.npy"):  # from a killed earlier attempt
        stale.unlink()
    np.save(folder / "participants.npy", participants)
    jobs = [(str(path), str(folder / "participants.npy"), n_keys, n_index, str(path.with_suffix(".pairs.npy")))
            for path in band_files]
    codes = np.empty(0, dtype=np.int64)
    for path in (runner or LocalPool(1))(band_pairs_piece, jobs):
        codes = np.union1d(codes, np.load(path))
    return codes


def estimated_jaccard(catalog: Catalog, first: np.ndarray, second: np.ndarray) -> Iterator[np.ndarray]:
    """The MinHash estimate of each pair, chunk by chunk (bounded memory)."""
    for start in range(0, len(first), VERIFY_CHUNK_PAIRS):
        a, b = first[start : start + VERIFY_CHUNK_PAIRS], second[start : start + VERIFY_CHUNK_PAIRS]
        keys = np.unique(np.concatenate([a, b]))
        signatures = catalog.read_signatures(keys)
        equal = signatures[np.searchsorted(keys, a)] == signatures[np.searchsorted(keys, b)]
        yield equal.mean(axis=1)


def _shingle_store(catalog: Catalog, keys: np.ndarray, ngram: int, path: Path) -> np.ndarray:
    """Write the sorted unique 64-bit shingles of each key's text to `path`; return offsets."""
    lengths = np.zeros(len(keys), dtype=np.int64)
    with open(path, "wb") as out:
        position = 0
        for source in catalog.sources:
            span = source.span
            lo, hi = np.searchsorted(keys, [source.offset, source.offset + source.n_rows])
            if span is None or lo == hi:
                continue
            wanted = keys[lo:hi] - source.offset
            row = 0
            for batch in open_parquet(span.path).iter_batches(batch_size=2048, row_groups=list(span.row_groups),
                                                                columns=["text"]):
                texts = batch.column(0)
                inside = wanted[(wanted >= row) & (wanted < row + len(texts))]
                for local in inside.tolist():
                    shingles = np.unique(shingle_hashes64(normalised_words(texts[local - row].as_py()), ngram))
                    out.write(shingles.tobytes())
                    lengths[position] = len(shingles)
                    position += 1
                row += len(texts)
    return np.concatenate([[0], np.cumsum(lengths)])


def exact_jaccard(catalog: Catalog, first: np.ndarray, second: np.ndarray, ngram: int, scratch: Path) -> np.ndarray:
    """n-gram Jaccard of this build's document pairs, from their texts (stored on disk, not in memory)."""
    keys = np.unique(np.concatenate([first, second]))
    store = scratch / "shingles.u64"
    offsets = _shingle_store(catalog, keys, ngram, store)
    out = np.empty(len(first), dtype=np.float64)
    fd = os.open(store, os.O_RDONLY)
    try:
        def shingles(key: int) -> np.ndarray:
            i = int(np.searchsorted(keys, key))
            start, stop = int(offsets[i]), int(offsets[i + 1])
            return np.frombuffer(os.pread(fd, (stop - start) * 8, start * 8), dtype=np.uint64)

        for i, (a, b) in enumerate(zip(first.tolist(), second.tolist())):
            x, y = shingles(a), shingles(b)
            shared = len(np.intersect1d(x, y, assume_unique=True))
            out[i] = shared / (len(x) + len(y) - shared) if len(x) + len(y) else 1.0
    finally:
        os.close(fd)
        store.unlink()
    return out


def verify(catalog: Catalog, codes: np.ndarray, mode: str, threshold: float, num_perm: int, ngram: int,
           scratch: Path) -> np.ndarray:
    """The candidate pairs (int64 (m, 2)) that pass verification."""
    first, second = np.divmod(codes, np.int64(max(catalog.n_keys, 1)))
    if mode == "none" or len(codes) == 0:
        return np.stack([first, second], axis=1)
    estimates = np.concatenate(list(estimated_jaccard(catalog, first, second)))
    error = math.sqrt(threshold * (1 - threshold) / num_perm)  # standard error of the estimate at the threshold
    keep = estimates >= threshold - ESTIMATE_STANDARD_ERRORS * error
    if mode == "exact":
        # Only a pair whose estimate is within a few standard errors of the threshold is in doubt;
        # its texts decide. Pairs with an earlier build's document keep the estimate's verdict.
        doubtful = (estimates >= threshold - 4 * error) & (estimates < threshold + 3 * error)
        doubtful &= first >= catalog.n_index
        keep[doubtful] = exact_jaccard(catalog, first[doubtful], second[doubtful], ngram, scratch) >= threshold
    return np.stack([first[keep], second[keep]], axis=1)


class UnionFind:
    """Disjoint sets over 0..n-1 whose root is always the smallest member (the kept document)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def roots(self) -> np.ndarray:
        return np.array([self.find(x) for x in range(len(self.parent))], dtype=np.int64)


def connected_components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members, roots): every key that has an edge, sorted, and the smallest key of its component.

    Memory: the union-find spans only the keys that have an edge (duplicates and their originals),
    not every document.
    """
    if len(edges) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    members = np.unique(edges)
    local = np.searchsorted(members, edges)
    sets = UnionFind(len(members))
    for a, b in local.tolist():
        sets.union(a, b)
    return members, members[sets.roots()]


@dataclass(frozen=True)
class Decisions:
    """The keep rule applied: every clustered key, the key kept for its cluster, and who goes."""

    n_index: int
    members: np.ndarray  # sorted keys that are in a cluster of two or more
    roots: np.ndarray  # the kept (smallest) key of each member's cluster
    drop_keys: np.ndarray  # this build's members that are not kept, sorted
    drop_roots: np.ndarray  # ... and the key kept in their place
    drop_exact: np.ndarray  # True when that kept document is an exact copy
    kept: np.ndarray  # bool over this build's rows: has text and is not dropped
    cluster_roots: np.ndarray  # the kept key of every cluster, sorted

    def cluster_ids(self, roots: np.ndarray) -> np.ndarray:
        """Dense cluster numbers, in the order of the kept documents."""
        return np.searchsorted(self.cluster_roots, roots)


def decide(status: np.ndarray, n_index: int, exact_pairs: np.ndarray, near_pairs: np.ndarray) -> Decisions:
    """exact_pairs: (duplicate, earliest copy) rows; near_pairs: verified (a, b) rows."""
    members, roots = connected_components(np.concatenate([exact_pairs[:, ::-1], near_pairs]))
    dropped = (members >= n_index) & (roots != members)
    drop_keys, drop_roots = members[dropped], roots[dropped]
    # exact_duplicate only when the document kept in its place is an exact copy of it
    drop_exact = np.zeros(len(drop_keys), dtype=bool)
    if len(exact_pairs):
        at = np.minimum(np.searchsorted(exact_pairs[:, 0], drop_keys), len(exact_pairs) - 1)
        drop_exact = (exact_pairs[at, 0] == drop_keys) & (exact_pairs[at, 1] == drop_roots)
    kept = status[n_index:] > 0
    kept[drop_keys - n_index] = False
    return Decisions(n_index, members, roots, drop_keys, drop_roots, drop_exact, kept, np.unique(roots))
