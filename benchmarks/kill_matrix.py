"""kill -9 at every fault point of a build, each on its own, then the same command again: is the
output byte-identical to an uninterrupted build? Plus kills at random moments.

    .venv/bin/python benchmarks/kill_matrix.py               # every point + 10 random moments
    .venv/bin/python benchmarks/kill_matrix.py --random 3     # fewer random kills

Each build is a real `gristmill build --no-prefect` subprocess on the tiny generated corpus of
tests/test_faults.py (filters that load models are off: what is measured is resumption). Compared:
ledger.parquet, tokenizer.json, every shard and provenance file, manifest.json (sha256 of each),
and report.json without its timings. CI runs the same points as one chain of kills
(tests/test_faults.py); here each point starts from an empty folder.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fault_build import TINY_BUILD, build_outputs, make_fault_corpus, run_build  # noqa: E402

POINTS = [
    "discover.start", "discover.inputs_written", "discover.end", "discover.stats_written",
    "annotate.start", "annotate.part_tmp_written", "annotate.part_written", "annotate.part_written#4",
    "annotate.end", "annotate.stats_written",
    "dedup.start", "dedup.end", "dedup.stats_written",
    "ledger.start", "ledger.part_done", "ledger.part_done#5", "ledger.end", "ledger.stats_written",
    "tokenizer.start", "tokenizer.end", "tokenizer.stats_written",
    "shards.start", "shards.shard_tmp_written", "shards.shard_written", "shards.shard_written#3", "shards.end", "shards.stats_written",
    "report.start", "report.end", "report.stats_written",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=10, help="kills at random moments")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random moments (default: fresh)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="gristmill-kills-") as tmp:
        tmp = Path(tmp)
        corpus = make_fault_corpus(tmp / "corpus")
        config = tmp / "tiny.yaml"
        config.write_text(json.dumps(TINY_BUILD))
        started = time.perf_counter()
        assert run_build(corpus, tmp / "reference", config).returncode == 0
        whole_seconds = time.perf_counter() - started
        reference = build_outputs(tmp / "reference")
        rows = []
        for point in POINTS:
            out = tmp / f"kill-{len(rows)}"
            killed = run_build(corpus, out, config, GRISTMILL_KILL_AT=point).returncode == -signal.SIGKILL
            rerun = run_build(corpus, out, config)
            rows.append((point, killed, rerun.returncode == 0 and build_outputs(out) == reference))
        for i in range(args.random):
            out = tmp / f"random-{i}"
            moment = rng.uniform(0.2, whole_seconds)
            process = subprocess.Popen(run_build.command(corpus, out, config), env=run_build.env(), cwd=run_build.cwd,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(moment)
            process.send_signal(signal.SIGKILL)
            killed = process.wait() == -signal.SIGKILL
            rerun = run_build(corpus, out, config)
            rows.append((f"random moment {moment:.2f} s", killed, rerun.returncode == 0 and build_outputs(out) == reference))
    print(f"uninterrupted build: {whole_seconds:.1f} s; random seed {seed}")
    print("| kill point | killed there | rerun byte-identical |")
    print("|---|---|---|")
    for point, killed, same in rows:
        print(f"| {point} | {'yes' if killed else 'no (finished first)'} | {'yes' if same else 'NO'} |")
    identical = sum(same for _, _, same in rows)
    print(f"\n{identical} of {len(rows)} reruns byte-identical; {sum(k for _, k, _ in rows)} runs killed")


if __name__ == "__main__":
    main()
