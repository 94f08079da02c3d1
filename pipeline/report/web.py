"""The web section of the report: documents per domain, records skipped, charsets, extractors.

Reads the ledger's `metadata` column one batch at a time; memory grows with the number of
distinct domains (one small counter each), not with documents.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.filters.url import host_of
from pipeline.parquet_stream import open_parquet

TOP_DOMAINS = 50
BATCH_ROWS = 8192


def domain_of(url: str) -> str | None:
    host = host_of(url)
    return host[4:] if host and host.startswith("www.") else host


def web_summary(ledger: Path, stats: dict[str, Any]) -> dict[str, Any] | None:
    """None when the build read no web input."""
    skipped: Counter[str] = Counter()
    for entry in stats.get("inputs") or []:
        if isinstance(entry, dict):
            skipped.update(entry.get("skipped_records") or {})
    documents: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    url_dropped: Counter[str] = Counter()
    charsets: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    with_url = 0
    columns = ["kept", "drop_reason", "metadata"]
    parquet = open_parquet(ledger) if ledger.is_file() else None
    if parquet is not None and set(columns) <= set(parquet.schema_arrow.names):
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            for is_kept, reason, metadata in zip(*(batch.column(i).to_pylist() for i in range(3))):
                if not metadata or '"charset"' not in metadata:  # not a web document: skip the JSON parse
                    continue
                fields = json.loads(metadata)
                charsets[str(fields.get("charset"))] += 1
                if fields.get("extract_method"):
                    methods[fields["extract_method"]] += 1
                domain = domain_of(fields["url"]) if isinstance(fields.get("url"), str) else None
                if domain is None:
                    continue
                with_url += 1
                documents[domain] += 1
                kept[domain] += bool(is_kept)
                url_dropped[domain] += bool(reason and reason.startswith("url"))
    if not (charsets or skipped):
        return None
    by_domain = [{"domain": d, "documents": n, "kept": kept[d], "url_dropped": url_dropped[d]}
                 for d, n in sorted(documents.items(), key=lambda item: (-item[1], item[0]))[:TOP_DOMAINS]]
    return {"documents_with_url": with_url, "domains": len(documents), "by_domain": by_domain,
            "skipped_records": dict(skipped.most_common()), "charsets": dict(charsets.most_common()),
            "extract_methods": dict(methods.most_common())}
