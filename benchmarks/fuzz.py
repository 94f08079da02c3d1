"""The long fuzzing profile: random bad input through every reader and through whole builds.

    .venv/bin/python benchmarks/fuzz.py                          # 3,000 input folders, 60 builds
    .venv/bin/python benchmarks/fuzz.py --folders 300 --builds 5 # a quick look

The strategies and invariants are those of tests/test_fuzz.py (tests/fuzz_inputs.py); CI runs
them with a few dozen examples. Hypothesis draws fresh examples each run (not derandomized) and
stops at the first invariant broken or exception raised, shrinks it and prints it; the table
counts what was tried. A crash is any exception out of a reader or a build.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzz_inputs import Tally, check_build, check_readers, input_folder, write_folder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folders", type=int, default=3000, help="random input folders fed to every reader")
    parser.add_argument("--builds", type=int, default=60, help="random input folders built end to end")
    args = parser.parse_args()
    quiet = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
    rows = []
    for name, examples, check in (("readers", args.folders, "readers"), ("whole builds", args.builds, "build")):
        tally, crashes = Tally(), 0

        @settings(quiet, max_examples=examples)
        @given(input_folder())
        def run(files: list) -> None:
            root = Path(tempfile.mkdtemp(prefix="gristmill-fuzz-"))
            try:
                write_folder(root / "in", files)
                if check == "readers":
                    check_readers(root / "in", files, tally)
                else:
                    check_build(root / "in", root / "out", files, tally)
            finally:
                shutil.rmtree(root)

        started = time.perf_counter()
        try:
            run()
        except AssertionError:
            raise
        except Exception:
            crashes += 1
            raise
        rows.append((name, tally.inputs if check == "readers" else tally.builds, tally.files, tally.records,
                     crashes, tally.good_checked, tally.good_lost, time.perf_counter() - started))
    print(f"| fuzzed | input folders | files | records read | crashes | good documents checked | good documents lost | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, folders, files, records, crashes, checked, lost, seconds in rows:
        print(f"| {name} | {folders:,} | {files:,} | {records:,} | {crashes} | {checked:,} | {lost} | {seconds:,.0f} |")


if __name__ == "__main__":
    main()
