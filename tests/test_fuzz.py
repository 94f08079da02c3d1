"""Property-based fuzzing of every reader and of whole builds (strategies and invariants in
tests/fuzz_inputs.py). This is the CI profile, seconds long; `benchmarks/fuzz.py` runs the long
profile and prints how many inputs it tried, the crashes and the good documents lost."""

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from fuzz_inputs import Tally, check_build, check_readers, input_folder, write_folder

CI = settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


@CI
@given(input_folder())
def test_every_reader_survives_random_bad_input_and_keeps_the_good_documents(files):
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        write_folder(root / "in", files)
        check_readers(root / "in", files, Tally())
    finally:
        shutil.rmtree(root)


@settings(CI, max_examples=4)
@given(input_folder())
def test_a_whole_build_over_random_bad_input_completes_and_keeps_the_good_documents(files):
    root = Path(tempfile.mkdtemp(prefix="fuzz-build-"))
    try:
        write_folder(root / "in", files)
        check_build(root / "in", root / "out", files, Tally())
    finally:
        shutil.rmtree(root)
