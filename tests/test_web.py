"""Web input: WARC/ARC/WET/HTML readers, charsets, main-text extraction, broken archives, URL filter."""

import gzip
import random

import pytest

from pipeline.config import Config, ExtractConfig, IngestConfig, UrlFilterConfig
from pipeline.documents import Document, InvalidRecord, SkippedRecord
from pipeline.extract import MainTextExtractor, decode_html
from pipeline.filters.url import URLFilter, domain_chain
from pipeline.ingest import discover_inputs, read_documents
from corpus import paragraph
from web_fixtures import article_html, record_starts, write_arc, write_warc, write_wet


def read_all(path):
    files, unreadable = discover_inputs([str(path)])
    assert not unreadable and len(files) == 1
    config = Config()
    return list(read_documents(files[0], config.ingest, config.extract))


def docs_of(records):
    return [r for r in records if isinstance(r, Document)]


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_warc_pages_come_out_as_their_article_with_metadata(tmp_path, name):
    made = write_warc(tmp_path / name)
    records = read_all(tmp_path / name)
    docs = docs_of(records)
    html_docs = [d for d in docs if d.metadata["content_type"] == "text/html"]
    assert [d.metadata["url"] for d in html_docs] == [url for url, _, _ in made]
    for doc, (_, _, paragraphs) in zip(html_docs, made):
        for p in paragraphs:
            assert p in doc.text  # the article is there ...
        assert "Section 3" not in doc.text and "All rights reserved" not in doc.text  # ... the menu and footer are not
        assert doc.id.startswith("urn:uuid:") and doc.metadata["warc_record_id"] == f"<{doc.id}>"
        assert doc.metadata["charset"] == "utf-8" and doc.metadata["warc_date"]
        assert doc.metadata["extract_method"] == "gated"
    plain = [d for d in docs if d.metadata["content_type"] == "text/plain"]
    assert [d.text for d in plain] == ["Plain notes, taken as they are.\n"]  # as it is, byte for byte
    skipped = sorted(r.kind for r in records if isinstance(r, SkippedRecord))
    assert skipped == ["request"] * 4 + ["response:image/png", "response:status_404", "warcinfo"]
    assert not [r for r in records if isinstance(r, InvalidRecord)]


def test_wet_conversion_records_are_taken_as_they_are(tmp_path):
    write_wet(tmp_path / "crawl.wet.gz", ["First page text.\nSecond line.", "Zweite Seite, auf Deutsch."])
    docs = docs_of(read_all(tmp_path / "crawl.wet.gz"))
    assert [d.text for d in docs] == ["First page text.\nSecond line.", "Zweite Seite, auf Deutsch."]
    assert docs[1].metadata["url"] == "https://wet.example.org/1"


@pytest.mark.parametrize("name", ["old.arc", "old.arc.gz"])
def test_arc_records_get_file_and_offset_ids(tmp_path, name):
    html = article_html("Old page", ["An old page from the time before WARC files, kept in an ARC file."])
    write_arc(tmp_path / name, "http://old.example.com/", html)
    records = read_all(tmp_path / name)
    docs = docs_of(records)
    assert len(docs) == 1 and docs[0].metadata["url"] == "http://old.example.com/"
    assert docs[0].id.startswith(f"{name}:") and docs[0].metadata["warc_record_id"] is None
    assert "before WARC files" in docs[0].text
    assert docs_of(read_all(tmp_path / name))[0].id == docs[0].id  # stable, not warcio's random uuid


def test_html_files_plain_and_gzipped_with_their_charset(tmp_path):
    text = "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 8
    page = article_html("Страница", [text], charset="windows-1251")
    (tmp_path / "ru.html").write_bytes(page.encode("cp1251"))
    (tmp_path / "ru.htm.gz").write_bytes(gzip.compress(page.encode("cp1251")))
    for name in ("ru.html", "ru.htm.gz"):
        [doc] = docs_of(read_all(tmp_path / name))
        assert doc.id == name and doc.metadata["charset"] == "cp1251" and doc.metadata["url"] is None
        assert "французских булок" in doc.text


def test_charset_order_header_then_meta_then_detection():
    page = '<html><head><meta charset="iso-8859-7"></head><body><p>Ελληνικά γράμματα εδώ</p></body></html>'
    assert decode_html(page.encode("utf-8"), "text/html; charset=UTF-8") == (page, "utf-8")
    assert decode_html(page.encode("iso-8859-7"), "text/html")[1] == "iso8859-7"  # the meta tag
    # a declared charset that cannot decode the bytes is passed over, never trusted blindly
    assert decode_html(page.encode("utf-8"), "text/html; charset=ascii")[1] != "ascii"
    undeclared = "<html><body><p>" + "Grüße aus München, schöne Grüße! " * 20 + "</p></body></html>"
    text, charset = decode_html(undeclared.encode("utf-8"))
    assert text == undeclared and charset == "utf-8"


def test_broken_archives_give_reasons_and_reading_goes_on(tmp_path):
    for gzipped in (False, True):
        good = tmp_path / ("good.warc.gz" if gzipped else "good.warc")
        write_warc(good, n_pages=3)
        data = good.read_bytes()
        starts = record_starts(data)
        first_response = starts[2]  # warcinfo, request, response, ...
        # the start of one record overwritten: that record is quarantined, the rest read
        garbled = data[:first_response] + b"\x00GARBAGE\x00" + data[first_response + 9:]
        (tmp_path / f"garbled{good.name}").write_bytes(garbled)
        records = read_all(tmp_path / f"garbled{good.name}")
        invalid = [r for r in records if isinstance(r, InvalidRecord)]
        assert [r.reason for r in invalid] == ["warc_record"], invalid
        assert len([d for d in docs_of(records) if d.metadata["content_type"] == "text/html"]) == 2
        # cut in the middle of a record: everything before it comes through, the cut is reported
        cut = tmp_path / f"cut{good.name}"
        cut.write_bytes(data[:starts[4] + 300])
        records = read_all(cut)
        assert len(docs_of(records)) == 1
        assert [r.reason for r in records if isinstance(r, InvalidRecord)] == ["truncated_record"]


def test_every_extraction_method_keeps_the_article(tmp_path):
    _, html, paragraphs = write_warc(tmp_path / "x.warc", n_pages=1)[0]
    for method in ("consensus", "gated", "trafilatura", "resiliparse"):
        text = MainTextExtractor(method)(html)
        assert all(p in text for p in paragraphs), method
    with pytest.raises(ValueError, match="extract.method"):
        MainTextExtractor("readability")  # type: ignore[arg-type]
    assert ExtractConfig().method == "gated" and IngestConfig()


def test_url_filter_user_lists():
    url_filter = URLFilter(UrlFilterConfig(default_lists=False, block_domains=["spam.example"],
                                           block_words=["casino"], allow_domains=["good.spam.example"]))
    verdict = lambda url: url_filter.filter(Document("d", "text", metadata={"url": url}))  # noqa: E731
    assert verdict("https://www.spam.example/page") == (False, "url:domain")
    assert verdict("https://good.spam.example/page") is True
    assert verdict("https://news.example.org/best-casino-bonus") == (False, "url:word")
    assert verdict("https://news.example.org/casinos") is True  # a word, not a substring
    assert url_filter.filter(Document("d", "text")) is True  # not from the web: nothing to judge
    assert domain_chain("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com"]


@pytest.mark.slow
def test_url_filter_default_lists_come_from_datatrove():
    from pipeline.filters.url import _cache_dir

    url_filter = URLFilter(UrlFilterConfig())  # the user's cache, as builds use it: built once per machine
    verdict = lambda url: url_filter.filter(Document("d", "text", metadata={"url": url}))  # noqa: E731
    assert verdict("https://www.0-1sex.com/") == (False, "url:domain")  # UT1's adult list
    assert verdict("https://example.org/free-porn-videos")[1] in ("url:word", "url:soft_words", "url:subword")
    assert verdict("https://www.bbc.co.uk/news/science") is True
    assert list(_cache_dir().glob("ut1-domains-*.npy"))  # built once, then read from the cache


# -- a whole build over web input, and the published documents ------------------------------------

BUILD = {
    "ingest": {"workers": 1},
    "url_filter": {"default_lists": False, "block_domains": ["news2.example.org"]},
    "tokenizer": {"vocab_size": 300},
    "shards": {"seq_len": 16, "val_fraction": 0.25},
    "documents": {"license": "cc-by-4.0", "rows_per_file": 3},
}


@pytest.fixture(scope="module")
def web_build(tmp_path_factory):
    from pipeline.build import build
    from pipeline.config import parse_config

    inputs = tmp_path_factory.mktemp("web")
    write_warc(inputs / "crawl.warc.gz", n_pages=9)
    write_warc(inputs / "plain.warc", n_pages=3, seed=1)
    write_wet(inputs / "text.wet", ["A line of text with too few words."])
    _, html, _ = write_warc(inputs / "unused.warc", n_pages=1, seed=2)[0]
    (inputs / "unused.warc").unlink()
    write_arc(inputs / "old.arc", "http://old.example.com/", html)
    rng = random.Random(7)
    saved = article_html("Saved", [paragraph(rng, 8) for _ in range(2)])
    (inputs / "page.html.gz").write_bytes(gzip.compress(saved.encode()))
    out = tmp_path_factory.mktemp("out") / "build"
    results = build([str(inputs)], out, parse_config(BUILD))
    return out, results


def test_a_web_build_publishes_its_documents_with_urls(web_build):
    import json

    import datasets
    import polars as pl
    import pyarrow.parquet as pq
    import yaml

    out, results = web_build
    ledger = pq.read_table(out / "ledger.parquet").to_pylist()
    reasons = {r["doc_id"]: r["drop_reason"] for r in ledger}
    url_of = {r["doc_id"]: json.loads(r["metadata"] or "{}").get("url") for r in ledger}
    assert {reasons[d] for d, url in url_of.items() if url and "news2.example.org" in url} == {"url:domain"}
    kept = [r["doc_id"] for r in ledger if r["kept"]]
    assert results["ledger"]["documents"] == len(kept) > 0

    files = sorted((out / "documents").glob("*.parquet"))
    table = pq.read_table(files)  # pyarrow
    assert sorted(table.column("id").to_pylist()) == sorted(kept)
    web_rows = [r for r in table.to_pylist() if r["url"]]
    assert web_rows and all(r["url"] == url_of[r["id"]] and r["text"] for r in web_rows)
    assert any(r["url"] is None and r["source"] == "page.html.gz" for r in table.to_pylist())
    assert max(pq.ParquetFile(f).metadata.num_rows for f in files) <= 3
    frame = pl.read_parquet(out / "documents" / "*.parquet")  # polars
    assert frame.height == len(kept) and set(frame["split"].unique()) <= {"train", "val"}
    loaded = datasets.load_dataset("parquet", data_files=[str(f) for f in files], split="train")  # Hugging Face
    assert sorted(loaded["id"]) == sorted(kept) and "language_score" in loaded.column_names

    card = (out / "documents" / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "cc-by-4.0"
    [config] = front["configs"]
    assert {f["split"] for f in config["data_files"]} <= {"train", "validation"}
    by_card = datasets.load_dataset(str(out / "documents"))  # the folder as it would be pushed to the Hub
    assert sum(len(split) for split in by_card.values()) == len(kept)

    report = json.loads((out / "report.json").read_text())
    web = report["web"]
    assert web["skipped_records"]["request"] == 12 and web["skipped_records"]["response:image/png"] == 2
    news2 = [d for d in web["by_domain"] if d["domain"] == "news2.example.org"][0]
    assert news2["url_dropped"] == news2["documents"] > 0 and news2["kept"] == 0


def test_documents_can_be_switched_off(tmp_path):
    from pipeline.build import build
    from pipeline.config import parse_config

    (tmp_path / "in").mkdir()
    write_warc(tmp_path / "in" / "crawl.warc", n_pages=2)
    config = {**BUILD, "documents": {"enabled": False}, "tokenizer": {"enabled": False}}
    build([str(tmp_path / "in")], tmp_path / "out", parse_config(config))
    assert (tmp_path / "out" / "ledger.parquet").is_file() and not (tmp_path / "out" / "documents").exists()
