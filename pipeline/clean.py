"""Text cleaning: Unicode normalisation, control characters and whitespace, and the classic options.

Whitespace is normalised without destroying structure: line breaks and leading indentation stay
(code blocks and verse keep their shape), trailing spaces go, and runs of blank lines become one.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.config import CleanConfig
from pipeline.documents import Document

# C0/C1 controls except tab and newline; also the BOM and other invisible format characters
# that carry no meaning in running text (zero-width joiners are kept: emoji need them).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_EXOTIC_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_TRAILING_SPACE = re.compile("[ \t]+(?=\n)|[ \t]+$")
_BLANK_LINES = re.compile("\n{3,}")
_SPECIAL = re.compile(r"[^\w\s.,;:!?'\"()\[\]{}\-–—/&%$€£@#*+=<>]")


class TextCleaner:
    """Turns raw text into the text every later stage sees."""

    name = "clean"

    def __init__(self, config: CleanConfig) -> None:
        self.config = config

    def clean_text(self, text: str) -> str:
        config = self.config
        if not config.enabled:
            return text
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
        if config.unicode_form != "none":
            text = unicodedata.normalize(config.unicode_form, text)
        text = _CONTROL.sub("", text)
        text = _EXOTIC_SPACE.sub(" ", text)
        text = _TRAILING_SPACE.sub("", text)
        text = _BLANK_LINES.sub("\n\n", text).strip("\n")
        if config.lowercase:
            text = text.lower()
        if config.strip_special:
            text = _SPECIAL.sub("", text)
        if config.truncate_chars is not None:
            text = text[: config.truncate_chars]
        return text

    def __call__(self, doc: Document) -> Document:
        doc.text = self.clean_text(doc.text)
        return doc


def first_line(text: str, limit: int = 120) -> str:
    """The first non-blank line, shortened: what the ledger and report show a person."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
