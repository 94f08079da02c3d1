"""Web archives: WARC and ARC (plain or gzipped) and WET, one document per page.

`response` and `resource` records with HTML are decoded (HTTP header charset, then the meta tag,
then detection) and their main text extracted; `text/plain` bodies and WET `conversion` records
are taken as they are. Other records (requests, metadata, images, redirects...) come out as
`SkippedRecord`s, counted per kind. A record that cannot be parsed, or that the file cuts short,
becomes an `InvalidRecord` and reading resumes at the next record that can be found (the next
gzip member, or the next `WARC/1.x` line). Records stream through warcio: memory holds one record.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from pipeline.config import ExtractConfig, IngestConfig
from pipeline.documents import Document, InvalidRecord, SkippedRecord
from pipeline.extract import MainTextExtractor, decode_html, extractor_for

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_RECORD_TYPES = ("response", "resource", "conversion")
_RESYNC_BLOCK = 1 << 20
_READ_ERRORS = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError)

Record = Document | InvalidRecord | SkippedRecord


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _record_id(record: Any, is_arc: bool) -> str:
    """The WARC-Record-ID without its angle brackets; '' when there is none (the reader then uses
    the file and offset). warcio invents a random id for ARC records: those are ignored."""
    record_id = None if is_arc else record.rec_headers.get_header("WARC-Record-ID")
    return record_id.strip("<>") if record_id else ""


class WebRecordReader:
    """Turns one archive record into a Document, an InvalidRecord or a SkippedRecord."""

    def __init__(self, relative: str, config: IngestConfig, extractor: MainTextExtractor, is_arc: bool) -> None:
        self.relative = relative
        self.config = config
        self.extractor = extractor
        self.is_arc = is_arc

    def __call__(self, record: Any) -> Record:
        kind = record.rec_type
        if kind not in TEXT_RECORD_TYPES:
            return SkippedRecord(self.relative, kind)
        doc_id = _record_id(record, self.is_arc)
        http = record.http_headers if kind == "response" else None
        if http is not None:
            status = http.get_statuscode()
            if not str(status).startswith("2"):
                return SkippedRecord(self.relative, f"{kind}:status_{status}")
        content_type = (http.get_header("Content-Type") if http is not None else None) \
            or record.rec_headers.get_header("Content-Type")
        mime = _mime(content_type) or ("text/plain" if kind == "conversion" else "")
        if mime not in HTML_TYPES and mime != "text/plain":
            return SkippedRecord(self.relative, f"{kind}:{mime or 'no_content_type'}")
        body = _read_at_most(record.content_stream(), self.config.max_record_bytes + 1)
        if len(body) > self.config.max_record_bytes:
            return InvalidRecord(doc_id, self.relative, "too_large", "record body larger than ingest.max_record_bytes")
        if record.raw_stream.limit:  # Content-Length promised more than the file holds
            return InvalidRecord(doc_id, self.relative, "truncated_record",
                                 f"the file ends {record.raw_stream.limit} bytes before the record's end")
        text, charset = decode_html(body, content_type)
        if mime in HTML_TYPES:
            try:
                text = self.extractor(text)
            except Exception as e:  # a page that breaks the extractor is one bad record, not a bad file
                return InvalidRecord(doc_id, self.relative, "extract_error", f"{type(e).__name__}: {e}"[:300])
        metadata = {
            "url": record.rec_headers.get_header("WARC-Target-URI"),
            "warc_record_id": None if self.is_arc else record.rec_headers.get_header("WARC-Record-ID"),
            "warc_date": record.rec_headers.get_header("WARC-Date"),
            "content_type": mime,
            "charset": charset,
        }
        if mime in HTML_TYPES:
            metadata["extract_method"] = self.extractor.method
        if record.rec_headers.get_header("WARC-Truncated"):  # the crawler cut the payload (Common Crawl: at 1 MiB)
            metadata["warc_truncated"] = record.rec_headers.get_header("WARC-Truncated")
        return Document(id=doc_id, text=text, source=self.relative, metadata=metadata)


def _read_at_most(stream: Any, limit: int) -> bytes:
    # warcio's read(n) returns one buffer's worth, not n bytes: loop until the end or the limit.
    parts, size = [], 0
    while size < limit and (chunk := stream.read(min(1 << 16, limit - size))):
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _next_record_start(path: Path, after: int, gzipped: bool) -> int | None:
    """The offset of the next place a record may start, past `after`; None at the end of the file."""
    marker = b"\x1f\x8b\x08" if gzipped else b"\nWARC/1."
    with open(path, "rb") as f:
        f.seek(after + 1)
        position = after + 1
        tail = b""
        while block := f.read(_RESYNC_BLOCK):
            window = tail + block
            found = window.find(marker)
            if found >= 0:
                start = position - len(tail) + found
                return start if gzipped else start + 1
            tail = window[-(len(marker) - 1):]
            position += len(block)
    return None


def _converted(records: ArchiveIterator, convert: WebRecordReader, start: int, relative: str) -> Iterator[tuple[Record, int]]:
    """(converted record, offset where it ends) for each record, offsets counted from `start`."""
    for record in records:
        # warcio's get_record_offset() reads the record to its end, so it is asked only after
        # the body has been read.
        converted = convert(record)
        records.read_to_end(record)
        offset = start + records.get_record_offset()
        if not isinstance(converted, SkippedRecord) and not converted.id:
            converted.id = f"{relative}:{offset}"  # no WARC-Record-ID: the file and offset
        yield converted, offset + records.get_record_length()


def read_warc(path: Path, relative: str, config: IngestConfig, extract: ExtractConfig) -> Iterator[Record]:
    """Every record of a WARC, ARC or WET file, in file order."""
    name = path.name.lower()
    gzipped = name.endswith(".gz")
    is_arc = name.endswith((".arc", ".arc.gz"))
    convert = WebRecordReader(relative, config, extractor_for(extract.method, extract.min_shared), is_arc)
    size = path.stat().st_size
    start: int | None = 0
    done = 0  # records read so far
    while start is not None and start < size:
        end = start  # where the last complete record ended (raw file bytes)
        with open(path, "rb") as stream:
            stream.seek(start)
            try:
                for converted, end in _converted(ArchiveIterator(stream, arc2warc=True, check_digests=False),
                                                 convert, start, relative):
                    done += 1
                    yield converted
                start = None
            except _READ_ERRORS as e:
                if isinstance(e, ArchiveLoadFailed) and "non-chunked gzip" in str(e):
                    # One gzip stream for the whole file, not one per record: read it decompressed,
                    # after the records already given (offsets are then in decompressed bytes).
                    yield from _read_whole_gzip(path, relative, convert, skip=done)
                    return
                yield InvalidRecord(f"{relative}:{end}", relative, "warc_record",
                                    f"unreadable record at offset {end}: {type(e).__name__}: {e}"[:300])
                start = None if is_arc else _next_record_start(path, end, gzipped)
                continue
        if end < size and _has_data_after(path, end):
            # warcio stops quietly at a header the file cuts short: say so.
            yield InvalidRecord(f"{relative}:{end}", relative, "truncated_record",
                                f"{size - end} bytes after offset {end} do not form a complete record")


def _read_whole_gzip(path: Path, relative: str, convert: WebRecordReader, skip: int) -> Iterator[Record]:
    end = 0
    with gzip.open(path, "rb") as stream:
        try:
            for n, (converted, end) in enumerate(_converted(ArchiveIterator(stream, arc2warc=True, check_digests=False),
                                                            convert, 0, relative)):
                if n >= skip:
                    yield converted
        except _READ_ERRORS as e:  # no record boundary to resume at inside one gzip stream
            yield InvalidRecord(f"{relative}:{end}", relative, "warc_record",
                                f"unreadable after decompressed offset {end}: {type(e).__name__}: {e}"[:300])


def _has_data_after(path: Path, offset: int) -> bool:
    with open(path, "rb") as f:
        f.seek(offset)
        while block := f.read(_RESYNC_BLOCK):
            if block.strip():
                return True
    return False
