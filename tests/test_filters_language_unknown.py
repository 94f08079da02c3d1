"""Languages langdetect has no profile for: script-derived labels, `unknown`, never another script's label."""

import random

import pytest

from pipeline.config import LanguageConfig
from pipeline.documents import Document
from pipeline.filters.language import UNKNOWN, LanguageFilter, LanguageIdentifier
from pipeline.filters.language_fit import ProfileFitTest, TrigramFit, reference, trigram_fits
from pipeline.filters.language_function_words import MIN_WORDS, FunctionWordTest, function_word_share, function_words, words_of
from pipeline.filters.language_script import LANGUAGE_SCRIPT, label_fits_script, other_script_label, script_counts

IDENTIFIER = LanguageIdentifier()
PLAIN = LanguageIdentifier(detect_unknown=False)  # naive Bayes as before: always one of the 55

# Sentences written for these tests (UDHR-like statements, not taken from the evaluation sets).
OWN_SCRIPT = {
    "hy": "Բոլոր մարդիկ ծնվում են ազատ ու հավասար իրենց արժանապատվությամբ ու իրավունքներով։",
    "ka": "ყველა ადამიანი იბადება თავისუფალი და თანასწორი თავისი ღირსებითა და უფლებებით.",
    "km": "មនុស្សទាំងអស់កើតមកមានសេរីភាព និងភាពស្មើៗគ្នាក្នុងសេចក្ដីថ្លៃថ្នូរ និងសិទ្ធិ។",
    "si": "සියලු මනුෂ්‍යයෝ නිදහස්ව උපත ලබා ඇත. ගෞරවයෙන් හා අයිතිවාසිකම්වලින් සමාන වෙති.",
}
SHARED_SCRIPT_SHORT = {  # languages that share a supported script: unknown or under min_score is enough
    "kk": "Барлық адамдар тумысынан азат және қадір-қасиеті мен құқықтары тең болып дүниеге келеді.",
    "be": "Усе людзі нараджаюцца свабоднымі і роўнымі ў сваёй годнасці і правах.",
}


@pytest.mark.parametrize("code", sorted(OWN_SCRIPT))
def test_a_script_no_supported_language_writes_gets_its_own_language(code):
    label, score = IDENTIFIER.identify(OWN_SCRIPT[code])
    assert (label, score) == (code, 1.0)
    # before: a confident label from the few grams the profiles know (Armenian came out Estonian)
    assert PLAIN.identify(OWN_SCRIPT[code])[0] != code


def test_a_script_several_languages_write_is_unknown():
    ethiopic = "የሰው ልጅ ሁሉ ሲወለድ ነጻና በክብርና በመብትም እኩልነት ያለው ነው።"
    syllabics = "ᐃᓅᔪᓕᒫᑦ ᐊᓂᖅᑎᕆᔪᓐᓇᖅᑐᑦ ᐃᓅᓪᓗᑎᒃ ᐃᓱᒪᖃᑦᑎᐊᕆᓪᓗᑎᒃ ᐊᒻᒪᓗ ᐊᔾᔨᐅᓂᖃᖅᖢᑎᒃ"
    assert IDENTIFIER.identify(ethiopic) == (UNKNOWN, 0.0)
    assert IDENTIFIER.identify(syllabics) == (UNKNOWN, 0.0)
    shan = "\u1075\u1062\u1036\u1076\u1083\u1087 \u1010\u1086\u1004\u103a\u1038"  # Myanmar script with Shan letters
    assert other_script_label(shan, sum(map(str.isalpha, shan)), script_counts(shan)) == UNKNOWN


def test_other_scripts_mixed_with_a_little_latin_never_get_a_latin_label():
    for text in OWN_SCRIPT.values():
        mixed = f"{text} (UN 1948, Paris)"
        label, _ = IDENTIFIER.identify(mixed)
        assert LANGUAGE_SCRIPT.get(label) != "Latin"


def test_a_label_must_be_in_the_script_of_most_letters():
    assert script_counts("plain ascii text") is None
    assert label_fits_script("en", 14, None) and not label_fits_script("ru", 14, None)
    half_cyrillic = script_counts("привет hellos")
    assert label_fits_script("ru", 12, half_cyrillic) and label_fits_script("en", 12, half_cyrillic)
    assert not label_fits_script("el", 12, half_cyrillic)
    assert not label_fits_script("en", 12, script_counts("привет hello"))  # 5 Latin letters of 11


@pytest.mark.parametrize("code", sorted(SHARED_SCRIPT_SHORT))
def test_an_unsupported_language_of_a_shared_script_is_unknown(code):
    text = SHARED_SCRIPT_SHORT[code]
    assert PLAIN.identify(text)[0] in ("ru", "uk", "bg", "mk")  # what it was before: a neighbour
    assert IDENTIFIER.identify(text) == (UNKNOWN, 0.0)


def latin_gibberish(seed: int, words: int = 40) -> str:
    """Pronounceable pseudo-words no language writes: a fixed alphabet, random syllables."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bdgkmnpqtxz" for v in "aeiouy"] + ["qx", "zk", "xu", "yq"]
    return " ".join("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(words))


def test_latin_gibberish_is_unknown_and_would_have_been_labelled():
    texts = [latin_gibberish(seed) for seed in range(20)]
    before = PLAIN.identify_many(texts)
    assert UNKNOWN not in [label for label, _ in before]  # naive Bayes alone always names a language
    assert [label for label, _ in IDENTIFIER.identify_many(texts)] == [UNKNOWN] * len(texts)


def test_supported_sentences_and_short_texts_keep_their_labels():
    from test_filters_language import KNOWN

    labels = IDENTIFIER.identify_many(list(KNOWN.values()))
    assert [label for label, _ in labels] == list(KNOWN)
    tweets = ["lol that was so funny", "omg I cannot believe this game last night", "see you at the station at 5"]
    assert all(label == "en" for label, _ in IDENTIFIER.identify_many(tweets))


def test_the_fit_of_a_text_is_worse_under_a_foreign_profile():
    english = " ".join([
        "The library opens at nine in the morning and closes late on Thursdays during the summer.",
        "Children may borrow up to five books at a time, and adults may keep them for three weeks.",
        "Ask at the front desk if you would like to reserve a room for a meeting with your friends.",
    ])
    own, foreign = trigram_fits([english, english], ["en", "fi"])
    assert own.trigrams == foreign.trigrams > 0
    assert own.log_likelihood > foreign.log_likelihood and own.coverage > foreign.coverage
    assert own.relative_coverage > 0 > foreign.relative_coverage
    test = ProfileFitTest()
    assert test.fits("en", own) and not test.fits("fi", foreign)
    assert trigram_fits(["", "123 456"], ["en", "en"]) == [None, None]
    assert test.fits("hy", TrigramFit(-20.0, 0.0, -0.5, 100))  # no profile: nothing to compare


def test_every_supported_language_has_a_reference():
    ref = reference()
    assert set(LANGUAGE_SCRIPT) <= set(ref)
    assert all(-12 < ref[lang]["log_likelihood"] < -4 and 0.3 < ref[lang]["coverage"] <= 1 for lang in LANGUAGE_SCRIPT)


def test_allowed_treats_unknown_as_a_label_of_its_own():
    armenian_kyrgyz = [Document(id="hy", text=OWN_SCRIPT["hy"]), Document(id="kk", text=SHARED_SCRIPT_SHORT["kk"])]
    only_russian = LanguageFilter(LanguageConfig(allowed=["ru"]))
    assert [r is True for r in only_russian.filter_batch(armenian_kyrgyz)] == [False, False]
    with_unknown = LanguageFilter(LanguageConfig(allowed=["ru", "unknown"]))
    assert [r is True for r in with_unknown.filter_batch(armenian_kyrgyz)] == [False, True]
    armenian = LanguageFilter(LanguageConfig(allowed=["hy"]))
    assert armenian.filter_batch(armenian_kyrgyz)[0] is True
    old = LanguageFilter(LanguageConfig(allowed=["ru"], detect_unknown=False))
    old.filter_batch(armenian_kyrgyz)
    assert armenian_kyrgyz[1].signals["language"] == "ru"


def test_calibration_takes_medians_over_rightly_labelled_texts():
    from pipeline.filters.calibrate_language import calibrate
    from test_filters_language import KNOWN

    rows = [{"text": KNOWN["en"], "lang": "en"}, {"text": KNOWN["fr"], "lang": "fr"}, {"text": KNOWN["de"], "lang": "en"}]
    languages = calibrate(rows)
    assert sorted(languages) == ["en", "fr"] and languages["en"]["texts"] == 1  # the mislabelled row is left out
    english = trigram_fits([KNOWN["en"]], ["en"])[0]
    assert languages["en"]["coverage"] == round(english.coverage, 4)
    assert languages["en"]["function_words"] == round(function_word_share(KNOWN["en"], "en")[0], 4)


def test_the_sampler_method_gets_the_same_detection():
    sampler = LanguageIdentifier(method="langdetect")
    assert sampler.identify(SHARED_SCRIPT_SHORT["kk"]) == (UNKNOWN, 0.0)
    assert sampler.identify(OWN_SCRIPT["ka"]) == ("ka", 1.0)
    assert sampler.identify("The library opens at nine in the morning and closes late on Thursdays.")[0] == "en"


# Written for these tests: the same market-day scene in Javanese and in Indonesian.
JAVANESE = ("Ing desa iku ana pasar sing rame saben esuk. Wong-wong padha teka saka ngendi-endi kanggo tuku sayuran, "
            "beras lan iwak. Bocah-bocah dolanan ing plataran, dene wong tuwa lungguh ing ngisor wit gedhe karo ngombe "
            "wedang lan ngobrol bab sawah lan udan sing durung teka.")
INDONESIAN = ("Di desa itu ada pasar yang ramai setiap pagi. Orang-orang datang dari mana-mana untuk membeli sayuran, "
              "beras dan ikan. Anak-anak bermain di halaman, sedangkan orang tua duduk di bawah pohon besar sambil minum "
              "teh dan berbicara tentang sawah dan hujan yang belum datang.")


def test_a_close_neighbour_whose_letters_fit_is_told_apart_by_its_function_words():
    letters_only = LanguageIdentifier()
    letters_only.function_word_test = FunctionWordTest({})  # no references: the test never objects
    assert letters_only.identify(JAVANESE)[0] == "id"  # Javanese trigrams fit the Indonesian profile
    assert IDENTIFIER.identify(JAVANESE) == (UNKNOWN, 0.0)
    assert IDENTIFIER.identify(INDONESIAN)[0] == "id"
    javanese_share, words = function_word_share(JAVANESE, "id")
    assert javanese_share < 0.1 < 0.4 < function_word_share(INDONESIAN, "id")[0] and words == 47


def test_the_function_word_test_abstains_on_short_texts_and_languages_without_a_list():
    test = FunctionWordTest({"id": {"function_words": 0.48}})
    assert not test.fits("id", JAVANESE)
    assert test.fits("id", " ".join(words_of(JAVANESE)[:MIN_WORDS - 1]))  # too few words to judge
    assert test.fits("sw", JAVANESE)  # no reference for Swahili: nothing to compare
    assert function_word_share("https://example.com/ana/sing/lan", "id") is None  # a URL holds no words
    assert function_word_share(INDONESIAN, "sw") is None  # spaCy has no Swahili list


def test_every_spaced_supported_language_with_a_list_has_a_usual_share():
    ref = reference()
    with_list = set(function_words())
    assert {"en", "id", "tl", "it", "fa"} <= with_list and not {"th", "ja", "zh-cn", "sw"} & with_list
    assert all(0 <= ref[lang]["function_words"] <= 1 for lang in with_list)
    assert ref["en"]["function_words"] > 0.4
