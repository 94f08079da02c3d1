"""langdetect's language profiles, read two ways: exact naive Bayes (default) or langdetect's sampler.

langdetect (Shuyo's language-detection, 55 languages) stores, for every character 1-, 2- and
3-gram it knows, the gram's probability in each language. It decides by a random walk: seven
trials, each multiplying in randomly drawn n-grams of the text until one language passes
0.99999, the trials then averaged. That walk is what costs a millisecond on a tweet, and its
randomness is why it must be seeded.

`naive_bayes_probabilities` reads the same profiles with the same smoothing (langdetect's
alpha / BASE_FREQ) but sums the log-probability of *every* n-gram of the text at once: one
gather and one sum in numpy per batch of texts, no randomness; 4.9x faster than the sampler per
UDHR sentence, about 20x per tweet. On the UDHR dev paragraphs it is as accurate as the sampler
(0.9989 both), on single sentences and two- or three-word fragments slightly more
(benchmarks/filters.py). Its evidence
is counted as at most `EVIDENCE_NGRAMS` n-grams' worth, so a score says how clearly the text's
n-grams favour a language, not merely how many there are; that made the scores of short
fragments better calibrated (expected calibration error 0.039, against 0.051 uncapped and
0.072 for the sampler, on 5,081 UDHR sentences and fragments).

`sampled_probabilities` is langdetect itself (FastDetector: its algorithm and seed, same
probabilities bit for bit), for whoever needs langdetect's exact output (`language.method`).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from operator import add

import numpy as np
import regex
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram

LANGDETECT_SEED = 0
EVIDENCE_NGRAMS = 30
BATCH_NGRAMS = 16_384
WORD_CACHE = 200_000
SMOOTHING = Detector.ALPHA_DEFAULT / Detector.BASE_FREQ  # langdetect's alpha / BASE_FREQ, without its noise

LATIN_RE = re.compile("[A-z]")  # langdetect's own test: 'A' <= ch <= 'z'
NON_LATIN_RE = re.compile("[\u0300-\u1dff\u1f00-\U0010ffff]")  # from U+0300, Latin Extended Additional aside
TWO_CAPITALS_RE = regex.compile(r"\p{Lu}\p{Lu}")
# langdetect's normalisation of ASCII: every character but a letter becomes a space
ASCII_NORMALIZE = bytes(c if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256))


class FastDetector(Detector):
    """langdetect's Detector with its inner loop in numpy: the same random draws and the same
    floating-point operations in the same order, so the same probabilities bit for bit, about
    twice as fast (langdetect spends most of its time on short texts updating 55 language
    probabilities one Python float at a time)."""

    def __init__(self, factory: DetectorFactory, rows: dict[str, int], table: np.ndarray):
        super().__init__(factory)
        self._rows = rows
        self._table = table

    def _detect_block(self) -> None:
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        rows = [self._rows[w] for w in ngrams]
        draw = self.random._randbelow  # what random.choice(ngrams) calls: the same draws
        n_rows = len(rows)
        langprob = np.zeros(len(self.langlist))
        self.random.seed(self.seed)
        table = self._table[rows]  # the text's n-grams, row by row
        stack = np.empty((6, table.shape[1]))  # the probabilities, then up to 5 updates
        for _ in range(self.n_trial):
            prob = np.array(self._init_probability(), dtype=np.float64)
            alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            weight = alpha / self.BASE_FREQ
            # langdetect checks convergence after update 0, then after every 5th: apply the
            # updates between two checks as one sequential product down the rows
            i, updates = 0, 1
            while True:
                stack[0] = prob
                stack[1 : updates + 1] = table[[draw(n_rows) for _ in range(updates)]]
                stack[1 : updates + 1] += weight  # weight + p, as langdetect (IEEE addition commutes)
                prob = np.multiply.reduce(stack[: updates + 1], axis=0)
                i += updates - 1
                values = prob.tolist()
                total = sum(values)  # Python's left-to-right sum, as langdetect
                prob /= total
                # dividing by a positive number keeps the order: the largest quotient is max/total
                if max(values) / total > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                    break
                i += 1
                updates = 5
            langprob += prob / self.n_trial
        self.langprob = langprob.tolist()


class LangdetectProfiles:
    """langdetect's profiles as naive Bayes reads them: a gram -> row map and a table of
    log(p + SMOOTHING), language by column. Read straight from langdetect's JSON files into
    numpy (56 MB resident); langdetect's own loader keeps 87,598 lists of 55 Python floats
    besides (91 MB more), so it is loaded only for the sampler (langdetect_sampler())."""

    def __init__(self) -> None:
        names = sorted(name for name in os.listdir(PROFILES_DIRECTORY) if not name.startswith("."))
        self.rows: dict[str, int] = {}
        cells: list[tuple[int, int, float]] = []
        self.languages: list[str] = []
        for column, name in enumerate(names):
            with open(os.path.join(PROFILES_DIRECTORY, name), encoding="utf-8") as f:
                profile = json.load(f)
            self.languages.append(profile["name"])
            n_words = profile["n_words"]
            for word, count in profile["freq"].items():
                if 1 <= len(word) <= 3:  # as langdetect: a gram's probability within its length
                    row = self.rows.setdefault(word, len(self.rows))
                    cells.append((row, column, count / n_words[len(word) - 1]))
        self.column = {lang: i for i, lang in enumerate(self.languages)}
        table = np.zeros((len(self.rows), len(self.languages)), dtype=np.float64)
        row, column, probability = (np.array(x) for x in zip(*cells))
        table[row.astype(np.int64), column.astype(np.int64)] = probability
        self.log_table = np.log(table + SMOOTHING).astype(np.float32)
        # langdetect normalises character by character in Python; one translate() does the same.
        # Every block it rewrites lies in the BMP, so other characters pass through unchanged.
        changed = {}
        for code in range(0x10000):
            if not 0xD800 <= code <= 0xDFFF:
                ch = chr(code)
                normal = NGram.normalize(ch)
                if normal != ch:
                    changed[code] = normal
        self.normalize_table = str.maketrans(changed)
        self.is_trigram = np.zeros(len(self.rows), dtype=bool)  # by row: is the gram a trigram?
        self.is_trigram[[row for gram, row in self.rows.items() if len(gram) == 3]] = True
        self._word_grams: dict[str, tuple[list[int], int]] = {}

    def words(self, text: str) -> list[str]:
        """The text as langdetect reads it (URLs and e-mail addresses out, characters
        normalised), cut into words: a gram never spans two words, only their spaces."""
        if "@" in text:
            text = Detector.MAIL_RE.sub(" ", text)
        if "http" in text:
            text = Detector.URL_RE.sub(" ", text)
        if text.isascii():
            text = text.encode("ascii").translate(ASCII_NORMALIZE).decode("ascii")
        else:
            text = NGram.normalize_vi(text)
            if len(LATIN_RE.findall(text)) * 2 < len(NON_LATIN_RE.findall(text)):
                text = LATIN_RE.sub("", text)  # Latin letters inside non-Latin text are noise (URLs, names)
            text = text.translate(self.normalize_table)
        return [w for w in text.split(" ") if w]

    def ngrams(self, text: str) -> list[str]:
        """The 1-3-grams langdetect extracts from `text`."""
        return [gram for word in self.words(text) for gram in self.word_ngrams(word)]

    def word_ngrams(self, word: str) -> list[str]:
        """The grams of one word with the spaces around it."""
        if TWO_CAPITALS_RE.search(word):
            return self._ngrams_one_by_one(word + " ")  # langdetect skips the grams of capitals
        padded = " " + word + " "
        bigrams = list(map(add, padded, padded[1:]))
        return [*word, *bigrams, *map(add, bigrams, padded[2:])]

    def rows_of(self, text: str) -> list[int]:
        """The table rows of the grams of `text` that the profiles know, in gram order."""
        return self.grams_of(text)[0]

    def grams_of(self, text: str) -> tuple[list[int], int]:
        """The table rows of the grams of `text` that the profiles know, in gram order, and how
        many trigrams it has in all, known or not (for the profile-fit test, language_fit.py).
        Words repeat (Zipf), so each word's rows are remembered, up to WORD_CACHE words."""
        rows: list[int] = []
        trigrams = 0
        cache = self._word_grams
        for word in self.words(text):
            known = cache.get(word)
            if known is None:
                grams = self.word_ngrams(word)
                get = self.rows.get
                known = ([row for row in map(get, grams) if row is not None], sum(len(gram) == 3 for gram in grams))
                if len(cache) >= WORD_CACHE:
                    cache.clear()  # a simple bound: the cache only saves time, never changes a result
                cache[word] = known
            rows += known[0]
            trigrams += known[1]
        return rows, trigrams

    @staticmethod
    def _ngrams_one_by_one(text: str) -> list[str]:
        grams = []
        ngram = NGram()
        for ch in text:
            ngram.add_char(ch)
            for n in (1, 2, 3):
                gram = ngram.get(n)
                if gram is not None:
                    grams.append(gram)
        return grams


class LangdetectSampler:
    """langdetect's own factory (about 2 s and 91 MB to load), seeded, for FastDetector."""

    def __init__(self) -> None:
        self.factory = DetectorFactory()
        self.factory.load_profile(PROFILES_DIRECTORY)
        self.factory.set_seed(LANGDETECT_SEED)
        words = self.factory.word_lang_prob_map
        self.rows = {word: i for i, word in enumerate(words)}
        self.table = np.array(list(words.values()), dtype=np.float64)

    def create(self) -> FastDetector:
        return FastDetector(self.factory, self.rows, self.table)


@lru_cache(maxsize=1)
def langdetect_profiles() -> LangdetectProfiles:
    """The process-wide profiles for naive Bayes, loaded on first use."""
    return LangdetectProfiles()


@lru_cache(maxsize=1)
def langdetect_sampler() -> LangdetectSampler:
    """The process-wide langdetect factory, loaded on first use."""
    return LangdetectSampler()


def naive_bayes_probabilities(text: str, candidates: list[str] | None = None) -> dict[str, float]:
    """Posterior over langdetect's languages (or over `candidates`) from every known n-gram of
    `text`; languages under 1e-6 are left out, and {} means no known n-gram."""
    return naive_bayes_batch([text], candidates)[0]


def naive_bayes_batch(texts: list[str], candidates: list[str] | None = None) -> list[dict[str, float]]:
    """naive_bayes_probabilities for many texts."""
    profiles = langdetect_profiles()
    return naive_bayes_of_rows([profiles.rows_of(text) for text in texts], candidates)


def naive_bayes_of_rows(rows_per_text: list[list[int]], candidates: list[str] | None = None) -> list[dict[str, float]]:
    """naive_bayes_batch from the texts' gram rows (LangdetectProfiles.grams_of): the numpy work
    runs once per batch of up to BATCH_NGRAMS n-grams, which matters for tweets, where it would
    otherwise cost more than the n-grams themselves (and the bound keeps a batch of books inside
    the cache)."""
    profiles = langdetect_profiles()
    results: list[dict[str, float]] = []
    rows: list[int] = []
    ends: list[int] = []
    for text_rows in rows_per_text:
        rows += text_rows
        ends.append(len(rows))
        if len(rows) >= BATCH_NGRAMS:
            results += _posteriors(profiles, rows, ends, candidates)
            rows, ends = [], []
    if ends:
        results += _posteriors(profiles, rows, ends, candidates)
    return results


def _posteriors(
    profiles: LangdetectProfiles, rows: list[int], ends: list[int], candidates: list[str] | None
) -> list[dict[str, float]]:
    """One posterior per text; text i owns rows[ends[i-1]:ends[i]]."""
    bounds = np.array([0, *ends])
    counts = bounds[1:] - bounds[:-1]
    results: list[dict[str, float]] = [{} for _ in ends]
    has_grams = np.flatnonzero(counts)
    if not len(has_grams):
        return results
    starts = bounds[:-1][has_grams]
    log_likelihood = np.add.reduceat(profiles.log_table[np.array(rows, dtype=np.int64)], starts, axis=0, dtype=np.float64)
    log_likelihood *= np.minimum(1.0, EVIDENCE_NGRAMS / counts[has_grams])[:, None]
    languages = profiles.languages
    if candidates:
        columns = [profiles.column[lang] for lang in candidates]
        log_likelihood = log_likelihood[:, columns]
        languages = [languages[c] for c in columns]
    posterior = np.exp(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
    posterior /= posterior.sum(axis=1, keepdims=True)
    text_of, language_of = np.nonzero(posterior > 1e-6)
    for t, lang, p in zip(has_grams[text_of].tolist(), language_of.tolist(), posterior[text_of, language_of].tolist()):
        results[t][languages[lang]] = p
    return results


def sampled_probabilities(text: str, candidates: list[str] | None = None) -> dict[str, float]:
    """langdetect's own probabilities for `text` ({} when it finds no feature), seeded,
    optionally restricted to `candidates` through its prior map."""
    detector = langdetect_sampler().create()
    detector.set_max_text_length(len(text) + 1)
    if candidates:
        detector.set_prior_map({lang: 1.0 for lang in candidates})
    detector.append(text)
    try:
        return {item.lang: item.prob for item in detector.get_probabilities()}
    except LangDetectException:
        return {}


def sampled_batch(texts: list[str], candidates: list[str] | None = None) -> list[dict[str, float]]:
    return [sampled_probabilities(text, candidates) for text in texts]


METHODS = {"naive_bayes": naive_bayes_batch, "langdetect": sampled_batch}
