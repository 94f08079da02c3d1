"""Saved web pages: `.html` and `.htm`, plain or gzipped, one document per file (its main text)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

from pipeline.config import ExtractConfig, IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.extract import decode_html, extractor_for
from pipeline.ingest.jsonl import TruncatedArchive, file_chunks



def read_html(path: Path, relative: str, config: IngestConfig, extract: ExtractConfig) -> Iterator[Document | InvalidRecord]:
    body = bytearray()
    try:
        for chunk in file_chunks(path):
            body += chunk
            if len(body) > config.max_record_bytes:
                yield InvalidRecord(relative, relative, "too_large", "page larger than ingest.max_record_bytes")
                return
    except (TruncatedArchive, zlib.error) as e:
        yield InvalidRecord(relative, relative, "truncated_archive", f"gzip stream ends early or is corrupt: {e}")
        return
    text, charset = decode_html(bytes(body))
    extractor = extractor_for(extract.method, extract.min_shared)
    try:
        text = extractor(text)
    except Exception as e:  # a page that breaks the extractor is recorded, not fatal
        yield InvalidRecord(relative, relative, "extract_error", f"{type(e).__name__}: {e}"[:300])
        return
    metadata = {"url": None, "content_type": "text/html", "charset": charset, "extract_method": extractor.method}
    yield Document(id=relative, text=text, source=relative, metadata=metadata)
