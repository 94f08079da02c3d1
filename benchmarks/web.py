"""Main-text extraction from WARC files: gristmill's methods against trafilatura alone and datatrove's
WarcReader -> Trafilatura pipeline, quality and pages/s measured in the same run.

    .venv/bin/python benchmarks/web.py                 # about 10 minutes on 2 busy cores
    .venv/bin/python benchmarks/web.py --repeats 1 --copies 2   # a quick look

Data: ../shared/data/web/extraction_dev (62 real pages with human-annotated article bodies, from
scrapinghub's article-extraction-benchmark). The benchmark writes two WARCs into a temporary folder:
- the dev WARC: the 62 pages as HTTP `response` records (Content-Type `text/html` without a charset,
  so the charset comes from each page's meta tag or detection; WARC-Identified-Payload-Type
  `text/html` as Common Crawl writes it), with the ground truth's URLs;
- a larger WARC: the same 62 pages repeated `--copies` times under other URLs, with a request
  record before every response as a crawler writes it. It has no new pages: it measures
  throughput on a longer stream, not quality (there are no other annotated pages here).

Scoring is the benchmark's own: per page, word 4-gram shingles shared (TP), extra (FP) and
missing (FN), normalised per page; precision and recall are means over pages, F1 from those means.
`tune` is the half of the pages (by sha256 of their id) on which gristmill's settings were chosen
(extract.min_shared = 0.6, the gate's 0.01, trafilatura without fallback and comments); `held-out` the other half.
Every method reads the same WARC from disk, records included; pages/s is the median of --repeats.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from tables import table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("GRISTMILL_DATA", ROOT.parent / "shared" / "data")) / "web" / "extraction_dev"
TOKEN = re.compile(r"\w+")


# -- the benchmark's scoring ------------------------------------------------------------------------

def shingles(text: str, n: int = 4) -> dict[tuple[str, ...], int]:
    tokens = TOKEN.findall(text)
    out: dict[tuple[str, ...], int] = {}
    for i in range(max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i:i + n])
        if shingle:
            out[shingle] = out.get(shingle, 0) + 1
    return out


def page_scores(truth: str, prediction: str) -> tuple[float, float]:
    """(precision, recall) of one page."""
    a, b = shingles(truth), shingles(prediction)
    tp = fp = fn = 0
    for key in set(a) | set(b):
        x, y = a.get(key, 0), b.get(key, 0)
        tp, fp, fn = tp + min(x, y), fp + max(0, y - x), fn + max(0, x - y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def score(truth: dict[str, str], predictions: dict[str, str], urls: list[str]) -> tuple[float, float, float]:
    """(F1, precision, recall) over the pages at `urls`; a page a method lost counts as empty."""
    pairs = [page_scores(truth[u], predictions.get(u, "")) for u in urls]
    precision = statistics.fmean(p for p, _ in pairs)
    recall = statistics.fmean(r for _, r in pairs)
    return 2 * precision * recall / (precision + recall), precision, recall


# -- the WARCs --------------------------------------------------------------------------------------

def load_pages() -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(url -> HTML bytes, url -> annotated article body, url -> page id)."""
    truth = json.loads((DATA / "ground-truth.json").read_text())
    html = {v["url"]: gzip.decompress((DATA / "html" / f"{k}.html.gz").read_bytes()) for k, v in truth.items()}
    return html, {v["url"]: v["articleBody"] for v in truth.values()}, {v["url"]: k for k, v in truth.items()}


def write_warc(path: Path, pages: list[tuple[str, bytes]], with_requests: bool = False) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, body in pages:
            if with_requests:
                request = StatusAndHeaders("GET / HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True)
                writer.write_record(writer.create_warc_record(url, "request", http_headers=request))
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            # Common Crawl names the sniffed type of every payload; datatrove's reader relies on it
            # (without it, libmagic calls a third of these pages something else and they are lost).
            identified = {"WARC-Identified-Payload-Type": "text/html"}
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                                          warc_headers_dict=identified))


# -- the methods: each reads a WARC and returns url -> text ------------------------------------------

def extract_warc(method: str, warc: Path) -> dict[str, str]:
    """gristmill's WARC reader with `extract.method` = method."""
    from pipeline.config import ExtractConfig, IngestConfig
    from pipeline.documents import Document
    from pipeline.ingest.warc import read_warc

    return {r.metadata["url"]: r.text for r in read_warc(warc, warc.name, IngestConfig(), ExtractConfig(method=method))
            if isinstance(r, Document)}


def gristmill(method: str) -> Callable[[Path], dict[str, str]]:
    return functools.partial(extract_warc, method)


def trafilatura_alone(warc: Path) -> dict[str, str]:
    """warcio + trafilatura.extract() with its defaults, on the response bytes (trafilatura decodes)."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    out = {}
    with open(warc, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                out[record.rec_headers.get_header("WARC-Target-URI")] = trafilatura.extract(record.content_stream().read()) or ""
    return out


def datatrove_pipeline(warc: Path) -> dict[str, str]:
    """datatrove's WarcReader -> Trafilatura (its defaults: favour_precision, no comments; timeout 5 s
    instead of 1 s so that a busy machine does not cut pages)."""
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    reader = WarcReader(str(warc.parent), glob_pattern=warc.name, doc_progress=False)
    extractor = Trafilatura(timeout=5)
    return {doc.metadata["url"]: doc.text for doc in extractor.run(reader.run())}


def _warm_worker() -> None:
    # what a build's annotate worker has done before its second file: libraries imported, extractors built
    from pipeline.extract import extractor_for

    extractor_for("consensus", 0.6)("<html><body><p>warm up</p></body></html>")


def in_processes(method: str, pool: ProcessPoolExecutor) -> Callable[[list[Path]], dict[str, str]]:
    """One WARC per worker of a pool that is already running (as a build's workers are)."""
    def run(warcs: list[Path]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in pool.map(gristmill(method), warcs):
            out.update(part)
        return out
    return run


def seconds_of(fn: Callable, arg) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run. CPU time counts this process and the child
    processes it waited for (datatrove's extractor sandbox, the worker pool): on a machine that
    other jobs share, it is the steadier measure of what a method costs."""
    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    started, cpu_started = time.perf_counter(), cpu()
    fn(arg)
    return time.perf_counter() - started, cpu() - cpu_started




def archive_table() -> None:
    """What gristmill's reader makes of each file of warcio's test data (edge cases among them)."""
    from collections import Counter

    from pipeline.config import Config
    from pipeline.documents import Document, InvalidRecord, SkippedRecord
    from pipeline.ingest import discover_inputs, read_documents

    config = Config()
    files, unreadable = discover_inputs([str(DATA.parent / "warcio_test_data")])
    rows = []
    for item in files:
        counts: Counter[str] = Counter()
        for record in read_documents(item, config.ingest, config.extract):
            if isinstance(record, Document):
                counts["documents" if record.text.strip() else "documents (no text)"] += 1
            elif isinstance(record, InvalidRecord):
                counts[f"invalid:{record.reason}"] += 1
            elif isinstance(record, SkippedRecord):
                counts[f"skipped {record.kind}"] += 1
        rows.append([item.relative, ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))])
    rows += [[u.path, u.reason] for u in unreadable]
    table(["warcio test file", "what the reader gave"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (median)")
    parser.add_argument("--copies", type=int, default=8, help="times the 62 pages are repeated in the larger WARC")
    parser.add_argument("--skip-large", action="store_true", help="only the dev WARC")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} not found: set GRISTMILL_DATA to the folder that holds web/extraction_dev")
    warnings.filterwarnings("ignore")
    archive_table()
    html, truth, page_id = load_pages()
    urls = sorted(truth)
    tune = [u for u in urls if int(hashlib.sha256(page_id[u].encode()).hexdigest(), 16) % 2 == 0]
    held_out = [u for u in urls if u not in tune]

    with tempfile.TemporaryDirectory(prefix="gristmill-web-bench-") as tmp:
        dev = Path(tmp) / "dev.warc.gz"
        write_warc(dev, [(u, html[u]) for u in urls])
        large_parts = [Path(tmp) / f"large-{i}.warc.gz" for i in range(2)]
        large_pages = [(f"{u}?copy={c}", html[u]) for c in range(args.copies) for u in urls]
        half = len(large_pages) // 2
        for part, pages in zip(large_parts, (large_pages[:half], large_pages[half:])):
            write_warc(part, pages, with_requests=True)
        large = Path(tmp) / "large.warc.gz"
        write_warc(large, large_pages, with_requests=True)
        print(f"dev WARC: {len(urls)} pages, {dev.stat().st_size / 1e6:.1f} MB; larger WARC: {len(large_pages)} pages "
              f"(the dev pages x {args.copies} under other URLs, plus request records), {large.stat().st_size / 1e6:.1f} MB; "
              f"tune {len(tune)} / held-out {len(held_out)} pages\n", flush=True)

        methods: list[tuple[str, Callable]] = [
            ("trafilatura alone (defaults)", trafilatura_alone),
            ("datatrove WarcReader -> Trafilatura", datatrove_pipeline),
            ("gristmill trafilatura", gristmill("trafilatura")),
            ("gristmill resiliparse", gristmill("resiliparse")),
            ("gristmill consensus", gristmill("consensus")),
            ("gristmill gated (default)", gristmill("gated")),
        ]
        # The first run of each method is its warm-up (imports, models) and gives the texts scored;
        # the timed runs then go round the methods in turn, so that a burst of load from other
        # processes on the machine falls on every method alike.
        predictions = {name: method(dev) for name, method in methods}
        names = [n for n, _ in methods]
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeats):
            for name, method in methods:
                runs.setdefault(("dev", name), []).append(seconds_of(method, dev))
        if not args.skip_large:
            for name, method in methods:
                runs.setdefault(("large", name), []).append(seconds_of(method, large))
            names.append("gristmill consensus, 2 processes")
            with ProcessPoolExecutor(2, mp_context=get_context("spawn"), initializer=_warm_worker) as pool:
                list(pool.map(abs, [1, 2]))  # both workers started and warmed before the clock starts
                runs[("large", names[-1])] = [seconds_of(in_processes("consensus", pool), large_parts)]
        anchor = methods[0][0]

        def rates(warc: str, name: str) -> tuple[float, float]:
            """(pages per wall second, pages per CPU second), medians over the runs."""
            pages = len(urls) if warc == "dev" else len(large_pages)
            wall = statistics.median(w for w, _ in runs[(warc, name)])
            cpu = statistics.median(c for _, c in runs[(warc, name)])
            return pages / wall, pages / cpu

        rows = []
        for name in names:
            row: list = [name, "", "", "", "", ""]
            if name in predictions:
                f1, precision, recall = score(truth, predictions[name], urls)
                row = [name, f1, precision, recall, score(truth, predictions[name], tune)[0],
                       score(truth, predictions[name], held_out)[0]]
            for warc in ("dev", "large") if not args.skip_large else ("dev",):
                if (warc, name) not in runs:
                    row += ["", ""]
                    continue
                (wall, cpu), (anchor_wall, anchor_cpu) = rates(warc, name), rates(warc, anchor)
                # the pool's workers are still alive when the clock stops, so their CPU time is not counted
                cpu_cell = "" if "processes" in name else f"{cpu:.1f} ({cpu / anchor_cpu:.2f}x)"
                row += [f"{wall:.1f} ({wall / anchor_wall:.2f}x)", cpu_cell]
            rows.append(row)
        headers = ["method", "F1", "precision", "recall", "F1 tune", "F1 held-out", "dev pages/s", "dev pages/CPU-s"]
        if not args.skip_large:
            headers += ["larger pages/s", "larger pages/CPU-s"]
        table(headers, rows)
        print("(x: against trafilatura alone in the same run; medians of the timed runs; CPU time includes child "
              "processes)")


if __name__ == "__main__":
    main()
