"""Scaling out: a whole build on a Dask cluster of 1 and of 2 workers, same run, same corpus.

    .venv/bin/python benchmarks/scale.py                      # 200k documents, 1 and 2 workers
    .venv/bin/python benchmarks/scale.py --docs 5000          # a quick look

The corpus is generated (deterministic): short documents of 3-9 sentences of shared/data/prose,
10% planted copies with a few words changed, in 16 JSONL files. Each build runs in its own
subprocess through `build_corpus` with `executor: {kind: dask, workers: N}` (a LocalCluster on
127.0.0.1). Printed per stage: seconds and documents/s for each worker count, the speed-up and the
parallel efficiency (speed-up / workers; the 1-worker run is the anchor), and the driver process's
peak memory (VmHWM of the flow's process; the workers are separate processes). The output of the
two builds is compared byte for byte (ledger, manifest, shards).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path("/work/shared/data")
SEED = 1337
FILES = 16
STAGES = ("annotate", "dedup", "ledger", "tokenizer", "shards", "report")


def sentences() -> list[str]:
    pool = []
    for line in open(DATA / "prose" / "prose_dev.jsonl", encoding="utf-8"):
        for paragraph in re.split(r"\n\s*\n", json.loads(line)["text"]):
            pool += [s for s in re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split())) if 6 <= len(s.split()) <= 40]
    return pool


def generate(n_docs: int, folder: Path) -> Path:
    if (folder / "done").is_file() and json.loads((folder / "done").read_text())["docs"] == n_docs:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng, pool = random.Random(SEED), sentences()
    texts: list[str] = []
    per_file = -(-n_docs // FILES)
    for i in range(n_docs):
        if i > 100 and rng.random() < 0.10:
            words = texts[rng.randrange(i)].split(" ")
            for _ in range(max(1, len(words) // 40)):
                words[rng.randrange(len(words))] = rng.choice(pool).split()[0]
            texts.append(" ".join(words))
        else:
            texts.append(" ".join(rng.choice(pool) for _ in range(rng.randint(3, 9))))
    for f in range(FILES):
        with open(folder / f"part-{f:02d}.jsonl", "w", encoding="utf-8") as out:
            for i in range(f * per_file, min(n_docs, (f + 1) * per_file)):
                out.write(json.dumps({"id": f"doc-{i:07d}", "text": texts[i]}) + "\n")
    (folder / "done").write_text(json.dumps({"docs": n_docs}))
    return folder


def child(corpus: Path, out: Path, workers: int) -> None:
    """One build in this process (the driver); its stage timings and peak memory to out/result.json."""
    import yaml

    from flows.build_corpus import build_corpus

    config = out.with_suffix(".yaml")
    config.write_text(yaml.safe_dump({"executor": {"kind": "dask", "workers": workers},
                                      "tokenizer": {"sample_bytes": 20_000_000}}))
    started = time.perf_counter()
    build_corpus([str(corpus)], str(out), str(config), overwrite=True, progress=False)
    wall = time.perf_counter() - started
    stages = {s: json.loads((out / "work" / "stages" / f"{s}.json").read_text()) for s in STAGES}
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
    (out / "result.json").write_text(json.dumps({"wall": wall, "stages": stages, "driver_peak_mb": peak}))


def digest(out: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted([out / "ledger.parquet", out / "manifest.json", *(out / "shards").rglob("*")]):
        if path.is_file():
            sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000, help="documents in the generated corpus")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes (the first is the anchor)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/gristmill-scale"), help="scratch folder")
    args = parser.parse_args()
    corpus = generate(args.docs, args.work / f"corpus-{args.docs}")
    results = {}
    for workers in args.workers:
        # the same folder name for every run: the dedup index records it
        out = args.work / f"w{workers}" / "build"
        shutil.rmtree(out.parent, ignore_errors=True)
        out.parent.mkdir(parents=True)
        with open(out.parent / "log.txt", "w") as log:
            # a busy machine can take longer than Prefect's default 20 s to start its temporary API
            env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}
            done = subprocess.run([sys.executable, __file__, "_child", str(corpus), str(out), str(workers)],
                                  cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        if done.returncode:
            raise SystemExit(f"the {workers}-worker build failed: see {out.parent / 'log.txt'}")
        results[workers] = json.loads((out / "result.json").read_text()) | {"digest": digest(out)}
    anchor = args.workers[0]
    documents = results[anchor]["stages"]["annotate"]["documents"]
    kept = results[anchor]["stages"]["ledger"]["kept"]
    print(f"\n{documents:,} documents in, {kept:,} kept; {len(args.workers)} builds on a Dask LocalCluster\n")
    head = "| stage | docs |" + "".join(f" {w} worker{'s' if w > 1 else ''}: s | docs/s |" for w in args.workers)
    head += "".join(f" speed-up {w}/{anchor} | efficiency |" for w in args.workers[1:])
    print(head)
    print("|" + "---|" * (2 + 2 * len(args.workers) + 2 * (len(args.workers) - 1)))
    for stage in [*STAGES, "whole build"]:
        n = kept if stage in ("tokenizer", "shards") else documents
        seconds = {w: (r["wall"] if stage == "whole build" else r["stages"][stage]["seconds"]) for w, r in results.items()}
        row = f"| {stage} | {n:,} |" + "".join(f" {seconds[w]:.1f} | {n / seconds[w]:,.0f} |" for w in args.workers)
        for w in args.workers[1:]:
            speedup = seconds[anchor] / seconds[w]
            row += f" {speedup:.2f}x | {speedup / (w / anchor):.0%} |"
        print(row)
    print("\n| workers | driver peak MB | output digest |\n|---|---|---|")
    for w, r in results.items():
        print(f"| {w} | {r['driver_peak_mb']:.0f} | {r['digest']} |")
    same = len({r["digest"] for r in results.values()}) == 1
    print(f"\nledger, manifest and shards byte-identical across worker counts: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
