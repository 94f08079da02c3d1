"""Expand files, folders and globs into the input files of a build, each with its format."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd", ".ndjson", ".json.gz")
TEXT_SUFFIXES = (".txt",)
PARQUET_SUFFIXES = (".parquet",)
# Files that sit inside a `save_to_disk` folder; they are read through the folder, not one by one.
HF_DISK_MARKERS = ("dataset_info.json", "state.json")


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute path
    relative: str  # path shown in ids and the ledger (relative to the argument it came from)
    format: str  # jsonl | text | parquet | hf_disk
    bytes: int


@dataclass(frozen=True)
class UnreadableFile:
    path: str
    reason: str


def detect_format(path: Path) -> str | None:
    if path.is_dir():
        return "hf_disk" if all((path / m).is_file() for m in HF_DISK_MARKERS) else None
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _walk(root: Path) -> list[Path]:
    """Files under root, with a `save_to_disk` folder standing for all its files."""
    if detect_format(root) == "hf_disk":
        return [root]
    found: list[Path] = []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            found.extend(_walk(child))
        else:
            found.append(child)
    return found


def discover_inputs(arguments: list[str]) -> tuple[list[InputFile], list[UnreadableFile]]:
    """Sorted, de-duplicated input files; and the files gristmill cannot read, with the reason."""
    inputs: dict[str, InputFile] = {}
    unreadable: list[UnreadableFile] = []
    for argument in arguments:
        matches = sorted(glob.glob(argument, recursive=True)) if glob.has_magic(argument) else [argument]
        if not matches:
            unreadable.append(UnreadableFile(argument, "no_match: the glob matched no file"))
            continue
        for match in matches:
            path = Path(match)
            if not path.exists():
                unreadable.append(UnreadableFile(match, "not_found: no such file or folder"))
                continue
            base = path if path.is_dir() and detect_format(path) != "hf_disk" else path.parent
            for file in _walk(path) if path.is_dir() else [path]:
                key = str(file.resolve())
                if key in inputs:
                    continue
                fmt = detect_format(file)
                if fmt is None:
                    unreadable.append(UnreadableFile(str(file), f"unsupported_format: {file.suffix or 'no suffix'} "
                                                     "(gristmill reads .jsonl[.gz|.zst], .txt, .parquet and save_to_disk folders)"))
                    continue
                relative = file.relative_to(base).as_posix() if file != base else file.name
                inputs[key] = InputFile(path=key, relative=relative, format=fmt, bytes=_size(file))
    ordered = sorted(inputs.values(), key=lambda f: (f.relative, f.path))
    return ordered, unreadable
