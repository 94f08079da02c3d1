"""Toxicity: a linear model on hashed word and character n-grams, scored on the worst window.

The model (toxicity_model.npz beside this file) is gristmill's own: logistic regression trained
by `python -m pipeline.filters.train_toxicity` on the labelled sets listed in
TOXICITY_MODEL.md, which also records its data, licences and measured quality.

Text is normalised the same way in training and scoring (HTML entities, case, URLs, user
mentions, letters repeated three times or more, punctuation), then turned into hashed features:
word 1-2-grams and character 3-5-grams. Hashing is a polynomial rolling hash computed with numpy
over the whole text at once, so scoring a long document costs a few array operations, not a
Python loop per n-gram, and it does not depend on Python's per-process string hash.

A text of up to `window_words` words (a tweet, a comment) is scored whole. A longer document is
cut into half-overlapping windows of `long_window_words` (stored with the model, 12) and scored by
its worst one: one abusive paragraph in a long page must not be averaged away by the rest. The
worst of many windows is lowered by a margin that grows with the log of their number (at most
`window_margin`, also stored with the model): the worst of hundreds of windows of calm prose is
otherwise as high as a short insult.

The flagged-word ratio (C4 / data-juicer style) is the share of words found in
flagged_words.txt, a list of profanities and slurs written for gristmill (see that file's
header); the signal is `flagged_word_ratio`.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.config import ToxicityConfig
from pipeline.documents import TOXICITY, Document, FilterResult
from pipeline.filters.toxicity_word_classes import abstract_words, class_pairs, class_table

HERE = Path(__file__).parent
MODEL_PATH = HERE / "toxicity_model.npz"
FLAGGED_WORDS_PATH = HERE / "flagged_words.txt"

URL_RE = re.compile(r"https?://\S+|www\.\S+")
MENTION_RE = re.compile(r"@\w+")
RETWEET_RE = re.compile(r"(?<!\w)rt(?!\w)")
REPEAT_RE = re.compile(r"(\w)\1{2,}")
EMOJI = "\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
EMOJI_RE = re.compile(f"[{EMOJI}]")
NON_WORD_RE = re.compile(f"[^\\w'{EMOJI}]+|_+")
APOSTROPHE_RE = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize(text: str) -> str:
    """' word word ... ' in lower case: the form both training and scoring read."""
    text = html.unescape(text).lower().replace("’", "'")
    # platform artefacts say which site a text came from, not whether it is toxic: a model that
    # learns "@user" or "RT" learns the platform (about +0.03 ROC-AUC on tweets once removed)
    text = URL_RE.sub(" ", text)
    text = MENTION_RE.sub(" ", text)
    text = RETWEET_RE.sub(" ", text)
    text = REPEAT_RE.sub(r"\1\1", text)
    text = NON_WORD_RE.sub(" ", text)
    # an emoji is a word of its own: "people 🐀" and "people 🌹" are HatemojiBuild's hateful and
    # harmless twins, the same text once emoji are dropped
    text = EMOJI_RE.sub(r" \g<0> ", text)
    text = APOSTROPHE_RE.sub(" ", text)
    return " " + " ".join(text.split()) + " "


# ---------------------------------------------------------------------------------------------
# hashed features
# ---------------------------------------------------------------------------------------------

_BASE = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = np.uint64(pow(0x100000001B3, -1, 2**64))
_MIX = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=4)
def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        forward = np.cumprod(np.full(length, _BASE, dtype=np.uint64))
        inverse = np.cumprod(np.full(length, _BASE_INVERSE, dtype=np.uint64))
    one = np.ones(1, dtype=np.uint64)
    return np.concatenate([one, forward]), np.concatenate([one, inverse])


def _powers_for(n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 1 << max(12, (n + 1).bit_length())  # grow by doubling so the cache is rarely rebuilt
    return _powers(size)


def _prefix_hashes(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(character codes, prefix sums of the rolling hash, inverse powers): the hash of
    text[a:b] is (prefix[b] - prefix[a]) * inverse[a], the same wherever it sits."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    forward, inverse = _powers_for(len(codes))
    with np.errstate(over="ignore"):
        prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
        np.cumsum(codes * forward[: len(codes)], out=prefix[1:])
    return codes, prefix, inverse


@dataclass(frozen=True)
class Featurizer:
    """Hashed word n-grams and character n-grams of normalised text, each with its word index."""

    bits: int = 18
    word_ngrams: tuple[int, ...] = (1, 2)
    char_ngrams: tuple[int, ...] = (3, 4, 5)
    word_classes: str = ""  # word_classes.txt's text: a second view of the text (toxicity_word_classes.py)
    class_bits: int = 16  # the second view's own buckets, after the first view's
    class_scale: float = 0.5  # its length relative to the first view's, both L2-normalised

    @property
    def split(self) -> int:
        """The first bucket of the word-class view."""
        return 1 << self.bits

    @property
    def n_buckets(self) -> int:
        return self.split + ((1 << self.class_bits) if self.word_classes else 0)

    def features(self, normalized: str) -> tuple[np.ndarray, np.ndarray]:
        """(bucket per feature, index of the word where it starts); `normalized` from normalize()."""
        spans = self.spans(normalized)
        if spans is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        buckets, start, _, word_of_char, n_words = spans
        words = np.clip(word_of_char[start], 0, max(n_words - 1, 0))
        return buckets, words.astype(np.int64)

    def spans(self, normalized: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int] | None:
        """Every n-gram of `normalized` as (bucket, start, end), with each character's word
        index and the number of words; None when the text is too short to hold one."""
        if len(normalized) < 3:
            return None
        codes, prefix, inverse = _prefix_hashes(normalized)
        n = len(codes)
        is_space = codes == 32
        word_of_char = np.cumsum(is_space) - 1  # the word a character belongs to (0-based)
        spaces = np.flatnonzero(is_space)
        n_words = len(spaces) - 1

        starts, ends, salts = [], [], []
        for k in self.char_ngrams:
            if n >= k:
                s = np.arange(0, n - k + 1)
                starts.append(s)
                ends.append(s + k)
                salts.append(np.full(len(s), k, dtype=np.uint64))
        for k in self.word_ngrams:
            if n_words >= k:
                s = spaces[: n_words - k + 1] + 1
                e = spaces[k : n_words + 1]
                starts.append(s)
                ends.append(e)
                salts.append(np.full(len(s), 100 + k, dtype=np.uint64))
        if not starts:
            return None
        start = np.concatenate(starts)
        end = np.concatenate(ends)
        salt = np.concatenate(salts)
        with np.errstate(over="ignore"):
            h = (prefix[end] - prefix[start]) * inverse[start]  # the same value wherever the n-gram sits
            h = (h ^ (salt * _MIX)) * _MIX
        buckets = (h >> np.uint64(64 - self.bits)).astype(np.int64)
        if self.word_classes and n_words > 0:
            class_h, class_start, class_end = self._class_spans(normalized, spaces, n_words)
            class_buckets = self.split + (class_h >> np.uint64(64 - self.class_bits)).astype(np.int64)
            buckets, start, end = (np.concatenate([buckets, class_buckets]), np.concatenate([start, class_start]),
                                   np.concatenate([end, class_end]))
        return buckets, start, end, word_of_char, n_words

    def _class_spans(self, normalized: str, spaces: np.ndarray, n_words: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hashes of the word-class view (toxicity_word_classes.py): word 1-3-grams of the text
        with class words replaced by their tag, and pairs of classes, with the character spans
        of the original words they stand for."""
        tokens, positions, classes = abstract_words(normalized[1:-1].split(" "), self.word_classes)
        codes, prefix, inverse = _prefix_hashes(" " + " ".join(tokens) + " ")
        abstract_spaces = np.flatnonzero(codes == 32)
        hashes, starts, ends = [], [], []
        for k in (1, 2, 3):
            s = np.arange(max(n_words - k + 1, 0))
            a_start, a_end = abstract_spaces[s] + 1, abstract_spaces[s + k]
            with np.errstate(over="ignore"):
                h = (prefix[a_end] - prefix[a_start]) * inverse[a_start]
                hashes.append((h ^ (np.uint64(200 + k) * _MIX)) * _MIX)
            starts.append(spaces[s] + 1)
            ends.append(spaces[s + k])
        first, last, code = class_pairs(positions, classes, len(class_table(self.word_classes)[1]))
        with np.errstate(over="ignore"):
            hashes.append(((code.astype(np.uint64) + np.uint64(1)) * _MIX ^ (np.uint64(300) * _MIX)) * _MIX)
        starts.append(spaces[first] + 1)
        ends.append(spaces[last + 1])
        return np.concatenate(hashes), np.concatenate(starts), np.concatenate(ends)


def window_rows(words: np.ndarray, n_words: int, window_words: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Assign each feature (by its word index) to the half-overlapping windows that hold it:
    returns (feature index, window index, number of windows)."""
    if n_words <= window_words:
        return np.arange(len(words)), np.zeros(len(words), dtype=np.int64), 1
    stride = max(1, window_words // 2)
    n_windows = (n_words - window_words + stride - 1) // stride + 1
    last = n_windows - 1
    first_window = np.clip((words - window_words) // stride + 1, 0, last)
    last_window = np.clip(words // stride, 0, last)
    # a window spans two strides (three when window_words is odd), so a word is in at most three
    index, window = [], []
    for offset in range(3):
        w = first_window + offset
        ok = w <= last_window
        index.append(np.flatnonzero(ok))
        window.append(w[ok])
    return np.concatenate(index), np.concatenate(window), n_windows


def tf_matrix_rows(buckets: np.ndarray, window: np.ndarray, n_windows: int, featurizer: "Featurizer"):
    """Per window: the distinct buckets with sublinear term frequencies, L2-normalised within
    each view (the word-class view then scaled by `class_scale`).
    Returns (window of entry, bucket of entry, value of entry)."""
    n_buckets = featurizer.n_buckets
    key = window * n_buckets + buckets
    unique, counts = np.unique(key, return_counts=True)
    value = 1.0 + np.log(counts)
    row, bucket = unique // n_buckets, unique % n_buckets
    view = row * 2 + (bucket >= featurizer.split)
    norms = np.sqrt(np.bincount(view, weights=value * value, minlength=2 * n_windows))
    value = value / norms[view] * np.where(bucket >= featurizer.split, featurizer.class_scale, 1.0)
    return row, bucket, value


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


class ToxicityModel:
    """Logistic regression over Featurizer's buckets, stored as float16 weights in an .npz."""

    def __init__(
        self, weights: np.ndarray, bias: float, featurizer: Featurizer, window_margin: float = 0.0, long_window_words: int = 12
    ):
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)
        self.featurizer = featurizer
        self.window_margin = float(window_margin)
        # A text longer than the filter's window_words is read in windows of this many words: an
        # insult of a few words fills most of a short window, so calm words around it dilute less.
        self.long_window_words = int(long_window_words)

    def many_windows_margin(self, n_windows: int) -> float:
        """How far the worst of n windows is lowered. The worst of n windows of calm prose drifts
        up like the expected maximum of n draws, about log n; without this, a novel reads as
        toxic because one of its hundreds of windows happens to. Capped at the margin itself (reached
        at about 55 windows, 900 words) so an insult stays catchable in a document of any length."""
        return min(self.window_margin, 0.25 * self.window_margin * math.log(n_windows))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "ToxicityModel":
        if not path.is_file():
            raise FileNotFoundError(
                f"toxicity model {path} is missing: reinstall gristmill or rebuild it with "
                "`python -m pipeline.filters.train_toxicity`"
            )
        with np.load(path) as data:
            featurizer = Featurizer(
                bits=int(data["bits"]),
                word_ngrams=tuple(int(x) for x in data["word_ngrams"]),
                char_ngrams=tuple(int(x) for x in data["char_ngrams"]),
                word_classes=str(data["word_classes"]) if "word_classes" in data else "",
                class_bits=int(data["class_bits"]) if "class_bits" in data else 16,
                class_scale=float(data["class_scale"]) if "class_scale" in data else 0.5,
            )
            margin = float(data["window_margin"]) if "window_margin" in data else 0.0
            long_window = int(data["long_window_words"]) if "long_window_words" in data else 12
            return cls(data["weights"], float(data["bias"]), featurizer, margin, long_window)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            weights=self.weights.astype(np.float16),
            bias=np.float64(self.bias),
            window_margin=np.float64(self.window_margin),
            long_window_words=np.int64(self.long_window_words),
            bits=np.int64(self.featurizer.bits),
            word_ngrams=np.array(self.featurizer.word_ngrams, dtype=np.int64),
            char_ngrams=np.array(self.featurizer.char_ngrams, dtype=np.int64),
            word_classes=np.array(self.featurizer.word_classes),
            class_bits=np.int64(self.featurizer.class_bits),
            class_scale=np.float64(self.featurizer.class_scale),
        )
        tmp.replace(path)

    def window_logits(self, normalized: str, window_words: int) -> np.ndarray:
        """The model's logit for every window of normalize()d text (one window when it is short)."""
        buckets, words = self.featurizer.features(normalized)
        if len(buckets) == 0:
            return np.array([self.bias])
        n_words = normalized.count(" ") - 1
        index, window, n_windows = window_rows(words, n_words, window_words)
        row, bucket, value = tf_matrix_rows(buckets[index], window, n_windows, self.featurizer)
        return self.bias + np.bincount(row, weights=value * self.weights[bucket], minlength=n_windows)

    def short_logits(self, normalized_texts: list[str]) -> np.ndarray:
        """window_logits of many texts that are each one window, computed together: the texts
        are joined (each shares its edge space with the next) and the n-grams that would cross
        from one into the next are left out, so every text gets exactly its own features, in
        the same order, and the same logit to the bit as alone."""
        joined = normalized_texts[0] + "".join(text[1:] for text in normalized_texts[1:])
        lengths = np.array([len(text) for text in normalized_texts])
        offsets = np.concatenate([[0], np.cumsum(lengths - 1)[:-1]])
        spans = self.featurizer.spans(joined)
        if spans is None:
            return np.full(len(normalized_texts), self.bias)
        buckets, start, end, _, _ = spans
        text_of = np.searchsorted(offsets, start, side="right") - 1
        inside = end <= (offsets + lengths)[text_of]
        row, bucket, value = tf_matrix_rows(buckets[inside], text_of[inside], len(normalized_texts), self.featurizer)
        return self.bias + np.bincount(row, weights=value * self.weights[bucket], minlength=len(normalized_texts))

    def score(self, text: str, window_words: int = 32) -> float:
        """Probability that `text` (a text of up to `window_words` words) or its worst window is toxic, in [0, 1]."""
        return self.score_normalized(normalize(text), window_words)

    def score_normalized(self, normalized: str, window_words: int = 32) -> float:
        """A text of up to `window_words` words is scored whole, as the model was trained and
        calibrated; a longer one by its worst window of `long_window_words`, less the margin."""
        if normalized.count(" ") - 1 <= window_words:
            return probability(float(self.window_logits(normalized, window_words)[0]))
        worst, n_windows = -math.inf, 0
        for part in _chunks(normalized, self.long_window_words):
            logits = self.window_logits(part, self.long_window_words)
            worst, n_windows = max(worst, float(np.max(logits))), n_windows + len(logits)
        return probability(worst - self.many_windows_margin(n_windows))


def probability(logit: float) -> float:
    """The logistic function, one float at a time, so batch and single scoring round alike."""
    return 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0


CHUNK_WORDS = 16384  # a book is scored in pieces so memory does not grow with the document


def _chunks(normalized: str, window_words: int):
    """Normalised text whole, or in overlapping pieces of CHUNK_WORDS words when it is longer."""
    if len(normalized) <= CHUNK_WORDS * 2:  # a word takes two characters at least, its separator included
        yield normalized
        return
    words = normalized.split()
    step = CHUNK_WORDS - window_words
    for start in range(0, max(len(words) - window_words, 0) + 1, step):
        yield " " + " ".join(words[start : start + CHUNK_WORDS]) + " "


@lru_cache(maxsize=1)
def default_model() -> ToxicityModel:
    return ToxicityModel.load(MODEL_PATH)


# ---------------------------------------------------------------------------------------------
# flagged words
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def flagged_words() -> frozenset[str]:
    words = set()
    for line in FLAGGED_WORDS_PATH.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line)
    return frozenset(words)


def flagged_word_ratio(text: str) -> float:
    """Share of the words of `text` that are on the flagged-word list (0 when it has no words)."""
    return flagged_word_ratio_normalized(normalize(text))


def flagged_word_ratio_normalized(normalized: str) -> float:
    words = normalized.split()
    if not words:
        return 0.0
    flagged = flagged_words()
    return sum(1 for w in words if w in flagged) / len(words)


# ---------------------------------------------------------------------------------------------
# the filter
# ---------------------------------------------------------------------------------------------


class ToxicityFilter:
    """Scores every document (signals toxicity_score, flagged_word_ratio); drops (reason
    `toxicity`) when a threshold is set and the score reaches it."""

    name = "toxicity"

    def __init__(self, config: ToxicityConfig):
        self.threshold = config.threshold
        self.window_words = config.window_words
        default_model()  # fail at construction, not on the first document, if the model is missing

    def filter(self, doc: Document) -> FilterResult:
        return self.filter_batch([doc])[0]

    def filter_batch(self, docs: list[Document]) -> list[FilterResult]:
        model = default_model()
        normalized = [normalize(doc.text) for doc in docs]
        # texts of one window (tweets, comments) are scored together; longer ones one by one
        short = [i for i, text in enumerate(normalized) if len(text) >= 3 and text.count(" ") - 1 <= self.window_words]
        logits = model.short_logits([normalized[i] for i in short]).tolist() if short else []
        scores = {i: probability(logit) for i, logit in zip(short, logits)}
        results: list[FilterResult] = []
        for i, doc in enumerate(docs):
            score = scores[i] if i in scores else model.score_normalized(normalized[i], self.window_words)
            score = round(score, 6)
            doc.signals["toxicity_score"] = score
            doc.signals["flagged_word_ratio"] = round(flagged_word_ratio_normalized(normalized[i]), 6)
            results.append((False, TOXICITY) if self.threshold is not None and score >= self.threshold else True)
        return results
