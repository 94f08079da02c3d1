"""The charset of an HTML page: the HTTP header's, else the page's own meta tag, else detected.

The order is the one browsers follow (HTML5 "determining the character encoding", minus the
byte-order mark, which comes first here too because it is never wrong).
"""

from __future__ import annotations

import codecs
import re

# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">; browsers
# look only at the first 1024 bytes, pages in the wild put it later, so read a little more.
_META_SCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# What pages say and what they mean (the WHATWG encoding standard's most common labels).
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
            "us-ascii": "cp1252", "x-sjis": "shift_jis", "gb2312": "gb18030", "gbk": "gb18030"}


def _usable(label: str | None) -> str | None:
    """A Python codec name for a declared label, or None when Python has no such codec."""
    if not label:
        return None
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of an HTTP Content-Type header, if Python knows it."""
    match = _HEADER_CHARSET.search(content_type or "")
    return _usable(match.group(1)) if match else None


def meta_charset(html: bytes) -> str | None:
    match = _META_CHARSET.search(html[:_META_SCAN_BYTES])
    return _usable(match.group(1).decode("ascii", "replace")) if match else None


def detected_charset(html: bytes) -> str:
    """resiliparse's detector (uchardet), which falls back to cp1252 like browsers do."""
    from resiliparse.parse.encoding import detect_encoding

    return _usable(detect_encoding(html)) or "cp1252"


def decode_html(html: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, charset used). A declared charset that does not decode the bytes is passed over for
    the next source; the detected one decodes with replacement characters, so this never fails."""
    for bom, name in _BOMS:
        if html.startswith(bom):
            return html[len(bom):].decode(name, errors="replace"), name
    for declared in (header_charset(content_type), meta_charset(html)):
        if declared:
            try:
                return html.decode(declared), declared
            except UnicodeDecodeError:
                continue
    detected = detected_charset(html)
    return html.decode(detected, errors="replace"), detected
