"""A dataset that grows by versions: OUT_ROOT/catalog.json lists every published build, in order.

Each version is an ordinary build folder (OUT_ROOT/v0001, v0002, ...) made from the input files
that no earlier version consumed. Its config is the user's, plus two keys the catalog sets:
`dedup.against` (every earlier version, so a document already published is marked
`duplicate_of_build`) and `tokenizer.from` (the first version's tokenizer, so every version's
shards share one vocabulary).

A file is known by (path, sha256). A path seen before with another sha256 has changed: it is
consumed again by the next version, which records `supersedes: [{path, version}]`, and the
earlier version's file record gets `superseded_by`. Versions are immutable, so the earlier
documents stay in the earlier version's shards; what supersedes them is dedup: documents of the
changed file that are unchanged are duplicates of the earlier version and are not published twice,
and only new or edited text is kept.

Publishing is atomic: the version's folder is built first (and resumes after a kill, from
OUT_ROOT/.pending.json), and only a complete build is added to catalog.json, which is rewritten
with os.replace under a file lock (flows that publish, train and evaluate may run at once).
No Prefect here: `flows/service.py` runs this as deployments.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.config import Config

CATALOG = "catalog.json"
PENDING = ".pending.json"
FORMAT = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def path_sha256(path: Path) -> str:
    """sha256 of a file; of a folder (a `save_to_disk` dataset): of its files' names and contents."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class InputRecord:
    """One input file as a version consumed it."""

    path: str  # absolute
    size: int
    mtime: float
    sha256: str


def _write_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class Catalog:
    """catalog.json of one dataset root: versions and the runs trained on them."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / CATALOG

    def read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {"format": FORMAT, "dataset": str(self.root.resolve()), "versions": [], "runs": []}
        return json.loads(self.path.read_text(encoding="utf-8"))

    @contextmanager
    def editing(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, and atomically rewrite catalog.json, holding a lock throughout."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".catalog.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            yield data
            _write_atomic(self.path, data)

    # --- reading ------------------------------------------------------------------------------------
    def versions(self, status: str | None = "published") -> list[dict[str, Any]]:
        return [v for v in self.read()["versions"] if status is None or v["status"] == status]

    def version(self, version_id: str) -> dict[str, Any]:
        for version in self.read()["versions"]:
            if version["id"] == version_id:
                return version
        raise KeyError(f"{self.path} has no version {version_id!r}: see `gristmill catalog list {self.root}`")

    def folder(self, version: dict[str, Any]) -> Path:
        return self.root / version["folder"]

    def data_folders(self) -> list[Path]:
        """The build folders of every published version, oldest first (what `train --data ROOT` reads)."""
        return [self.folder(v) for v in self.versions()]

    def runs(self) -> list[dict[str, Any]]:
        return self.read()["runs"]

    # --- planning a version -----------------------------------------------------------------------------
    def scan(self, inputs: list[str]) -> list[InputRecord]:
        """Every input file now, with its sha256. A file whose path, size and mtime match a consumed
        record reuses that record's hash, so a scan reads only new or touched files."""
        from pipeline.ingest import discover_inputs

        found, unreadable = discover_inputs(inputs)
        known = {(f["path"], f["size"], f["mtime"]): f["sha256"]
                 for v in self.read()["versions"] for f in v["files"]}
        records = []
        paths = sorted({f.path for f in found} | {u.path for u in unreadable if Path(u.path).exists()})
        for path in paths:
            p = Path(path).resolve()
            size = p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            mtime = p.stat().st_mtime
            sha = known.get((str(p), size, mtime)) or path_sha256(p)
            records.append(InputRecord(str(p), size, mtime, sha))
        return records

    def fresh(self, scanned: list[InputRecord]) -> tuple[list[InputRecord], list[dict[str, str]]]:
        """The files no earlier version consumed (by path and sha256), and which of them supersede
        an earlier version's file of the same path: [{path, version}]."""
        consumed: dict[str, list[tuple[str, str]]] = {}
        for version in self.read()["versions"]:
            for f in version["files"]:
                consumed.setdefault(f["path"], []).append((f["sha256"], version["id"]))
        fresh = [r for r in scanned if r.sha256 not in {sha for sha, _ in consumed.get(r.path, [])}]
        supersedes = [{"path": r.path, "version": consumed[r.path][-1][1]} for r in fresh if r.path in consumed]
        return fresh, supersedes

    def next_id(self) -> str:
        return f"v{len(self.read()['versions']) + 1:04d}"

    def version_config(self, config: Config) -> Config:
        """The user's config plus what makes versions one dataset: dedup against every earlier
        version, and the first version's tokenizer."""
        config = config.model_copy(deep=True)
        earlier = [str(self.folder(v).resolve()) for v in self.read()["versions"]]
        config.dedup.against = sorted(set(config.dedup.against)) + [e for e in earlier if e not in config.dedup.against]
        first = self.read()["versions"][:1]
        if first and not config.tokenizer.from_:
            config.tokenizer.from_ = str((self.folder(first[0]) / "tokenizer" / "tokenizer.json").resolve())
        return config

    # --- pending and publishing --------------------------------------------------------------------------
    def pending(self) -> dict[str, Any] | None:
        """The version being built when a run was killed: finish it before planning a new one."""
        path = self.root / PENDING
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def begin(self, files: list[InputRecord], supersedes: list[dict[str, str]]) -> dict[str, Any]:
        self.root.mkdir(parents=True, exist_ok=True)
        version_id = self.next_id()
        pending = {"id": version_id, "folder": version_id, "started": utc_now(),
                   "files": [asdict(f) for f in files], "supersedes": supersedes}
        _write_atomic(self.root / PENDING, pending)
        return pending

    def publish(self, pending: dict[str, Any]) -> dict[str, Any]:
        """Add the finished build of `pending` to the catalog; returns the version record."""
        folder = self.root / pending["folder"]
        version = {"id": pending["id"], "folder": pending["folder"], "published": utc_now(),
                   "started": pending["started"], "status": "published", "files": pending["files"],
                   "supersedes": pending["supersedes"], **version_profile(folder)}
        with self.editing() as data:
            if any(v["id"] == version["id"] for v in data["versions"]):
                raise RuntimeError(f"{self.path} already lists {version['id']}: another process published it")
            for old in data["versions"]:
                for f in old["files"]:
                    if any(s["path"] == f["path"] and s["version"] == old["id"] for s in version["supersedes"]):
                        f["superseded_by"] = version["id"]
            data["versions"].append(version)
        (self.root / PENDING).unlink(missing_ok=True)
        return version

    # --- runs ------------------------------------------------------------------------------------------
    def record_run(self, run: Path, versions: list[str], summary: dict[str, Any], init_from: str | None) -> None:
        record = {"run": str(Path(run).resolve()), "trained": utc_now(), "versions": versions,
                  "init_from": init_from, "steps": summary.get("step"), "val_loss": summary.get("val_loss"),
                  "eval": None}
        with self.editing() as data:
            data["runs"] = [r for r in data["runs"] if r["run"] != record["run"]] + [record]

    def record_eval(self, run: Path, evaluation: dict[str, Any]) -> None:
        keys = ("val_loss", "perplexity", "bits_per_byte", "unigram_perplexity")
        with self.editing() as data:
            for record in data["runs"]:
                if record["run"] == str(Path(run).resolve()):
                    record["eval"] = {k: evaluation.get(k) for k in keys}
                    record["evaluated"] = utc_now()

    def latest_run(self) -> dict[str, Any] | None:
        runs = [r for r in self.runs() if Path(r["run"]).is_dir()]
        return runs[-1] if runs else None

    # --- housekeeping --------------------------------------------------------------------------------
    def prune(self, keep: int) -> list[str]:
        """Free the shards of all but the newest `keep` published versions, except versions a run
        still on disk trained on. The record, ledger, report, tokenizer and dedup index stay, so
        later versions still dedup against a pruned one. Returns the pruned ids."""
        if keep < 1:
            raise ValueError("--keep must be at least 1")
        pruned = []
        with self.editing() as data:
            protected = {v for r in data["runs"] if Path(r["run"]).is_dir() for v in r["versions"]}
            published = [v for v in data["versions"] if v["status"] == "published"]
            for version in published[:-keep]:
                if version["id"] in protected:
                    continue
                folder = self.root / version["folder"]
                for bulky in ("shards", "work"):
                    shutil.rmtree(folder / bulky, ignore_errors=True)
                version["status"] = "pruned"
                version["pruned"] = utc_now()
                pruned.append(version["id"])
        return pruned


def version_profile(folder: Path) -> dict[str, Any]:
    """What the catalog and index.html show of a finished build folder."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline.tokenizer import file_sha256

    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    summary = report["summary"]
    manifest = folder / "manifest.json"
    tokenizer = folder / "tokenizer" / "tokenizer.json"
    of_build = pq.read_table(folder / "ledger.parquet", columns=["duplicate_of_build"]).column("duplicate_of_build")
    return {
        "documents_in": summary["documents_in"], "documents_kept": summary["documents_kept"],
        "train_tokens": summary.get("train_tokens") or 0, "val_tokens": summary.get("val_tokens") or 0,
        "tokenizer_sha256": file_sha256(tokenizer) if tokenizer.is_file() else None,
        "manifest_sha256": file_sha256(manifest) if manifest.is_file() else None,
        "drop_reasons": {r["reason"]: r["documents"] for r in report["drop_reasons"]},
        "languages": {r["language"]: r["documents"] for r in report["languages"]},
        "duplicates_of_earlier_versions": int(pc.sum(pc.is_valid(of_build)).as_py() or 0),
    }


def resolve_data(paths: list[str | Path]) -> list[Path]:
    """Build folders from `--data` arguments: a build folder stands for itself, a catalog root for
    every published version in order."""
    folders: list[Path] = []
    for path in map(Path, paths):
        if (path / CATALOG).is_file():
            versions = Catalog(path).data_folders()
            if not versions:
                raise FileNotFoundError(f"{path / CATALOG} lists no published version yet: wait for the first build")
            folders.extend(versions)
        elif (path / "manifest.json").is_file():
            folders.append(path)
        else:
            raise FileNotFoundError(f"{path} has neither manifest.json nor {CATALOG}: pass a build folder "
                                    "(`gristmill build ... --out DIR`) or a dataset root (`gristmill serve --out-root`)")
    return folders


_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_COUNTS = {"type": "object", "additionalProperties": _INT}
CATALOG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "gristmill dataset catalog (OUT_ROOT/catalog.json)",
    "type": "object",
    "required": ["format", "dataset", "versions", "runs"],
    "properties": {
        "format": {"const": FORMAT},
        "dataset": {**_STR, "description": "the dataset root, absolute"},
        "versions": {"type": "array", "description": "published versions, oldest first", "items": {
            "type": "object",
            "required": ["id", "folder", "published", "status", "files", "supersedes", "documents_in",
                         "documents_kept", "train_tokens", "val_tokens", "tokenizer_sha256", "manifest_sha256"],
            "properties": {
                "id": {"type": "string", "pattern": "^v[0-9]{4,}$"},
                "folder": {**_STR, "description": "build folder, relative to the dataset root"},
                "started": _STR, "published": _STR, "pruned": _STR,
                "status": {"enum": ["published", "pruned"], "description": "pruned: shards freed, records kept"},
                "files": {"type": "array", "items": {
                    "type": "object", "required": ["path", "size", "mtime", "sha256"],
                    "properties": {"path": _STR, "size": _INT, "mtime": {"type": "number"},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                   "superseded_by": {**_STR, "description": "a later version consumed a changed copy"}}}},
                "supersedes": {"type": "array", "items": {"type": "object", "required": ["path", "version"],
                                                          "properties": {"path": _STR, "version": _STR}}},
                "documents_in": _INT, "documents_kept": _INT, "train_tokens": _INT, "val_tokens": _INT,
                "tokenizer_sha256": {"type": ["string", "null"]}, "manifest_sha256": {"type": ["string", "null"]},
                "drop_reasons": _COUNTS, "languages": _COUNTS, "duplicates_of_earlier_versions": _INT,
            }}},
        "runs": {"type": "array", "description": "training runs on this dataset, in order", "items": {
            "type": "object", "required": ["run", "trained", "versions", "init_from", "val_loss"],
            "properties": {
                "run": {**_STR, "description": "run folder, absolute"}, "trained": _STR, "evaluated": _STR,
                "versions": {"type": "array", "items": _STR, "description": "the versions it trained on"},
                "init_from": {"type": ["string", "null"]}, "steps": {"type": ["integer", "null"]},
                "val_loss": {"type": ["number", "null"], "description": "at the end of training"},
                "eval": {"type": ["object", "null"], "description": "eval.json's headline numbers"},
            }}},
    },
}


def next_version(catalog: Catalog, inputs: list[str]) -> dict[str, Any] | None:
    """The version to build now: an unfinished one first, else one of the fresh files; None when
    nothing is new."""
    pending = catalog.pending()
    if pending is not None:
        return pending
    fresh, supersedes = catalog.fresh(catalog.scan(inputs))
    return catalog.begin(fresh, supersedes) if fresh else None


def build_version(root: str | Path, inputs: list[str], config: Config, progress: Any = None) -> dict[str, Any] | None:
    """Build the next version of the dataset at root from INPUTS and publish it (no Prefect)."""
    from pipeline.build import build

    catalog = Catalog(root)
    pending = next_version(catalog, inputs)
    if pending is None:
        return None
    build([f["path"] for f in pending["files"]], catalog.root / pending["folder"], catalog.version_config(config),
          progress)
    return catalog.publish(pending)
