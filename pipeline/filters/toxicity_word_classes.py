"""Word classes for the toxicity model: features that say what is said of whom.

Hashed word n-grams learn "jews are vermin" from Stormfront and "women belong in the kitchen"
from EDOS, each about the groups its source talks about. Hate about another group, on another
platform, shares few of those n-grams. word_classes.txt sorts a few hundred words into four
classes (target groups, animals, violence, insults), and the profanities and slurs of
flagged_words.txt make a fifth (each platform swears and slurs with its own words); the
featurizer adds, beside its plain n-grams:

- the word 1-3-grams of the text with each class word replaced by its class tag, kept only when
  they hold a tag ("group are animal", "violence all group");
- each pair of different classes within `PAIR_WORDS` words of each other ("group" near
  "insult"), wherever they sit in the sentence.

Both are positioned at their first word, so windows of long documents read them like any other
n-gram. Measured by leave-one-platform-out and on ETHOS and Jigsaw in TOXICITY_MODEL.md.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

WORD_CLASSES_PATH = Path(__file__).with_name("word_classes.txt")
FLAGGED_WORDS_PATH = Path(__file__).with_name("flagged_words.txt")
PAIR_WORDS = 16  # how far apart two class words may be to count as a pair


def default_word_classes() -> str:
    """The text of word_classes.txt and a last class, `profane`, of the words of
    flagged_words.txt (profanities and slurs), as a model stores it."""
    flagged = FLAGGED_WORDS_PATH.read_text(encoding="utf-8").split("\n")
    words = " ".join(line.strip() for line in flagged if line.strip() and not line.startswith("#"))
    return WORD_CLASSES_PATH.read_text(encoding="utf-8") + f"profane: {words}\n"


@lru_cache(maxsize=4)
def class_table(text: str) -> tuple[dict[str, int], tuple[str, ...]]:
    """(word -> class number, class tags) from word_classes.txt's format; the first class of a
    word wins."""
    tags: list[str] = []
    of_word: dict[str, int] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tag, _, words = line.partition(":")
        tags.append(tag.strip())
        for word in words.split():
            of_word.setdefault(word, len(tags) - 1)
    return of_word, tuple(tags)


def abstract_words(words: list[str], text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(the words with class words replaced by their tag, positions of class words, their class
    numbers). A tag is written in capitals, which normalize() never leaves in a text."""
    of_word, tags = class_table(text)
    positions, classes, out = [], [], []
    for i, word in enumerate(words):
        c = of_word.get(word)
        if c is None:
            out.append(word)
        else:
            out.append(tags[c].upper())
            positions.append(i)
            classes.append(c)
    return out, np.array(positions, dtype=np.int64), np.array(classes, dtype=np.int64)


def class_pairs(positions: np.ndarray, classes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of class words of different classes at most PAIR_WORDS apart: (first position,
    last position, pair code), the code the same whichever class comes first."""
    firsts, lasts, codes = [], [], []
    for gap in range(1, len(positions)):
        near = positions[gap:] - positions[:-gap] <= PAIR_WORDS
        if not near.any():
            break  # positions are sorted: a larger gap is farther still
        a, b = classes[:-gap][near], classes[gap:][near]
        differ = a != b
        firsts.append(positions[:-gap][near][differ])
        lasts.append(positions[gap:][near][differ])
        codes.append(np.minimum(a, b)[differ] * n_classes + np.maximum(a, b)[differ])
    if not firsts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(firsts), np.concatenate(lasts), np.concatenate(codes)
