"""Web pages to text: the charset of a page's bytes, then its main text.

The readers in `pipeline/ingest/` (WARC, ARC, HTML) call `MainTextExtractor`; which extractor it runs
is `extract.method`, so the method can change without touching a reader.
"""

from pipeline.extract.charset import decode_html
from pipeline.extract.main_text import MainTextExtractor, extractor_for

__all__ = ["MainTextExtractor", "decode_html", "extractor_for"]
