"""The curated corpus as a dataset: DIR/documents/*.parquet and a Hugging Face dataset card.

One row per kept document: its text as cleaned (the text the tokenizer saw), where it came from
(`source`, and `url` for web pages), every signal the filters recorded, and the input's metadata.
Files are cut by split (`train-00000.parquet`, `val-00000.parquet`, ...), and README.md names them
in its YAML front matter, so the folder loads as it is:

    datasets.load_dataset("parquet", data_files="DIR/documents/train-*.parquet")
    datasets.load_dataset("DIR/documents")          # both splits, through the card
    polars.scan_parquet("DIR/documents/*.parquet")

Streams: the ledger's kept rows and the kept texts are read batch by batch, in the same order
(the ledger writes both from one pass), and each split's writer holds one batch.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import Config
from pipeline.parquet_stream import open_parquet

DOCUMENTS_SCHEMA_VERSION = 1
BATCH_ROWS = 4096
SPLIT_NAMES = {"train": "train", "val": "validation"}  # file prefix -> Hugging Face split name

# (name, type, nullable, meaning), the column order of the files.
_FIELDS: list[tuple[str, pa.DataType, bool, str]] = [
    ("id", pa.string(), False, "the document's id (a web page: its WARC-Record-ID, or '<file>:<offset>')"),
    ("text", pa.string(), False, "the text as cleaned, PII redacted when pii.mode is redact: what the tokenizer saw"),
    ("source", pa.string(), False, "the input file the document came from"),
    ("url", pa.string(), True, "the page's URL (null when the document is not from the web)"),
    ("split", pa.string(), False, "'train' or 'val': the split the token shards put it in"),
    ("language", pa.string(), True, "langdetect language code"),
    ("language_score", pa.float64(), True, "probability of `language`, in [0, 1]"),
    ("toxicity_score", pa.float64(), True, "toxicity score in [0, 1] (worst window for long documents)"),
    ("flagged_word_ratio", pa.float64(), True, "share of words on the flagged-word list"),
    ("pii_email", pa.int64(), True, "email addresses found (and redacted when pii.mode is redact)"),
    ("pii_ip", pa.int64(), True, "IP addresses found"),
    ("pii_phone", pa.int64(), True, "phone numbers found"),
    ("n_chars", pa.int64(), False, "characters of `text`"),
    ("metadata", pa.string(), True, "the input's other fields as JSON (web pages: url, warc_record_id, warc_date, "
                                    "content_type, charset, extract_method); null when none"),
]
DOCUMENTS_SCHEMA = pa.schema(
    [pa.field(n, t, nullable=nullable, metadata={"description": d}) for n, t, nullable, d in _FIELDS],
    metadata={"gristmill.documents.schema_version": str(DOCUMENTS_SCHEMA_VERSION)},
)
_FROM_LEDGER = ("source", "split", "language", "language_score", "toxicity_score", "flagged_word_ratio",
                "pii_email", "pii_ip", "pii_phone", "metadata")


def documents_schema_json() -> dict[str, Any]:
    """DOCUMENTS_SCHEMA as plain JSON (what schemas/documents.arrow-schema.json holds)."""
    return {
        "title": "gristmill documents/*.parquet",
        "description": "Arrow schema of DIR/documents/{train,val}-NNNNN.parquet: one row per kept document.",
        "schema_version": DOCUMENTS_SCHEMA_VERSION,
        "fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable,
                    "description": f.metadata[b"description"].decode()} for f in DOCUMENTS_SCHEMA],
    }


def _kept_ledger_rows(ledger: Path) -> Iterator[dict[str, Any]]:
    columns = ["doc_id", "kept", *_FROM_LEDGER]
    for batch in open_parquet(ledger).iter_batches(batch_size=BATCH_ROWS, columns=columns):
        for row in batch.to_pylist():
            if row["kept"]:
                yield row


def _kept_texts(parts: list[Path]) -> Iterator[tuple[str, str]]:
    for part in parts:
        for batch in open_parquet(part).iter_batches(batch_size=BATCH_ROWS):
            yield from zip(batch.column("doc_id").to_pylist(), batch.column("text").to_pylist())


def _url(metadata: str | None) -> str | None:
    if not metadata:
        return None
    url = json.loads(metadata).get("url")
    return url if isinstance(url, str) else None


class _SplitWriter:
    """Parquet files of one split, `rows_per_file` rows each, written to a temporary folder."""

    def __init__(self, folder: Path, prefix: str, rows_per_file: int) -> None:
        self.folder, self.prefix, self.rows_per_file = folder, prefix, rows_per_file
        self.files = 0
        self.rows_in_file = 0
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.pending.append(row)
        if len(self.pending) >= BATCH_ROWS or self.rows_in_file + len(self.pending) >= self.rows_per_file:
            self.flush()

    def flush(self) -> None:
        while self.pending:
            if self.writer is None:
                path = self.folder / f"{self.prefix}-{self.files:05d}.parquet"
                self.writer = pq.ParquetWriter(path, DOCUMENTS_SCHEMA, compression="zstd")
                self.files += 1
            room = self.rows_per_file - self.rows_in_file
            chunk, self.pending = self.pending[:room], self.pending[room:]
            self.writer.write_table(pa.Table.from_pylist(chunk, schema=DOCUMENTS_SCHEMA))
            self.rows_in_file += len(chunk)
            if self.rows_in_file >= self.rows_per_file:
                self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer, self.rows_in_file = None, 0


def write_documents(root: Path, kept_parts: list[Path], config: Config) -> dict[str, Any]:
    """Write DIR/documents/ (replacing an earlier one atomically); return its counts."""
    out = root / "documents"
    tmp = root / "work" / "documents.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writers = {prefix: _SplitWriter(tmp, prefix, config.documents.rows_per_file) for prefix in SPLIT_NAMES}
    rows: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    with_url = 0
    texts = _kept_texts(kept_parts)
    for entry in _kept_ledger_rows(root / "ledger.parquet"):
        doc_id, text = next(texts, (None, None))
        if doc_id != entry["doc_id"] or text is None:
            raise RuntimeError(f"work/kept/ and ledger.parquet disagree at {entry['doc_id']!r}: rebuild with --overwrite")
        url = _url(entry["metadata"])
        split = entry["split"] if entry["split"] in writers else "train"
        writers[split].add({"id": doc_id, "text": text, "url": url, "n_chars": len(text),
                            **{k: entry[k] for k in _FROM_LEDGER}, "split": split})
        rows[split] += 1
        languages[entry["language"] or "unknown"] += 1
        with_url += url is not None
    for writer in writers.values():
        writer.flush()
        writer.close()
    summary = {"documents": sum(rows.values()), "by_split": dict(rows), "with_url": with_url,
               "languages": dict(languages.most_common(20)),
               "files": {prefix: w.files for prefix, w in writers.items()}}
    (tmp / "README.md").write_text(dataset_card(root.name, config, summary), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return summary


def dataset_card(build_name: str, config: Config, summary: dict[str, Any]) -> str:
    """README.md with Hugging Face's YAML front matter: licence, and one config naming the files."""
    splits = [(prefix, name) for prefix, name in SPLIT_NAMES.items() if summary["files"].get(prefix)]
    data_files = "".join(f"  - split: {name}\n    path: \"{prefix}-*.parquet\"\n" for prefix, name in splits)
    title = config.documents.pretty_name or build_name
    languages = ", ".join(f"{lang} {n:,}" for lang, n in summary["languages"].items())
    columns = "\n".join(f"| `{f.name}` | {f.type} | {f.metadata[b'description'].decode()} |" for f in DOCUMENTS_SCHEMA)
    return (
        "---\n"
        f"license: {json.dumps(config.documents.license)}\n"
        f"pretty_name: {json.dumps(title)}\n"
        "configs:\n"
        "- config_name: default\n"
        f"  data_files:\n{data_files}"
        "---\n\n"
        f"# {title}\n\n"
        "The documents a gristmill build kept, one row each, with the text as cleaned and every signal its "
        "filters recorded. Why each other input document was dropped is in the build's `ledger.parquet`.\n\n"
        f"- documents: {summary['documents']:,} ({', '.join(f'{k} {v:,}' for k, v in summary['by_split'].items())})\n"
        f"- from the web (with a URL): {summary['with_url']:,}\n"
        f"- languages: {languages or 'none'}\n"
        f"- build config sha256: `{config.sha256()}`\n\n"
        "```python\n"
        "from datasets import load_dataset\n"
        "ds = load_dataset(\"parquet\", data_files={\"train\": \"train-*.parquet\", \"validation\": \"val-*.parquet\"})\n"
        "```\n\n"
        "| column | type | meaning |\n|---|---|---|\n"
        f"{columns}\n"
    )
