"""A folder of real-world bad input beside good documents: the "Done when" corpus of issue 10.

`make_defects(root)` writes one file (or a few) per defect, with good documents next to the bad
records wherever the format allows. It returns the ids of the good documents, which a build must
keep, and the list of defects. Used by tests/test_defects.py (small giants) and
benchmarks/defects.py (a giant line past the default 16 MB limit).
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import random
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from corpus import english_doc


class Defects:
    def __init__(self, root: Path, seed: int, giant_bytes: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.giant_bytes = giant_bytes
        self.good: list[str] = []  # ids a build must keep
        self.defects: list[str] = []

    def doc(self, name: str, extra: str = "") -> dict[str, str]:
        """A new good document (unique prose that passes the quality filters)."""
        doc_id = f"good-{name}-{len(self.good)}"
        self.good.append(doc_id)
        return {"id": doc_id, "text": english_doc(self.rng) + extra}

    def text(self, name: str, extra: str = "") -> str:
        """A good document as a whole .txt file: its id is the file name."""
        self.good.append(name)
        return english_doc(self.rng) + extra

    def lines(self, name: str, n: int = 2) -> bytes:
        return b"".join(json.dumps(self.doc(name)).encode() + b"\n" for _ in range(n))

    def write(self, defect: str, name: str, data: bytes) -> None:
        self.defects.append(defect)
        (self.root / name).write_bytes(data)


def make_defects(root: Path, seed: int = 0, giant_bytes: int = 300_000) -> tuple[list[str], list[str]]:
    """Write the corpus; return (good ids that must be kept, defect names)."""
    root.mkdir(parents=True, exist_ok=True)
    d = Defects(root, seed, giant_bytes)
    w = d.write

    # Encodings and byte-order marks
    w("utf-8 BOM in JSONL", "bom.jsonl", codecs.BOM_UTF8 + d.lines("bom"))
    w("utf-8 BOM in text", "bom.txt", codecs.BOM_UTF8 + d.text("bom.txt").encode())
    w("latin-1 text", "latin1.txt", d.text("latin1.txt", " Caf\u00e9 cr\u00e8me, d\u00e9j\u00e0 vu.").encode("latin-1"))
    w("cp1252 text", "cp1252.txt", d.text("cp1252.txt", " \u201cQuoted\u201d \u2014 for \u20ac5\u2026").encode("cp1252"))
    w("utf-16-le with BOM", "utf16le.txt", codecs.BOM_UTF16_LE + d.text("utf16le.txt").encode("utf-16-le"))
    w("utf-16-be with BOM", "utf16be.txt", codecs.BOM_UTF16_BE + d.text("utf16be.txt").encode("utf-16-be"))
    w("utf-16 without BOM", "utf16-nobom.txt", d.text("utf16-nobom.txt").encode("utf-16-le"))
    w("utf-16 JSONL", "utf16.jsonl", d.lines("utf16").decode().encode("utf-16"))
    w("invalid UTF-8 line in JSONL", "bad-utf8.jsonl", d.lines("bad-utf8") + b'{"id": "x", "text": "caf\xe9"}\n'
      + d.lines("bad-utf8"))

    # Compression that lies about itself, truncations, concatenations
    w("gzip named .txt", "gzipped.txt", gzip.compress(d.text("gzipped.txt").encode()))
    w("plain JSONL named .gz", "plain.jsonl.gz", d.lines("plain-gz"))
    w("zstd named .gz", "zstd.jsonl.gz", zstandard.ZstdCompressor().compress(d.lines("zstd-gz")))
    w("multi-member gzip", "multi.jsonl.gz", gzip.compress(d.lines("multi-1")) + gzip.compress(d.lines("multi-2")))
    w("concatenated zstd frames", "multi.jsonl.zst", zstandard.ZstdCompressor().compress(d.lines("zmulti-1"))
      + zstandard.ZstdCompressor().compress(d.lines("zmulti-2")))
    # The good lines come first; the cut falls inside a long incompressible last record.
    tail = json.dumps({"id": "tail", "text": "".join(d.rng.choice("abcdef0123456789 ") for _ in range(200_000))}).encode()
    whole = gzip.compress(d.lines("truncated-gz") + tail + b"\n")
    w("truncated gzip", "truncated.jsonl.gz", whole[: len(whole) * 3 // 4])
    whole = zstandard.ZstdCompressor().compress(d.lines("truncated-zst") + tail + b"\n")
    w("truncated zstd", "truncated.jsonl.zst", whole[: len(whole) * 3 // 4])
    w("gzip garbage after a valid member", "trailing-garbage.jsonl.gz",
      gzip.compress(d.lines("trailing")) + b"\x1f\x8bnot really gzip")

    # Records that break parsers
    deep = b'{"id": "deep", "text": "x", "meta": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n"
    w("50,000-deep nesting", "deep.jsonl", d.lines("deep", 1) + deep + d.lines("deep", 1))
    line = json.dumps({**d.doc("surrogate", " HALF-PAIRS"), "meta": "HALF"}).encode()
    line = line.replace(b"HALF-PAIRS", b"\\ud800 \\udfff").replace(b'"HALF"', b'"\\udc00"')
    w("lone surrogates", "surrogates.jsonl", line + b"\n" + d.lines("surrogate", 1))
    nul = d.doc("nul")
    w("NUL characters", "nul.jsonl", json.dumps({"id": nul["id"], "text": nul["text"] + "\u0000\u0001"}).encode()
      + b"\n{\"id\": \"raw-nul\", \"text\": \"a\x00b\"}\n" + d.lines("nul", 1))
    w("NUL bytes in text", "nul.txt", d.text("nul.txt").encode().replace(b" ", b"\x00", 3))
    w("wrong JSON types", "types.jsonl", d.lines("types", 1) + b'{"text": 42}\n{"text": null}\n[1, 2]\n"a string"\n'
      + b'{"id": {"a": 1}, "text": ["list"]}\n' + d.lines("types", 1))
    w("malformed JSON", "malformed.jsonl", d.lines("malformed", 1) + b'{"text": "trailing comma",}\n{"text": "no end\n'
      + d.lines("malformed", 1))
    wide = json.dumps({"id": "wide", "text": "wide", **{f"k{i}": i for i in range(50_000)}}).encode()
    w("wide metadata", "wide.jsonl", d.lines("wide", 1) + wide + b"\n" + d.lines("wide", 1))
    w("giant line", "giant-line.jsonl", d.lines("giant", 1) + b'{"text": "' + b"x" * giant_bytes + b'"}\n'
      + d.lines("giant", 1))
    w("giant text file", "giant.txt", ("giant text " * (giant_bytes // 11 + 10)).encode())

    # Line ends
    w("CR-only line ends", "cr.jsonl", d.lines("cr", 3).replace(b"\n", b"\r"))
    w("CRLF line ends", "crlf.jsonl", d.lines("crlf", 3).replace(b"\n", b"\r\n"))
    w("no newline at end", "no-eol.jsonl", d.lines("no-eol", 2).rstrip(b"\n"))

    # Binary, empty, whitespace
    w("PNG named .txt", "image.txt", b"\x89PNG\r\n\x1a\n" + bytes(d.rng.randrange(256) for _ in range(4000)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.txt", "hello " * 1000)
    w("zip archive named .txt", "archive.txt", buffer.getvalue())
    w("random bytes named .jsonl", "noise.jsonl", bytes(d.rng.randrange(256) for _ in range(8000)))
    w("empty file", "empty.jsonl", b"")
    w("empty text file", "empty.txt", b"")
    w("whitespace-only file", "blank.jsonl", b"\n   \n\t\n")
    w("whitespace-only text", "blank.txt", b"   \n\n \t \n")

    # Malformed WARC-like files, a corrupt Parquet file, a Parquet file with null texts
    warc = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\n<html><body>cut"
    w("malformed WARC (unsupported format)", "crawl.warc", warc)
    w("malformed WARC, truncated gzip", "crawl.warc.gz", gzip.compress(warc * 50)[:200])
    w("WARC-like text in a .txt", "warc-like.txt", warc)
    w("corrupt Parquet", "corrupt.parquet", b"PAR1" + bytes(d.rng.randrange(256) for _ in range(500)) + b"PAR1")
    table = pa.table({"id": ["good-parquet-a", "null-text", "good-parquet-b"],
                      "text": [english_doc(d.rng), None, english_doc(d.rng)]})
    d.good += ["good-parquet-a", "good-parquet-b"]
    pq.write_table(table, root / "nulls.parquet")
    d.defects.append("Parquet row with a null text")
    return d.good, d.defects
