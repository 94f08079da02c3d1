"""Main-text extraction: the article of a page without its menus, adverts and comments.

Three methods (`extract.method`):
- `trafilatura`: FineWeb's extractor, one careful pass (fallback extractors off: same F1 on the
  dev pages, two to three times faster; comments off, as datatrove runs it).
- `resiliparse`: a fast DOM pass with main-content heuristics; about ten times faster, keeps more
  boilerplate.
- `consensus`: both, and a trafilatura line is kept only when most of its words also
  appear in resiliparse's main text. Each extractor's mistakes are mostly its own, so the lines
  they agree on are cleaner than either alone (benchmarks/web.py measures them all). Where
  trafilatura finds nothing (short pages), resiliparse's text is taken.
- `gated` (default): resiliparse first; a page whose text has almost no short unpunctuated lines (menus,
  captions, link lists: what resiliparse lets through) keeps it, the others go through `consensus`.
  Faster than `consensus` by the share of clean pages, a little less precise.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Literal

Method = Literal["gated", "consensus", "trafilatura", "resiliparse"]
_WORD = re.compile(r"\w+")
_SENTENCE_ENDS = (".", "!", "?", ":", '"', "\u201d")


class ResiliparseExtractor:
    """resiliparse's `extract_plain_text` with main-content heuristics and without alt texts, form
    fields, noscript blocks and comment sections (none of which is article text)."""

    def __call__(self, html: str) -> str:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        tree = HTMLTree.parse(html)
        return extract_plain_text(tree, main_content=True, alt_texts=False, links=False, form_fields=False,
                                  noscript=False, comments=False)


class TrafilaturaExtractor:
    """trafilatura's `extract` on its own algorithm (no readability/jusText fallback), no comments."""

    def __init__(self, include_tables: bool = True) -> None:
        self.include_tables = include_tables

    def __call__(self, html: str) -> str:
        import trafilatura

        with warnings.catch_warnings():  # trafilatura warns on every page without a <body>
            warnings.simplefilter("ignore")
            text = trafilatura.extract(html, no_fallback=True, include_comments=False,
                                       include_tables=self.include_tables)
        return text or ""


class ConsensusExtractor:
    """trafilatura's lines that resiliparse's main text confirms.

    A line is kept when at least `min_shared` of its words occur in resiliparse's text; lines
    without words (blank separators) are kept. trafilatura decides the order and the line breaks.
    """

    def __init__(self, min_shared: float = 0.6) -> None:
        self.min_shared = min_shared
        self.careful = TrafilaturaExtractor()
        self.fast = ResiliparseExtractor()

    def __call__(self, html: str) -> str:
        return self.combine(self.careful(html), self.fast(html))

    def combine(self, careful: str, fast: str) -> str:
        if not careful:  # trafilatura gives up on short pages; resiliparse's text is all there is
            return fast
        confirmed = set(_WORD.findall(fast))
        kept = []
        for line in careful.split("\n"):
            words = _WORD.findall(line)
            if not words or sum(w in confirmed for w in words) >= self.min_shared * len(words):
                kept.append(line)
        return "\n".join(kept).strip()


def boilerplate_share(text: str) -> float:
    """Share of the text's characters in short lines (under 8 words) that end without punctuation:
    menus, buttons, captions and link lists look like that, article sentences do not."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    total = sum(len(line) for line in lines)
    short = sum(len(line) for line in lines if len(_WORD.findall(line)) < 8 and not line.endswith(_SENTENCE_ENDS))
    return short / total if total else 1.0


class GatedExtractor:
    """resiliparse's text when it looks clean (boilerplate_share below `max_boilerplate`), else the
    consensus of both extractors."""

    # 0.01 (and consensus's min_shared 0.6) were chosen on the "tune" half of the 62 dev pages;
    # benchmarks/web.py reports the other half apart.
    def __init__(self, min_shared: float = 0.6, max_boilerplate: float = 0.01) -> None:
        self.max_boilerplate = max_boilerplate
        self.consensus = ConsensusExtractor(min_shared)

    def __call__(self, html: str) -> str:
        fast = self.consensus.fast(html)
        if fast and boilerplate_share(fast) < self.max_boilerplate:
            return fast
        return self.consensus.combine(self.consensus.careful(html), fast)


class MainTextExtractor:
    """The configured method; called with a decoded page, returns its main text ('' when none)."""

    def __init__(self, method: Method = "gated", min_shared: float = 0.6) -> None:
        self.method = method
        if method == "consensus":
            self._extract = ConsensusExtractor(min_shared)
        elif method == "gated":
            self._extract = GatedExtractor(min_shared)
        elif method == "trafilatura":
            self._extract = TrafilaturaExtractor()
        elif method == "resiliparse":
            self._extract = ResiliparseExtractor()
        else:
            raise ValueError(f"unknown extract.method {method!r}: use consensus, gated, trafilatura or resiliparse")

    def __call__(self, html: str) -> str:
        return self._extract(html).strip()


@functools.lru_cache(maxsize=4)
def extractor_for(method: Method, min_shared: float) -> MainTextExtractor:
    """One extractor per process and setting, shared by the readers of every file."""
    return MainTextExtractor(method, min_shared)
