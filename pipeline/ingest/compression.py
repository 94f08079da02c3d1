"""gzip and zstd streams, recognised by their magic bytes whatever the file is called.

A `.txt` that is really gzip is decompressed; a `.jsonl.gz` that is really plain JSONL is read as
it is. Every byte decompressed before a truncation comes through before the error is raised.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

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


def _gzip_chunks(raw: IO[bytes]) -> Iterator[bytes]:
    # zlib directly rather than gzip.open: every byte decompressed before a cut is kept.
    decompressor = zlib.decompressobj(wbits=31)
    in_member = False
    while compressed := raw.read(CHUNK):
        while compressed:
            in_member = True
            yield decompressor.decompress(compressed)
            compressed = b""
            if decompressor.eof:  # a next gzip member follows (concatenated .gz files)
                compressed = decompressor.unused_data
                decompressor, in_member = zlib.decompressobj(wbits=31), False
    if in_member and not decompressor.eof:
        raise TruncatedArchive("gzip stream ends before its end marker")


def _zstd_chunks(raw: IO[bytes]) -> Iterator[bytes]:
    # Concatenated zstd frames are one valid stream too (`cat a.zst b.zst`).
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    in_frame = False
    while compressed := raw.read(CHUNK):
        while compressed:
            in_frame = True
            yield decompressor.decompress(compressed)
            compressed = b""
            if decompressor.eof:
                compressed = decompressor.unused_data
                decompressor, in_frame = zstandard.ZstdDecompressor().decompressobj(), False
    if in_frame and not decompressor.eof:
        raise TruncatedArchive("zstd stream ends before its end marker")


def file_chunks(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The file's bytes, decompressed when its magic bytes say gzip or zstd; for a plain file,
    only bytes [start, end)."""
    with open(path, "rb") as raw:
        kind = compression_of(raw.read(4)) if start == 0 else None
        raw.seek(0 if kind else start)
        if kind == "gzip":
            yield from _gzip_chunks(raw)
        elif kind == "zstd":
            yield from _zstd_chunks(raw)
        else:
            left = None if end is None else end - start
            while chunk := raw.read(CHUNK if left is None else min(CHUNK, left)):
                yield chunk
                if left is not None:
                    left -= len(chunk)
