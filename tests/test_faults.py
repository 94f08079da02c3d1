"""Fault injection: kill -9 at every stage, a killed worker, a full disk, two builds at once, a killed
checkpoint write. Each scenario runs real `gristmill build --no-prefect` processes on a tiny
generated corpus and checks that the output is byte-identical to an uninterrupted build.

The faults are placed by pipeline/faults.py (an environment variable names the point); a few
kills land at a random moment instead. benchmarks/kill_matrix.py runs every point on its own.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_build import TINY_BUILD, build_outputs, leftovers, make_fault_corpus, run_build

# Each scenario runs several real builds; on a 2-core machine shared with other jobs one took 250 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# In pipeline order; each run of the chain resumes the last one and dies at the next point.
KILL_CHAIN = [
    "discover.inputs_written", "annotate.part_tmp_written", "annotate.part_written", "annotate.stats_written",
    "dedup.end", "ledger.part_done", "ledger.stats_written", "tokenizer.end", "shards.shard_tmp_written",
    "shards.shard_written",
    "shards.stats_written", "report.end",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_fault_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(json.dumps(TINY_BUILD))
    return path


@pytest.fixture(scope="module")
def reference(corpus, config, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "build"
    assert run_build(corpus, out, config).returncode == 0
    return out


def test_kill_9_at_12_points_across_every_stage_then_rerun_gives_byte_identical_output(corpus, config, reference, tmp_path):
    out = tmp_path / "build"
    for point in KILL_CHAIN:
        result = run_build(corpus, out, config, GRISTMILL_KILL_AT=point)
        assert result.returncode == -signal.SIGKILL, (point, result.stderr[-2000:])
    assert run_build(corpus, out, config).returncode == 0
    assert build_outputs(out) == build_outputs(reference)
    assert leftovers(out) == []


def test_kill_9_at_random_moments_then_rerun_gives_byte_identical_output(corpus, config, reference, tmp_path):
    rng = random.Random()  # truly random moments; the seed is printed for a rerun
    seed = rng.randrange(10**6)
    rng.seed(seed)
    print("random kill seed", seed)
    out = tmp_path / "build"
    for _ in range(2):
        process = subprocess.Popen(run_build.command(corpus, out, config), env=run_build.env(), cwd=run_build.cwd,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert run_build(corpus, out, config).returncode == 0
    assert build_outputs(out) == build_outputs(reference)
    assert leftovers(out) == []


def test_a_worker_killed_once_is_retried_and_nothing_is_lost(corpus, config, reference, tmp_path):
    out = tmp_path / "build"
    marker = tmp_path / "killed-once"
    result = run_build(corpus, out, config, workers=2, GRISTMILL_KILL_WORKER_ON=f"good-1.jsonl,{marker}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert marker.exists()
    assert build_outputs(out, same_config=False) == build_outputs(reference, same_config=False)


def test_a_worker_that_always_dies_loses_only_its_file_which_is_listed_unreadable(corpus, config, tmp_path):
    out = tmp_path / "build"
    result = run_build(corpus, out, config, workers=2, GRISTMILL_KILL_WORKER_ON="good-1.jsonl")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    [entry] = [u for u in report["inputs"]["unreadable"] if u["path"].endswith("good-1.jsonl")]
    assert entry["reason"].startswith("worker_failed: worker process died")
    import pyarrow.parquet as pq

    sources = set(pq.read_table(out / "ledger.parquet").column("source").to_pylist())
    assert "good-1.jsonl" not in sources and "good-2.jsonl" in sources


@pytest.mark.parametrize("point", ["annotate.part_tmp_written"])  # every stage translates ENOSPC alike (build._stage)
def test_disk_full_names_the_folder_leaves_nothing_finished_looking_and_the_next_run_resumes(
        corpus, config, reference, tmp_path, point):
    out = tmp_path / "build"
    result = run_build(corpus, out, config, GRISTMILL_ENOSPC_AT=point)
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "No space left on device while writing" in message and str(out / "work") in message
    assert "run the same command again" in message and "Traceback" not in result.stderr
    stage = point.split(".")[0]
    assert not (out / "work" / "stages" / f"{stage}.json").exists()
    if stage == "annotate":
        assert not list((out / "work" / "annotate").glob("*.json"))  # no part looks complete
    assert not (out / "manifest.json").exists()
    assert run_build(corpus, out, config).returncode == 0
    assert build_outputs(out) == build_outputs(reference)


def test_a_second_build_into_the_same_folder_is_refused_while_the_first_runs(corpus, config, reference, tmp_path):
    out = tmp_path / "build"
    go_on = tmp_path / "go-on"
    first = subprocess.Popen(run_build.command(corpus, out, config), cwd=run_build.cwd, text=True,
                             env=run_build.env(GRISTMILL_PAUSE_AT=f"annotate.start,{go_on}"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lock = out / ".gristmill.lock"
    for _ in range(600):
        if lock.is_file() and lock.read_text().startswith("process"):
            break
        time.sleep(0.1)
    second = run_build(corpus, out, config)
    go_on.touch()
    _, first_err = first.communicate(timeout=300)
    assert second.returncode == 2
    assert f"is being built by process {first.pid}" in " ".join(second.stderr.split())
    assert first.returncode == 0, first_err[-2000:]
    assert build_outputs(out) == build_outputs(reference)


def test_training_killed_while_writing_a_checkpoint_resumes_from_the_last_complete_one(tmp_path):
    import torch
    from safetensors.torch import load_file

    from model.checkpoint import latest_checkpoint
    from model.train import train
    from model_data import make_data_dir
    from pipeline.config import Config

    data = make_data_dir(tmp_path / "data")
    settings = {"seed": 3, "model": {"preset": "tiny"},
                "train": {"max_steps": 16, "batch_size": 8, "log_interval": 4, "eval_interval": 8,
                          "checkpoint_interval": 8, "warmup_steps": 4, "learning_rate": 3e-3, "num_threads": 1}}
    config_path = tmp_path / "train.yaml"
    config_path.write_text(json.dumps(settings))
    whole = tmp_path / "whole"
    train(data, whole, Config.model_validate(settings), progress=False)

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "model.train", "--data", str(data), "--out", str(killed), "--config",
               str(config_path), "--no-progress"]
    result = subprocess.run(command, cwd=run_build.cwd, env=run_build.env(GRISTMILL_KILL_AT="checkpoint.files_written#2"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert latest_checkpoint(killed).name == "step-000008"  # the complete one, not the half-written step 16
    assert (killed / "checkpoints" / ".step-000016.tmp").is_dir()
    train(data, killed, Config.model_validate(settings), progress=False)
    reference = load_file(latest_checkpoint(whole) / "model.safetensors")
    resumed = load_file(latest_checkpoint(killed) / "model.safetensors")
    assert latest_checkpoint(killed).name == "step-000016"
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
    shutil.rmtree(data)
