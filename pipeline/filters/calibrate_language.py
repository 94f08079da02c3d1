"""Write language_reference.json (each language's usual trigram fit and function-word share) and
function_words.json (the function-word lists, from spaCy), for the tests of unknown languages.

    .venv/bin/python -m pipeline.filters.calibrate_language [--dev ../shared/data/langid/udhr_langid_dev.jsonl]

For every supported language, the median `log_likelihood`, `coverage` and `relative_coverage`
(language_fit.py) of its dev paragraphs that the identifier labels right (the UDHR dev set: 16
paragraphs for each of langdetect's 55 languages; CJK is settled by script and needs none), and
the median share of function words (language_function_words.py). Only the supported-language set
is read; the margins below those medians were chosen on the unsupported-language set (see
language_fit.py and language_function_words.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from collections import defaultdict
from pathlib import Path

from pipeline.filters.langdetect_model import langdetect_profiles
from pipeline.filters.language import LanguageIdentifier, sample_windows
from pipeline.filters.language_fit import REFERENCE_PATH, trigram_fits
from pipeline.filters.language_function_words import FUNCTION_WORDS_PATH, function_word_share, function_words

DEFAULT_DEV = Path("/work/shared/data/langid/udhr_langid_dev.jsonl")
SPACY_CODE = {"no": "nb"}  # langdetect code -> spaCy's, where they differ
UNSPACED = {"th", "ja", "ko", "zh-cn", "zh-tw"}  # no spaces between words: a word list cannot be matched


def write_function_words(path: Path = FUNCTION_WORDS_PATH) -> int:
    """Copy spaCy's stop-word lists of the supported languages into `path`; returns how many."""
    import importlib

    import spacy

    languages = {}
    for label in sorted(langdetect_profiles().column):
        if label in UNSPACED:
            continue
        try:
            module = importlib.import_module(f"spacy.lang.{SPACY_CODE.get(label, label)}.stop_words")
        except ModuleNotFoundError:
            continue  # spaCy has no list for it (cy, pa, so, sw): the test is skipped
        languages[label] = sorted({word.lower() for word in module.STOP_WORDS if word.strip()})
    source = {"package": "spacy", "version": spacy.__version__, "licence": "MIT", "what": "spacy.lang.<code>.stop_words"}
    path.write_text(json.dumps({"source": source, "languages": languages}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return len(languages)


def calibrate(rows: list[dict]) -> dict[str, dict[str, float]]:
    """label -> median fit over its rightly labelled texts (`rows`: {'text', 'lang'})."""
    identifier = LanguageIdentifier(detect_unknown=False)
    labels = [label for label, _ in identifier.identify_many([row["text"] for row in rows])]
    right = [(row, label) for row, label in zip(rows, labels) if label == row["lang"]]
    fits = trigram_fits([row["text"] for row, _ in right], [label for _, label in right])
    by_language: dict[str, list] = defaultdict(list)
    shares: dict[str, list[float]] = defaultdict(list)
    for (row, label), fit in zip(right, fits):
        if fit is not None:
            by_language[label].append(fit)
        measured = function_word_share(sample_windows(row["text"], identifier.sample_chars, identifier.sample_windows), label)
        if measured is not None:
            shares[label].append(measured[0])
    reference = {
        label: {
            "log_likelihood": round(statistics.median(f.log_likelihood for f in language_fits), 4),
            "coverage": round(statistics.median(f.coverage for f in language_fits), 4),
            "relative_coverage": round(statistics.median(f.relative_coverage for f in language_fits), 4),
            "texts": len(language_fits),
        }
        for label, language_fits in sorted(by_language.items())
    }
    for label, values in shares.items():
        reference.setdefault(label, {})["function_words"] = round(statistics.median(values), 4)
    return reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="JSONL with 'text' and 'lang' (a langdetect code)")
    parser.add_argument("--out", type=Path, default=REFERENCE_PATH)
    parser.add_argument("--words-out", type=Path, default=FUNCTION_WORDS_PATH, help="where the function-word lists go")
    args = parser.parse_args()
    print(f"function words of {write_function_words(args.words_out)} languages -> {args.words_out}")
    function_words.cache_clear()
    data = args.dev.read_bytes()
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    languages = calibrate(rows)
    source = {"file": args.dev.name, "sha256": hashlib.sha256(data).hexdigest(), "rows": len(rows)}
    args.out.write_text(json.dumps({"source": source, "languages": languages}, indent=1) + "\n", encoding="utf-8")
    print(f"{len(languages)} languages from {len(rows)} texts -> {args.out}")


if __name__ == "__main__":
    main()
