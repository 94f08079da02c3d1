"""The dedup index a build leaves in <build>/dedup/, so later builds dedup against it.

A build's index holds the documents it kept (after filters and dedup), in its own (part, row)
order, with the signature settings that made them:
  settings.json       signature settings (num_perm, seed, scheme, shingle and hash ids), build
                      name, document count; written last, so its presence means complete
  index.sig.npy       uint32 (n, num_perm): row i is LeanMinHash(seed, hashvalues=row, "affine32")
  index.exact.npy     uint64 (n, 2): exact keys
  index.status.npy    uint8 (n,): 1 no shingle, 2 signed
  docs.parquet        doc_id, first_line of row i
and, for the report, clusters.parquet (cluster_id, doc_id, kept, first_line, build) and
stats.json. Signatures made with other settings cannot be compared: opening such an index
raises IndexMismatchError naming each difference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import datasketch
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.dedup.clusters import Catalog, Decisions, Source
from pipeline.dedup.minhash import SignatureFiles, SignatureSettings
from pipeline.parquet_stream import open_parquet

INDEX_FORMAT = 1
INDEX_STEM = "index"
CLUSTERS_SCHEMA = pa.schema([("cluster_id", pa.int64()), ("doc_id", pa.string()), ("kept", pa.bool_()),
                             ("first_line", pa.string()), ("build", pa.string())])
DOCS_SCHEMA = pa.schema([("doc_id", pa.string()), ("first_line", pa.string())])


class IndexMismatchError(ValueError):
    """An earlier build's dedup index cannot be used with this build's settings."""


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def index_settings(settings: SignatureSettings, build: str, documents: int) -> dict[str, Any]:
    return {"format": INDEX_FORMAT, "signature": settings.to_dict(), "build": build, "documents": documents,
            "datasketch": datasketch.__version__}


def open_index(build_dir: Path, settings: SignatureSettings, offset: int) -> Source:
    """An earlier build's index as a catalog source starting at key `offset`."""
    index_dir = build_dir / "dedup"
    marker = index_dir / "settings.json"
    if not marker.is_file():
        raise FileNotFoundError(
            f"dedup.against names {build_dir}, but {marker} does not exist: that folder is not a finished "
            "gristmill build. Finish that build first, or remove it from dedup.against.")
    stored = json.loads(marker.read_text(encoding="utf-8"))
    if stored.get("format") != INDEX_FORMAT:
        raise IndexMismatchError(f"{index_dir} has index format {stored.get('format')!r}, this gristmill reads "
                                 f"{INDEX_FORMAT}; rebuild {build_dir} or remove it from dedup.against.")
    differences = settings.differences(stored.get("signature", {}))
    if differences:
        raise IndexMismatchError(
            f"the dedup index of {build_dir} was made with other signature settings ({'; '.join(differences)}; "
            "theirs != ours). Signatures made differently cannot be compared: set dedup.near.num_perm, "
            "dedup.near.ngram and seed to that build's values, or remove it from dedup.against.")
    return Source(SignatureFiles(index_dir, INDEX_STEM), offset, int(stored["documents"]), build=build_dir.name)


def begin_index(index_dir: Path) -> None:
    """Make a half-written index unusable until `finish_index` runs."""
    index_dir.mkdir(parents=True, exist_ok=True)
    (index_dir / "settings.json").unlink(missing_ok=True)


def finish_index(index_dir: Path, settings: SignatureSettings, build: str, documents: int) -> None:
    write_json(index_dir / "settings.json", index_settings(settings, build, documents))


def size_histogram(sizes: np.ndarray) -> dict[str, int]:
    """Cluster sizes in bins 2, 3, 4, 5-8, 9-16, ... (keys are inclusive ranges)."""
    bins: dict[str, int] = {}
    for size, count in zip(*np.unique(sizes, return_counts=True)):
        size = int(size)
        if size <= 4:
            label = str(size)
        else:
            low = 2 ** (size - 1).bit_length() // 2 + 1
            label = f"{low}-{2 * (low - 1)}"
        bins[label] = bins.get(label, 0) + int(count)
    return bins


class ParquetStream:
    """Rows appended in batches to a Parquet file, renamed into place on close."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema
        self.tmp = path.with_name(path.name + ".tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, columns: dict[str, list[Any]]) -> None:
        if columns and len(next(iter(columns.values()))):
            self.writer.write_table(pa.table(columns, schema=self.schema))

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)


def first_line(text: str | None) -> str | None:
    """The first non-empty line, at most 120 characters (for parts without a first_line column)."""
    if text is None:
        return None
    return next((line.strip()[:120] for line in text.splitlines() if line.strip()), "")


def _earlier_members(catalog: Catalog, decisions: Decisions, builds: list[Path]) -> dict[int, tuple[str, str]]:
    """key -> (doc_id, first_line) of the earlier builds' documents that are in a cluster."""
    found: dict[int, tuple[str, str]] = {}
    members = decisions.members
    for build, source in zip(builds, catalog.sources):  # the earlier builds' sources come first, in order
        lo, hi = np.searchsorted(members, [source.offset, source.offset + source.n_rows])
        wanted = members[lo:hi] - source.offset
        row = 0
        for batch in open_parquet(build / "dedup" / "docs.parquet").iter_batches(batch_size=65_536):
            inside = wanted[(wanted >= row) & (wanted < row + batch.num_rows)]
            if len(inside):
                rows = pa.array(inside - row)
                found.update(zip((inside + source.offset).tolist(),
                                 zip(*(batch.column(c).take(rows).to_pylist() for c in DOCS_SCHEMA.names))))
            row += batch.num_rows
    return found


def _take(batch: pa.RecordBatch, rows: np.ndarray, from_text: bool) -> tuple[list[str], list[str | None]]:
    """doc_ids and first lines of some rows of a (doc_id, first_line or text) batch."""
    indices = pa.array(rows, type=pa.int64())
    lines = batch.column(1).take(indices).to_pylist()
    return batch.column(0).take(indices).to_pylist(), [first_line(t) for t in lines] if from_text else lines


def write_cluster_rows(parts: list[Path], catalog: Catalog, decisions: Decisions, builds: list[Path],
                       index_dir: Path) -> dict[int, str]:
    """Stream the parts once: clusters.parquet (every clustered document) and docs.parquet (this
    build's kept documents). Returns the doc_id of every kept document that has a duplicate."""
    members, roots, n_index = decisions.members, decisions.roots, decisions.n_index
    earlier = _earlier_members(catalog, decisions, builds)
    doc_ids = {key: row[0] for key, row in earlier.items()}
    clusters_out = ParquetStream(index_dir / "clusters.parquet", CLUSTERS_SCHEMA)
    docs_out = ParquetStream(index_dir / "docs.parquet", DOCS_SCHEMA)
    count = int(np.searchsorted(members, n_index))
    build_of = {source.offset: source.build for source in catalog.sources[: len(builds)]}
    offsets = np.array(sorted(build_of), dtype=np.int64)
    clusters_out.write({"cluster_id": decisions.cluster_ids(roots[:count]).tolist(),
                        "doc_id": [earlier[k][0] for k in members[:count].tolist()],
                        "kept": (roots[:count] == members[:count]).tolist(),
                        "first_line": [earlier[k][1] for k in members[:count].tolist()],
                        "build": [build_of[int(offsets[np.searchsorted(offsets, k, side="right") - 1])]
                                  for k in members[:count].tolist()]})
    key = n_index
    for path in parts:
        part = open_parquet(path)
        from_text = "first_line" not in part.schema_arrow.names
        for batch in part.iter_batches(batch_size=8192, columns=["doc_id", "text" if from_text else "first_line"]):
            n = batch.num_rows
            ids, lines = _take(batch, np.flatnonzero(decisions.kept[key - n_index : key - n_index + n]), from_text)
            docs_out.write({"doc_id": ids, "first_line": lines})
            lo, hi = np.searchsorted(members, [key, key + n])
            ids, lines = _take(batch, members[lo:hi] - key, from_text)
            clusters_out.write({"cluster_id": decisions.cluster_ids(roots[lo:hi]).tolist(), "doc_id": ids,
                                "kept": (roots[lo:hi] == members[lo:hi]).tolist(), "first_line": lines,
                                "build": [None] * (hi - lo)})
            doc_ids.update((k, i) for k, r, i in zip(members[lo:hi].tolist(), roots[lo:hi].tolist(), ids) if k == r)
            key += n
    clusters_out.close()
    docs_out.close()
    return doc_ids


def write_index_signatures(catalog: Catalog, decisions: Decisions, index_dir: Path, num_perm: int) -> int:
    """Copy this build's kept documents' signatures, exact keys and status into the index."""
    n_kept = int(decisions.kept.sum())
    writers = SignatureFiles(index_dir, INDEX_STEM).writers(n_kept, num_perm)
    for source in catalog.sources:
        if source.build is not None:
            continue
        keep = decisions.kept[source.offset - decisions.n_index : source.offset - decisions.n_index + source.n_rows]
        for start, chunk in zip(range(0, source.n_rows, 32_768), source.files.iter_signatures(32_768)):
            writers[0].write(chunk[keep[start : start + len(chunk)]])
        writers[1].write(source.files.read_exact()[keep])
        writers[2].write(source.files.read_status()[keep])
    for writer in writers:
        writer.close()
    return n_kept
