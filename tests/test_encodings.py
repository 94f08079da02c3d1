"""BOMs, legacy encodings, binary files and compression that lies about itself."""

import codecs
import gzip
import io
import json
import zipfile

import pytest
import zstandard

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest import discover_inputs, read_documents

FRENCH = "Le garçon a mangé une crème brûlée à l'hôtel, déjà vu. Ça coûte très cher, père Noël !"
GERMAN = "Der alte Müller ging über die Brücke; die Straße war naß und groß. Schöne Grüße aus Köln."
RUSSIAN = "Привет, как дела? Это текст на русском языке для проверки кодировки файла."
JAPANESE = "これは日本語のテキストです。文字コードの検出をテストします。"
QUOTES = "He said \u201chello\u201d \u2014 and left\u2026 for \u20ac5. " + FRENCH


def read(path, config=IngestConfig()):
    [item], _ = discover_inputs([str(path)])
    return list(read_documents(item, config))


def jsonl(*texts):
    return "".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))


def test_a_utf8_bom_is_stripped_in_jsonl_and_text(tmp_path):
    (tmp_path / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + jsonl("first", "second").encode())
    assert [r.text for r in read(tmp_path / "bom.jsonl")] == ["first", "second"]
    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8 + b"text")
    [doc] = read(tmp_path / "bom.txt")
    assert doc.text == "text" and doc.encoding is None


@pytest.mark.parametrize("text,encoding", [
    (FRENCH, "latin-1"), (QUOTES, "cp1252"), (GERMAN, "cp1252"), (RUSSIAN, "cp1251"), (RUSSIAN, "koi8-r"),
    (JAPANESE, "shift_jis"), (FRENCH, "utf-16"), (RUSSIAN, "utf-16-be"), (FRENCH, "utf-16-le"), (JAPANESE, "utf-32"),
])
def test_text_in_another_encoding_is_transcoded_and_recorded(tmp_path, text, encoding):
    body = text.encode(encoding) if encoding not in ("utf-16-be", "utf-16-le") else text.encode(encoding)
    (tmp_path / "legacy.txt").write_bytes(body)
    [doc] = read(tmp_path / "legacy.txt")
    assert isinstance(doc, Document) and doc.text == text
    assert doc.encoding is not None


def test_jsonl_in_utf16_with_a_bom_is_transcoded_line_by_line(tmp_path):
    (tmp_path / "wide.jsonl").write_bytes(jsonl(FRENCH, RUSSIAN, "plain").encode("utf-16"))
    docs = read(tmp_path / "wide.jsonl")
    assert [d.text for d in docs] == [FRENCH, RUSSIAN, "plain"]
    assert {d.encoding for d in docs} == {"utf-16-le"}


def test_a_jsonl_line_that_is_not_utf8_stays_invalid_utf8(tmp_path):
    (tmp_path / "mixed.jsonl").write_bytes(jsonl("good", "caf\u00e9 ok").encode() + b'{"text": "caf\xe9"}\n')
    records = read(tmp_path / "mixed.jsonl")
    assert [type(r).__name__ for r in records] == ["Document", "Document", "InvalidRecord"]
    assert records[2].reason == "utf8" and records[0].encoding is None


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a.txt", "hello " * 100)
    return buffer.getvalue()


@pytest.mark.parametrize("name,body", [
    ("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
    ("archive.txt", _zip_bytes()),
    ("noise.jsonl", bytes((i * 7919) % 256 for i in range(5000))),
    ("zeros.txt", b"\x00" * 4096),
    ("tarball.jsonl.gz", gzip.compress(b"x" * 257 + b"ustar\x0000" + b"\x00" * 300)),
])
def test_binary_files_are_invalid_binary(tmp_path, name, body):
    (tmp_path / name).write_bytes(body)
    [record] = read(tmp_path / name)
    assert isinstance(record, InvalidRecord) and record.reason == "binary"


def test_a_few_nuls_in_text_do_not_make_it_binary(tmp_path):
    (tmp_path / "nul.txt").write_bytes(FRENCH.encode() + b"\x00" + GERMAN.encode())
    [doc] = read(tmp_path / "nul.txt")
    assert isinstance(doc, Document) and "\x00" in doc.text  # the cleaner removes it


def test_compression_is_recognised_by_magic_bytes_whatever_the_name(tmp_path):
    lines = jsonl("one", "two").encode()
    (tmp_path / "really-gzip.jsonl").write_bytes(gzip.compress(lines))
    (tmp_path / "really-plain.jsonl.gz").write_bytes(lines)
    (tmp_path / "really-zstd.jsonl.gz").write_bytes(zstandard.ZstdCompressor().compress(lines))
    (tmp_path / "gzipped.txt").write_bytes(gzip.compress(FRENCH.encode("latin-1")))
    for name in ("really-gzip.jsonl", "really-plain.jsonl.gz", "really-zstd.jsonl.gz"):
        assert [r.text for r in read(tmp_path / name)] == ["one", "two"], name
    [doc] = read(tmp_path / "gzipped.txt")
    assert doc.text == FRENCH and doc.encoding is not None


def test_multi_member_gzip_and_concatenated_zstd_are_read_whole(tmp_path):
    (tmp_path / "multi.jsonl.gz").write_bytes(gzip.compress(jsonl("a").encode()) + gzip.compress(jsonl("b").encode()))
    frame = zstandard.ZstdCompressor().compress
    (tmp_path / "multi.jsonl.zst").write_bytes(frame(jsonl("a").encode()) + frame(jsonl("b").encode()))
    assert [r.text for r in read(tmp_path / "multi.jsonl.gz")] == ["a", "b"]
    assert [r.text for r in read(tmp_path / "multi.jsonl.zst")] == ["a", "b"]


def test_cr_only_line_ends_split_lines(tmp_path):
    (tmp_path / "mac.jsonl").write_bytes(jsonl("one", "two", "three").replace("\n", "\r").encode())
    assert [r.text for r in read(tmp_path / "mac.jsonl")] == ["one", "two", "three"]
    (tmp_path / "mac.txt").write_bytes(b"para one\rline\r\rpara two\r")
    docs = read(tmp_path / "mac.txt", IngestConfig(text_mode="paragraphs"))
    assert [d.text for d in docs] == ["para one\nline", "para two"]


def test_a_truncated_gzip_text_file_is_invalid_truncated_archive(tmp_path):
    blob = gzip.compress((FRENCH * 200).encode())
    (tmp_path / "cut.txt").write_bytes(blob[: len(blob) // 2])
    [record] = read(tmp_path / "cut.txt")
    assert isinstance(record, InvalidRecord) and record.reason == "truncated_archive"
