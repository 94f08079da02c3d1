"""Tokenizer training, encode + pack against datatrove's DocumentTokenizer, shard reads.

    .venv/bin/python benchmarks/tokenizing.py [--mb 100] [--repeats 3] [--vocab 8192]

The text: /work/shared/data/prose/prose_dev.jsonl holds only 2.4 MB, and repeating it would
flatter BPE training (its cost grows with the number of distinct words, which repetition does
not add). So each synthetic document strings together sentences drawn at random from the whole
file, and one word in eight is replaced by a pseudo-word glued from 2-3 fragments of real words,
half drawn Zipf-like, half uniformly from a pool that grows with the corpus (1 per 100 bytes): the distinct-word count keeps rising with
size, as in real text (printed below). The corpus is cached under /tmp between runs.

Sections: (1) BPE training time and peak memory (in a fresh child process); (2) encode + pack
MB/s, gristmill's write_shards vs datatrove's DocumentTokenizer (same kept parquet files, same
tokenizer.json, eos after each document, document shuffle on, medians of --repeats alternating
runs); (3) random-row read tokens/s from page cache; (4) token accounting: tokens in shards vs
tokens of the documents plus one separator each, and datatrove's own count.
"""

from __future__ import annotations

import os
import sys


import argparse
import json
import multiprocessing
import re
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from model.data import BatchStream, ShardDataset  # noqa: E402
from pipeline.config import ShardsConfig, TokenizerConfig  # noqa: E402
from pipeline.shards import write_shards  # noqa: E402
from pipeline.tokenizer import train_tokenizer  # noqa: E402

PROSE = Path("/work/shared/data/prose/prose_dev.jsonl")
PARTS = 8


def build_corpus(mb: int, folder: Path, seed: int = 0) -> tuple[list[Path], dict]:
    """mb megabytes of varied prose as kept parts (doc_id, text); cached by size and seed."""
    folder.mkdir(parents=True, exist_ok=True)
    info_path = folder / "corpus.json"
    if info_path.is_file():
        return sorted(folder.glob("part-*.parquet")), json.loads(info_path.read_text())
    rng = np.random.default_rng(seed)
    texts = [json.loads(line)["text"] for line in PROSE.open(encoding="utf-8")]
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?;])\s+", t) if s]
    lengths = np.array([len(t) for t in texts])
    words = sorted({w for t in texts for w in re.findall(r"[A-Za-z]{4,}", t)})
    fragments = sorted({w[i:i + n] for w in words for n in (2, 3, 4) for i in range(0, len(w) - n + 1, n)})
    target = mb * 1_000_000
    pool_size = max(50_000, target // 100)
    glue = rng.integers(0, len(fragments), size=(pool_size, 3))
    glued_len = rng.integers(2, 4, size=pool_size)
    pool = ["".join(fragments[k] for k in row[:n]) for row, n in zip(glue, glued_len)]
    # Half the pseudo-words Zipf-distributed (recurring), half uniform over the pool (the long tail).
    draws = target // 40
    zipf_ranks = np.where(rng.random(draws) < 0.5, np.minimum(rng.zipf(1.2, size=draws), pool_size) - 1,
                          rng.integers(0, pool_size, size=draws))
    next_pseudo = 0
    size, doc, part_rows = 0, 0, [[] for _ in range(PARTS)]
    while size < target:
        length = int(rng.choice(lengths))
        chunk, chunk_len = [], 0
        while chunk_len < length:
            sentence = sentences[int(rng.integers(len(sentences)))]
            chunk.append(sentence)
            chunk_len += len(sentence) + 1
        tokens = " ".join(chunk).split(" ")
        swap = np.flatnonzero(rng.random(len(tokens)) < 0.125)
        for i in swap:
            tokens[i] = pool[int(zipf_ranks[next_pseudo % len(zipf_ranks)])]
            next_pseudo += 1
        text = " ".join(tokens)
        part_rows[doc % PARTS].append((f"bench-{doc:08d}", text))
        size += len(text.encode("utf-8"))
        doc += 1
    paths = []
    for p, rows in enumerate(part_rows):
        path = folder / f"part-{p:05d}.parquet"
        pq.write_table(pa.table({"doc_id": [r[0] for r in rows], "text": [r[1] for r in rows]}), path,
                       row_group_size=4096)
        paths.append(path)
    distinct = len({w for rows in part_rows for _, t in rows for w in t.split()})
    info = {"bytes": size, "documents": doc, "distinct_whitespace_words": distinct,
            "distinct_words_in_source": len({w for t in texts for w in t.split()})}
    info_path.write_text(json.dumps(info))
    return paths, info


def cpu_seconds() -> float:
    """CPU time of this process and its finished children, every thread included."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _train_child(parts: list[Path], vocab: int, out: Path, queue: multiprocessing.Queue) -> None:
    stats = train_tokenizer(parts, TokenizerConfig(vocab_size=vocab, sample_bytes=10**12), 0, out)
    queue.put((stats, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, cpu_seconds()))


def bench_training(parts: list[Path], vocab: int, out: Path) -> dict:
    """Train in a fresh process so its peak RSS is the training's own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_train_child, args=(parts, vocab, out, queue))
    started = time.perf_counter()
    child.start()
    stats, peak, cpu = queue.get()
    child.join()
    return {"seconds": time.perf_counter() - started, "train_seconds": stats["seconds"], "peak_rss": peak,
            "bytes_seen": stats["bytes_seen"], "cpu_seconds": cpu}


def run_gristmill(parts: list[Path], tokenizer: Path, out: Path) -> tuple[float, float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    config = ShardsConfig(seq_len=1024, rows_per_shard=65536, val_fraction=0.0, workers=2)
    started, cpu = time.perf_counter(), cpu_seconds()
    manifest = write_shards(parts, tokenizer, config, 0, out, "bench")
    return time.perf_counter() - started, cpu_seconds() - cpu, manifest


def run_datatrove(parts: list[Path], tokenizer: Path, out: Path) -> tuple[float, float, int]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    shutil.rmtree(out, ignore_errors=True)
    executor = LocalPipelineExecutor(
        pipeline=[ParquetReader(str(parts[0].parent), text_key="text", id_key="doc_id", glob_pattern="part-*.parquet"),
                  DocumentTokenizer(str(out / "tokens"), tokenizer_name_or_path=str(tokenizer),
                                    local_working_dir=str(out / "work"), eos_token="<|endoftext|>", seed=0)],
        tasks=1, workers=1, logging_dir=str(out / "logs"), skip_completed=False)
    started, cpu = time.perf_counter(), cpu_seconds()
    executor.run()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    token_bytes = sum(p.stat().st_size for p in (out / "tokens").glob("*.ds"))
    return seconds, cpu, token_bytes // 2


def bench_reads(data_dir: Path, batch: int, repeats: int) -> dict:
    dataset = ShardDataset(data_dir, "train", verify="none")
    for shard in dataset.shards:
        shard.sum()  # fault every page in: we measure reads from page cache
    rng = np.random.default_rng(0)
    rates, stream_rates = [], []
    for _ in range(repeats):
        indices = rng.integers(0, len(dataset), size=(200, batch))
        started = time.perf_counter()
        for row in indices:
            dataset.rows(row)
        rates.append(indices.size * dataset.row_len / (time.perf_counter() - started))
        stream = BatchStream(dataset, batch, seed=0)
        started = time.perf_counter()
        for _ in range(200):
            next(stream)
        stream_rates.append(200 * batch * dataset.seq_len / (time.perf_counter() - started))
    return {"rows": statistics.median(rates), "stream": statistics.median(stream_rates), "row_len": dataset.row_len}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="megabytes of text (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the encode + pack comparison and reads")
    parser.add_argument("--vocab", type=int, default=8192, help="BPE vocabulary size (default 8192)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gristmill-bench-tokenize")
    args = parser.parse_args()

    corpus_dir = args.cache / f"corpus-{args.mb}mb"
    started = time.perf_counter()
    parts, info = build_corpus(args.mb, corpus_dir)
    mb = info["bytes"] / 1e6
    print(f"corpus: {mb:.1f} MB, {info['documents']} documents, {info['distinct_whitespace_words']:,} distinct "
          f"whitespace words (source file: {info['distinct_words_in_source']:,}); ready in {time.perf_counter() - started:.1f} s")

    work = args.cache / "work"
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = work / "tokenizer.json"
    training = bench_training(parts, args.vocab, tokenizer)

    ours, theirs, ours_cpu, theirs_cpu, manifest, dt_tokens = [], [], [], [], None, None
    for _ in range(args.repeats):
        seconds, cpu, manifest = run_gristmill(parts, tokenizer, work / "gristmill")
        ours.append(seconds)
        ours_cpu.append(cpu)
        seconds, cpu, dt_tokens = run_datatrove(parts, tokenizer, work / "datatrove")
        theirs.append(seconds)
        theirs_cpu.append(cpu)
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    ours_c, theirs_c = statistics.median(ours_cpu), statistics.median(theirs_cpu)
    reads = bench_reads(work / "gristmill", batch=64, repeats=args.repeats)

    split = manifest["splits"]["train"]
    rows = [
        ("BPE training, vocab %d, %.0f MB (child process)" % (args.vocab, training["bytes_seen"] / 1e6),
         f"{training['train_seconds']:.1f} s", f"peak RSS {training['peak_rss'] / 2**30:.2f} GiB, "
         f"{training['cpu_seconds']:.0f} CPU-s"),
        ("encode + pack: datatrove DocumentTokenizer (anchor)", f"{mb / theirs_s:.2f} MB/s",
         f"{theirs_s:.1f} s, 1.00x; {mb / theirs_c:.2f} MB per CPU-s"),
        ("encode + pack: gristmill write_shards", f"{mb / ours_s:.2f} MB/s",
         f"{ours_s:.1f} s, {theirs_s / ours_s:.2f}x; {mb / ours_c:.2f} MB per CPU-s, {theirs_c / ours_c:.2f}x"),
        ("random-row reads, ShardDataset.rows (64 rows)", f"{reads['rows'] / 1e6:.0f} M tok/s", f"row_len {reads['row_len']}"),
        ("random-row reads, BatchStream -> int64 tensors", f"{reads['stream'] / 1e6:.0f} M tok/s", "x and y, (64, 1024)"),
        ("tokens of documents + separators", f"{split['document_tokens'] + split['separator_tokens']:,}",
         f"datatrove counts {dt_tokens:,}"),
        ("tokens in shards (+ dropped tail)", f"{split['shard_tokens']:,}", f"+ {split['dropped_tail_tokens']} dropped"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'value':>14}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")
    print(f"\nmedian of {args.repeats} alternating runs; 2 cores; raw: gristmill {[round(s, 2) for s in ours]} s, "
          f"datatrove {[round(s, 2) for s in theirs]} s; load average at the end {os.getloadavg()[0]:.1f}")
    assert split["document_tokens"] + split["separator_tokens"] == split["shard_tokens"] + split["dropped_tail_tokens"]
    assert dt_tokens == split["document_tokens"] + split["separator_tokens"], "datatrove and gristmill disagree on token counts"


if __name__ == "__main__":
    main()
