"""Train, load and report on the tokenizer.

Byte-level BPE (GPT-2 pre-tokenization, 256-byte initial alphabet, so no unknown token and an
exact round trip of any Unicode string) or WordPiece, trained with HF `tokenizers` from an
iterator over a bounded, deterministic sample of the kept documents: the corpus is never held in
memory, and the same kept parts + config + seed give a byte-identical tokenizer.json.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import string
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from pipeline.config import Config, TokenizerConfig
from pipeline.parquet_stream import open_parquet

EOT_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
UNK_TOKEN = "[UNK]"  # WordPiece only: byte-level BPE never needs it
MASK_TOKEN = "[MASK]"  # only with tokenizer.mask_token (the MLM objective)
READ_BATCH_ROWS = 1024
REPORT_TEXT_BYTES = 8_000_000  # validation text the report encodes: enough for stable ratios


def _hash_unit(salt: str, seed: int, doc_id: str) -> float:
    """A uniform number in [0, 1) that depends only on (salt, seed, doc_id)."""
    digest = hashlib.blake2b(f"{salt}\x00{seed}\x00{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def is_validation_doc(doc_id: str, val_fraction: float, seed: int) -> bool:
    """The split rule shared with pipeline.shards.split_of (kept here so the tokenizer needs no shards import)."""
    return _hash_unit("split", seed, doc_id) < val_fraction


def iter_kept_batches(kept_parts: list[Path]) -> Iterator[tuple[list[str], list[str | None]]]:
    """(doc_ids, texts) in the deterministic kept order: part order, then row order."""
    for part in kept_parts:
        parquet = open_parquet(part)
        for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=["doc_id", "text"]):
            yield batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()


def kept_text_bytes(kept_parts: list[Path]) -> int:
    """UTF-8 bytes of all kept text, counted without materialising Python strings."""
    total = 0
    for part in kept_parts:
        parquet = open_parquet(part)
        for batch in parquet.iter_batches(batch_size=8 * READ_BATCH_ROWS, columns=["text"]):
            total += pc.sum(pc.binary_length(batch.column("text"))).as_py() or 0
    return total


class TextSample:
    """A bounded, deterministic sample of the kept documents, read lazily.

    Each document is in the sample when a seeded hash of its doc_id falls below
    sample_bytes / total_bytes, so the sample is spread over the whole corpus rather than its
    first files; reading stops once sample_bytes have been yielded. Iterating twice gives the
    same texts. With val_fraction, validation documents (split_of) are never sampled.
    """

    def __init__(self, kept_parts: list[Path], sample_bytes: int, seed: int, salt: str = "tokenizer-sample",
                 val_fraction: float | None = None, split_seed: int | None = None):
        self.kept_parts = [Path(p) for p in kept_parts]
        self.sample_bytes = sample_bytes
        self.seed = seed
        self.salt = salt
        self.val_fraction = val_fraction or 0.0
        self.split_seed = seed if split_seed is None else split_seed
        self.total_bytes = kept_text_bytes(self.kept_parts)
        self.rate = min(1.0, sample_bytes / self.total_bytes) if self.total_bytes else 1.0
        self.docs_seen = 0
        self.bytes_seen = 0

    def _chosen(self, doc_id: str) -> bool:
        if self.val_fraction and is_validation_doc(doc_id, self.val_fraction, self.split_seed):
            return False
        return self.rate >= 1.0 or _hash_unit(self.salt, self.seed, doc_id) < self.rate

    def __iter__(self) -> Iterator[list[str]]:
        self.docs_seen = self.bytes_seen = 0
        for doc_ids, texts in iter_kept_batches(self.kept_parts):
            chosen = []
            for doc_id, text in zip(doc_ids, texts):
                if text is None or not self._chosen(doc_id):
                    continue
                size = len(text.encode("utf-8"))
                if self.bytes_seen + size > self.sample_bytes and self.bytes_seen > 0:
                    if chosen:
                        yield chosen
                    return
                chosen.append(text)
                self.docs_seen += 1
                self.bytes_seen += size
            if chosen:
                yield chosen


def new_tokenizer(config: TokenizerConfig) -> Tokenizer:
    """An untrained tokenizer for config.model, with its normalizer, pre-tokenizer and decoder."""
    if config.model == "bpe":
        tokenizer = Tokenizer(models.BPE())
        # GPT-2 pre-tokenization on bytes: every string maps to tokens and back, byte for byte.
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer
    # WordPiece splits on whitespace and punctuation, so it cannot round-trip spacing exactly.
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK_TOKEN, max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return tokenizer


@functools.cache
def _isolate_punctuation() -> dict[int, str]:
    """A str.translate table that spaces out every punctuation mark, as BertPreTokenizer isolates them."""
    punctuation = string.punctuation + "".join(
        chr(c) for c in range(0x80, 0x110000) if unicodedata.category(chr(c)).startswith("P"))
    return str.maketrans({c: f" {c} " for c in punctuation})


class ContinuationMarks:
    """Train WordPiece through the BPE trainer, deterministically.

    HF's WordPieceTrainer numbers its '##x' tokens in hash-map order, which changes the
    tie-breaks between equally frequent merges, so two runs give different vocabularies. Here each
    non-initial character of a word is instead written as its own private-use code point (BMP →
    plane 15, plane 1 → plane 16): the BPE trainer then learns the same word-initial/continuation
    distinction from a sorted alphabet, and the vocabulary is mapped back to '##' tokens.
    Text already in planes 15-16 (private use) is left out of training.
    """

    PLANE_15, PLANE_16 = 0xF0000, 0x100000
    PRIVATE_PLANES = re.compile("[\U000F0000-\U0010FFFF]")

    def __init__(self, texts: Iterable[list[str]]):
        self.texts = texts
        self.isolate = _isolate_punctuation()
        self.marks = {c: self.PLANE_15 + c for c in range(0x10000)} | {
            c: self.PLANE_16 + c - 0x10000 for c in range(0x10000, 0x20000)}
        self.marked: dict[str, str] = {}

    def _mark(self, word: str) -> str:
        marked = self.marked.get(word)
        if marked is None:
            if len(self.marked) > 1_000_000:  # bound the cache on corpora with huge vocabularies
                self.marked.clear()
            marked = self.marked[word] = word[0] + word[1:].translate(self.marks)
        return marked

    def __iter__(self) -> Iterator[list[str]]:
        # Words as BertPreTokenizer makes them (str.split's whitespace also counts U+001C-U+001F).
        for batch in self.texts:
            yield [" ".join(map(self._mark, self.PRIVATE_PLANES.sub("", unicodedata.normalize("NFC", text))
                                .translate(self.isolate).split())) for text in batch]

    @classmethod
    def unmark(cls, token: str) -> str:
        prefix = "##" if token and ord(token[0]) >= cls.PLANE_15 else ""
        return prefix + "".join(chr(ord(c) - cls.PLANE_16 + 0x10000) if ord(c) >= cls.PLANE_16 else
                                chr(ord(c) - cls.PLANE_15) if ord(c) >= cls.PLANE_15 else c for c in token)


def _save_atomic(tokenizer: Tokenizer, out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    os.close(fd)
    try:
        tokenizer.save(tmp, pretty=True)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _train_on(sample: TextSample, config: TokenizerConfig) -> Tokenizer:
    specials = ([EOT_TOKEN, PAD_TOKEN] + ([UNK_TOKEN] if config.model == "wordpiece" else [])
                + ([MASK_TOKEN] if config.mask_token else []))
    common = dict(vocab_size=config.vocab_size, min_frequency=config.min_frequency, special_tokens=specials,
                  show_progress=False)
    if config.model == "bpe":
        tokenizer = new_tokenizer(config)
        trainer = trainers.BpeTrainer(initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), **common)
        tokenizer.train_from_iterator(sample, trainer=trainer)
    else:
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        bpe.train_from_iterator(ContinuationMarks(sample), trainer=trainers.BpeTrainer(**common))
        vocab = {ContinuationMarks.unmark(token): token_id for token, token_id in bpe.get_vocab().items()}
        tokenizer = new_tokenizer(config)
        tokenizer.model = models.WordPiece(vocab, unk_token=UNK_TOKEN, max_input_chars_per_word=100)
    if sample.docs_seen == 0:
        raise ValueError("no kept document to train the tokenizer on: check the filters, or set tokenizer.enabled: false")
    return tokenizer


def train_tokenizer(kept_parts: list[Path], config: TokenizerConfig, seed: int, out_path: Path,
                    val_fraction: float | None = None) -> dict[str, Any]:
    """Train on a sample of at most config.sample_bytes of kept text and write out_path (tokenizer.json).

    Pass val_fraction (config.shards.val_fraction) to keep validation documents out of the sample.
    Returns stats: docs_seen, bytes_seen, corpus_bytes, sample_rate, vocab_size, eot_id, pad_id,
    model, seconds, sha256.
    """
    out_path = Path(out_path)
    started = time.perf_counter()
    sample = TextSample(kept_parts, config.sample_bytes, seed, val_fraction=val_fraction)
    tokenizer = _train_on(sample, config)
    _save_atomic(tokenizer, out_path)
    return {
        "model": config.model,
        "docs_seen": sample.docs_seen,
        "bytes_seen": sample.bytes_seen,
        "corpus_bytes": sample.total_bytes,
        "sample_rate": sample.rate,
        "vocab_size": tokenizer.get_vocab_size(),
        "vocab_size_requested": config.vocab_size,
        "eot_id": tokenizer.token_to_id(EOT_TOKEN),
        "pad_id": tokenizer.token_to_id(PAD_TOKEN),
        "seconds": round(time.perf_counter() - started, 3),
        "sha256": file_sha256(out_path),
    }


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer at path; refuses one without the special tokens gristmill relies on."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer {path} does not exist: train one with pipeline.tokenizer.train_tokenizer")
    tokenizer = Tokenizer.from_file(str(path))
    for special in (EOT_TOKEN, PAD_TOKEN):
        if tokenizer.token_to_id(special) is None:
            raise ValueError(f"tokenizer {path} has no {special} token: retrain it with pipeline.tokenizer.train_tokenizer")
    return tokenizer


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _validation_texts(kept_parts: list[Path], val_fraction: float, seed: int) -> list[str]:
    """Up to REPORT_TEXT_BYTES of validation documents (all kept text when there is no val split)."""
    texts, size = [], 0
    for doc_ids, batch in iter_kept_batches(kept_parts):
        for doc_id, text in zip(doc_ids, batch):
            if text is None or (val_fraction and not is_validation_doc(doc_id, val_fraction, seed)):
                continue
            texts.append(text)
            size += len(text.encode("utf-8"))
            if size >= REPORT_TEXT_BYTES:
                return texts
    return texts


def tokenizer_report(tokenizer_path: Path, kept_parts: list[Path], config: Config | TokenizerConfig, seed: int,
                     val_fraction: float | None = None) -> dict[str, Any]:
    """How well the tokenizer fits held-out text, and how stable its vocabulary is.

    The text measured is the validation split (val_fraction, or config.shards.val_fraction when
    config is the whole Config); without a split it is all kept text (key validation_text says
    which). Keys: model, vocab_size, validation_text, validation_docs, validation_bytes,
    validation_words, validation_tokens, bytes_per_token, tokens_per_word, vocab_used,
    vocab_used_share, longest_tokens (list of {token, id, bytes}), unk_share (WordPiece only),
    stability: {second_sample_seed, second_sample_bytes, second_vocab_size, vocab_overlap (|A & B| / |A|)}.
    """
    tokenizer_config = config.tokenizer if isinstance(config, Config) else config
    if val_fraction is None:
        val_fraction = config.shards.val_fraction if isinstance(config, Config) else 0.0
    tokenizer = load_tokenizer(tokenizer_path)
    texts = _validation_texts(kept_parts, val_fraction, seed)
    encodings = tokenizer.encode_batch_fast(texts, add_special_tokens=False) if texts else []
    ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encodings]) if encodings else np.zeros(0, np.int64)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    n_words = sum(len(t.split()) for t in texts)
    vocab_size = tokenizer.get_vocab_size()
    used = int(np.unique(ids).size)
    report: dict[str, Any] = {
        "model": tokenizer_config.model,
        "vocab_size": vocab_size,
        "validation_text": "validation split" if val_fraction else "all kept text (no validation split)",
        "validation_docs": len(texts),
        "validation_bytes": n_bytes,
        "validation_words": n_words,
        "validation_tokens": int(ids.size),
        "bytes_per_token": n_bytes / ids.size if ids.size else None,
        "tokens_per_word": ids.size / n_words if n_words else None,
        "vocab_used": used,
        "vocab_used_share": used / vocab_size,
        "longest_tokens": _longest_tokens(tokenizer, tokenizer.get_vocab(), 10),
    }
    if tokenizer_config.model == "wordpiece":
        unk = tokenizer.token_to_id(UNK_TOKEN)
        report["unk_share"] = float((ids == unk).mean()) if ids.size else 0.0
    report["stability"] = _stability(tokenizer, kept_parts, tokenizer_config, val_fraction, seed)
    return report


def _longest_tokens(tokenizer: Tokenizer, vocab: dict[str, int], n: int) -> list[dict[str, Any]]:
    """The n tokens that stand for the most bytes of text (decoded, so byte-level marks are undone)."""
    decoded = []
    for token, token_id in vocab.items():
        text = tokenizer.decode([token_id], skip_special_tokens=True)
        decoded.append((len(text.encode("utf-8")), token_id, text))
    decoded.sort(key=lambda t: (-t[0], t[1]))
    return [{"token": text, "id": token_id, "bytes": size} for size, token_id, text in decoded[:n]]


def _stability(tokenizer: Tokenizer, kept_parts: list[Path], config: TokenizerConfig, val_fraction: float,
               seed: int) -> dict[str, Any]:
    """Train a second tokenizer on a sample drawn with another seed and compare the vocabularies.

    When the whole corpus fits in sample_bytes both samples would be identical, so the second
    one takes half the corpus: the overlap then measures what a different half would change.
    """
    def sample(size: int) -> TextSample:
        return TextSample(kept_parts, size, seed + 1, salt="tokenizer-stability", val_fraction=val_fraction, split_seed=seed)

    probe = sample(config.sample_bytes)
    if probe.rate >= 1.0:
        probe = sample(max(1, probe.total_bytes // 2))
    second = _train_on(probe, config)
    first_vocab, second_vocab = set(tokenizer.get_vocab()), set(second.get_vocab())
    return {
        "second_sample_seed": seed + 1,
        "second_sample_bytes": probe.bytes_seen,
        "second_vocab_size": len(second_vocab),
        "vocab_overlap": len(first_vocab & second_vocab) / len(first_vocab),
    }
