"""gzip and zstd streams, recognised by their magic bytes whatever the file is called.

A `.txt` that is really gzip is decompressed; a `.jsonl.gz` that is really plain JSONL is read as
it is. Every byte decompressed before a truncation comes through before the error is raised.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import zstandard

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class TruncatedArchive(Exception):
    """The compressed stream ended before its end-of-stream marker."""


def compression_of(head: bytes) -> str | None:
    """'gzip', 'zstd' or None (not compressed, as far as the first bytes say)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def sniff_compression(path: Path) -> str | None:
    with open(path, "rb") as f:
        return compression_of(f.read(4))


# A new decompressor for each gzip member or zstd frame: concatenated members (`cat a.gz b.gz`) and
# frames are one valid stream. zlib rather than gzip.open, so every byte decompressed before a cut is kept.
DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(wbits=31),
    "zstd": lambda: zstandard.ZstdDecompressor().decompressobj(),
}


def _decompressed_chunks(raw: IO[bytes], kind: str) -> Iterator[bytes]:
    new_decompressor = DECOMPRESSORS[kind]
    decompressor = new_decompressor()
    in_member = False
    while compressed := raw.read(CHUNK):
        while compressed:
            in_member = True
            yield decompressor.decompress(compressed)
            compressed = b""
            if decompressor.eof:  # a next member or frame follows
                compressed = decompressor.unused_data
                decompressor, in_member = new_decompressor(), False
    if in_member and not decompressor.eof:
        raise TruncatedArchive(f"{kind} stream ends before its end marker")


def file_chunks(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The file's bytes, decompressed when its magic bytes say gzip or zstd; for a plain file,
    only bytes [start, end)."""
    with open(path, "rb") as raw:
        kind = compression_of(raw.read(4)) if start == 0 else None
        raw.seek(0 if kind else start)
        if kind:
            yield from _decompressed_chunks(raw, kind)
        else:
            left = None if end is None else end - start
            while chunk := raw.read(CHUNK if left is None else min(CHUNK, left)):
                yield chunk
                if left is not None:
                    left -= len(chunk)
