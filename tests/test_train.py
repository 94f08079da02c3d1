"""The training loop: artefacts, exact resume, DDP and FSDP2 against one process, time budget."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from model.checkpoint import latest_checkpoint
from model.data import ShardDataset
from model.train import learning_rate, train
from model_data import make_data_dir
from pipeline.config import Config, TrainConfig

REPO = Path(__file__).resolve().parents[1]
TIMING_KEYS = {"tokens_per_s", "step_ms", "data_wait_ms", "data_wait_share", "mfu", "elapsed_s"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("data"))


def tiny_config(**train) -> Config:
    # one thread: a tiny model gains nothing from two, and the test then shrugs off a busy machine
    settings = {"max_steps": 16, "batch_size": 8, "log_interval": 4, "eval_interval": 8, "checkpoint_interval": 8,
                "warmup_steps": 4, "learning_rate": 3e-3, "num_threads": 1, **train}
    return Config.model_validate({"seed": 3, "model": {"preset": "tiny"}, "train": settings})


def losses(run_dir: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in records if "loss" in r]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run_dir) / "model.safetensors")


def test_tiny_run_learns_and_leaves_its_artefacts(data_dir, tmp_path):
    run = tmp_path / "run"
    summary = train(data_dir, run, tiny_config(max_steps=40, eval_interval=12, checkpoint_interval=20), progress=True)
    curve = losses(run)
    assert summary["step"] == 40 and curve[-1][0] == 40
    assert curve[-1][1] < curve[0][1] - 1.0, curve
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "loss" in r]
    assert {"step", "loss", "lr", "tokens_per_s", "mfu", "data_wait_ms", "data_wait_share"} <= set(logged[0])
    assert [r["step"] for r in records if "val_loss" in r] == [12, 24, 36, 40]
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["max_steps"] == 40
    assert (run / "tokenizer.json").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000020", "step-000040"]
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 40
    assert "lm_head.weight" not in final_weights(run)  # tied: stored once


def test_learning_rate_warms_up_then_decays_to_min_lr():
    cfg = TrainConfig(max_steps=100, warmup_steps=10, learning_rate=1e-3, min_lr=1e-4)
    rates = [learning_rate(s, cfg) for s in range(101)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert rates[100] == pytest.approx(1e-4)


def test_resumed_run_ends_exactly_like_the_uninterrupted_one(data_dir, tmp_path):
    # dropout and gradient accumulation on: RNG state, optimizer and data cursor must all come back
    config = tiny_config(grad_accum=2)
    config.model.dropout = 0.1
    whole = tmp_path / "whole"
    train(data_dir, whole, config, progress=False)

    # stopped by its time budget after the first step, then resumed in a second call
    budget = tiny_config(grad_accum=2, max_seconds=1e-6)
    budget.model.dropout = 0.1
    stopped = tmp_path / "stopped"
    summary = train(data_dir, stopped, budget, progress=False)
    assert summary["stopped"] == "max_seconds" and summary["step"] == 1
    train(data_dir, stopped, config, progress=False)

    # a copy of the uninterrupted run's mid-run checkpoint (step 8), resumed
    copied = tmp_path / "copied"
    shutil.copytree(whole / "checkpoints" / "step-000008", copied / "checkpoints" / "step-000008")
    (copied / "checkpoint.json").write_text(json.dumps({"step": 8, "path": "checkpoints/step-000008"}))
    train(data_dir, copied, config, progress=False)

    reference = final_weights(whole)
    for run in (stopped, copied):
        assert losses(run)[-1] == losses(whole)[-1]
        weights = final_weights(run)
        assert all(torch.equal(weights[k], reference[k]) for k in reference)
    strip = lambda run: [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}  # noqa: E731
                         for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert strip(copied) == [r for r in strip(whole) if r["step"] > 8]


def test_a_checkpoint_of_another_model_shape_is_refused(data_dir, tmp_path):
    run = tmp_path / "run"
    train(data_dir, run, tiny_config(max_steps=2), progress=False)
    other = tiny_config(max_steps=4)
    other.model.preset = "mini"
    with pytest.raises(ValueError, match="use a new run folder"):
        train(data_dir, run, other, progress=False)


def _torchrun(data_dir: Path, run_dir: Path, config: Config, nproc: int) -> None:
    config_path = run_dir.with_suffix(".yaml")
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "model.train", "--data", str(data_dir), "--out", str(run_dir), "--config", str(config_path),
               "--no-progress"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


# fp32: the comparison is at float tolerance (bf16 would round differently for 4-row and 8-row batches)
DISTRIBUTED_STEPS = dict(max_steps=8, log_interval=1, eval_interval=4, checkpoint_interval=4, grad_accum=2,
                         dtype="float32")


@pytest.fixture(scope="module")
def single_process_run(data_dir, tmp_path_factory) -> Path:
    single = tmp_path_factory.mktemp("single")
    train(data_dir, single, tiny_config(batch_size=8, **DISTRIBUTED_STEPS), progress=False)
    return single


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_processes_match_one_at_the_same_global_batch(data_dir, single_process_run, tmp_path, parallel):
    # batch 4 on each of 2 ranks, grad_accum 2 (no_sync on the first micro-batch) = batch 8 on one
    single = single_process_run
    double = tmp_path / "double"
    _torchrun(data_dir, double, tiny_config(batch_size=4, parallel=parallel, **DISTRIBUTED_STEPS), nproc=2)
    one, two = losses(single), losses(double)
    assert [s for s, _ in one] == [s for s, _ in two] == list(range(1, 9))
    assert [l for _, l in two] == pytest.approx([l for _, l in one], rel=1e-5)
    reference = final_weights(single)
    weights = final_weights(double)
    assert all(torch.allclose(weights[k], reference[k], atol=1e-5) for k in reference)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_of_a_one_node_torchrun_read_disjoint_rows_and_end_identical(data_dir, single_process_run, tmp_path):
    # The README's multi-node recipe with one node: an explicit c10d rendezvous instead of --standalone.
    run = tmp_path / "run"
    run.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config(batch_size=4, **DISTRIBUTED_STEPS).model_dump(mode="json")))
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--nnodes", "1", "--nproc_per_node", "2", "--rdzv-backend", "c10d",
               "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--rdzv-id", "probe",
               str(REPO / "tests" / "torchrun_probe.py"), str(data_dir), str(run), str(config)]
    done = subprocess.run(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [np.load(run / f"rows-rank{r}.npy") for r in (0, 1)]
    per_epoch = len(ShardDataset(data_dir, "train", verify="none")) // 2  # rows a rank reads per epoch
    assert len(rows[0]) == len(rows[1]) == 8 * 2 * 4  # steps x grad_accum x batch
    for start in range(0, len(rows[0]), per_epoch):  # within every epoch the ranks share no row
        assert not set(rows[0][start:start + per_epoch].tolist()) & set(rows[1][start:start + per_epoch].tolist())
    weights = [load_file(run / f"weights-rank{r}.safetensors") for r in (0, 1)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # DDP kept the replicas identical
    checkpoint = final_weights(run)
    assert all(torch.equal(checkpoint[k], weights[0][k]) for k in checkpoint)
    reference = final_weights(single_process_run)  # and they are the one-process run's, at the same global batch
    assert all(torch.allclose(weights[0][k], reference[k], atol=1e-5) for k in reference)
