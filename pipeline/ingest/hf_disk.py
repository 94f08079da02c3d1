"""A Hugging Face `datasets` dataset saved with `save_to_disk` (memory-mapped Arrow, read lazily)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.config import IngestConfig
from pipeline.documents import Document, InvalidRecord
from pipeline.ingest.records import guarded_record_to_document


def read_hf_disk(path: Path, relative: str, config: IngestConfig) -> Iterator[Document | InvalidRecord]:
    import datasets  # heavy import, paid only when such an input exists

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises FileNotFoundError/ValueError/ArrowInvalid for broken folders
        yield InvalidRecord(f"{relative}:unreadable", relative, "hf_disk", str(e)[:300])
        return
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    for split, dataset in splits:
        label = f"{relative}/{split}" if split else relative
        if config.text_field not in dataset.column_names:
            yield InvalidRecord(f"{label}:unreadable", relative, "no_text", f"no column '{config.text_field}'")
            continue
        for row, record in enumerate(dataset):
            yield guarded_record_to_document(dict(record), label, row, config)
