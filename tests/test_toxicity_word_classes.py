"""The toxicity model's word-class view, and calibration on out-of-fold logits."""

import numpy as np

from pipeline.filters.toxicity import Featurizer, ToxicityModel, normalize
from pipeline.filters.toxicity_word_classes import abstract_words, class_pairs, class_table, default_word_classes
from pipeline.filters.train_toxicity import Labelled, cross_fitted_model, train_model

CLASSES = "# a comment\ngroup: women muslims\nanimal: rats vermin parasites cockroaches\ninsult: filthy\n"


def test_class_table_and_abstraction():
    of_word, tags = class_table(CLASSES)
    assert tags == ("group", "animal", "insult") and of_word["parasites"] == 1
    tokens, positions, classes = abstract_words("muslims are vermin and filthy".split(), CLASSES)
    assert tokens == ["GROUP", "are", "ANIMAL", "and", "INSULT"]
    assert positions.tolist() == [0, 2, 4] and classes.tolist() == [0, 1, 2]
    first, last, code = class_pairs(positions, classes, 3)
    assert sorted(zip(first.tolist(), last.tolist(), code.tolist())) == [(0, 2, 1), (0, 4, 2), (2, 4, 5)]
    far = class_pairs(np.array([0, 40]), np.array([0, 1]), 3)
    assert len(far[0]) == 0  # farther apart than PAIR_WORDS: no pair


def test_the_shipped_classes_parse_and_every_word_is_lower_case():
    of_word, tags = class_table(default_word_classes())
    assert set(tags) == {"group", "animal", "violence", "insult", "profane"} and len(of_word) > 300
    assert tags[of_word["bitches"]] == "profane" and tags[of_word["muslims"]] == "group"
    assert all(word == normalize(word).strip() for word in of_word)


def test_class_features_sit_in_their_own_buckets_at_their_first_word():
    plain, with_classes = Featurizer(bits=12), Featurizer(bits=12, word_classes=CLASSES, class_bits=8)
    text = normalize("muslims are vermin and should leave")
    buckets, words = with_classes.features(text)
    plain_buckets, _ = plain.features(text)
    extra = buckets[len(plain_buckets):]
    assert (extra >= with_classes.split).all() and with_classes.n_buckets == 4096 + 256
    # 6 + 5 + 4 word 1-3-grams of the abstracted text, and one group-animal pair
    assert len(extra) == 16 and words[len(plain_buckets):].max() <= 5


def test_an_unseen_word_of_a_seen_class_transfers():
    rng = np.random.default_rng(0)
    seen_animals, kind = ["rats", "vermin", "cockroaches"], ["neighbours", "friends", "doctors", "teachers"]
    texts, labels = [], []
    for _ in range(300):
        toxic = bool(rng.random() < 0.5)
        texts.append(f"women are {rng.choice(seen_animals) if toxic else rng.choice(kind)}")
        labels.append(toxic)
    data = Labelled("toy", texts, np.array(labels), [str(i) for i in range(300)], [""] * 300)
    scores = {}
    for name, featurizer in (("plain", Featurizer(bits=12)), ("classes", Featurizer(bits=12, word_classes=CLASSES, class_bits=8))):
        model = train_model([data], featurizer, C=10.0)
        scores[name] = model.score("muslims are parasites") - model.score("muslims are nurses")
    assert scores["classes"] > 0.5 > 0.1 > abs(scores["plain"])  # "parasites" was never seen; its class was


def test_word_classes_round_trip_with_the_model(tmp_path):
    featurizer = Featurizer(bits=12, word_classes=CLASSES, class_bits=8, class_scale=0.25)
    model = ToxicityModel(np.linspace(-1, 1, featurizer.n_buckets), -0.5, featurizer)
    model.save(tmp_path / "m.npz")
    again = ToxicityModel.load(tmp_path / "m.npz")
    assert again.featurizer == featurizer
    assert abs(again.score("muslims are vermin") - model.score("muslims are vermin")) < 1e-2


def test_cross_fitted_calibration_matches_the_base_rate():
    rng = np.random.default_rng(1)
    bad = ["idiot", "moron", "scum", "vile", "stupid", "loser"]
    neutral = ["the", "report", "was", "on", "table", "today", "and", "we", "read", "it", "kind", "great"]
    labels = rng.random(2000) < 0.1
    texts = [" ".join(rng.choice(neutral, 6).tolist() + ([str(rng.choice(bad))] if y and rng.random() < 0.7 else [])) for y in labels]
    data = Labelled("toy", texts, labels, [f"t{i}" for i in range(2000)], [""] * 2000)
    model = cross_fitted_model([data], Featurizer(bits=12), C=10.0)
    scores = np.array([model.score(t) for t in texts])
    # trained with the classes balanced, the mean would sit near 0.5; calibrated, it is the 10 % base rate
    assert abs(scores.mean() - labels.mean()) < 0.02
