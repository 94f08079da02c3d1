"""Language identification: langdetect's profiles (naive Bayes or seeded sampler), script rules, close pairs."""

import pickle
import time

import pytest
from langdetect.detector_factory import DetectorFactory, PROFILES_DIRECTORY

from pipeline.config import LanguageConfig
from pipeline.documents import Document
from pipeline.filters.language import (
    CHINESE,
    CLOSE_PAIRS,
    SIMPLIFIED,
    TRADITIONAL,
    UNKNOWN,
    LanguageFilter,
    LanguageIdentifier,
    sample_windows,
)
from pipeline.filters.langdetect_model import langdetect_profiles, langdetect_sampler, naive_bayes_probabilities, sampled_probabilities

IDENTIFIER = LanguageIdentifier()

# Sentences written for these tests (not taken from any evaluation set).
KNOWN = {
    "en": "The library opens at nine in the morning and closes late on Thursdays during the summer.",
    "fr": "La bibliothèque ouvre à neuf heures du matin et ferme tard le jeudi pendant l'été.",
    "de": "Die Bibliothek öffnet um neun Uhr morgens und schließt im Sommer donnerstags spät.",
    "es": "La biblioteca abre a las nueve de la mañana y cierra tarde los jueves durante el verano.",
    "pt": "A biblioteca abre às nove horas da manhã e fecha tarde às quintas-feiras durante o verão.",
    "ru": "Библиотека открывается в девять утра и закрывается поздно по четвергам летом.",
    "bg": "Библиотеката се отваря в девет часа сутринта и се затваря късно в четвъртък през лятото.",
    "mk": "Библиотеката се отвора во девет часот наутро и се затвора доцна во четврток преку летото.",
    "da": "Biblioteket åbner klokken ni om morgenen og lukker sent om torsdagen hele sommeren, siger de.",
    "no": "Biblioteket åpner klokken ni om morgenen og stenger sent på torsdager hele sommeren, sier de.",
    "sl": "Knjižnica se odpre ob devetih zjutraj in poleti ob četrtkih zapre pozno, kar je zelo priročno.",
    "hr": "Knjižnica se otvara u devet sati ujutro i ljeti četvrtkom zatvara kasno, što je vrlo zgodno.",
    "nl": "De bibliotheek gaat om negen uur 's ochtends open en sluit in de zomer op donderdag laat.",
    "af": "Die biblioteek maak om nege-uur soggens oop en sluit in die somer op Donderdae laat, sê hulle.",
    "zh-cn": "图书馆早上九点开门，夏天的星期四关门很晚，这对学生来说非常方便。",
    "zh-tw": "圖書館早上九點開門，夏天的星期四關門很晚，這對學生來說非常方便。",
    "ja": "図書館は朝九時に開き、夏の木曜日は遅くまで開いています。",
    "ko": "도서관은 아침 아홉 시에 문을 열고 여름에는 목요일에 늦게 닫습니다.",
}


@pytest.mark.parametrize("lang", sorted(KNOWN))
def test_labels_known_sentences(lang):
    label, score = IDENTIFIER.identify(KNOWN[lang])
    assert label == lang
    assert 0.5 < score <= 1.0


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "1234 5678 90", "3.14159 + 2.71828 = 5.85987", "😀🎉👍🔥", "\x00\x01\x02\x7f\x1b[0;31;40", "-- ** // ##"],
)
def test_text_without_letters_is_unknown(text):
    assert IDENTIFIER.identify(text) == (UNKNOWN, 0.0)


@pytest.mark.parametrize("text", ["ok", "Hi!", "yes 👍", "ᚠᚢᚦ", "ሰላም", "a" * 50, "x\ud800y"])
def test_odd_inputs_never_raise_and_stay_in_range(text):
    label, score = IDENTIFIER.identify(text)
    assert isinstance(label, str) and 0.0 <= score <= 1.0


def test_very_short_text_gets_a_low_score():
    for text in ("ok", "merci", "Danke schön"):
        label, score = IDENTIFIER.identify(text)
        assert score < 0.6, (text, label, score)
    assert IDENTIFIER.identify(KNOWN["en"])[1] > 0.9


def test_huge_text_is_sampled_and_fast():
    text = (KNOWN["en"] + " ") * 60_000  # about 5.5 MB
    start = time.perf_counter()
    label, score = IDENTIFIER.identify(text)
    assert label == "en" and score > 0.9
    assert time.perf_counter() - start < 5


def test_sample_windows_cover_start_middle_and_end():
    text = "alpha " * 1000 + "MIDDLE " + "beta " * 1000 + "omega"
    sample = sample_windows(text, 100, 3)
    pieces = sample.split("\n")
    assert len(pieces) == 3
    assert pieces[0].startswith("alpha") and pieces[2].endswith("omega")
    assert all(len(p) <= 100 for p in pieces)
    assert sample_windows("short text", 100, 3) == "short text"


def test_uppercase_text_is_read():
    label, _ = IDENTIFIER.identify(KNOWN["de"].upper())
    assert label == "de"


def test_second_opinion_tables_are_consistent():
    assert len(SIMPLIFIED) == len(TRADITIONAL)
    assert not set(SIMPLIFIED) & set(TRADITIONAL)
    assert set(CHINESE) == {"zh-cn", "zh-tw"}
    for pair, evidence in CLOSE_PAIRS.items():
        assert set(evidence) == set(pair)
        a, b = (evidence[lang] for lang in sorted(pair))
        assert not a.words & b.words, pair
        assert not set(a.letters) & set(b.letters), pair


def test_han_without_distinctive_characters_is_chinese_with_a_split_score():
    label, score = IDENTIFIER.identify("任何人不得加以任意逮捕、拘禁或放逐。")
    assert label in {"zh-cn", "zh-tw"} and score == 0.5


def test_fast_detector_matches_langdetect_bit_for_bit():
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    for text in list(KNOWN.values()) + ["lol idk wat u mean", "RT @user: so true smh"]:
        detector = factory.create()
        detector.set_max_text_length(len(text) + 1)
        detector.append(text)
        expected = {item.lang: item.prob for item in detector.get_probabilities()}
        assert sampled_probabilities(text) == expected


def test_deterministic_across_calls_and_pickling():
    first = [IDENTIFIER.identify(t) for t in KNOWN.values()]
    clone = pickle.loads(pickle.dumps(LanguageFilter(LanguageConfig())))
    second = [clone.identifier.identify(t) for t in KNOWN.values()]
    assert first == second


def test_filter_records_signals_and_annotates_only_by_default():
    doc = Document(id="d", text=KNOWN["fr"])
    assert LanguageFilter(LanguageConfig()).filter(doc) is True
    assert doc.signals["language"] == "fr" and doc.signals["language_score"] > 0.9


def test_filter_drops_disallowed_and_unsure_documents():
    keep_english = LanguageFilter(LanguageConfig(allowed=["en"], min_score=0.8))
    assert keep_english.filter(Document(id="a", text=KNOWN["en"])) is True
    assert keep_english.filter(Document(id="b", text=KNOWN["fr"])) == (False, "language")
    assert keep_english.filter(Document(id="c", text="ok")) == (False, "language")  # too short to be sure
    assert keep_english.filter(Document(id="d", text="12345")) == (False, "language")  # unknown


@pytest.mark.parametrize("method", ["naive_bayes", "langdetect"])
def test_both_methods_label_known_sentences(method):
    identifier = LanguageIdentifier(method=method)
    for lang, text in KNOWN.items():
        assert identifier.identify(text)[0] == lang, (method, lang)


def test_unknown_method_is_refused_by_name():
    with pytest.raises(ValueError, match="naive_bayes"):
        LanguageIdentifier(method="fasttext")


def test_fast_ngrams_match_langdetects_extraction():
    # the translate()-and-slice extraction must give langdetect's own grams (capitals, URLs,
    # Vietnamese, non-Latin text with Latin noise, CJK), as a multiset
    from collections import Counter

    profiles = langdetect_profiles()
    texts = list(KNOWN.values()) + [
        "Tiếng Việt có dấu thanh điệu rõ ràng",
        "see https://example.org/x?y=1 or mail me@example.org now",
        "Москва — столица России, а NASA и IBM тут ни при чём",
        "ĐÂY LÀ CHỮ HOA và đây là chữ thường",
        "the USA and the UK signed it",
        "tab\tand\nnewline   and  spaces",
    ]
    for text in texts:
        detector = langdetect_sampler().create()
        detector.set_max_text_length(len(text) + 1)
        detector.append(text + " ")
        detector.cleaning_text()
        expected = Counter(detector._extract_ngrams())
        known = Counter(g for g in profiles.ngrams(text) if g in profiles.rows)
        assert known == expected, text


def test_naive_bayes_posterior_is_a_distribution():
    probabilities = naive_bayes_probabilities(KNOWN["pt"])
    assert max(probabilities, key=probabilities.get) == "pt"
    assert abs(sum(probabilities.values()) - 1.0) < 1e-5
    restricted = naive_bayes_probabilities(KNOWN["zh-tw"], ["zh-cn", "zh-tw"])
    assert set(restricted) <= {"zh-cn", "zh-tw"}
    assert naive_bayes_probabilities("12345 !!") == {}


def test_identify_many_matches_one_by_one():
    texts = list(KNOWN.values()) + ["", "1234", "ok", "lol idk wat u mean", "RT @user: THIS IS SO TRUE", "図書館"] * 2
    assert IDENTIFIER.identify_many(texts) == [IDENTIFIER.identify(t) for t in texts]
    docs = [Document(id=str(i), text=t) for i, t in enumerate(texts)]
    language_filter = LanguageFilter(LanguageConfig(allowed=["en"]))
    batch = language_filter.filter_batch(docs)
    singles = [language_filter.filter(Document(id=d.id, text=d.text)) for d in docs]
    assert batch == singles


def test_bokmal_doubled_consonant_before_consonant_is_norwegian_evidence():
    from pipeline.filters.language import evidence_counts

    evidence = CLOSE_PAIRS[frozenset({"da", "no"})]
    assert evidence_counts("alltid grunnlag vennskap", evidence) == {"da": 0, "no": 3}
    # Danish compounds joined by s, and doubled consonants before vowels, are no evidence
    assert evidence_counts("medlemsstat opholdssted alle sommer", evidence) == {"da": 0, "no": 0}


def test_profiles_read_from_json_match_langdetects_loader():
    import numpy as np

    from pipeline.filters.langdetect_model import SMOOTHING

    profiles, sampler = langdetect_profiles(), langdetect_sampler()
    langdetect_columns = [profiles.column[lang] for lang in sampler.factory.langlist]
    for gram in ["e", "th", "the", "ß", "ий", "的", " a", "n "]:
        expected = np.log(np.array(sampler.factory.word_lang_prob_map[gram]) + SMOOTHING)
        got = profiles.log_table[profiles.rows[gram], langdetect_columns]
        assert np.allclose(got, expected, rtol=1e-6), gram
    assert set(profiles.rows) == {w for w in sampler.factory.word_lang_prob_map if 1 <= len(w) <= 3}
