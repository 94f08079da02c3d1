"""PII: e-mails, IP addresses, phone numbers; redact, drop or count; no obvious false positives."""

import pickle

import pytest

from pipeline.config import Config, PIIConfig
from pipeline.documents import Document
from pipeline.filters import build_filters
from pipeline.filters.pii import EMAIL_PLACEHOLDER, IP_PLACEHOLDER, PHONE_PLACEHOLDER, PIIFilter, find_pii

TEXT = "Write to jane.doe@example.org or call +1 (555) 123-4567; the server is 192.168.10.20."


def counts(text: str) -> dict[str, int]:
    return {kind: len(spans) for kind, spans in find_pii(text).items()}


def test_redact_replaces_and_counts():
    doc = Document(id="d", text=TEXT)
    assert PIIFilter(PIIConfig(mode="redact")).filter(doc) is True
    assert doc.text == f"Write to {EMAIL_PLACEHOLDER} or call {PHONE_PLACEHOLDER}; the server is {IP_PLACEHOLDER}."
    assert (doc.signals["pii_email"], doc.signals["pii_ip"], doc.signals["pii_phone"]) == (1, 1, 1)


def test_drop_mode_drops_with_reason_and_keeps_clean_text():
    pii = PIIFilter(PIIConfig(mode="drop"))
    doc = Document(id="d", text=TEXT)
    assert pii.filter(doc) == (False, "pii") and doc.text == TEXT
    clean = Document(id="c", text="Nothing personal here, version 3.11.2 of the tool.")
    assert pii.filter(clean) is True and clean.signals["pii_ip"] == 0


def test_off_mode_only_counts():
    doc = Document(id="d", text=TEXT)
    assert PIIFilter(PIIConfig(mode="off")).filter(doc) is True
    assert doc.text == TEXT and doc.signals["pii_email"] == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mail a.b-c+tag@mail.co.uk today", {"email": 1, "ip": 0, "phone": 0}),
        ("hosts 8.8.8.8 and 10.0.0.1, plus 2001:db8::1", {"email": 0, "ip": 3, "phone": 0}),
        ("call 555-123-4567 or 555.123.4567 or (555) 123-4567", {"email": 0, "ip": 0, "phone": 3}),
        ("ring +44 20 7946 0958 or 020 7946 0958", {"email": 0, "ip": 0, "phone": 2}),
        ("Python 3.11.2, numpy 1.26.4 and version 1.2.0.4 and v10.0.0.1", {"email": 0, "ip": 0, "phone": 0}),
        ("On 2023-01-15, 15/01/2023 and 01.02.2023 we met; 1990-2000 was long.", {"email": 0, "ip": 0, "phone": 0}),
        ("the years 1990 2000 2010 2020 and prices 123.45 678.90", {"email": 0, "ip": 0, "phone": 0}),
        ("ISBN 978-3-16-148410-0 and 300.000.000 people; 999.1.1.1 is no address", {"email": 0, "ip": 0, "phone": 0}),
        ("at 12:30:45 the std::vector a::b broke; user@localhost", {"email": 0, "ip": 0, "phone": 0}),
    ],
)
def test_detection_and_false_positives(text, expected):
    assert counts(text) == expected


def test_odd_inputs():
    for text in ("", "@", "@@@ ...", "😀 +", "\x00" * 10, "1" * 100_000):
        doc = Document(id="d", text=text)
        assert PIIFilter(PIIConfig()).filter(doc) is True
        assert doc.signals["pii_phone"] == 0


def test_build_filters_order_config_and_pickling():
    filters = build_filters(Config())
    assert [f.name for f in filters] == ["url", "language", "quality", "toxicity", "pii"]
    config = Config(url_filter={"enabled": False}, language={"enabled": False}, quality={"enabled": False}, toxicity={"enabled": False}, pii={"mode": "drop"})
    only_pii = build_filters(config)
    assert [f.name for f in only_pii] == ["pii"] and only_pii[0].mode == "drop"
    assert build_filters(Config(pii={"enabled": False}))[-1].name == "toxicity"
    clones = pickle.loads(pickle.dumps(filters))
    doc_a, doc_b = Document(id="a", text=TEXT), Document(id="b", text=TEXT)
    for original, clone in zip(filters, clones):
        assert original.filter(doc_a) == clone.filter(doc_b)
    assert doc_a.signals == doc_b.signals and doc_a.text == doc_b.text
    assert set(doc_a.signals) == {
        "language", "language_score", "toxicity_score", "flagged_word_ratio", "pii_email", "pii_ip", "pii_phone"
    }
