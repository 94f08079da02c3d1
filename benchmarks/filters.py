"""Filter benchmarks: language accuracy, toxicity quality, throughput against datatrove.

    .venv/bin/python benchmarks/filters.py [--data /work/shared/data] [--repeats 3] [--only language|toxicity|throughput]

Tables:
1. Language on the UDHR dev paragraphs (55 languages x 16) and on single sentences cut from them,
   gristmill's identifier against plain langdetect (seeded), and long documents (a language's 16
   paragraphs joined, ten times over) read whole against read through the sampling windows.
   Then languages langdetect has no profile for (benchmarks/unknown_languages.py).
2. Toxicity (benchmarks/toxicity_quality.py): leave one platform out, ETHOS and Jigsaw, HateCheck
   per functionality, in-domain ROC-AUC and calibration of the shipped model, false positives on
   books it never saw and abuse planted inside them. `--only toxicity` also runs table 3.
3. Throughput (process CPU time, median of repeats, interleaved): datatrove running FineWeb's
   chain (GopherRepetition, GopherQuality, C4Quality, FineWebQuality; a document stops at its
   first drop) against gristmill's whole chain (NFC clean + language + quality + toxicity + PII,
   every filter on every document), on the same documents; per-filter figures; whether the two
   quality chains agree; resident memory after each repeat (flat = no growth with more data).
"""

from __future__ import annotations

import os
import sys


import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
import zlib  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tables  # noqa: E402
from datatrove.data import Document as DatatroveDocument  # noqa: E402
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter  # noqa: E402
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory  # noqa: E402
from langdetect.lang_detect_exception import LangDetectException  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.documents import Document, drop_reason  # noqa: E402
from pipeline.annotate import FILTER_BATCH_DOCS  # noqa: E402
from pipeline.filters import build_filters, filter_many  # noqa: E402
from pipeline.filters.language import LanguageIdentifier  # noqa: E402
from toxicity_quality import bench_toxicity  # noqa: E402


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def table(headers: list[str], rows: list[list]) -> None:
    tables.table(headers, rows, digits=4)


# ---------------------------------------------------------------------------------------------
# 1. language
# ---------------------------------------------------------------------------------------------

SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|(?<=[。！？；])|\n")


def sentences(text: str) -> list[str]:
    """Single sentences cut from a paragraph: at least 20 characters (8 for CJK scripts)."""
    out = []
    for piece in SENTENCE_END.split(text):
        piece = piece.strip()
        cjk = any(ord(ch) >= 0x2E80 for ch in piece)
        if len(piece) >= 20 or (cjk and len(piece) >= 8):
            out.append(piece)
    return out


def plain_langdetect():
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)

    def detect(text: str) -> str:
        detector = factory.create()
        detector.append(text)
        try:
            return detector.detect()
        except LangDetectException:
            return "unknown"

    return detect


def bench_language(data: Path) -> None:
    rows = read_jsonl(data / "langid" / "udhr_langid_dev.jsonl")
    identifiers = {"gristmill": LanguageIdentifier(), "gristmill, sampler": LanguageIdentifier(method="langdetect")}
    plain = plain_langdetect()
    for identifier in identifiers.values():  # load the profiles outside the timings
        identifier.identify(rows[0]["text"])
    plain(rows[0]["text"])
    results: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    seconds: Counter = Counter()
    for row in rows:
        for unit, texts in (("paragraph", [row["text"]]), ("sentence", sentences(row["text"]))):
            for text in texts:
                for name, identifier in identifiers.items():
                    start = time.process_time()
                    results[f"{name} {unit}"][row["lang"]].append(identifier.identify(text)[0] == row["lang"])
                    seconds[f"{name} {unit}"] += time.process_time() - start
                start = time.process_time()
                results[f"langdetect {unit}"][row["lang"]].append(plain(text) == row["lang"])
                seconds[f"langdetect {unit}"] += time.process_time() - start
    print("## Language: UDHR dev, 55 languages (accuracy)\n")
    print("gristmill = naive Bayes over langdetect's profiles + script rules + close-pair second opinions;")
    print("'sampler' = the same with langdetect's seeded random walk; langdetect = plain langdetect 1.0.9, seed 0.\n")
    summary = []
    for name, per_lang in results.items():
        flat = [ok for oks in per_lang.values() for ok in oks]
        accuracy = {lang: sum(oks) / len(oks) for lang, oks in per_lang.items()}
        worst = sorted(accuracy.items(), key=lambda kv: kv[1])[:4]
        summary.append([name, len(flat), sum(flat) / len(flat), sum(a >= 0.95 for a in accuracy.values()),
                        f"{seconds[name] / len(flat) * 1e6:.0f}", " ".join(f"{lang}:{a:.2f}" for lang, a in worst)])
    table(["identifier / unit", "texts", "accuracy", "langs >= 0.95", "us/text", "worst languages"], summary)
    per_lang = results["gristmill paragraph"]
    plain_lang = results["langdetect paragraph"]
    sent_lang = results["gristmill sentence"]
    langs = sorted(per_lang)
    print("Per language (gristmill paragraph / langdetect paragraph / gristmill sentence):")
    line = []
    for i, lang in enumerate(langs, 1):
        g, p, s = (sum(x[lang]) / len(x[lang]) for x in (per_lang, plain_lang, sent_lang))
        line.append(f"{lang:>5} {g:.2f}/{p:.2f}/{s:.2f}")
        if i % 5 == 0 or i == len(langs):
            print("  ".join(line))
            line = []
    print()

    # long documents: a language's paragraphs joined, read whole or through the windows
    by_lang: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_lang[row["lang"]].append(row["text"])
    docs = [(lang, "\n".join(texts * 10)) for lang, texts in sorted(by_lang.items())]
    out = []
    for name, identifier in (
        ("whole text", LanguageIdentifier(sample_chars=10**9, sample_windows=1)),
        ("default windows (3 x 500 chars)", LanguageIdentifier()),
        ("small windows (3 x 100 chars)", LanguageIdentifier(sample_chars=100)),
        ("one window (1 x 200 chars)", LanguageIdentifier(sample_chars=200, sample_windows=1)),
    ):
        start = time.process_time()
        correct = sum(identifier.identify(text)[0] == lang for lang, text in docs)
        out.append([name, len(docs), correct / len(docs), f"{(time.process_time() - start) / len(docs) * 1000:.1f}"])
    mean_chars = statistics.mean(len(t) for _, t in docs)
    print(f"## Language: long documents (16 paragraphs joined, 10 times over: {mean_chars:.0f} chars on average)\n")
    table(["reading", "docs", "accuracy", "ms/doc"], out)


# ---------------------------------------------------------------------------------------------
# 2. toxicity
# ---------------------------------------------------------------------------------------------


# bench_toxicity lives in benchmarks/toxicity_quality.py (leave one platform out, calibration, books)


# ---------------------------------------------------------------------------------------------
# 3. throughput
# ---------------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def datatrove_chain():
    return [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False),
            FineWebQualityFilter()]


def run_datatrove(filters, texts: list[str]) -> tuple[float, list]:
    kept_ids = []
    start = time.process_time()
    stream = (DatatroveDocument(text=t, id=str(i)) for i, t in enumerate(texts))
    for f in filters:
        stream = f.run(stream)
    for doc in stream:
        kept_ids.append(doc.id)
    return time.process_time() - start, kept_ids


def run_gristmill(filters, texts: list[str], per_filter: Counter, stop_at_first_drop: bool = False) -> tuple[float, list]:
    """The chain as the annotate stage runs it: batches of FILTER_BATCH_DOCS documents."""
    kept_ids = []
    start = time.process_time()
    for first in range(0, len(texts), FILTER_BATCH_DOCS):
        t0 = time.process_time()
        docs = [Document(id=str(i), text=unicodedata.normalize("NFC", text))
                for i, text in enumerate(texts[first : first + FILTER_BATCH_DOCS], start=first)]
        per_filter["clean (NFC)"] += time.process_time() - t0
        reasons: dict[str, str | None] = {doc.id: None for doc in docs}
        for f in filters:
            todo = [doc for doc in docs if not (stop_at_first_drop and reasons[doc.id])]
            t0 = time.process_time()
            results = filter_many(f, todo)
            per_filter[f.name] += time.process_time() - t0
            for doc, result in zip(todo, results):
                reasons[doc.id] = reasons[doc.id] or drop_reason(result, f.name)
        # passed the quality chain (the part datatrove also runs)
        kept_ids += [i for i, reason in reasons.items() if not (reason or "").startswith("quality")]
    return time.process_time() - start, kept_ids


def bench_throughput(data: Path, repeats: int) -> None:
    prose = [r["text"] for r in read_jsonl(data / "prose" / "prose_dev.jsonl")]
    comments = [r["text"] for name in ("jigsaw_wiki", "ethos") for r in read_jsonl(data / "toxicity" / f"{name}_toxicity_dev.jsonl")]
    short = ([r["text"] for r in read_jsonl(data / "toxicity" / "davidson_toxicity_dev.jsonl")[:1500]]
             + [r["text"] for r in read_jsonl(data / "toxicity" / "stormfront_toxicity_dev.jsonl")[:1500]])
    corpora = {"prose (books)": prose, "comments (wiki, youtube/reddit)": comments, "tweets + forum sentences": short}
    ours = build_filters(Config())
    theirs = datatrove_chain()
    for f in ours:  # load models and spacy outside the timings
        f.filter(Document(id="warm", text=prose[0]))
    run_datatrove(theirs, prose[:2])
    rows, filter_rows, agreement, memory = [], [], [], []
    totals = Counter()  # the three sets together: their times add up
    for name, texts in corpora.items():
        megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        dt_times, our_times, early_times, per_filter = [], [], [], Counter()
        for _ in range(repeats):
            seconds, dt_kept = run_datatrove(theirs, texts)
            dt_times.append(seconds)
            seconds, our_kept = run_gristmill(ours, texts, per_filter)
            our_times.append(seconds)
            early_times.append(run_gristmill(ours, texts, Counter(), stop_at_first_drop=True)[0])
            memory.append(f"{rss_mb():.0f}")
        dt, us, early = (statistics.median(x) for x in (dt_times, our_times, early_times))
        totals.update({"docs": len(texts), "mb": megabytes, "dt": dt, "us": us, "early": early})
        rows.append([name, len(texts), f"{megabytes:.2f}", f"{len(texts) / dt:.0f}", f"{megabytes / dt:.3f}",
                     f"{len(texts) / us:.0f}", f"{megabytes / us:.3f}", f"{dt / us:.2f}x", f"{dt / early:.2f}x"])
        agreement.append([name, len(dt_kept), len(our_kept), len(set(dt_kept) ^ set(our_kept))])
        for filter_name, seconds in per_filter.items():
            seconds /= repeats
            filter_rows.append([name, filter_name, f"{len(texts) / seconds:.0f}", f"{megabytes / seconds:.3f}"])
    dt, us, early, megabytes = totals["dt"], totals["us"], totals["early"], totals["mb"]
    rows.append(["all of the above", totals["docs"], f"{megabytes:.2f}", f"{totals['docs'] / dt:.0f}", f"{megabytes / dt:.3f}",
                 f"{totals['docs'] / us:.0f}", f"{megabytes / us:.3f}", f"{dt / us:.2f}x", f"{dt / early:.2f}x"])
    print(f"## Throughput (process CPU seconds, median of {repeats}, same documents, interleaved)\n")
    table(["documents", "docs", "MB", "datatrove docs/s", "datatrove MB/s", "gristmill docs/s", "gristmill MB/s",
           "gristmill / datatrove", "early exit / datatrove"], rows)
    print("gristmill runs every filter on every document (every signal recorded); datatrove stops a document at\n"
          "its first drop. 'early exit' is gristmill stopping at the first drop too (signals after it missing).\n")
    table(["documents", "gristmill filter (alone, in the chain)", "docs/s", "MB/s"], filter_rows)
    table(["documents", "kept by datatrove chain", "passed gristmill quality", "disagreements"], agreement)
    print(f"Resident memory (MB) after each pass: {' '.join(memory)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weighting", choices=["balanced", "natural"], default="balanced",
                        help="row weighting of the toxicity recipe in leave-one-platform-out (the shipped model is balanced)")
    parser.add_argument("--only", choices=["language", "unknown-languages", "toxicity", "throughput"], default=None,
                        help="one section (unknown-languages: only the languages-without-a-profile part of language)")
    args = parser.parse_args()
    if args.only in (None, "language", "unknown-languages"):
        from unknown_languages import bench_unknown_languages  # beside this file; it imports this file's helpers

        if args.only != "unknown-languages":
            bench_language(args.data)
        bench_unknown_languages(args.data)
    if args.only in (None, "toxicity"):
        bench_toxicity(args.data, args.weighting)
    if args.only in (None, "toxicity", "throughput"):  # toxicity: the chain's cost is part of its answer
        bench_throughput(args.data, args.repeats)


if __name__ == "__main__":
    main()
