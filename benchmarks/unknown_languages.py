"""Language ID on languages langdetect has no profile for, and what detecting them costs.

    .venv/bin/python benchmarks/unknown_languages.py [--data /work/shared/data]
    (also part of: benchmarks/filters.py --only language)

1. udhr_unsupported_dev.jsonl: 640 UDHR paragraphs in 40 languages without a profile. Half of the
   languages (every other code, alphabetically) were used to choose language_fit.py's margins;
   the other half is held out. Per half and per language: the share labelled `unknown`, with the
   right script-derived code (hy, km, ...) or a score under the default min_score (what
   `language.allowed` would drop), and labels in another script than the text's letters.
2. The cost on supported languages: the right label, and `unknown`, with the detection on and off,
   on UDHR paragraphs, sentences, short sentences, five-word fragments, English books, Wikipedia
   talk comments and tweets; then the same with the fit test's margins scaled, to show what a
   stricter or looser test would trade.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from filters import read_jsonl, sentences, table

from pipeline.filters.language import UNKNOWN, LanguageIdentifier, sample_windows
from pipeline.filters.language_fit import MARGINS, ProfileFitTest
from pipeline.filters.language_script import LANGUAGE_SCRIPT, SCRIPT_LANGUAGE, script_name

SCRIPT_OF_CODE = {**{code: script.upper() for code, script in LANGUAGE_SCRIPT.items()},
                  **{code: script for script, code in SCRIPT_LANGUAGE.items()}}
CJK_NAMES = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL"}
MIN_SCORE = 0.65  # the default language.min_score


def majority_script(text: str) -> str:
    names = Counter(script_name(ch) for ch in text if ch.isalpha())
    return names.most_common(1)[0][0] if names else ""


def cross_script(label: str, text: str) -> bool:
    """A label whose script is not the script of most of the text's letters."""
    if label == UNKNOWN:
        return False
    script = majority_script(text)
    if label in ("ja", "ko", "zh-cn", "zh-tw"):
        return script not in CJK_NAMES
    return SCRIPT_OF_CODE.get(label) != script


def bench_unknown_languages(data: Path) -> None:
    """Languages without a profile: unknown, script-coded or low score, never another script."""
    rows = read_jsonl(data / "langid" / "udhr_unsupported_dev.jsonl")
    codes = sorted({row["bcp47"] for row in rows})
    tuned = set(codes[0::2])  # the half language_fit.py's margins were chosen on
    after, before = LanguageIdentifier(), LanguageIdentifier(detect_unknown=False)
    per_lang: dict[str, Counter] = defaultdict(Counter)
    halves: dict[str, Counter] = defaultdict(Counter)
    for unit in ("paragraph", "sentence"):
        texts = [(row["bcp47"], text) for row in rows for text in ([row["text"]] if unit == "paragraph" else sentences(row["text"]))]
        for name, identifier in (("after", after), ("before", before)):
            for (code, text), (label, score) in zip(texts, identifier.identify_many([t for _, t in texts])):
                right = label == code.split("-")[0]
                ok = label == UNKNOWN or right or score < MIN_SCORE
                half = f"{'tuned' if code in tuned else 'held out'} {unit} {name}"
                halves[half].update({"texts": 1, "ok": ok, "cross": cross_script(label, text)})
                if name == "after" and unit == "paragraph":
                    per_lang[code].update({"texts": 1, "unknown": label == UNKNOWN, "right": right, "low": not right and label != UNKNOWN and score < MIN_SCORE,
                                           "cross": cross_script(label, text), f"label {label}": not ok})
    print("## Language: 40 languages without a profile (UDHR, udhr_unsupported_dev.jsonl)\n")
    print(f"ok = `unknown`, the right script-derived code, or a score under min_score {MIN_SCORE} (a document `language.allowed`")
    print("would drop); before = the same identifier with language.detect_unknown off.\n")
    out = []
    for half in ("tuned", "held out"):
        for unit in ("paragraph", "sentence"):
            b, a = halves[f"{half} {unit} before"], halves[f"{half} {unit} after"]
            out.append([f"{half} ({len([c for c in codes if (c in tuned) == (half == 'tuned')])} languages)", unit, a["texts"],
                        b["ok"] / b["texts"], a["ok"] / a["texts"], b["cross"], a["cross"]])
    table(["languages", "unit", "texts", "ok before", "ok after", "cross-script before", "cross-script after"], out)
    out = []
    for code in codes:
        c = per_lang[code]
        wrong = sorted(((n, k[6:]) for k, n in c.items() if k.startswith("label ") and n), reverse=True)
        out.append([code, "tuned" if code in tuned else "held out", majority_script(next(r["text"] for r in rows if r["bcp47"] == code)).title(),
                    c["texts"], c["unknown"], c["right"], c["low"], c["cross"], (c["unknown"] + c["right"] + c["low"]) / c["texts"],
                    " ".join(f"{label}:{n}" for n, label in wrong[:3])])
    table(["language", "half", "script", "paragraphs", "unknown", "right code", "low score", "cross-script", "ok", "confident wrong labels"], out)

    # what the detection costs on text in the supported languages
    supported = read_jsonl(data / "langid" / "udhr_langid_dev.jsonl")
    sets: dict[str, list[tuple[str, str]]] = {
        "UDHR paragraphs, 55 languages": [(r["lang"], r["text"]) for r in supported],
        "UDHR sentences, 55 languages": [(r["lang"], t) for r in supported for t in sentences(r["text"])],
    }
    short = [(lang, t) for lang, t in sets["UDHR sentences, 55 languages"] if len(t) < 60]
    sets["  of them under 60 characters"] = short
    sets["first 5 words of each sentence"] = [(lang, " ".join(t.split()[:5])) for lang, t in sets["UDHR sentences, 55 languages"]
                                               if lang not in ("ja", "zh-cn", "zh-tw", "th")]
    sets["English books (dev prose, 3 x 500-char windows)"] = [("en", sample_windows(r["text"], 500, 3)) for r in read_jsonl(data / "prose" / "prose_dev.jsonl")]
    sets["English Wikipedia talk comments"] = [("en", r["text"]) for r in read_jsonl(data / "toxicity" / "jigsaw_wiki_toxicity_dev.jsonl")]
    sets["English tweets (Davidson, first 3,000)"] = [("en", r["text"]) for r in read_jsonl(data / "toxicity" / "davidson_toxicity_dev.jsonl")[:3000]]
    out = []
    for name, pairs in sets.items():
        cells = []
        for identifier in (before, after):
            results = identifier.identify_many([t for _, t in pairs])
            cells += [sum(label == lang for (lang, _), (label, _) in zip(pairs, results)) / len(pairs),
                      sum(label == lang and score >= MIN_SCORE for (lang, _), (label, score) in zip(pairs, results)) / len(pairs)]
            unknown = sum(label == UNKNOWN for label, _ in results) / len(pairs)
        out.append([name, len(pairs), *cells, unknown])
    print("Supported languages: right label (and right with score >= min_score), detection off / on:\n")
    table(["texts", "n", "right, off", "right >= min, off", "right, on", "right >= min, on", "unknown, on"], out)

    # the trade-off: every margin of the fit test scaled (smaller = stricter)
    unsupported = {half: [row["text"] for row in rows if (row["bcp47"] in tuned) == (half == "tuned")] for half in ("tuned", "held out")}
    out = []
    for scale in (0.5, 0.75, 1.0, 1.5, 2.0):
        identifier = LanguageIdentifier()
        identifier.fit_test = ProfileFitTest({k: (m * scale, s * scale) for k, (m, s) in MARGINS.items()})
        cells: list = [f"{scale:g}x"]
        for texts in unsupported.values():
            cells.append(sum(label == UNKNOWN or score < MIN_SCORE or label in SCRIPT_LANGUAGE.values()
                             for label, score in identifier.identify_many(texts)) / len(texts))
        for name in ("UDHR sentences, 55 languages", "English books (dev prose, 3 x 500-char windows)",
                     "English Wikipedia talk comments", "English tweets (Davidson, first 3,000)"):
            cells.append(sum(label == UNKNOWN for label, _ in identifier.identify_many([t for _, t in sets[name]])) / len(sets[name]))
        out.append(cells)
    print("The trade-off: language_fit.MARGINS scaled (1x = shipped); ok share of unsupported paragraphs (any script-derived\n"
          "code counted as right: all of them are on this set), `unknown` share of supported text:\n")
    table(["margins", "ok, tuned half", "ok, held-out half", "unknown: UDHR sentences", "English books", "English comments", "English tweets"], out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    bench_unknown_languages(parser.parse_args().data)


if __name__ == "__main__":
    main()
