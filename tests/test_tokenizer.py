"""pipeline/tokenizer.py: training, exact round trips, HF compatibility, determinism, the report."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from transformers import PreTrainedTokenizerFast

from pipeline.config import Config, TokenizerConfig
from pipeline.encoder import TokenizersEncoder, WordCacheEncoder, make_encoder
from pipeline.tokenizer import EOT_TOKEN, PAD_TOKEN, TextSample, load_tokenizer, tokenizer_report, train_tokenizer
from shard_fixtures import UNICODE_LINES, make_kept_parts, read_kept

HARD_STRINGS = UNICODE_LINES + [
    "",
    " leading and trailing spaces  ",
    "tabs\tand\r\nwindows\rline ends\n\n\n",
    "👩🏽‍💻 ZWJ sequence, 🇩🇪 flag, keycap 1️⃣, variation \ufe0f selector",
    "\u200b\u200c\u200d\u2060\ufeff zero-width only",
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f bidi controls",
    "combining e\u0301 vs é, Hangul 한국어, Devanagari क्षत्रिय, Thai ภาษาไทย",
    "control \x00\x01\x7f \x1c\x1d\x1e\x1f \x85 \u2028\u2029 \xa0\u3000 and \U0010ffff",
    "special tokens in text: a<|endoftext|>b <|pad|> <|endoftext|><|endoftext|> <|endoftext",
    "contractions: it's, we'll, they've, I'M, don't 'tis  's",
    "numbers 1234567 ٣٤٥ 一二三 ½ and  multiple   spaces\n  \n\t end  ",
]


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_kept_parts(tmp_path_factory.mktemp("kept"), docs=150, seed=11)


@pytest.fixture(scope="module")
def bpe_path(parts: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_tokenizer(parts, TokenizerConfig(vocab_size=800), seed=0, out_path=path)
    return path


def test_byte_level_bpe_round_trips_any_unicode(bpe_path: Path) -> None:
    tokenizer = load_tokenizer(bpe_path)
    for text in HARD_STRINGS:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        assert tokenizer.decode(ids, skip_special_tokens=False) == text, repr(text)
    assert tokenizer.get_vocab_size() == 800
    assert tokenizer.token_to_id(EOT_TOKEN) == 0 and tokenizer.token_to_id(PAD_TOKEN) == 1
    assert tokenizer.encode("a<|endoftext|>b", add_special_tokens=False).ids.count(0) == 1


def test_transformers_loads_it_with_the_same_ids(bpe_path: Path) -> None:
    ours = load_tokenizer(bpe_path)
    theirs = PreTrainedTokenizerFast(tokenizer_file=str(bpe_path))
    for text in HARD_STRINGS:
        assert theirs.encode(text, add_special_tokens=False) == ours.encode(text, add_special_tokens=False).ids
        assert theirs.decode(theirs.encode(text, add_special_tokens=False)) == text
    assert theirs.convert_tokens_to_ids(EOT_TOKEN) == 0


@pytest.mark.parametrize("model", ["bpe", "wordpiece"])
def test_training_is_byte_identical_across_runs(parts: list[Path], tmp_path: Path, model: str) -> None:
    config = TokenizerConfig(model=model, vocab_size=700)
    first = train_tokenizer(parts, config, seed=3, out_path=tmp_path / "a.json")
    second = train_tokenizer(parts, config, seed=3, out_path=tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert first["sha256"] == second["sha256"] and first["vocab_size"] == 700
    assert not list(tmp_path.glob(".*"))  # no temp file left behind


def test_wordpiece_tokenizes_words_and_marks_unknown_characters(parts: list[Path], tmp_path: Path) -> None:
    path = tmp_path / "wp.json"
    stats = train_tokenizer(parts, TokenizerConfig(model="wordpiece", vocab_size=600), seed=0, out_path=path)
    tokenizer = load_tokenizer(path)
    encoding = tokenizer.encode("Kalo mine, rusa tithe.", add_special_tokens=False)
    assert "[UNK]" not in encoding.tokens and any(t.startswith("##") for t in tokenizer.get_vocab())
    assert tokenizer.decode(encoding.ids) == "Kalo mine, rusa tithe."
    assert tokenizer.encode("Ω☃", add_special_tokens=False).tokens == ["[UNK]"]
    assert stats["model"] == "wordpiece" and stats["eot_id"] == 0 and stats["pad_id"] == 1
    assert PreTrainedTokenizerFast(tokenizer_file=str(path)).encode("Kalo mine", add_special_tokens=False) == \
        tokenizer.encode("Kalo mine", add_special_tokens=False).ids


def test_sample_is_bounded_deterministic_and_spread(parts: list[Path], tmp_path: Path) -> None:
    whole = TextSample(parts, sample_bytes=10**9, seed=0)
    assert sum(len(b) for b in whole) == 150 and whole.bytes_seen == whole.total_bytes
    limit = whole.total_bytes // 3
    sample = TextSample(parts, sample_bytes=limit, seed=0)
    texts = [t for batch in sample for t in batch]
    assert 0 < sample.bytes_seen <= limit and sample.bytes_seen > limit * 0.6
    assert texts == [t for batch in TextSample(parts, sample_bytes=limit, seed=0) for t in batch]
    assert texts != [t for batch in TextSample(parts, sample_bytes=limit, seed=1) for t in batch]
    second_part_texts = {t for batch in TextSample(parts[1:], 10**9, 0) for t in batch}
    assert second_part_texts & set(texts), "the sample should reach beyond the first part"
    stats = train_tokenizer(parts, TokenizerConfig(vocab_size=500, sample_bytes=limit), 0, tmp_path / "t.json")
    assert stats["bytes_seen"] == sample.bytes_seen and stats["docs_seen"] == len(texts)
    held_out = TextSample(parts, 10**9, 0, val_fraction=0.5)
    assert 40 < sum(len(b) for b in held_out) < 110


def test_report_measures_fit_and_stability(parts: list[Path], bpe_path: Path) -> None:
    config = Config()
    config.tokenizer.vocab_size = 800
    config.shards.val_fraction = 0.2
    report = tokenizer_report(bpe_path, parts, config, seed=0)
    assert 1.5 < report["bytes_per_token"] < 8 and 1 <= report["tokens_per_word"] < 4
    assert 0 < report["vocab_used_share"] <= 1 and report["vocab_used"] <= 800
    assert report["validation_docs"] > 10
    assert len(report["longest_tokens"]) == 10
    assert report["longest_tokens"][0]["bytes"] >= report["longest_tokens"][-1]["bytes"]
    stability = report["stability"]
    assert 0.5 < stability["vocab_overlap"] <= 1 and stability["second_sample_bytes"] > 0


def test_refuses_to_train_on_nothing_and_to_load_a_foreign_tokenizer(tmp_path: Path) -> None:
    empty = make_kept_parts(tmp_path / "kept", docs=0, parts=1)
    with pytest.raises(ValueError, match="no kept document"):
        train_tokenizer(empty, TokenizerConfig(), 0, tmp_path / "t.json")
    with pytest.raises(FileNotFoundError, match="train"):
        load_tokenizer(tmp_path / "missing.json")


def test_report_takes_the_tokenizer_section_alone(parts: list[Path], bpe_path: Path) -> None:
    report = tokenizer_report(bpe_path, parts, TokenizerConfig(vocab_size=800), seed=0)
    assert report["validation_text"].startswith("all kept text") and report["validation_docs"] == 150
    assert report["stability"]["vocab_overlap"] > 0.5


def random_strings(count: int, seed: int) -> list[str]:
    """Random code points from every plane that matters, with special tokens mixed in."""
    rng = random.Random(seed)
    ranges = [(0x20, 0x7F)] * 6 + [(0x0, 0x20), (0x80, 0x800), (0x800, 0xD800), (0xE000, 0x10000),
                                   (0x10000, 0x30000), (0xE0000, 0xE0080), (0x2000, 0x2070)]
    out = []
    for _ in range(count):
        chars = [chr(rng.randrange(*rng.choice(ranges))) for _ in range(rng.randint(0, 40))]
        for special in (EOT_TOKEN, PAD_TOKEN):
            if rng.random() < 0.1:
                chars.insert(rng.randint(0, len(chars)), special)
        out.append("".join(chars))
    return out


def test_word_cache_encoder_gives_exactly_the_tokenizers_ids(bpe_path: Path, parts: list[Path]) -> None:
    encoder = make_encoder(bpe_path)
    assert isinstance(encoder, WordCacheEncoder)
    reference = load_tokenizer(bpe_path)
    texts = HARD_STRINGS + random_strings(3000, seed=0) + list(read_kept(parts).values())
    for text in texts:
        assert encoder.encode(text) == reference.encode(text, add_special_tokens=False).ids, repr(text)
    ids, lengths = encoder.encode_batch(texts, np.dtype(np.uint16))
    assert ids.dtype == np.uint16 and lengths.sum() == ids.size and len(lengths) == len(texts)


def test_other_tokenizers_fall_back_to_tokenizers_encoder(parts: list[Path], tmp_path: Path) -> None:
    path = tmp_path / "wp.json"
    train_tokenizer(parts, TokenizerConfig(model="wordpiece", vocab_size=500), 0, path)
    assert isinstance(make_encoder(path), TokenizersEncoder)
