"""Small generated web archives for the web-input tests: WARC (plain, gzipped), WET, ARC and HTML
pages with a real article between menus and footers, and broken archives of several kinds."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus import paragraph

MENU = "<nav><ul>" + "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(12)) + "</ul></nav>"
FOOTER = ("<footer><p>Copyright 2024 Example News. All rights reserved.</p><a href='/privacy'>Privacy</a> "
          "<a href='/terms'>Terms of use</a></footer>")


def article_html(title: str, paragraphs: list[str], charset: str | None = "utf-8") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head><body>{MENU}"
            f"<main><article><h1>{title}</h1>{body}</article></main>"
            f"<aside><h3>Most read</h3><ul><li><a href='/x'>Other story one</a></li></ul></aside>{FOOTER}</body></html>")


def pages(n: int, seed: int = 0) -> list[tuple[str, str, list[str]]]:
    """(url, html, paragraphs) of n article pages."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        paras = [paragraph(rng, 6) for _ in range(3)]
        out.append((f"https://news{i % 3}.example.org/story/{i}", article_html(f"Story {i}", paras), paras))
    return out


def _response(writer: WARCWriter, url: str, body: bytes, content_type: str, status: str = "200 OK",
              record_type: str = "response") -> None:
    if record_type == "response":
        http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
    else:
        record = writer.create_warc_record(url, record_type, payload=io.BytesIO(body),
                                           warc_content_type=content_type)
    writer.write_record(record)


def write_warc(path: Path, n_pages: int = 4, seed: int = 0) -> list[tuple[str, str, list[str]]]:
    """A crawl: per page a request and an HTML response; plus a text/plain page, an image, a 404."""
    made = pages(n_pages, seed)
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=path.name.endswith(".gz"))
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "gristmill tests"}))
        for url, html, _ in made:
            request = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", http_headers=request))
            _response(writer, url, html.encode("utf-8"), "text/html; charset=utf-8")
        _response(writer, "https://plain.example.org/notes.txt", b"Plain notes, taken as they are.\n", "text/plain")
        _response(writer, "https://img.example.org/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
        _response(writer, "https://news0.example.org/gone", b"<html>Not found</html>", "text/html", status="404 Not Found")
    return made


def write_wet(path: Path, texts: list[str]) -> None:
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=path.name.endswith(".gz"))
        for i, text in enumerate(texts):
            _response(writer, f"https://wet.example.org/{i}", text.encode("utf-8"), "text/plain", record_type="conversion")


def write_arc(path: Path, url: str, html: str) -> None:
    """An ARC v1 file (the format before WARC): a file header record, then one HTTP response."""
    http = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n{html}".encode("utf-8")
    header_body = b"1 0 gristmill tests\nURL IP-address Archive-date Content-type Archive-length\n"
    data = (b"filedesc://" + path.name.encode() + b" 127.0.0.1 20240101000000 text/plain "
            + str(len(header_body)).encode() + b"\n" + header_body + b"\n"
            + f"{url} 127.0.0.1 20240101000000 text/html {len(http)}\n".encode() + http + b"\n")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def record_starts(data: bytes) -> list[int]:
    """Offsets of the records of an archive (what a reader resumes at)."""
    from warcio.archiveiterator import ArchiveIterator

    starts = []
    records = ArchiveIterator(io.BytesIO(data))
    for record in records:
        record.content_stream().read()
        starts.append(records.get_record_offset())
    return starts
