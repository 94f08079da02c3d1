"""Scripts: which writing systems langdetect's 55 languages use, and what a text in another one is.

langdetect has no profile for a script none of its languages writes (Armenian, Georgian,
Ethiopic, Khmer, ...). Its n-grams then rest on the few characters such a text shares with the
profiles (digits aside: punctuation, a Latin name), and naive Bayes turns that into a confident
wrong label (Armenian as Estonian). Two rules make a label from another script impossible:

1. A text whose letters are mostly in scripts no supported language uses is labelled by script:
   the script's language where one language writes it (Armenian -> hy, Georgian -> ka,
   Khmer -> km, ...), `unknown` where several do (Ethiopic: Amharic, Tigrinya, Ge'ez; Tibetan:
   Tibetan, Dzongkha, Ladakhi; Canadian syllabics: Inuktitut, Cree, Ojibwe; ...).
2. Any other label must be in a script that holds at least half of the text's letters
   (`label_fits_script`); otherwise the text is `unknown`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numpy as np

# The scripts of langdetect's languages (CJK is labelled by script before this matters).
LANGUAGE_SCRIPT: dict[str, str] = {
    **dict.fromkeys(
        "af ca cs cy da de en es et fi fr hr hu id it lt lv nl no pl pt ro sk sl so sq sv sw tl tr vi".split(), "Latin"
    ),
    **dict.fromkeys("bg mk ru uk".split(), "Cyrillic"),
    **dict.fromkeys("ar fa ur".split(), "Arabic"),
    **dict.fromkeys("hi mr ne".split(), "Devanagari"),
    "el": "Greek", "he": "Hebrew", "bn": "Bengali", "pa": "Gurmukhi", "gu": "Gujarati", "ta": "Tamil",
    "te": "Telugu", "kn": "Kannada", "ml": "Malayalam", "th": "Thai",
}

# Unicode character-name prefix of a script -> the language it settles. Only scripts that one
# language writes almost alone; a script shared by several languages is absent (-> unknown).
SCRIPT_LANGUAGE: dict[str, str] = {
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
    "KHMER": "km",
    "LAO": "lo",
    "MYANMAR": "my",  # Burmese; Shan, Mon and Karen letters are caught by MYANMAR_EXTENDED_RE
    "SINHALA": "si",
    "THAANA": "dv",
    "ORIYA": "or",
    "OL CHIKI": "sat",
    "CHEROKEE": "chr",
}
# letters that Shan, Mon, Karen and other non-Burmese languages add to the Myanmar script
MYANMAR_EXTENDED_RE = re.compile("[\u1050-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]")

# Unicode blocks of the supported scripts (blocks also hold a few marks and signs that are not
# letters; counting them only makes the script test more lenient).
SCRIPT_BLOCKS: dict[str, list[tuple[int, int]]] = {
    "Latin": [(0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA), (0xBA, 0xBA), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F),
              (0x1E00, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)],
    "Cyrillic": [(0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F)],
    "Greek": [(0x370, 0x3FF), (0x1F00, 0x1FFF)],
    "Arabic": [(0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "Hebrew": [(0x590, 0x5FF), (0xFB1D, 0xFB4F)],
    "Devanagari": [(0x900, 0x97F), (0xA8E0, 0xA8FF)],
    "Bengali": [(0x980, 0x9FF)],
    "Gurmukhi": [(0xA00, 0xA7F)],
    "Gujarati": [(0xA80, 0xAFF)],
    "Tamil": [(0xB80, 0xBFF)],
    "Telugu": [(0xC00, 0xC7F)],
    "Kannada": [(0xC80, 0xCFF)],
    "Malayalam": [(0xD00, 0xD7F)],
    "Thai": [(0xE00, 0xE7F)],
    # CJK (settled by script before this matters), then characters of no script: everything else
    # below Armenian (ASCII signs, IPA, combining marks), punctuation and symbols, fullwidth forms
    "CJK": [(0x1100, 0x11FF), (0x2E80, 0x2FDF), (0x3040, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF),
            (0xF900, 0xFAFF), (0x20000, 0x3134F)],
    "Common": [(0x0, 0x52F), (0x2000, 0x2BFF), (0x3000, 0x303F), (0xFE00, 0xFE6F), (0xFF00, 0xFFEF), (0x1F000, 0x1FAFF)],
}
SCRIPT_IDS = {script: i for i, script in enumerate(SCRIPT_BLOCKS)}
OTHER = len(SCRIPT_BLOCKS)  # the id of every character outside these blocks


class ScriptBlocks:
    """Characters counted by script with one vectorised lookup: 1,500 characters in about 20 us,
    where a regex (even of plain ranges) takes several hundred, since it yields one match per
    character or word."""

    def __init__(self) -> None:
        # first script listed wins where blocks overlap (Common's 0-0x52F is listed last)
        spans = sorted((lo, hi, SCRIPT_IDS[script]) for script, ranges in reversed(SCRIPT_BLOCKS.items()) for lo, hi in ranges)
        self.starts = np.array([lo for lo, _, _ in spans], dtype=np.int64)
        self.ends = np.array([hi for _, hi, _ in spans], dtype=np.int64)
        self.ids = np.array([i for _, _, i in spans], dtype=np.int64)

    def script_of(self, text: str) -> np.ndarray:
        """The script id of every character of `text` (OTHER outside the listed blocks); a lone
        surrogate (undecodable input passed through) is a character like any other."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        span = np.searchsorted(self.starts, points, side="right") - 1
        inside = points <= self.ends[span]
        return np.where(inside, self.ids[span], OTHER)


BLOCKS = ScriptBlocks()


def script_name(char: str) -> str:
    """The script part of a character's Unicode name: 'ARMENIAN', 'OL CHIKI', ..., or ''."""
    name = unicodedata.name(char, "")
    if name.startswith("OL CHIKI"):
        return "OL CHIKI"
    return name.split(" ", 1)[0]


def script_counts(text: str) -> np.ndarray | None:
    """Characters per script id (SCRIPT_IDS, then OTHER); None for ASCII text (all Latin)."""
    if text.isascii():
        return None
    return np.bincount(BLOCKS.script_of(text), minlength=OTHER + 1)


def other_script_label(text: str, letters: int, counts: np.ndarray | None) -> str | None:
    """The label of a text whose letters are mostly in scripts no supported language uses: the
    script's language or `unknown`. None for every other text (the n-gram path labels it).
    `counts`: script_counts(text)."""
    if counts is None or counts[OTHER] * 2 <= letters:  # most texts have no such character at all
        return None
    outside = np.flatnonzero(BLOCKS.script_of(text) == OTHER)
    others = [char for char in map(text.__getitem__, outside.tolist()) if char.isalpha()]
    if len(others) * 2 <= letters:
        return None
    script, _ = Counter(map(script_name, others)).most_common(1)[0]
    language = SCRIPT_LANGUAGE.get(script)
    if language == "my" and MYANMAR_EXTENDED_RE.search(text):
        return "unknown"
    return language or "unknown"


def label_fits_script(label: str, letters: int, counts: np.ndarray | None) -> bool:
    """True when the script of `label` holds at least half of the text's letters (`counts`:
    script_counts(text), None for ASCII)."""
    script = LANGUAGE_SCRIPT.get(label)
    if script is None:
        return True  # CJK and script-derived labels were decided by script already
    if counts is None:
        return script == "Latin"
    return int(counts[SCRIPT_IDS[script]]) * 2 >= letters
