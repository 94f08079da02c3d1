"""The three dedup stages, each retryable on its own, and `deduplicate`, which runs them in order.

  signatures(parts, ...)  -> workdir/signatures/   one span at a time; finished spans are skipped
  buckets(parts, ...)     -> workdir/buckets/      exact pairs and verified near pairs
  clusters(parts, ...)    -> workdir/clusters/result.parquet, and index_dir (the build's index,
                             clusters.parquet, stats.json)

A stage records a fingerprint of everything it depends on (the parts' paths, sizes and mtimes,
the settings, the earlier builds' indexes, the previous stage's fingerprint); when it matches, the
stage is skipped. Outputs are renamed into place, so a killed stage leaves no half file.

Memory grows with the number of documents N (this build's rows plus the earlier builds' indexed
documents), in the driver process only, by about 100 bytes a document at the peak: the exact pass
lexsorts 16-byte keys with 8-byte keys and order (~60 bytes), each band's argsort holds band hash,
key, order and sorted copies (~50 bytes), plus ~1 byte of status; the union-find and the cluster
rows grow with the documents that have a duplicate only (~100 bytes each). Signing workers hold
one batch of text (and one Parquet row group) each, whatever N. Measured on the generated corpora
of benchmarks/dedup.py: the driver's peak over the three stages is 263 MB at 100k documents and
267 MB at 200k (~40 bytes a document: the fixed ~250 MB of imports and Parquet writers dominate);
the whole process tree, two signing workers included, peaks at 602 and 604 MB. 1M documents
extrapolate to about 0.3 GB for the driver, 0.7 GB for the tree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.dedup.clusters import Catalog, Decisions, Source, candidate_pairs, decide, verify, write_band_files
from pipeline.dedup.exact import exact_groups
from pipeline.dedup.index import (begin_index, finish_index, open_index, size_histogram, write_cluster_rows,
                                  write_index_signatures, write_json)
from pipeline.dedup.minhash import (SIGNED, SPAN_ROWS, SignatureFiles, SignatureSettings, part_rows, plan_spans,
                                    sign_spans)
from pipeline.documents import EXACT_DUPLICATE, NEAR_DUPLICATE
from pipeline.pieces import LocalPool, Runner

log = logging.getLogger(__name__)

RESULT_SCHEMA = pa.schema([("part", pa.int32()), ("row", pa.int64()), ("drop_reason", pa.string()),
                           ("duplicate_of", pa.string()), ("duplicate_of_build", pa.string())])


def signature_settings(config: DedupConfig, seed: int) -> SignatureSettings:
    return SignatureSettings(num_perm=config.near.num_perm, seed=seed, ngram=config.near.ngram)


def _fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _done(marker: Path, fingerprint: str, *outputs: Path) -> bool:
    if not marker.is_file() or not all(path.exists() for path in outputs):
        return False
    return json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fingerprint


def _signatures_manifest(parts: list[Path], config: DedupConfig, seed: int) -> dict[str, Any]:
    described = [{"path": str(p), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in parts]
    return {"settings": signature_settings(config, seed).to_dict(), "parts": described, "span_rows": SPAN_ROWS}


def signatures(parts: list[Path], config: DedupConfig, seed: int, workdir: Path, runner: Runner | None = None) -> Path:
    """Stage 1: sign every span of `parts` not yet signed; return the signatures folder."""
    folder = workdir / "signatures"
    manifest = _signatures_manifest(parts, config, seed)
    marker = folder / "manifest.json"
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) != manifest:
        log.info("dedup: the parts or signature settings changed; signing again")
        shutil.rmtree(folder)
    if not marker.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        write_json(marker, manifest)
    spans = plan_spans(parts)
    if all(SignatureFiles(folder, span.stem).complete() for span in spans):
        log.info("dedup: signatures already on disk; skipping")
    sign_spans(spans, signature_settings(config, seed), folder, runner or LocalPool(config.workers))
    return folder


def _earlier_builds(config: DedupConfig, index_dir: Path | None) -> list[Path]:
    builds: list[Path] = []
    for entry in config.against:
        build = Path(entry)
        if index_dir is not None and (build / "dedup").resolve() == index_dir.resolve():
            raise ValueError(f"dedup.against lists {build}, the build being made; list only earlier builds")
        if build.resolve() not in [b.resolve() for b in builds]:
            builds.append(build)
    return builds


def _catalog(parts: list[Path], config: DedupConfig, seed: int, workdir: Path, index_dir: Path | None) -> Catalog:
    settings = signature_settings(config, seed)
    sources: list[Source] = []
    offset = 0
    for build in _earlier_builds(config, index_dir):
        source = open_index(build, settings, offset)
        sources.append(source)
        offset += source.n_rows
    part_offsets = np.concatenate([[0], np.cumsum(part_rows(parts))]).astype(np.int64)
    for span in plan_spans(parts):
        files = SignatureFiles(workdir / "signatures", span.stem)
        if not files.complete():
            raise RuntimeError(f"no signatures for {span.path} rows {span.row_start}+: run the signatures stage first")
        sources.append(Source(files, offset + int(part_offsets[span.part]) + span.row_start, span.n_rows, span=span))
    return Catalog(sources)


def _buckets_fingerprint(parts: list[Path], config: DedupConfig, seed: int, index_dir: Path | None) -> str:
    earlier = [(str(b), (b / "dedup" / "settings.json").stat().st_mtime_ns) for b in _earlier_builds(config, index_dir)
               if (b / "dedup" / "settings.json").is_file()]
    return _fingerprint({"signatures": _signatures_manifest(parts, config, seed), "exact": config.exact,
                         "near": config.near.model_dump(), "against": earlier})


def buckets(parts: list[Path], config: DedupConfig, seed: int, workdir: Path, index_dir: Path | None = None,
            runner: Runner | None = None) -> Path:
    """Stage 2: exact pairs and verified LSH pairs; returns the buckets folder."""
    folder = workdir / "buckets"
    marker = folder / "done.json"
    fingerprint = _buckets_fingerprint(parts, config, seed, index_dir)
    if _done(marker, fingerprint, folder / "exact.npy", folder / "near.npy"):
        log.info("dedup: buckets already on disk; skipping")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    catalog = _catalog(parts, config, seed, workdir, index_dir)
    status = catalog.status()
    exact = np.empty((0, 2), dtype=np.int64)
    if config.exact:
        keys = np.flatnonzero(status > 0)
        duplicates, representatives = exact_groups(keys, catalog.exact_keys()[keys])
        this_build = duplicates >= catalog.n_index  # copies among earlier builds are theirs to keep
        exact = np.stack([duplicates[this_build], representatives[this_build]], axis=1)
    near = np.empty((0, 2), dtype=np.int64)
    n_candidates = 0
    if config.near.enabled:
        participants = np.setdiff1d(np.flatnonzero(status == SIGNED), exact[:, 0], assume_unique=True)
        band_files = write_band_files(catalog, config.near.bands, config.near.rows, folder / "bands")
        # Bands run in this process unless a runner is given: a local pool would re-read the band
        # files from the page cache for no gain; on a cluster each band is a piece.
        codes = candidate_pairs(band_files, participants, catalog.n_keys, catalog.n_index, runner)
        shutil.rmtree(folder / "bands")
        n_candidates = len(codes)
        near = verify(catalog, codes, config.near.verify, config.near.threshold, config.near.num_perm,
                      config.near.ngram, folder)
    for name, array in (("exact", exact), ("near", near)):
        np.save(folder / f"{name}.tmp.npy", array)
        (folder / f"{name}.tmp.npy").replace(folder / f"{name}.npy")
    write_json(marker, {"fingerprint": fingerprint, "candidate_pairs": n_candidates, "verified_pairs": len(near),
                        "exact_pairs": len(exact)})
    return folder


def _result_table(parts: list[Path], catalog: Catalog, decisions: Decisions, doc_ids: dict[int, str]) -> pa.Table:
    part_offsets = np.concatenate([[0], np.cumsum(part_rows(parts))]).astype(np.int64)
    local = decisions.drop_keys - decisions.n_index
    part = np.searchsorted(part_offsets, local, side="right") - 1
    earlier = [s for s in catalog.sources if s.build is not None]
    which = np.searchsorted([s.offset for s in earlier], decisions.drop_roots, side="right") - 1
    roots = decisions.drop_roots.tolist()
    return pa.table({
        "part": pa.array(part, pa.int32()),
        "row": pa.array(local - part_offsets[part], pa.int64()),
        "drop_reason": [EXACT_DUPLICATE if e else NEAR_DUPLICATE for e in decisions.drop_exact.tolist()],
        "duplicate_of": [doc_ids[r] for r in roots],
        "duplicate_of_build": pa.array([earlier[w].build if r < decisions.n_index else None
                                        for r, w in zip(roots, which.tolist())], pa.string()),
    }, schema=RESULT_SCHEMA)


def _stats(catalog: Catalog, decisions: Decisions, config: DedupConfig, buckets_info: dict[str, Any]) -> dict[str, Any]:
    candidates = int((catalog.status()[decisions.n_index :] > 0).sum())
    n_exact = int(decisions.drop_exact.sum())
    n_near = len(decisions.drop_keys) - n_exact
    sizes = np.bincount(decisions.cluster_ids(decisions.roots), minlength=len(decisions.cluster_roots))
    return {
        "documents": catalog.n_keys - decisions.n_index, "candidates": candidates, "kept": int(decisions.kept.sum()),
        "exact_duplicates": n_exact, "near_duplicates": n_near,
        "exact_duplicate_rate": n_exact / candidates if candidates else 0.0,
        "near_duplicate_rate": n_near / candidates if candidates else 0.0,
        "duplicates_of_earlier_builds": int((decisions.drop_roots < decisions.n_index).sum()),
        "clusters": len(sizes), "largest_cluster": int(sizes.max()) if len(sizes) else 0,
        "cluster_size_histogram": size_histogram(sizes),
        "near": {**config.near.model_dump(), **{k: buckets_info[k] for k in ("candidate_pairs", "verified_pairs")}},
        "against": [{"build": s.build, "documents": s.n_rows} for s in catalog.sources if s.build is not None],
    }


def clusters(parts: list[Path], config: DedupConfig, seed: int, workdir: Path, index_dir: Path) -> pa.Table:
    """Stage 3: clusters, the keep rule, the build's index; returns the dropped duplicates."""
    folder = workdir / "clusters"
    marker, result_path = folder / "done.json", folder / "result.parquet"
    fingerprint = _fingerprint({"buckets": _buckets_fingerprint(parts, config, seed, index_dir),
                                "index_dir": str(index_dir)})
    if _done(marker, fingerprint, result_path, index_dir / "settings.json"):
        log.info("dedup: clusters already on disk; skipping")
        return pq.read_table(result_path)
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    begin_index(index_dir)
    catalog = _catalog(parts, config, seed, workdir, index_dir)
    pairs = workdir / "buckets"
    decisions = decide(catalog.status(), catalog.n_index, np.load(pairs / "exact.npy"), np.load(pairs / "near.npy"))
    doc_ids = write_cluster_rows(parts, catalog, decisions, _earlier_builds(config, index_dir), index_dir)
    n_kept = write_index_signatures(catalog, decisions, index_dir, config.near.num_perm)
    result = _result_table(parts, catalog, decisions, doc_ids)
    tmp = result_path.with_name("result.parquet.tmp")
    pq.write_table(result, tmp)
    tmp.replace(result_path)
    buckets_info = json.loads((pairs / "done.json").read_text(encoding="utf-8"))
    write_json(index_dir / "stats.json", _stats(catalog, decisions, config, buckets_info))
    finish_index(index_dir, signature_settings(config, seed), index_dir.parent.name, n_kept)
    write_json(marker, {"fingerprint": fingerprint})
    return result


def deduplicate(parts: list[Path], config: DedupConfig, seed: int, workdir: Path, index_dir: Path,
                runner: Runner | None = None) -> pa.Table:
    """Exact and near duplicates among `parts` (and against `config.against`): one row per dropped doc.

    Runs signatures → buckets → clusters, skipping a stage whose output is already on disk.
    `runner` runs the pieces (signature spans, LSH bands): by default signatures on a local pool of
    `dedup.workers` processes and bands in this process.
    Keep rule: the earliest document of a cluster stays (an earlier build's always wins, then the
    smallest (part, row)); the others are dropped with duplicate_of naming it.
    """
    parts = [Path(p) for p in parts]
    workdir, index_dir = Path(workdir), Path(index_dir)
    signatures(parts, config, seed, workdir, runner)
    buckets(parts, config, seed, workdir, index_dir, runner)
    return clusters(parts, config, seed, workdir, index_dir)
