"""Issue 10's "Done when", measured: a build over a folder that mixes 45 distinct defects with good
documents, with the default config (every filter on, the default 16 MB record limit, so the giant
line is 17 MB).

    .venv/bin/python benchmarks/defects.py [--keep DIR]

Prints whether the build completed, how many good documents it kept, and how every other record
and file is accounted for. The folder is generated (tests/defects.py), nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pyarrow.parquet as pq  # noqa: E402

from defects import make_defects  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="build here and keep the folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gristmill-defects-") as tmp:
        work = args.keep or Path(tmp)
        inbox, out = work / "inbox", work / "build"
        good, defects = make_defects(inbox, giant_bytes=17 * 1024 * 1024)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "flows.cli", "build", str(inbox), "--out", str(out), "--no-prefect",
                                 "--quiet"], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stderr[-3000:])
            raise SystemExit(f"the build failed (exit {result.returncode})")
        ledger = pq.read_table(out / "ledger.parquet").to_pylist()
        report = json.loads((out / "report.json").read_text())
        kept = {r["doc_id"] for r in ledger if r["kept"]}
        lost = sorted(set(good) - kept)
        reasons = Counter(r["drop_reason"] for r in ledger if not r["kept"])
        unreadable = report["inputs"]["unreadable"]
        files = len(list(inbox.iterdir()))
        accounted = {r["source"] for r in ledger} | {Path(u["path"]).name for u in unreadable}
    print("| | |")
    print("|---|---:|")
    for label, value in (("distinct defects", len(set(defects))), ("files", files),
                         ("files accounted for (ledger rows or unreadable list)", len(accounted)),
                         ("ledger rows", len(ledger)), ("good documents", len(good)),
                         ("good documents kept", len(set(good) & kept)), ("good documents lost", len(lost)),
                         ("dropped rows without a reason", reasons.get(None, 0)),
                         ("records quarantined (invalid:*)", report["bad_input"]["quarantined"]),
                         ("documents transcoded", report["bad_input"]["transcoded"]),
                         ("lone surrogates replaced", report["bad_input"]["surrogates_replaced"]),
                         ("unreadable files", len(unreadable)), ("build seconds", f"{seconds:.1f}")):
        print(f"| {label} | {value} |")
    print("\nreasons:", ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda x: str(x[0]))))
    if lost:
        print("LOST:", lost)


if __name__ == "__main__":
    main()
