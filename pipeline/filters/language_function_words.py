"""Function-word test: does a text use the little words of the language it was labelled?

The trigram statistics of language_fit.py compare letter sequences, and a close neighbour builds
its words from the same letters: Javanese and Sundanese read as Indonesian, Cebuano and Ilocano
as Tagalog, Romansh as Italian, Latin as Italian or Catalan, Maori as Indonesian, each with a
near-perfect trigram fit. Their function words give them away. An Indonesian text is 30-50 %
words like "yang", "dan", "untuk", "dengan"; a Javanese text labelled Indonesian uses "lan",
"ing", "kang" instead, and about 2 % of its words are on the Indonesian list (Ilocano and
Sundanese on their neighbours' lists: none). Cebuano shares Tagalog's commonest ones ("ang", "sa",
"mga"): 26 % on the Tagalog list against 36-63 % for Tagalog, too close to tell apart.

`share`: the part of a text's words that are on its label's list. The lists are spaCy's stop
words (MIT; spaCy is installed for datatrove), copied into function_words.json with the
version they came from by calibrate_language.py, for the 46 supported languages spaCy has a
list for and that write spaces between words (not Thai, not CJK). Welsh, Punjabi, Somali and
Swahili have none and skip this test; where a list barely matches the script's words (Kannada,
Malayalam, Tamil: usual share near 0) the test can never object. Each language's usual share
(the median over its UDHR dev paragraphs) is stored in language_reference.json beside the
trigram statistics. A text of at least MIN_WORDS words is out of distribution when

    share < reference - MARGIN[0] - MARGIN[1] / sqrt(words)

The three constants were chosen like language_fit.py's margins: on the tuned half of the
unsupported languages, the most paragraphs `unknown` or under min_score, provided no supported
UDHR paragraph or sentence turns `unknown`, nor more than 1 % of English books, 3 % of English
Wikipedia talk comments, or one point more of English tweets than without the test. Tweets are
why it abstains under 30 words: slang uses few function words, and at 15-20 words 11-20 % of
tweets went `unknown`. What it cannot see: an unsupported language that shares the label's
function words (Malay and Indonesian, whose spaCy lists are one list).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path

FUNCTION_WORDS_PATH = Path(__file__).with_name("function_words.json")
MARGIN: tuple[float, float] = (0.2, 0.5)  # (share, spread): see the module doc
MIN_WORDS = 30  # below this the test abstains: see the module doc
WORD_RE = re.compile(r"\w+")
URL_RE = re.compile(r"https?://\S+|www\.\S+")  # a URL's parts are words of no language


@lru_cache(maxsize=1)
def function_words() -> dict[str, frozenset[str]]:
    """label -> its function words (spaCy's stop words, lower case)."""
    with FUNCTION_WORDS_PATH.open(encoding="utf-8") as f:
        return {label: frozenset(words) for label, words in json.load(f)["languages"].items()}


def words_of(text: str) -> list[str]:
    return WORD_RE.findall(URL_RE.sub(" ", text.lower()))


def function_word_share(text: str, label: str) -> tuple[float, int] | None:
    """(share of the text's words on `label`'s list, number of words); None without a list or words."""
    listed = function_words().get(label)
    if listed is None:
        return None
    words = words_of(text)
    if not words:
        return None
    return sum(word in listed for word in words) / len(words), len(words)


class FunctionWordTest:
    """Out-of-distribution test of a label by its function words (see module doc)."""

    def __init__(self, reference: dict[str, dict[str, float]], margin: tuple[float, float] = MARGIN, min_words: int = MIN_WORDS):
        self.usual = {label: stats["function_words"] for label, stats in reference.items() if "function_words" in stats}
        self.margin = margin
        self.min_words = min_words

    def fits(self, label: str, text: str) -> bool:
        """False when `text` uses far fewer of `label`'s function words than that language's own texts."""
        usual = self.usual.get(label)
        measured = None if usual is None else function_word_share(text, label)
        if measured is None or measured[1] < self.min_words:
            return True
        share, n_words = measured
        return share >= usual - self.margin[0] - self.margin[1] / math.sqrt(n_words)
