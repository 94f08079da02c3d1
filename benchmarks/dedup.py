"""Dedup quality and cost: gristmill's dedup against datatrove's MinHash pipeline, same run.

    .venv/bin/python benchmarks/dedup.py            # labelled pairs + 100k and 200k corpora (~35 min on
                                                    # 2 cores, ~14 of them datatrove's 100k run)
    .venv/bin/python benchmarks/dedup.py --sizes 30000 --seeds 3 --repeats 1   # a quick look

1. Labelled pairs (shared/data/neardup): recall on pairs with dup: true (both in one cluster),
   family precision (of all pairs put in one cluster, the share listed with same_origin: true; a
   pair not in the pairs file counts as wrong), hard-negative pairs merged. gristmill's default,
   its spread over seeds, verify=exact, FineWeb's 14x8 bands, datatrove and plain datasketch LSH.
2. A generated corpus (sentences of shared/data/prose shuffled into documents; 15% planted
   copies with realistic edits; deterministic): documents/s and peak RSS of each pipeline, each
   run in its own subprocess (peak = the sampled sum over the process tree, and the largest single
   process from getrusage), and recall/precision on the planted pairs (Jaccard >= 0.8 = duplicate).
   The memory slope between the two sizes is extrapolated to 1M documents.
"""

from __future__ import annotations

import sys
from pathlib import Path


import argparse
import collections
import itertools
import json
import os
import random
import re
import resource
import shutil
import struct
import subprocess
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path("/work/shared/data")
SEED = 1337
DOCS_PER_PART = 12_500
BOILERPLATE = [
    "Home | News | Sport | Business | Culture | Contact us",
    "Share this article: Facebook Twitter LinkedIn Email Print",
    "Sign up for our newsletter to get the latest stories delivered to your inbox every morning.",
    "Copyright 2024 Riverside Media Group. All rights reserved. Reproduction without permission is prohibited.",
    "We use cookies to improve your experience on our site. By continuing to browse you agree to our use of cookies.",
    "Related posts: You might also like these stories from our archive, handpicked by the editors.",
]


# ---------------------------------------------------------------- the generated corpus
def prose_sentences() -> list[str]:
    sentences = []
    for line in open(DATA / "prose" / "prose_dev.jsonl", encoding="utf-8"):
        for paragraph in re.split(r"\n\s*\n", json.loads(line)["text"]):
            split = re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split()))
            sentences += [s for s in split if 4 <= len(s.split()) <= 80]
    return sentences


def render(paragraphs: list[list[str]]) -> str:
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def edit_document(paragraphs: list[list[str]], rng: random.Random, pool: list[str], vocabulary: list[str]) -> str:
    """One to three edits of the kinds seen in web crawls; their strength varies widely."""
    paragraphs = [list(p) for p in paragraphs]
    kinds = rng.sample(["copy", "case", "typos", "substitute", "delete", "insert", "swap", "boilerplate", "truncate"],
                       rng.randint(1, 3))
    if "delete" in kinds:
        for _ in range(rng.randint(1, 3)):
            p = rng.randrange(len(paragraphs))
            if len(paragraphs[p]) > 1:
                paragraphs[p].pop(rng.randrange(len(paragraphs[p])))
    if "insert" in kinds:
        for _ in range(rng.randint(1, 3)):
            p = rng.randrange(len(paragraphs))
            paragraphs[p].insert(rng.randint(0, len(paragraphs[p])), rng.choice(pool))
    if "swap" in kinds and len(paragraphs) > 1:
        i, j = rng.sample(range(len(paragraphs)), 2)
        paragraphs[i], paragraphs[j] = paragraphs[j], paragraphs[i]
    if "truncate" in kinds:
        total = sum(map(len, paragraphs))
        keep = max(3, int(total * rng.uniform(0.75, 0.97)))
        out, seen = [], 0
        for p in paragraphs:
            out.append(p[: max(0, keep - seen)])
            seen += len(p)
        paragraphs = out
    words = render(paragraphs).split(" ")
    if "typos" in kinds:
        for i in rng.sample(range(len(words)), min(len(words), rng.randint(1, 12))):
            w = words[i]
            if len(w) > 2:
                k = rng.randrange(len(w) - 1)
                words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    if "substitute" in kinds:
        for i in rng.sample(range(len(words)), min(len(words), rng.randint(1, 10))):
            words[i] = rng.choice(vocabulary)
    text = " ".join(words)
    if "case" in kinds:
        text = rng.choice([str.upper, str.lower, str.title])(text).replace("\n\n", rng.choice(["\n\n", "\n", "\n \n"]))
    if "boilerplate" in kinds:
        text = "\n".join(rng.sample(BOILERPLATE, rng.randint(1, 2))) + "\n\n" + text + "\n\n" + rng.choice(BOILERPLATE)
    return text


def shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 5]) for i in range(max(1, len(words) - 4))}


def generate_corpus(n_docs: int, seed: int, folder: Path) -> Path:
    """Parquet parts (doc_id, text, first_line), the same documents as JSONL, and labels."""
    if (folder / "done").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = prose_sentences()
    vocabulary = sorted({w for s in pool for w in s.split() if w.isalpha()})
    structures: list[list[list[str]]] = []
    texts, families = [], []
    popular: list[int] = []
    for i in range(n_docs):
        if i > 100 and rng.random() < 0.15:  # a planted copy of an earlier document (original or copy)
            source = rng.choice(popular) if rng.random() < 0.05 else rng.randrange(i)
            texts.append(edit_document(structures[source], rng, pool, vocabulary))
            structures.append(structures[source])
            families.append(families[source])
            continue
        n_sentences = min(80, max(5, int(rng.lognormvariate(2.6, 0.6))))
        sentences = [rng.choice(pool) for _ in range(n_sentences)]
        cuts = sorted(rng.sample(range(1, n_sentences), min(n_sentences - 1, n_sentences // 4)))
        paragraphs = [sentences[a:b] for a, b in zip([0] + cuts, cuts + [n_sentences])]
        if rng.random() < 0.03:  # a short text (60+ words) with a site's long footer: a hard negative for LSH
            body = []
            while sum(len(s.split()) for s in body) < 60:
                body.append(rng.choice(pool))
            paragraphs = [body, list(BOILERPLATE)]
        structures.append(paragraphs)
        texts.append(render(paragraphs))
        families.append(i)
        if len(popular) < 50 and rng.random() < 0.01:
            popular.append(i)
    ids = [f"doc-{i:07d}" for i in range(n_docs)]
    for part, start in enumerate(range(0, n_docs, DOCS_PER_PART)):
        chunk = slice(start, start + DOCS_PER_PART)
        pq.write_table(pa.table({"doc_id": ids[chunk], "text": texts[chunk],
                                 "first_line": [t.split("\n", 1)[0][:120] for t in texts[chunk]]}),
                       folder / f"part-{part:05d}.parquet")
        (folder / "jsonl").mkdir(exist_ok=True)
        with open(folder / "jsonl" / f"part-{part:05d}.jsonl", "w", encoding="utf-8") as f:
            for doc_id, text in zip(ids[chunk], texts[chunk]):
                f.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    members: dict[int, list[int]] = collections.defaultdict(list)
    for i, family in enumerate(families):
        members[family].append(i)
    pairs = []
    for group in members.values():
        if len(group) > 1:
            sets = {i: shingles(texts[i]) for i in group}
            for a, b in itertools.combinations(group, 2):
                pairs.append((ids[a], ids[b], len(sets[a] & sets[b]) / len(sets[a] | sets[b])))
    pq.write_table(pa.table({"doc_id": ids, "family": families}), folder / "families.parquet")
    pq.write_table(pa.table({"id_a": [p[0] for p in pairs], "id_b": [p[1] for p in pairs],
                             "jaccard": [p[2] for p in pairs]}), folder / "pairs.parquet")
    (folder / "done").write_text("ok\n")
    return folder


# ---------------------------------------------------------------- the two pipelines (run in a subprocess)
def run_gristmill(corpus: Path, out: Path, overrides: dict) -> dict:
    from pipeline.config import DedupConfig
    from pipeline.dedup import buckets, clusters, signatures

    parts = sorted(corpus.glob("part-*.parquet"))
    config = DedupConfig.model_validate(overrides)
    work, index = out / "work", out / "build" / "dedup"
    times = {}
    start = time.perf_counter()
    signatures(parts, config, SEED, work)
    times["signatures"] = time.perf_counter() - start
    buckets(parts, config, SEED, work, index)
    times["buckets"] = time.perf_counter() - start - sum(times.values())
    dropped = clusters(parts, config, SEED, work, index)
    times["clusters"] = time.perf_counter() - start - sum(times.values())
    (out / "kept").mkdir(exist_ok=True)
    parts_of_drops = dropped.column("part").to_numpy()
    rows_of_drops = dropped.column("row").to_numpy()
    for p, path in enumerate(parts):  # what the ledger stage does next: write the kept documents
        drops = rows_of_drops[parts_of_drops == p]
        source = pq.ParquetFile(path)
        with pq.ParquetWriter(out / "kept" / path.name, pa.schema([("doc_id", pa.string()), ("text", pa.string())]),
                              compression="zstd") as writer:
            row = 0
            for batch in source.iter_batches(batch_size=8192, columns=["doc_id", "text"]):
                keep = ~np.isin(np.arange(row, row + batch.num_rows), drops)
                writer.write_batch(batch.filter(pa.array(keep)))
                row += batch.num_rows
    times["write kept"] = time.perf_counter() - start - sum(times.values())
    return {"times": times}


def gristmill_run_clusters(out: Path) -> dict[str, int]:
    table = pq.read_table(out / "build" / "dedup" / "clusters.parquet", columns=["cluster_id", "doc_id"]).to_pydict()
    return dict(zip(table["doc_id"], table["cluster_id"]))


def run_datatrove(corpus: Path, out: Path, workers: int = 2) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    files = sorted((corpus / "jsonl").glob("*.jsonl"))
    config = MinhashConfig()  # FineWeb: 5-grams, 14 buckets x 8 hashes, 64-bit xxhash
    reader = lambda: JsonlReader(str(corpus / "jsonl"), glob_pattern="*.jsonl")  # noqa: E731
    stages = {
        "signatures": ([reader(), MinhashDedupSignature(output_folder=str(out / "sigs"), config=config)], len(files)),
        "buckets": ([MinhashDedupBuckets(input_folder=str(out / "sigs"), output_folder=str(out / "buckets"),
                                         config=config)], config.num_buckets),
        "clusters": ([MinhashDedupCluster(input_folder=str(out / "buckets"), output_folder=str(out / "remove"),
                                          config=config, save_cluster_id=True)], 1),
        "write kept": ([reader(), MinhashDedupFilter(input_folder=str(out / "remove")),
                        JsonlWriter(str(out / "kept"))], len(files)),
    }
    times = {}
    for name, (pipeline, tasks) in stages.items():
        start = time.perf_counter()
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks),
                              logging_dir=str(out / "logs" / name.replace(" ", "_"))).run()
        times[name] = time.perf_counter() - start
    return {"times": times}


def datatrove_run_clusters(corpus: Path, out: Path) -> dict[str, int]:
    """doc_id -> cluster from MinhashDedupCluster's .clusters files (doc index, cluster) per input file."""
    clusters = {}
    for rank, path in enumerate(sorted((corpus / "jsonl").glob("*.jsonl"))):
        cluster_file = out / "remove" / f"{rank:06d}.clusters"
        if cluster_file.is_file():
            ids = [json.loads(line)["id"] for line in open(path, encoding="utf-8")]
            for doc, cluster in struct.iter_unpack("<II", cluster_file.read_bytes()):
                clusters[ids[doc]] = cluster
    return clusters


def child_main(argv: list[str]) -> None:
    if argv[0] == "generate":  # in its own process, so the measuring parent stays small
        generate_corpus(int(argv[1]), SEED, Path(argv[2]))
        return
    kind, corpus, out = argv[0], Path(argv[1]), Path(argv[2])
    overrides = json.loads(argv[3]) if len(argv) > 3 else {}
    out.mkdir(parents=True, exist_ok=True)
    result = run_gristmill(corpus, out, overrides) if kind == "gristmill" else run_datatrove(corpus, out)
    # VmHWM, not ru_maxrss: ru_maxrss keeps the peak of the forked parent image from before exec
    result["self_peak_mb"] = next(int(line.split()[1]) for line in open("/proc/self/status")
                                  if line.startswith("VmHWM:")) / 1024
    result["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    (out / "result.json").write_text(json.dumps(result))


# ---------------------------------------------------------------- measuring a subprocess
def tree_rss_mb(root_pid: int) -> float:
    """Sum of VmRSS over a process and all its descendants."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
                children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
            except OSError:
                continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measure(kind: str, corpus: Path, out: Path, overrides: dict | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [sys.executable, __file__, "_run", kind, str(corpus), str(out), json.dumps(overrides or {})]
    start = time.perf_counter()
    with open(out.parent / f"{out.name}.log", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, tree_rss_mb(process.pid))
            time.sleep(0.05)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{kind} failed; see {out.parent / f'{out.name}.log'}")
    result = json.loads((out / "result.json").read_text())
    clusters = gristmill_run_clusters(out) if kind == "gristmill" else datatrove_run_clusters(corpus, out)
    result.update(wall_s=wall, tree_peak_mb=peak, clusters=clusters)
    return result


# ---------------------------------------------------------------- scoring
def score_families(clusters: dict[str, int], family_of: dict[str, int], dup_pairs: list[tuple[str, str]]) -> dict:
    recall = np.mean([a in clusters and clusters.get(a) == clusters.get(b) for a, b in dup_pairs]) if dup_pairs else 1.0
    groups: dict[int, list[str]] = collections.defaultdict(list)
    for doc, cluster in clusters.items():
        groups[cluster].append(doc)
    total = same = 0
    for docs in groups.values():
        total += len(docs) * (len(docs) - 1) // 2
        same += sum(c * (c - 1) // 2 for c in collections.Counter(family_of[d] for d in docs).values())
    return {"recall": float(recall), "precision": same / total if total else 1.0, "wrong_pairs": total - same}


def score_labelled(clusters: dict[str, int], pairs: list[dict]) -> dict:
    listed = {frozenset((p["id_a"], p["id_b"])): p for p in pairs}
    dup = [(p["id_a"], p["id_b"]) for p in pairs if p["dup"]]
    recall = np.mean([a in clusters and clusters.get(a) == clusters.get(b) for a, b in dup])
    groups: dict[int, list[str]] = collections.defaultdict(list)
    for doc, cluster in clusters.items():
        groups[cluster].append(doc)
    total = good = hard = 0
    for docs in groups.values():
        for a, b in itertools.combinations(docs, 2):
            pair = listed.get(frozenset((a, b)))
            total += 1
            good += bool(pair and pair["same_origin"])
            hard += bool(pair and pair["pair_type"].startswith("hard_negative"))
    return {"recall": float(recall), "precision": good / total if total else 1.0, "hard_negatives": hard}


def datasketch_lsh_clusters(docs: list[dict], seed: int, normalise: bool) -> dict[str, int]:
    """datasketch alone: MinHashLSH with FineWeb's 14 x 8 of 112 on word 5-grams, union-find clusters."""
    from datasketch import MinHash, MinHashLSH

    from pipeline.dedup.clusters import connected_components
    from pipeline.dedup.exact import normalised_words

    split = normalised_words if normalise else str.split
    lsh = MinHashLSH(num_perm=112, params=(14, 8))
    hashes = MinHash.bulk([[" ".join(w[i : i + 5]).encode() for i in range(max(1, len(w) - 4))]
                           for w in (split(d["text"]) for d in docs)], num_perm=112, seed=seed)
    edges = []
    for i, minhash in enumerate(hashes):
        edges += [(int(j), i) for j in lsh.query(minhash)]
        lsh.insert(str(i), minhash)
    members, roots = connected_components(np.array(edges, dtype=np.int64).reshape(-1, 2))
    return {docs[m]["id"]: int(r) for m, r in zip(members.tolist(), roots.tolist())}


def gristmill_clusters(corpus: Path, work: Path, config, seed: int) -> dict[str, int]:
    from pipeline.dedup import deduplicate

    run = work / "neardup-run"
    shutil.rmtree(run, ignore_errors=True)
    deduplicate(sorted(corpus.glob("part-*.parquet")), config, seed, run / "work", run / "build" / "dedup")
    table = pq.read_table(run / "build" / "dedup" / "clusters.parquet").to_pydict()
    return dict(zip(table["doc_id"], table["cluster_id"]))


def labelled_table(work: Path, seeds: int, with_datatrove: bool) -> None:
    docs = [json.loads(line) for line in open(DATA / "neardup" / "neardup_dev_docs.jsonl", encoding="utf-8")]
    pairs = [json.loads(line) for line in open(DATA / "neardup" / "neardup_dev_pairs.jsonl", encoding="utf-8")]
    corpus = work / "neardup"
    (corpus / "jsonl").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"doc_id": [d["id"] for d in docs], "text": [d["text"] for d in docs]}),
                   corpus / "part-00000.parquet")
    with open(corpus / "jsonl" / "part-00000.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs)
    from pipeline.config import DedupConfig

    default = DedupConfig().near
    rows = []
    label = f"gristmill default ({default.bands}x{default.rows} of {default.num_perm}, verify={default.verify})"
    variants = [(label, {}),
                ("gristmill verify=estimated", {"near": {"verify": "estimated"}}),
                ("gristmill FineWeb 14x8 of 112, verify=none", {"near": {"bands": 14, "rows": 8, "num_perm": 112,
                                                                         "verify": "none"}})]
    for name, overrides in variants:
        config = DedupConfig.model_validate({**overrides, "workers": 1})
        rows.append((name, f"seed {SEED}", score_labelled(gristmill_clusters(corpus, work, config, SEED), pairs)))
        if seeds:
            scores = [score_labelled(gristmill_clusters(corpus, work, config, seed), pairs) for seed in range(seeds)]
            rows.append((name, f"{seeds} seeds: mean", {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}))
            rows.append((name, f"{seeds} seeds: worst", {"recall": min(s["recall"] for s in scores),
                                                          "precision": min(s["precision"] for s in scores),
                                                          "hard_negatives": max(s["hard_negatives"] for s in scores)}))
    for normalise, words in ((False, "whitespace words"), (True, "normalised words")):
        rows.append((f"datasketch MinHashLSH 14x8 of 112 ({words})", f"seed {SEED}",
                     score_labelled(datasketch_lsh_clusters(docs, SEED, normalise), pairs)))
    if with_datatrove:
        result = measure("datatrove", corpus, work / "neardup-datatrove")
        rows.append(("datatrove MinHash (FineWeb 14x8)", "", score_labelled(result["clusters"], pairs)))
    print(f"\nLabelled pairs: {DATA / 'neardup'} ({len(docs)} docs, {sum(p['dup'] for p in pairs)} dup pairs)")
    print(f"{'method':62} {'':>15} {'recall':>7} {'family prec':>11} {'hard neg merged':>15}")
    for name, note, s in rows:
        print(f"{name:62} {note:>15} {s['recall']:7.4f} {s['precision']:11.4f} {s['hard_negatives']:15g}")


def corpus_table(work: Path, sizes: list[int], datatrove_sizes: list[int], repeats: int) -> None:
    results = []
    for n in sizes:
        corpus = work / f"corpus-{n}"
        subprocess.run([sys.executable, __file__, "_run", "generate", str(n), str(corpus)], check=True, cwd=ROOT)
        families = pq.read_table(corpus / "families.parquet").to_pydict()
        family_of = dict(zip(families["doc_id"], families["family"]))
        pairs = pq.read_table(corpus / "pairs.parquet").to_pydict()
        dup_pairs = [(a, b) for a, b, j in zip(pairs["id_a"], pairs["id_b"], pairs["jaccard"]) if j >= 0.8]
        for kind in ["gristmill", "datatrove"] if n in datatrove_sizes else ["gristmill"]:
            n_runs = repeats if kind == "gristmill" else 1
            runs = [measure(kind, corpus, work / f"run-{kind}-{n}") for _ in range(n_runs)]
            result = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run by wall time
            result.update(tree_peak_mb=max(r["tree_peak_mb"] for r in runs), repeats=len(runs),
                          self_peak_mb=max(r["self_peak_mb"] for r in runs))
            result.update(score_families(result.pop("clusters"), family_of, dup_pairs), kind=kind, n=n,
                          dup_pairs=len(dup_pairs))
            for r in runs:
                r.pop("clusters", None)
            results.append(result)
            print(f"  measured {kind} on {n}: {[round(r['wall_s'], 1) for r in runs]} s", file=sys.stderr, flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nGenerated corpora (seed {SEED}; planted pairs with 5-gram Jaccard >= 0.8 are duplicates); "
          f"{os.cpu_count()} CPUs, workers=2 for both; gristmill: median of {repeats} runs, peaks their max")
    print(f"{'pipeline':10} {'docs':>7} {'wall s':>7} {'docs/s':>8} {'vs dt':>6} {'tree peak MB':>12} "
          f"{'main MB':>8} {'worker MB':>9} {'recall':>7} {'precision':>9}  stages (s)")
    anchor = {r["n"]: r["wall_s"] for r in results if r["kind"] == "datatrove"}
    for r in results:
        ratio = f"{anchor[r['n']] / r['wall_s']:5.2f}x" if r["n"] in anchor else "     -"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["times"].items())
        print(f"{r['kind']:10} {r['n']:7d} {r['wall_s']:7.1f} {r['n'] / r['wall_s']:8.0f} {ratio:>6} "
              f"{r['tree_peak_mb']:12.0f} {r['self_peak_mb']:8.0f} {r['children_maxrss_mb']:9.0f} "
              f"{r['recall']:7.4f} {r['precision']:9.4f}  {stages}")
    print("\nPeak memory slope between the smallest and largest corpus (tree: all processes; main: the driver):")
    for kind in sorted({r["kind"] for r in results}):
        mine = sorted((r for r in results if r["kind"] == kind), key=lambda r: r["n"])
        low, high = mine[0], mine[-1]
        if high["n"] > low["n"]:
            for label, key in (("tree", "tree_peak_mb"), ("main", "self_peak_mb")):
                slope = (high[key] - low[key]) / (high["n"] - low["n"])  # MB per document
                print(f"  {kind:10} {label:5} {low[key]:6.0f} MB at {low['n']}, {high[key]:6.0f} MB at {high['n']}: "
                      f"{slope * 2**20:5.0f} bytes/doc; 1M docs ~ {low[key] + slope * (1_000_000 - low['n']):6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 200_000])
    parser.add_argument("--seeds", type=int, default=20, help="extra seeds for the labelled-pairs spread")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gristmill-bench-dedup"))
    parser.add_argument("--repeats", type=int, default=3, help="gristmill runs per corpus size (median reported)")
    parser.add_argument("--datatrove-sizes", type=int, nargs="*", default=None,
                        help="corpus sizes that datatrove also runs on (default: the smallest; its spaCy word "
                             "tokenizer makes it take ~20 minutes per 100k documents on 2 cores)")
    parser.add_argument("--no-datatrove", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    labelled_table(args.workdir, args.seeds, not args.no_datatrove)
    if args.sizes:
        datatrove_sizes = [] if args.no_datatrove else (args.datatrove_sizes if args.datatrove_sizes is not None
                                                         else [min(args.sizes)])
        corpus_table(args.workdir, args.sizes, datatrove_sizes, args.repeats)

if __name__ == "__main__":  # spawned workers (gristmill) and forkserver (datatrove) import this file
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        child_main(sys.argv[2:])
    else:
        main()
