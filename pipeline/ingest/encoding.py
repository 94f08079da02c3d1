"""What a file's bytes are: UTF-8 (BOM stripped), another text encoding (transcoded), or binary.

The first 64 KiB (after decompression) decide, in this order: a byte-order mark; the magic bytes
of a known binary format (images, PDF, archives, executables); the byte pattern of UTF-16
without a BOM (a few high bytes in every other position); valid UTF-8; then uchardet's guess
(charset-normalizer's when it has none). Text whose decoded sample is more than a tenth control
characters (or, for JSONL, undecodable bytes) is binary whatever its guessed encoding.

JSON Lines is UTF-8 by its specification (RFC 8259), so a JSONL file is only transcoded when a
BOM or the UTF-16 pattern says so; a JSONL line that is not UTF-8 stays `invalid:utf8`. A
plain `.txt` file is read in whatever encoding it is in (`legacy=True`).

Transcoding happens on the byte stream, before lines are cut, so UTF-16 newlines split right and
the readers downstream only ever see UTF-8.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass

SNIFF_BYTES = 64 * 1024
_BOMS = (  # longest first: the UTF-32-LE mark begins with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png image"), (b"\xff\xd8\xff", "jpeg image"), (b"GIF87a", "gif image"),
    (b"GIF89a", "gif image"), (b"%PDF-", "pdf"), (b"PK\x03\x04", "zip archive"), (b"PK\x05\x06", "zip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"), (b"BZh", "bzip2 archive"), (b"\xfd7zXZ\x00", "xz archive"),
    (b"\x7fELF", "executable"), (b"Rar!\x1a\x07", "rar archive"), (b"SQLite format 3\x00", "sqlite database"),
    (b"PAR1", "parquet file"), (b"\x00asm", "webassembly"), (b"OggS", "ogg audio"), (b"ID3", "mp3 audio"),
    (b"II*\x00", "tiff image"), (b"MM\x00*", "tiff image"), (b"RIFF", "riff media"),
)
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f", "\v", "\x1b"}
MAX_CONTROL_SHARE = 0.10


@dataclass(frozen=True)
class Sniffed:
    encoding: str | None  # Python codec name to transcode from; None: UTF-8
    bom: int = 0  # bytes of byte-order mark to skip
    binary: str | None = None  # what the bytes look like, when they are not text


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if (ch < " " and ch not in _TEXT_CONTROLS) or "\x7f" <= ch <= "\x9f")
    return controls / len(text)


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 of text in one alphabet has the same few high bytes in every other position (NUL for
    Latin, 0x04 for Cyrillic, 0x05 for Hebrew, ...) and varied low bytes in the others."""
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    for high, low, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if len(set(high)) <= 4 and len(set(low)) >= 8 and (0 in high or len(set(high)) <= 2):
            return encoding
    return None


def _decodes(sample: bytes, encoding: str, complete: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except (UnicodeDecodeError, LookupError):
        return None


def sniff(sample: bytes, complete: bool, legacy: bool) -> Sniffed:
    """Decide from the first bytes (`complete`: the whole file) what a file's text encoding is."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return Sniffed(None if encoding == "utf-8" else encoding, len(bom))
    for magic, kind in _BINARY_MAGIC:
        if sample.startswith(magic):
            return Sniffed(None, binary=kind)
    if len(sample) > 262 and sample[257:262] == b"ustar":
        return Sniffed(None, binary="tar archive")
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None and (text := _decodes(sample[: len(sample) & ~1], utf16, False)) is not None \
            and _control_share(text) < 0.01:
        return Sniffed(utf16)
    text = _decodes(sample, "utf-8", complete)
    if text is not None:
        return Sniffed(None, binary="control characters" if _control_share(text) > MAX_CONTROL_SHARE else None)
    if not legacy:  # UTF-8 by specification: the lines that are not say so one by one
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=complete)
        unreadable = text.count("\ufffd") / max(len(text), 1) + _control_share(text)
        # One line that looks like a JSON object is enough to read the file line by line.
        looks_like_json = any(line.lstrip().startswith("{") for line in text.splitlines())
        binary = unreadable > MAX_CONTROL_SHARE and not looks_like_json
        return Sniffed(None, binary="not UTF-8, not text" if binary else None)
    encoding = detect_legacy(sample)
    if encoding is None:
        return Sniffed(None, binary="no text encoding fits")
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=complete)
    if _control_share(text) > MAX_CONTROL_SHARE or text.count("\ufffd") > MAX_CONTROL_SHARE * len(text):
        return Sniffed(None, binary="control characters")
    return Sniffed(encoding)


def detect_legacy(sample: bytes) -> str | None:
    """The codec name of text that is not UTF-8: uchardet (through faust-cchardet), which tells
    Western, Cyrillic and CJK encodings apart better than charset-normalizer on short text (on
    "café" charset-normalizer guesses cp1006, Urdu); charset-normalizer when uchardet has no answer."""
    import cchardet  # paid only for files that are not UTF-8

    name = cchardet.detect(sample).get("encoding")
    if name is None:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
        name = best.encoding if best is not None else None
    if name is None:
        return None
    try:
        encoding = codecs.lookup(name).name
    except LookupError:
        return None
    # ISO-8859-1 holds C1 controls at 0x80-0x9f where Windows-1252 has quotes, dashes and the euro:
    # text with those bytes is Windows-1252 (what the WHATWG encoding standard does for "latin1").
    if encoding == "iso8859-1" and any(0x80 <= b <= 0x9F for b in sample):
        encoding = "cp1252"
    return encoding


@dataclass
class TextStream:
    """A file's bytes as UTF-8: `chunks` to read, and what was found out about them."""

    chunks: Iterator[bytes]
    encoding: str | None
    binary: str | None


def utf8_stream(chunks: Iterator[bytes], legacy: bool, sniff_head: bool = True) -> TextStream:
    """Sniff the stream's head; return it as UTF-8 chunks (BOM stripped, transcoded if need be).

    An error raised while reading the head (a truncated archive) is raised again after the bytes
    read before it, as the plain stream would."""
    head: list[bytes] = []
    size = 0
    error: BaseException | None = None
    complete = False
    if sniff_head:
        try:
            while size < SNIFF_BYTES:
                chunk = next(chunks, None)
                if chunk is None:
                    complete = True
                    break
                head.append(chunk)
                size += len(chunk)
        except Exception as e:  # the stream's own error, re-raised in order below
            error = e
    sample = b"".join(head)
    found = sniff(sample, complete or error is not None, legacy) if sniff_head else Sniffed(None)

    def raw() -> Iterator[bytes]:
        yield sample[found.bom:]
        if error is not None:
            raise error
        yield from chunks

    utf8 = raw() if found.encoding is None else _transcode(raw(), found.encoding)
    if b"\r" in sample and b"\n" not in sample:
        utf8 = _cr_to_lf(utf8)  # old Mac line ends: one line per CR, not one line per file
    return TextStream(utf8, found.encoding, found.binary)


def _cr_to_lf(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.replace(b"\r", b"\n")


def _transcode(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    # errors="replace": a stray byte in a detected encoding is one U+FFFD, not a lost file.
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in chunks:
        if text := decoder.decode(chunk):
            yield text.encode("utf-8", "replace")
    if text := decoder.decode(b"", final=True):
        yield text.encode("utf-8", "replace")
