"""The document filters, in chain order: language, quality, toxicity, PII.

Language comes first, as in FineWeb: a French page fails Gopher's English stop-word rule, but
its real reason is its language. PII comes last because it may rewrite the text (redaction)
and the other filters should judge the text as written. Each filter records its signals on
every document it sees; the first failing filter's reason is the document's drop reason.
"""

from __future__ import annotations

from pipeline.config import Config
from pipeline.documents import Document, DocumentFilter, FilterResult
from pipeline.filters.language import LanguageFilter, LanguageIdentifier
from pipeline.filters.pii import PIIFilter
from pipeline.filters.toxicity import ToxicityFilter, ToxicityModel

__all__ = [
    "build_filters",
    "filter_many",
    "LanguageFilter",
    "LanguageIdentifier",
    "PIIFilter",
    "QualityFilter",
    "ToxicityFilter",
    "ToxicityModel",
]


def build_filters(config: Config) -> list[DocumentFilter]:
    """The enabled filters, configured, in chain order."""
    filters: list[DocumentFilter] = []
    if config.language.enabled:
        filters.append(LanguageFilter(config.language))
    if config.quality.enabled:
        from pipeline.filters.quality import QualityFilter  # spacy and datatrove: seconds to import

        filters.append(QualityFilter(config.quality))
    if config.toxicity.enabled:
        filters.append(ToxicityFilter(config.toxicity))
    if config.pii.enabled:
        filters.append(PIIFilter(config.pii))
    return filters


def __getattr__(name: str) -> object:
    if name == "QualityFilter":  # imported on first use (see build_filters)
        from pipeline.filters.quality import QualityFilter

        return QualityFilter
    raise AttributeError(name)


def filter_many(document_filter: DocumentFilter, docs: list[Document]) -> list[FilterResult | Exception]:
    """The filter's verdict on each document, through its `filter_batch` when it has one (the
    numpy work of a batch of tweets then runs once, not per tweet). An exception is returned in
    place of the verdict of the document that raised it, so one odd document spoils nothing else."""
    batch = getattr(document_filter, "filter_batch", None)
    if batch is not None and len(docs) > 1:
        try:
            return batch(docs)
        except Exception:
            pass  # find the culprit one document at a time
    results: list[FilterResult | Exception] = []
    for doc in docs:
        try:
            results.append(document_filter.filter(doc))
        except Exception as e:
            results.append(e)
    return results
