"""Encode many documents fast, with exactly the ids `tokenizers` would give.

HF `tokenizers` spends most of its time per word on bookkeeping (alignments of every normalized
string), so on 2 cores it encodes ~3 MB/s. For the byte-level BPE that gristmill trains, the
encoding of a document is the concatenation of the encodings of its GPT-2 pre-tokens, so a word
cache gives the same ids much faster: split with the GPT-2 regex (the `regex` module), look each
word up in a dict, and only ask the BPE model about words not seen before. Special tokens in the
text are split out first, as tokenizers does. tests/test_shards.py checks that the ids equal
Tokenizer.encode on hard Unicode and on random code points. Other tokenizers (WordPiece, or a
tokenizer.json with a normalizer, dropout, a template...) use tokenizers' own encode_batch_fast.

Both cores: pipeline/encode_pieces.py cuts the kept documents into pieces that worker processes
(or Dask workers) encode, each process with its own cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import regex
from tokenizers import Tokenizer

# The pattern tokenizers' ByteLevel pre-tokenizer uses (use_regex=True), which is GPT-2's.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CACHE_LIMIT = 500_000  # distinct words kept per process before the cache starts over
MAX_ADDED_TOKENS = 64


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (what ByteLevel writes tokens in)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = printable[:], 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, codes)}


def word_cache_supported(spec: dict[str, Any]) -> bool:
    """True when a tokenizer.json is plain byte-level BPE, whose ids a word cache reproduces exactly."""
    pre, model, post = spec.get("pre_tokenizer") or {}, spec.get("model") or {}, spec.get("post_processor")
    added = spec.get("added_tokens", [])
    # A few added tokens split out with one regex; thousands are tokenizers' Aho-Corasick's job.
    plain_specials = len(added) <= MAX_ADDED_TOKENS and all(
        not (t.get("lstrip") or t.get("rstrip") or t.get("single_word")) for t in added)
    return (spec.get("normalizer") is None and pre.get("type") == "ByteLevel" and pre.get("use_regex", True)
            and not pre.get("add_prefix_space") and model.get("type") == "BPE" and model.get("dropout") is None
            and not model.get("continuing_subword_prefix") and not model.get("end_of_word_suffix")
            and not model.get("byte_fallback") and (post is None or post.get("type") == "ByteLevel") and plain_specials)


class WordCacheEncoder:
    """Byte-level BPE through a word → ids cache; only unseen words reach the BPE model."""

    def __init__(self, tokenizer: Tokenizer):
        self.model = tokenizer.model
        self.words = regex.compile(GPT2_PATTERN)
        self.to_symbols = str.maketrans({chr(b): c for b, c in bytes_to_unicode().items()})
        specials = {t.content: i for i, t in tokenizer.get_added_tokens_decoder().items()}
        self.specials = specials
        self.split_specials = regex.compile("(" + "|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)) + ")") \
            if specials else None
        self.cache: dict[str, list[int]] = {}

    def _word(self, word: str) -> list[int]:
        ids = self.cache.get(word)
        if ids is None:
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            symbols = word.encode("utf-8").decode("latin-1").translate(self.to_symbols)
            ids = self.cache[word] = [token.id for token in self.model.tokenize(symbols)]
        return ids

    def _plain(self, text: str) -> Iterator[int]:
        return chain.from_iterable(map(self._word, self.words.findall(text)))

    def encode(self, text: str) -> list[int]:
        if self.split_specials is None or not self.split_specials.search(text):
            return list(self._plain(text))
        out: list[int] = []
        for piece in self.split_specials.split(text):
            if piece in self.specials:
                out.append(self.specials[piece])
            elif piece:
                out += self._plain(piece)
        return out

    def encode_batch(self, texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """All ids end to end, and each text's token count."""
        encoded = [self.encode(text) for text in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        return np.fromiter(chain.from_iterable(encoded), dtype=dtype, count=int(lengths.sum())), lengths


class TokenizersEncoder:
    """tokenizers' own multi-threaded encode_batch_fast, for tokenizers the word cache cannot reproduce."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer

    def encode_batch(self, texts: list[str], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        id_lists = [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
        return np.fromiter(chain.from_iterable(id_lists), dtype=dtype, count=int(lengths.sum())), lengths


def make_encoder(tokenizer_path: str | Path) -> WordCacheEncoder | TokenizersEncoder:
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    if word_cache_supported(json.loads(tokenizer.to_str())):
        return WordCacheEncoder(tokenizer)
    return TokenizersEncoder(tokenizer)
