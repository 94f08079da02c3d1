"""The per-record guard: whatever one record raises, it becomes an `invalid:<why>` row and the rest go on.

Readers classify the faults they know (bad JSON, bad UTF-8, a truncated archive). This module
catches the rest: a `RecursionError` from JSON nested 50,000 deep, a `MemoryError` from one giant
value, a `UnicodeError`, or any other exception a reader, the cleaner or a filter raises for one
record. It also makes every string leaving ingest valid Unicode that Arrow can write.

Lone surrogates (`"\\ud800"` is valid JSON, and Python keeps it as one code point that UTF-8
cannot encode) are replaced with U+FFFD and counted, not quarantined: the rest of such a document
is usually good text, and the replacement character is what every UTF-8 decoder shows for an
unreadable unit anyway. The count goes to the file's statistics and the report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.documents import Document, InvalidRecord

# In a Python str a surrogate code point is always unpaired: the JSON decoder joins valid pairs.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass
class GuardCounts:
    """What the guard repaired or caught in one input file."""

    surrogates_replaced: int = 0
    records_caught: int = 0


def why(error: BaseException) -> str:
    """A stable `invalid:` suffix for an exception nobody classified."""
    if isinstance(error, RecursionError):
        return "too_deep"
    if isinstance(error, MemoryError):
        return "too_large"
    if isinstance(error, UnicodeError):
        return "unicode"
    return f"error:{type(error).__name__}"


def valid_unicode(text: str, counts: GuardCounts) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (counted in `counts`)."""
    fixed, replaced = _SURROGATE.subn(REPLACEMENT, text)
    counts.surrogates_replaced += replaced
    return fixed


def metadata_json(metadata: dict) -> str | None:
    """The metadata as the ledger stores it (JSON, keys sorted); None when empty."""
    if not metadata:
        return None
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True, default=str)


def repair(record: Document | InvalidRecord, counts: GuardCounts) -> Document | InvalidRecord:
    """The record with valid Unicode everywhere; a record whose metadata cannot even be written
    (nested too deep for the JSON encoder, keys of mixed types) becomes an InvalidRecord."""
    if isinstance(record, InvalidRecord):
        record.id = valid_unicode(record.id, counts)
        record.source = valid_unicode(record.source, counts)
        record.detail = valid_unicode(record.detail, counts)
        return record
    record.id = valid_unicode(record.id, counts)
    record.text = valid_unicode(record.text, counts)
    if record.metadata:
        try:
            dumped = metadata_json(record.metadata)
        except Exception as e:  # RecursionError, TypeError for unsortable keys, ...
            counts.records_caught += 1
            return InvalidRecord(record.id, record.source, f"metadata:{why(e)}", str(e)[:300])
        if dumped is not None and _SURROGATE.search(dumped):
            record.metadata = json.loads(valid_unicode(dumped, counts))
    return record


def guarded(records: Iterator[Document | InvalidRecord], fallback_id: str, source: str,
            counts: GuardCounts) -> Iterator[Document | InvalidRecord]:
    """Every record of a reader, repaired; if the reader itself raises, one InvalidRecord says why
    (a generator that raised cannot go on, so what it yielded before stays, and the file ends there)."""
    try:
        for record in records:
            yield repair(record, counts)
    except Exception as e:
        counts.records_caught += 1
        # OSError, ValueError, EOFError: the file (or what is left of it) could not be read.
        reason = "unreadable" if isinstance(e, (OSError, ValueError, EOFError)) else why(e)
        yield InvalidRecord(fallback_id, source, reason, valid_unicode(str(e), counts)[:300])
