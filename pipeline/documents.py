"""The Document record that flows through every stage, and the stable drop-reason codes.

A stage never deletes a document: it records signals on it and, when a filter rejects it,
says why with one of the codes below. The ledger keeps one row per input document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Union

# Stable drop-reason codes written to ledger.parquet (`drop_reason`). Filters may refine a code
# with a suffix after a colon, e.g. "quality:gopher_repetition:top_2_gram" or "invalid:utf8".
INVALID = "invalid"  # "invalid:<why>": a line or record that could not be read at all
EMPTY = "empty"  # nothing left after cleaning
QUALITY = "quality"  # "quality:<filter>:<rule>"
LANGUAGE = "language"
TOXICITY = "toxicity"
PII = "pii"
EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"


@dataclass
class Document:
    """One input document.

    `metadata` holds the input's own fields besides id and text (the datatrove/Dolma convention);
    `signals` holds what stages computed (language, language_score, toxicity_score, ...).
    """

    id: str
    text: str
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None  # the input's encoding when it was transcoded; None for UTF-8


@dataclass
class InvalidRecord:
    """A line, record or file that could not be read as a document: it still gets a ledger row."""

    id: str
    source: str
    reason: str  # without the "invalid:" prefix, e.g. "utf8", "json", "truncated_gzip"
    detail: str = ""
    encoding: str | None = None  # as on Document


# A filter says keep (True) or why not: (False, "reason").
FilterResult = Union[bool, tuple[bool, str]]


class DocumentFilter(Protocol):
    """The shape of every filter in pipeline/filters (modelled on datatrove's BaseFilter)."""

    name: str

    def filter(self, doc: Document) -> FilterResult: ...

    # optional: def filter_batch(self, docs: list[Document]) -> list[FilterResult], the same
    # verdicts as filter() one by one (pipeline.filters.filter_many uses it when present)


def drop_reason(result: FilterResult, default: str) -> str | None:
    """None when `result` keeps the document, else its reason (or `default` when none was given)."""
    if result is True:
        return None
    if result is False:
        return default
    keep, reason = result
    return None if keep else (reason or default)
