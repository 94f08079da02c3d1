from pipeline.clean import TextCleaner, first_line
from pipeline.config import CleanConfig


def test_nfc_controls_and_whitespace():
    cleaner = TextCleaner(CleanConfig())
    raw = "Cafe\u0301\x00 \u00a0ok  \r\n\r\n\r\n\r\n    indented\tline   \n\x07end"
    assert cleaner.clean_text(raw) == "Caf\u00e9  ok\n\n    indented\tline\nend"


def test_zero_width_joiner_survives():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    assert TextCleaner(CleanConfig()).clean_text(family) == family


def test_classic_options_are_off_by_default_and_work_when_on():
    text = "Hello, World! \u2603 snow"
    assert TextCleaner(CleanConfig()).clean_text(text) == text
    on = TextCleaner(CleanConfig(lowercase=True, strip_special=True, truncate_chars=12))
    assert on.clean_text(text) == "hello, world"


def test_disabled_cleaner_is_identity():
    assert TextCleaner(CleanConfig(enabled=False)).clean_text(" a\r\n") == " a\r\n"


def test_first_line():
    assert first_line("\n\n  Title here \nbody") == "Title here"
    assert len(first_line("x" * 500)) == 120
