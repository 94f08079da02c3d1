"""Toxicity: the shipped model, worst-window scoring, the flagged-word ratio, training."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from pipeline.config import ToxicityConfig
from pipeline.documents import Document
from pipeline.filters.toxicity import (
    FLAGGED_WORDS_PATH,
    MODEL_PATH,
    Featurizer,
    ToxicityFilter,
    ToxicityModel,
    default_model,
    flagged_word_ratio,
    flagged_words,
    normalize,
)
from pipeline.filters.train_toxicity import Labelled, balanced_weights, load_labelled, platt, train_model

BENIGN = [
    "Thank you for the lovely dinner, we had a great time with your family.",
    "The committee approved the budget for the new public library on Tuesday.",
    "Could you send me the notes from yesterday's meeting when you have a minute?",
]
TOXIC = [
    "shut up you stupid worthless bitch",
    "fuck off and die, you pathetic piece of shit",
    "you are a disgusting retard and everyone hates you",
]
CALM_PARAGRAPH = "The river was quiet that morning and the fishermen talked about the weather and their boats. "


def test_model_file_is_small_and_loads():
    assert MODEL_PATH.stat().st_size < 2 * 1024 * 1024
    model = ToxicityModel.load()
    assert model.weights.shape == (model.featurizer.n_buckets,)


def test_toxic_text_scores_above_benign_text():
    model = default_model()
    benign = [model.score(t) for t in BENIGN]
    toxic = [model.score(t) for t in TOXIC]
    assert max(benign) < 0.5 < min(toxic)


@pytest.mark.parametrize("text", ["", " ", "😀😀", "12345", "\x00\x01", "a", "ünïcödé ţëxţ", "word " * 50_000])
def test_scores_are_probabilities_for_any_input(text):
    score = default_model().score(text)
    assert 0.0 <= score <= 1.0


def test_long_document_is_scored_by_its_worst_window():
    model = default_model()
    calm = CALM_PARAGRAPH * 40
    spiked = calm + TOXIC[0] + " " + calm
    assert model.score(calm) < 0.5
    assert model.score(spiked, window_words=32) > 0.5
    # averaged over the whole document the insult would disappear
    assert model.score(spiked, window_words=100_000) < 0.5 < model.score(spiked, window_words=32)
    # where the window falls does not matter
    assert model.score(TOXIC[0] + " " + calm * 2) > 0.5 and model.score(calm * 2 + " " + TOXIC[0]) > 0.5


PROSE = (
    "She walked down to the harbour before breakfast, as she had every morning since her father "
    "left, and watched the boats come in with their nets full of silver fish. The old man at the "
    "end of the pier told her stories about storms and sea monsters, and she never knew which of "
    "them to believe. When the bell rang she ran back up the hill, her shoes wet and her hands cold. "
)


# Plain abuse; milder passages can fall under 0.5 inside prose: benchmarks/filters.py --only toxicity
# measures the share of real abusive passages (test fifths) still caught when planted in unseen books.
PLANTED = [
    "shut up you stupid worthless bitch",
    "fuck you, you stupid bitch",
    "kill yourself you fucking retard",
    "shut the fuck up you worthless piece of shit",
]


@pytest.mark.parametrize("insult", PLANTED)
def test_abuse_planted_in_prose_is_caught_and_prose_alone_is_not(insult):
    model = default_model()
    book = PROSE * 60
    assert model.score(book) < 0.5
    for at in (0, len(book) // 2, len(book)):
        cut = book.rfind(" ", 0, at) + 1 if at else 0
        assert model.score(book[:cut] + insult + " " + book[cut:]) > 0.5


def test_very_long_document_is_scored_in_chunks():
    model = default_model()
    book = CALM_PARAGRAPH * 3000 + TOXIC[0] + " " + CALM_PARAGRAPH * 3000  # ~100k words
    assert model.score(book) > 0.5


def test_normalize_removes_platform_artefacts():
    assert normalize("RT @someone: Sooooo &amp; https://t.co/x GOOD!!! #tag") == " soo good tag "
    assert normalize("art, rtx, start") == " art rtx start "  # only a whole "rt" is a retweet mark
    assert normalize("don't 'quote' it’s") == " don't quote it's "
    assert normalize("").strip() == ""


def test_normalize_keeps_each_emoji_as_a_word():
    # HatemojiBuild's hateful and harmless twins differ only by their emoji
    assert normalize("people🐀🐀 &#128514;") == " people 🐀 🐀 😂 "
    assert normalize("people 🐀") != normalize("people 🌹")
    buckets, words = Featurizer().features(normalize("you 🐀"))
    assert words.max() == 1  # the emoji is the second word


def test_a_source_can_be_some_rows_of_a_file(tmp_path):
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "text": f"text {i}", "label": i % 2, "source_label": f"{kind}:{i}"}) + "\n"
                            for i, kind in enumerate(["build", "check", "build", "check"])), encoding="utf-8")
    build = load_labelled(path, "suite", rows="build:")
    assert build.texts == ["text 0", "text 2"] and build.ids == ["0", "2"]
    assert len(load_labelled(path).texts) == 4


def test_hashing_does_not_depend_on_python_hash_seed():
    code = (
        "from pipeline.filters.toxicity import Featurizer, normalize;"
        "b, w = Featurizer().features(normalize('stable hashing please'));"
        "print(b.tolist(), w.tolist())"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outputs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outputs) == 1
    buckets, words = Featurizer().features(normalize("stable hashing please"))
    assert outputs.pop().strip() == f"{buckets.tolist()} {words.tolist()}"


def test_flagged_word_ratio():
    assert flagged_word_ratio("") == 0.0
    assert flagged_word_ratio(BENIGN[0]) == 0.0
    assert flagged_word_ratio("fuck this shit") == pytest.approx(2 / 3)
    assert flagged_word_ratio("FUUUUCK!!!") == 0.0  # cut to "fuuck": not on the list
    words = flagged_words()
    assert "fuck" in words and "gay" not in words and "jew" not in words
    assert all(w == w.lower() and " " not in w for w in words)
    assert FLAGGED_WORDS_PATH.read_text(encoding="utf-8").startswith("#")


def test_filter_records_signals_and_drops_only_with_threshold():
    doc = Document(id="d", text=TOXIC[0])
    assert ToxicityFilter(ToxicityConfig()).filter(doc) is True  # annotate only by default
    assert 0.5 < doc.signals["toxicity_score"] <= 1.0
    assert doc.signals["flagged_word_ratio"] > 0
    strict = ToxicityFilter(ToxicityConfig(threshold=0.5))
    assert strict.filter(Document(id="t", text=TOXIC[0])) == (False, "toxicity")
    assert strict.filter(Document(id="b", text=BENIGN[0])) is True


def test_filter_is_deterministic_and_picklable():
    toxicity = ToxicityFilter(ToxicityConfig())
    clone = pickle.loads(pickle.dumps(toxicity))
    for text in BENIGN + TOXIC:
        a, b = Document(id="a", text=text), Document(id="b", text=text)
        toxicity.filter(a)
        clone.filter(b)
        assert a.signals == b.signals


def test_training_learns_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    good = ["lovely", "kind", "helpful", "thanks", "great", "friendly"]
    bad = ["idiot", "moron", "scum", "vile", "stupid", "loser"]
    neutral = ["the", "report", "was", "on", "table", "today", "and", "we", "read", "it"]

    def sentences(pool, n):
        return [" ".join(rng.choice(neutral, 6).tolist() + rng.choice(pool, 2).tolist()) for _ in range(n)]

    texts = sentences(good, 60) + sentences(bad, 60)
    labels = np.array([False] * 60 + [True] * 60)
    toy = Labelled("toy", texts, labels, [str(i) for i in range(120)], [""] * 120)
    model = train_model([toy], Featurizer(bits=12), C=10.0)
    assert model.score("the report was vile and stupid") > 0.7 > 0.3 > model.score("the report was lovely and kind")
    path = tmp_path / "model.npz"
    model.save(path)
    again = ToxicityModel.load(path)
    assert again.featurizer == model.featurizer
    assert abs(again.score("you moron") - model.score("you moron")) < 1e-2  # float16 storage
    model.save(tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == path.read_bytes()


def test_balanced_weights_balance_classes_within_sources():
    labels = np.array([True, True, True, False, True, False])
    sources = np.array(["a", "a", "a", "a", "b", "b"])
    w = balanced_weights(labels, sources)
    assert w[:3].sum() == pytest.approx(w[3]) and w[4] == pytest.approx(w[5])
    assert w[:4].sum() == pytest.approx(4) and w[4:].sum() == pytest.approx(2)


def test_batch_scores_equal_window_scores_to_the_bit():
    # filter_batch scores one-window texts together; each must get what the windowed path gives
    texts = BENIGN + TOXIC + [
        "", "ok", "a", "!!!", "RT @someone: http://t.co/x", "word " * 31, "word " * 32, "word " * 33,
        " ".join(f"w{i}" for i in range(200)), "naïve café 東京 😀 test", "the the the",
    ]
    texts = texts * 2
    toxicity = ToxicityFilter(ToxicityConfig(threshold=0.5))
    docs = [Document(id=str(i), text=t) for i, t in enumerate(texts)]
    results = toxicity.filter_batch(docs)
    model = default_model()
    expected = [round(model.score_normalized(normalize(t), 32), 6) for t in texts]
    assert [doc.signals["toxicity_score"] for doc in docs] == expected
    assert results == [(False, "toxicity") if score >= 0.5 else True for score in expected]
    assert any(result is not True for result in results) and any(result is True for result in results)


def test_platt_scaling_calibrates_a_miscalibrated_score():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20_000)
    labels = rng.random(20_000) < 1 / (1 + np.exp(-true_logits))
    a, b = platt(3.0 * true_logits - 1.0, labels)  # overconfident and shifted
    assert a == pytest.approx(1 / 3, rel=0.05) and b == pytest.approx(1 / 3, abs=0.1)


def test_training_calibrates_on_the_calibration_set():
    rng = np.random.default_rng(1)
    bad = ["idiot", "moron", "scum", "vile", "stupid", "loser"]
    neutral = ["the", "report", "was", "on", "table", "today", "and", "we", "read", "it", "kind", "great"]

    def make(n, rate, name):
        labels = rng.random(n) < rate
        texts = [" ".join(rng.choice(neutral, 6).tolist() + ([str(rng.choice(bad))] if y and rng.random() < 0.7 else []))
                 for y in labels]
        return Labelled(name, texts, labels, [f"{name}{i}" for i in range(n)], [""] * n)

    train, calibration = make(400, 0.5, "train"), make(2000, 0.1, "calibration")
    model = train_model([train], Featurizer(bits=12), C=10.0, calibration=[calibration])
    scores = np.array([model.score(t) for t in calibration.texts])
    # balanced training would put the mean near 0.5; calibrated, it matches the 10 % base rate
    assert abs(scores.mean() - calibration.labels.mean()) < 0.02


def test_row_weights_natural_weighs_every_text_alike_and_unknown_weightings_are_refused():
    from pipeline.filters.train_toxicity import row_weights

    labels, sources = np.array([1, 0, 0, 0, 1, 1], dtype=bool), np.array([0, 0, 0, 0, 1, 1])
    assert row_weights(labels, sources, "natural").tolist() == [1.0] * 6
    assert row_weights(labels, sources).tolist() == balanced_weights(labels, sources).tolist()
    with pytest.raises(ValueError, match="balanced"):
        row_weights(labels, sources, "equal")


def test_a_synthetic_source_is_never_a_left_out_platform():
    from pipeline.filters.train_toxicity import SOURCES, SYNTHETIC, left_out_platforms

    platforms = left_out_platforms(SOURCES)
    assert SYNTHETIC not in platforms and platforms == sorted(platforms)
    assert set(platforms) == {"chatbot", "gab_reddit", "stormfront", "twitter", "wikipedia"}


def test_conflicting_negatives_are_only_labelled_negatives_read_as_positive():
    from pipeline.filters.train_toxicity import conflicting_negatives

    logits = np.array([2.0, 2.0, -1.0, 0.5, 3.0])
    labels = np.array([True, False, False, False, False])
    # the last row is a book piece (after the 4 labelled rows): harmless under every scheme, kept
    assert conflicting_negatives(logits, labels, 4, 0.0).tolist() == [False, True, False, True, False]
    assert conflicting_negatives(logits, labels, 4, 1.0).tolist() == [False, True, False, False, False]


def test_a_negative_of_one_scheme_that_another_flags_does_not_teach_harmless():
    # a hate source calls plain profanity "not hate" (0); an offensive-language source calls it 1.
    # For the union score the profanity is toxic: left out of the second fit, the hate source's
    # zeros stop pulling it down.
    rng = np.random.default_rng(2)
    neutral = ["the", "game", "was", "on", "today", "and", "we", "watched", "it", "late"]
    profane, hateful = ["fuck", "shit", "damn"], ["vermin", "subhuman", "parasites"]

    def text(extra):
        return " ".join(rng.choice(neutral, 5).tolist() + [str(rng.choice(extra))] if extra else rng.choice(neutral, 6).tolist())

    hate = [(text(hateful), True) for _ in range(150)] + [(text(profane), False) for _ in range(40)] + \
        [(text(None), False) for _ in range(150)]
    offensive = [(text(profane), True) for _ in range(300)] + [(text(None), False) for _ in range(300)]
    parts = [Labelled(name, [t for t, _ in rows], np.array([y for _, y in rows]), [f"{name}{i}" for i in range(len(rows))],
                      [""] * len(rows)) for name, rows in (("hate", hate), ("offensive", offensive))]
    kept = train_model(parts, Featurizer(bits=12), C=10.0, conflict_logit=None)
    left_out = train_model(parts, Featurizer(bits=12), C=10.0, conflict_logit=0.0)
    profanity = "we watched the game and it was shit"
    assert left_out.score(profanity) > kept.score(profanity) + 0.1
    assert left_out.score("we watched the game today") < 0.3 and left_out.score("the game was vermin") > 0.7


def test_when_every_negative_would_be_left_out_the_first_fit_stands():
    texts = ["you idiot", "you moron", "nice day", "good morning"] * 10
    labels = np.array([True, True, False, False] * 10)
    toy = Labelled("toy", texts, labels, [str(i) for i in range(40)], [""] * 40)
    # a threshold below every logit would leave no negative for the second fit (liblinear refuses one class)
    model = train_model([toy], Featurizer(bits=10), C=10.0, conflict_logit=-1e9)
    assert model.score("you idiot") > model.score("nice day")
