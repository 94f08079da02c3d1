"""Expand files, folders and globs into the input files of a build, each with its format."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, replace
from pathlib import Path

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl.zstd", ".ndjson", ".json.gz")
SPLITTABLE_SUFFIXES = (".jsonl", ".ndjson")  # uncompressed: a reader can start at any line
SCAN_BLOCK = 8 << 20
TEXT_SUFFIXES = (".txt", ".txt.gz", ".txt.zst")
PARQUET_SUFFIXES = (".parquet",)
# Files that sit inside a `save_to_disk` folder; they are read through the folder, not one by one.
HF_DISK_MARKERS = ("dataset_info.json", "state.json")


@dataclass(frozen=True)
class InputFile:
    path: str  # absolute path
    relative: str  # path shown in ids and the ledger (relative to the argument it came from)
    format: str  # jsonl | text | parquet | hf_disk
    bytes: int
    # A piece of a large plain JSONL file: bytes [start, end) (end None: to the end of the file),
    # whose first line is line `first_line` of the file (so fallback ids keep the file's numbering).
    start: int = 0
    end: int | None = None
    first_line: int = 1


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


class InputError(ValueError):
    """The build's inputs cannot be used at all; the message names the path and what to do."""


def check_inputs(arguments: list[str]) -> None:
    """Refuse, before any work, inputs that cannot make a build: a path that does not exist, a glob
    that matches nothing, a folder or file that cannot be read, or no readable input at all."""
    if not arguments:
        raise InputError("no input given: name files, folders or globs to build from")
    for argument in arguments:
        if glob.has_magic(argument):
            if not glob.glob(argument, recursive=True):
                raise InputError(f"{argument}: the pattern matches no file (check the path, and quote it so the "
                                 "shell does not expand it)")
            continue
        path = Path(argument)
        if not path.exists():
            raise InputError(f"{argument}: no such file or folder (check the path)")
        try:
            if path.is_dir():
                for _ in os.scandir(path):
                    break
            else:
                with open(path, "rb") as f:
                    f.read(1)
        except OSError as e:
            raise InputError(f"{argument}: cannot be read ({e.strerror}): check its permissions") from None
    found, unreadable = discover_inputs(arguments)
    if not found:
        skipped = "; ".join(f"{u.path}: {u.reason}" for u in unreadable[:3])
        raise InputError(f"no input gristmill can read in {', '.join(arguments)}"
                         + (f" ({len(unreadable)} other file(s), e.g. {skipped})" if unreadable else " (empty)"))


def split_large_inputs(inputs: list[InputFile], piece_bytes: int | None) -> list[InputFile]:
    """Each plain JSONL file larger than `piece_bytes` as pieces of about that size, cut after a
    newline, so that one large file is annotated by several workers; other files unchanged."""
    out: list[InputFile] = []
    for item in inputs:
        if (piece_bytes is None or item.bytes <= piece_bytes or not item.relative.lower().endswith(SPLITTABLE_SUFFIXES)
                or not _plain_utf8(Path(item.path))):
            out.append(item)
        else:
            try:
                out.extend(_pieces(item, piece_bytes))
            except OSError:
                out.append(item)  # read whole, its reader then records why it cannot be read
    return out


def _plain_utf8(path: Path) -> bool:
    """Only a file that is neither compressed nor in another encoding can be cut at any newline."""
    from pipeline.ingest.compression import compression_of
    from pipeline.ingest.encoding import SNIFF_BYTES, sniff

    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False  # read whole, its reader then records why it cannot be read
    found = sniff(head, complete=False, legacy=False)
    return compression_of(head) is None and found.encoding is None and found.binary is None


def _pieces(item: InputFile, piece_bytes: int) -> list[InputFile]:
    # One sequential pass: count newlines (for each piece's first line number) and cut at the
    # first newline past every multiple of piece_bytes.
    cuts: list[tuple[int, int]] = [(0, 1)]  # (byte offset, line number) where a piece starts
    lines, offset = 0, 0
    target = piece_bytes
    with open(item.path, "rb") as f:
        while block := f.read(SCAN_BLOCK):
            while target < offset + len(block):
                newline = block.find(b"\n", max(target - offset, 0))
                if newline < 0:
                    break
                at = offset + newline + 1
                cuts.append((at, lines + block.count(b"\n", 0, newline + 1) + 1))
                target = at + piece_bytes
            lines += block.count(b"\n")
            offset += len(block)
    if cuts[-1][0] >= offset:
        cuts.pop()  # the file ends with the cut: nothing after it
    pieces = []
    for i, (start, first_line) in enumerate(cuts):
        end = cuts[i + 1][0] if i + 1 < len(cuts) else None
        size = (end if end is not None else offset) - start
        pieces.append(replace(item, bytes=size, start=start, end=end, first_line=first_line))
    return pieces
