"""Write language_reference.json: each language's usual trigram fit, for the profile-fit test.

    .venv/bin/python -m pipeline.filters.calibrate_language [--dev ../shared/data/langid/udhr_langid_dev.jsonl]

For every supported language, the median `log_likelihood`, `coverage` and `relative_coverage`
(language_fit.py) of its dev paragraphs that the identifier labels right (the UDHR dev set: 16
paragraphs for each of langdetect's 55 languages; CJK is settled by script and needs none). Only the supported-language set is read; the margins below those
medians were chosen on the unsupported-language set (see language_fit.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
from collections import defaultdict
from pathlib import Path

from pipeline.filters.language import LanguageIdentifier
from pipeline.filters.language_fit import REFERENCE_PATH, trigram_fits

DEFAULT_DEV = Path("/work/shared/data/langid/udhr_langid_dev.jsonl")


def calibrate(rows: list[dict]) -> dict[str, dict[str, float]]:
    """label -> median fit over its rightly labelled texts (`rows`: {'text', 'lang'})."""
    identifier = LanguageIdentifier(detect_unknown=False)
    labels = [label for label, _ in identifier.identify_many([row["text"] for row in rows])]
    right = [(row, label) for row, label in zip(rows, labels) if label == row["lang"]]
    fits = trigram_fits([row["text"] for row, _ in right], [label for _, label in right])
    by_language: dict[str, list] = defaultdict(list)
    for (_, label), fit in zip(right, fits):
        if fit is not None:
            by_language[label].append(fit)
    return {
        label: {
            "log_likelihood": round(statistics.median(f.log_likelihood for f in language_fits), 4),
            "coverage": round(statistics.median(f.coverage for f in language_fits), 4),
            "relative_coverage": round(statistics.median(f.relative_coverage for f in language_fits), 4),
            "texts": len(language_fits),
        }
        for label, language_fits in sorted(by_language.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="JSONL with 'text' and 'lang' (a langdetect code)")
    parser.add_argument("--out", type=Path, default=REFERENCE_PATH)
    args = parser.parse_args()
    data = args.dev.read_bytes()
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    languages = calibrate(rows)
    source = {"file": args.dev.name, "sha256": hashlib.sha256(data).hexdigest(), "rows": len(rows)}
    args.out.write_text(json.dumps({"source": source, "languages": languages}, indent=1) + "\n", encoding="utf-8")
    print(f"{len(languages)} languages from {len(rows)} texts -> {args.out}")


if __name__ == "__main__":
    main()
