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

import unicodedata
from collections import Counter

import regex

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
CJK_SCRIPTS = ("Han", "Hiragana", "Katakana", "Hangul")
SUPPORTED_SCRIPTS = sorted(set(LANGUAGE_SCRIPT.values())) + list(CJK_SCRIPTS)

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
MYANMAR_EXTENDED_RE = regex.compile("[\u1050-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]")

# letters of no supported script (Common and Inherited characters are not letters here)
OTHER_SCRIPT_LETTER_RE = regex.compile(
    r"[\p{L}--[" + "".join(rf"\p{{Script={script}}}" for script in SUPPORTED_SCRIPTS) + "]]", regex.V1
)
SCRIPT_LETTER_RE = {script: regex.compile(rf"\p{{Script={script}}}") for script in set(LANGUAGE_SCRIPT.values())}


def script_name(char: str) -> str:
    """The script part of a character's Unicode name: 'ARMENIAN', 'OL CHIKI', ..., or ''."""
    name = unicodedata.name(char, "")
    if name.startswith("OL CHIKI"):
        return "OL CHIKI"
    return name.split(" ", 1)[0]


def other_script_label(text: str, letters: int) -> str | None:
    """The label of a text whose letters are mostly in scripts no supported language uses: the
    script's language or `unknown`. None for every other text (the n-gram path labels it)."""
    if text.isascii():
        return None
    others = OTHER_SCRIPT_LETTER_RE.findall(text)
    if len(others) * 2 <= letters:
        return None
    script, _ = Counter(map(script_name, others)).most_common(1)[0]
    language = SCRIPT_LANGUAGE.get(script)
    if language == "my" and MYANMAR_EXTENDED_RE.search(text):
        return "unknown"
    return language or "unknown"


def label_fits_script(label: str, text: str, letters: int) -> bool:
    """True when the script of `label` holds at least half of the text's letters."""
    script = LANGUAGE_SCRIPT.get(label)
    if script is None:
        return True  # CJK and script-derived labels were decided by script already
    if text.isascii():
        return script == "Latin"
    return len(SCRIPT_LETTER_RE[script].findall(text)) * 2 >= letters
