"""The embedded default corpus: real text that is on every machine after `pip install`.

- The Python documentation that ships with CPython (`pydoc_data.topics`: the language reference
  and library topics `help()` shows), one document per topic.
- The long descriptions of the installed packages (their README as published on PyPI), by many
  authors, some of it not in English.
- The licence files inside the installed packages: real exact and near duplicates (hundreds of
  MIT, BSD and Apache texts that differ in a name or a year), which the dedup stage should catch.

The corpus depends only on the installed environment, so the same install gives the same corpus.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
from pathlib import Path

LICENSE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS")


def _write_jsonl(path: Path, records: list[dict[str, str]]) -> int:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return len(records)


def python_docs() -> list[dict[str, str]]:
    from pydoc_data.topics import topics

    return [{"id": f"python-docs:{name}", "text": text, "collection": "python-docs"}
            for name, text in sorted(topics.items())]


def _distributions() -> list[metadata.Distribution]:
    unique: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if name and name not in unique:
            unique[name] = dist
    return [unique[name] for name in sorted(unique)]


def package_descriptions() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    descriptions, licenses = [], []
    for dist in _distributions():
        name = dist.metadata["Name"].lower()
        body = dist.metadata.get_payload() if hasattr(dist.metadata, "get_payload") else None
        text = body or dist.metadata.get("Description") or ""
        if text.strip():
            descriptions.append({"id": f"pypi:{name}", "text": text, "collection": "package-descriptions",
                                 "package": name, "version": dist.version})
        for file in sorted(dist.files or [], key=str):
            if any(marker in file.name.upper() for marker in LICENSE_NAMES) and not file.name.endswith(".py"):
                try:
                    text = file.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if text and text.strip():
                    licenses.append({"id": f"license:{name}:{file.as_posix()}", "text": text,
                                     "collection": "package-licenses", "package": name})
    return descriptions, licenses


def write_demo_corpus(out_dir: Path) -> dict[str, int]:
    """Write the corpus as three JSONL files in out_dir; return their document counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    descriptions, licenses = package_descriptions()
    return {
        "python_docs.jsonl": _write_jsonl(out_dir / "python_docs.jsonl", python_docs()),
        "package_descriptions.jsonl": _write_jsonl(out_dir / "package_descriptions.jsonl", descriptions),
        "package_licenses.jsonl": _write_jsonl(out_dir / "package_licenses.jsonl", licenses),
    }
