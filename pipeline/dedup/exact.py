"""Text normalisation shared by both dedup passes, the exact-duplicate key, and exact grouping.

Both passes see a document as its *normalised words*: the text lowercased, then every run of
word characters (`\\w+`, any script) is a word; punctuation, whitespace and line breaks only
separate words. So "Hello,  World!" and "hello world" are the same text. This is also how the
labelled near-duplicate set (shared/data/neardup) measures Jaccard similarity, and it is why a
copy that was only re-cased or re-spaced is caught.

An *exact duplicate* is a document whose normalised words equal an earlier document's, word for
word. The key is the 128-bit xxh3 hash of the words joined by one space: collisions are out of
reach (2^-64 at 2^32 documents). A document without a single word (only punctuation or symbols)
is keyed by its whitespace-folded text instead, so two different symbol strings never match.
"""

from __future__ import annotations

import re

import numpy as np
import xxhash

WORD_PATTERN = re.compile(r"\w+")

# Identifiers stored beside an index: a later build refuses to compare keys made another way.
NORMALISATION_ID = "lower+re:\\w+"
EXACT_HASH_ID = "xxh3_128(' '.join(words)) | xxh3_128('\\0' + ' '.join(text.split())) when no words"


def normalised_words(text: str) -> list[str]:
    """The document as lowercase words; punctuation and whitespace fold away."""
    return WORD_PATTERN.findall(text.lower())


def exact_key(words: list[str], text: str) -> tuple[int, int]:
    """128-bit key of the normalised text, as (high, low) 64-bit halves."""
    if words:
        digest = xxhash.xxh3_128_intdigest(" ".join(words))
    else:
        digest = xxhash.xxh3_128_intdigest("\0" + " ".join(text.split()))
    return digest >> 64, digest & 0xFFFF_FFFF_FFFF_FFFF


def exact_groups(keys: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair every document with the earliest document of the same exact key.

    keys: int64 (n,) document keys (global order: smaller is earlier); hashes: uint64 (n, 2).
    Returns (duplicate_keys, representative_keys), sorted by duplicate key. Memory: one lexsort
    of n rows, about 40 bytes a document.
    """
    if len(keys) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    order = np.lexsort((keys, hashes[:, 1], hashes[:, 0]))
    sorted_hashes = hashes[order]
    sorted_keys = keys[order]
    same_as_previous = np.empty(len(order), dtype=bool)
    same_as_previous[0] = False
    same_as_previous[1:] = np.all(sorted_hashes[1:] == sorted_hashes[:-1], axis=1)
    # Each run of equal hashes starts at its earliest key (keys break ties in the lexsort).
    run_start = np.maximum.accumulate(np.where(same_as_previous, 0, np.arange(len(order))))
    representatives = sorted_keys[run_start]
    duplicates = sorted_keys[same_as_previous]
    representatives = representatives[same_as_previous]
    by_key = np.argsort(duplicates, kind="stable")
    return duplicates[by_key], representatives[by_key]
