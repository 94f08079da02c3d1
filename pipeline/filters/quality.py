"""Quality: datatrove's FineWeb chain (GopherRepetition, GopherQuality, C4Quality, FineWebQuality).

The decisions are datatrove's own: each rule runs through datatrove's class and its `.filter`
on a datatrove Document, with FineWeb's parameters by default (see pipeline/config.py). Two
things make it several times faster than datatrove's chain without changing any decision:

- The filters receive a `SharedSpacyTokenizer` as their `language`. datatrove accepts a
  WordTokenizer there, and `split_into_words` caches its result per (text, tokenizer), so the
  Gopher filters share one word split. The tokenizer runs spacy's tokenizer directly (datatrove
  runs the whole blank pipeline, sentencizer included, inside a `memory_zone` that throws the
  lexemes away after every call, so every document pays to rebuild its vocabulary).
- C4 counts sentences line by line; a line holding none of the sentencizer's punctuation is one
  sentence, so spacy only runs on the lines that can split.
- GopherRepetition's n-gram counts run through `FastGopherRepetitionFilter`: the same rules in
  the same order on the same strings, the n-grams built by C-level zip/join/Counter instead of
  Python loops, and the duplicate-n-gram walk skipped when no n-gram repeats at all (it would
  then count nothing). About 3x faster on tweets.

`benchmarks/filters.py` checks that the decisions match datatrove's chain document for document.
"""

from __future__ import annotations

from collections import Counter

import spacy
from spacy.attrs import ORTH
from datatrove.data import Document as DatatroveDocument
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import split_into_words
from datatrove.utils.word_tokenizers import SpaCyTokenizer, WordTokenizer, load_word_tokenizer, strip_strings

from pipeline.config import QualityConfig
from pipeline.documents import QUALITY, Document, FilterResult

# spacy keeps a lexeme for every distinct word it has seen; past this many the tokenizer is
# rebuilt so memory stays flat however large the corpus (tokenization does not depend on it).
MAX_LEXEMES = 400_000


class SharedSpacyTokenizer(WordTokenizer):
    """datatrove's SpaCyTokenizer, same tokens and sentences, without its per-call overhead."""

    def __init__(self, spacy_language: str, spacy_config: dict | None = None):
        super().__init__(spacy_language)
        self.spacy_config = spacy_config
        self._nlp = None
        self._sentencizer = None

    def __getstate__(self) -> dict:
        # spacy objects are rebuilt in each worker process rather than pickled
        return {"language": self.language, "spacy_config": self.spacy_config, "_nlp": None, "_sentencizer": None}

    def _pipeline(self):
        if self._nlp is None or len(self._nlp.vocab) > MAX_LEXEMES:
            if self.spacy_config is None:
                self._nlp = spacy.blank(self.language)
            else:
                self._nlp = spacy.blank(self.language, config=self.spacy_config)
            self._sentencizer = self._nlp.add_pipe("sentencizer")
            self._punct_chars = frozenset(self._sentencizer.punct_chars)
        return self._nlp

    def _tokens(self, text: str):
        nlp = self._pipeline()
        try:
            return nlp.tokenizer(text)
        except Exception:
            # the same workaround as datatrove: this string breaks spacy's tokenizer
            if "IS_ALPHA" in text:
                return nlp.tokenizer(text.replace("IS_ALPHA", ""))
            raise

    def word_tokenize(self, text: str) -> list[str]:
        # token texts through the string store: no Token object per word
        strings = self._pipeline().vocab.strings
        return strip_strings([strings[orth] for orth in self._tokens(text).to_array(ORTH).tolist()])

    def sent_tokenize(self, text: str) -> list[str]:
        return strip_strings([text[a:b] for a, b in self.span_tokenize(text)])

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        self._pipeline()
        if not any(ch in self._punct_chars for ch in text):
            # the sentencizer only splits after one of its punctuation tokens, and spacy makes
            # at least one token of any non-empty text
            return [(0, len(text))] if text else []
        doc = self._sentencizer(self._tokens(text))
        return [(sent.start_char, sent.end_char) for sent in doc.sents]


def joined_ngrams(words: list[str], n: int, separator: str) -> list[str]:
    return list(map(separator.join, zip(*(words[i:] for i in range(n)))))


class FastGopherRepetitionFilter(GopherRepetitionFilter):
    """datatrove's GopherRepetitionFilter.filter, rule for rule, with faster n-gram counting."""

    def filter(self, doc: DatatroveDocument) -> bool | tuple[bool, str]:
        text = doc.text
        if not text:
            return False, "empty"

        paragraphs = self.paragraph_exp.split(text.strip())
        paragraphs_duplicates, char_duplicates = find_duplicates(paragraphs)
        if self.dup_para_frac and paragraphs_duplicates / len(paragraphs) > self.dup_para_frac:
            return False, "dup_para_frac"
        if self.dup_para_char_frac and char_duplicates / len(text) > self.dup_para_char_frac:
            return False, "dup_para_char_frac"

        lines = self._line_splitter.split(text)
        line_duplicates, char_duplicates = find_duplicates(lines)
        if self.dup_line_frac and line_duplicates / len(lines) > self.dup_line_frac:
            return False, "dup_line_frac"
        if self.dup_line_char_frac and char_duplicates / len(text) > self.dup_line_char_frac:
            return False, "dup_line_char_frac"

        words = split_into_words(text, self.language)

        for n, n_frac in self.top_n_grams:
            n_grams = joined_ngrams(words, n, " ")
            if not n_grams:
                continue
            # Counter(iterable) counts in insertion order as datatrove's loop does, so
            # most_common(1) picks the same n-gram among equally frequent ones
            top_gram, count = Counter(n_grams).most_common(1)[0]
            if len(top_gram) * count / len(text) > n_frac:
                return False, f"top_{n}_gram"

        for n, n_frac in self.dup_n_grams:
            if repeated_ngram_chars(words, n) / len(text) > n_frac:
                return False, f"duplicated_{n}_n_grams"

        return True


def repeated_ngram_chars(words: list[str], n: int) -> int:
    """datatrove's find_all_duplicate: characters in n-grams (joined without a separator, as
    datatrove joins them) seen before, a repeat skipping its n words."""
    n_grams = joined_ngrams(words, n, "")
    if len(set(n_grams)) == len(n_grams):
        return 0  # no repeat anywhere: the walk visits every n-gram and counts none
    unique: set[str] = set()
    repeated_chars, idx = 0, 0
    while idx < len(n_grams):
        n_gram = n_grams[idx]
        if n_gram in unique:
            repeated_chars += len(n_gram)
            idx += n
        else:
            unique.add(n_gram)
            idx += 1
    return repeated_chars


def shared_tokenizer(language: str) -> WordTokenizer:
    """The word tokenizer datatrove would use for `language`, sped up when it is spacy's."""
    tokenizer = load_word_tokenizer(language)
    if isinstance(tokenizer, SpaCyTokenizer):
        return SharedSpacyTokenizer(tokenizer.language, tokenizer.config)
    return tokenizer


def datatrove_filters(config: QualityConfig, language: str | WordTokenizer | None = None) -> list[tuple[str, BaseFilter]]:
    """The enabled datatrove filters, named, in FineWeb's order, configured from `config`."""
    language = language if language is not None else config.language
    filters: list[tuple[str, BaseFilter]] = []
    rep = config.gopher_repetition
    if rep.enabled:
        filters.append(("gopher_repetition", FastGopherRepetitionFilter(
            dup_line_frac=rep.dup_line_frac,
            dup_para_frac=rep.dup_para_frac,
            dup_line_char_frac=rep.dup_line_char_frac,
            dup_para_char_frac=rep.dup_para_char_frac,
            top_n_grams=tuple(tuple(x) for x in rep.top_n_grams),
            dup_n_grams=tuple(tuple(x) for x in rep.dup_n_grams),
            language=language,
        )))
    gq = config.gopher_quality
    if gq.enabled:
        filters.append(("gopher_quality", GopherQualityFilter(
            min_doc_words=gq.min_doc_words,
            max_doc_words=gq.max_doc_words,
            min_avg_word_length=gq.min_avg_word_length,
            max_avg_word_length=gq.max_avg_word_length,
            max_symbol_word_ratio=gq.max_symbol_word_ratio,
            max_bullet_lines_ratio=gq.max_bullet_lines_ratio,
            max_ellipsis_lines_ratio=gq.max_ellipsis_lines_ratio,
            max_non_alpha_words_ratio=gq.max_non_alpha_words_ratio,
            min_stop_words=gq.min_stop_words,
            stop_words=gq.stop_words,
            language=language,
        )))
    c4 = config.c4
    if c4.enabled:
        filters.append(("c4", C4QualityFilter(
            split_paragraph=c4.split_paragraph,
            remove_citations=c4.remove_citations,
            filter_no_terminal_punct=c4.filter_no_terminal_punct,
            min_num_sentences=c4.min_num_sentences,
            min_words_per_line=c4.min_words_per_line,
            max_word_length=c4.max_word_length,
            filter_lorem_ipsum=c4.filter_lorem_ipsum,
            filter_javascript=c4.filter_javascript,
            filter_curly_bracket=c4.filter_curly_bracket,
            filter_policy=c4.filter_policy,
            language=language,
        )))
    fw = config.fineweb
    if fw.enabled:
        filters.append(("fineweb", FineWebQualityFilter(
            line_punct_thr=fw.line_punct_thr,
            line_punct_exclude_zero=fw.line_punct_exclude_zero,
            stop_chars=tuple(fw.stop_chars) if fw.stop_chars is not None else None,
            short_line_thr=fw.short_line_thr,
            short_line_length=fw.short_line_length,
            char_duplicates_ratio=fw.char_duplicates_ratio,
            new_line_ratio=fw.new_line_ratio,
            language=language,
        )))
    return filters


class QualityFilter:
    """datatrove's quality filters in order; the first rule that fails names the drop reason.

    The later quality filters are skipped once one fails: they record no signal, so the ledger
    is the same and the time is saved. Reasons read `quality:<filter>:<rule>`, the rule being
    datatrove's own (e.g. quality:gopher_repetition:dup_line_frac, quality:c4:curly_bracket).
    """

    name = "quality"

    def __init__(self, config: QualityConfig):
        self.edit_text = config.c4.edit_text
        self.filters = datatrove_filters(config, shared_tokenizer(config.language))

    def filter(self, doc: Document) -> FilterResult:
        dt_doc = DatatroveDocument(text=doc.text, id=doc.id)
        for name, dt_filter in self.filters:
            result = dt_filter.filter(dt_doc)
            if result is not True:
                rule = result[1] if isinstance(result, tuple) and result[1] else "rejected"
                return False, f"{QUALITY}:{name}:{rule}"
        if self.edit_text:
            doc.text = dt_doc.text
        return True
