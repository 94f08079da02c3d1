"""The build's pieces on Dask through Prefect's task runner: the same bytes at any scale, on a real
scheduler with worker processes, and after a worker is killed in the middle of a piece."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from corpus import make_corpus
from flows import build_corpus as flow_module
from pipeline.build import build
from pipeline.config import parse_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "ingest": {"workers": 2},
    "tokenizer": {"vocab_size": 512},
    "shards": {"seq_len": 32, "val_fraction": 0.2, "rows_per_shard": 64},
}


def output_files(out: Path) -> dict[str, bytes]:
    """Every file a build publishes, byte for byte (report.json without its timings)."""
    files = {}
    for path in sorted(out.rglob("*")):
        relative = str(path.relative_to(out))
        if not path.is_file() or relative.startswith("work/") or relative in ("config.yaml", "report.html"):
            continue
        files[relative] = path.read_bytes()
    report = json.loads(files.pop("report.json"))

    def untimed(node):
        if isinstance(node, dict):
            return {k: untimed(v) for k, v in node.items() if not k.endswith("seconds")}
        return [untimed(v) for v in node] if isinstance(node, list) else node

    files["report.json"] = json.dumps(untimed(report), sort_keys=True).encode()
    return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    make_corpus(root)
    return root


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """The build without Prefect, on the local process pools: what every executor must reproduce."""
    out = tmp_path_factory.mktemp("local") / "build"  # the same folder name everywhere: the index records it
    build([str(corpus)], out, parse_config(SMALL))
    return output_files(out)


def build_with(corpus: Path, folder: Path, executor: dict) -> Path:
    config = folder / "config.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump({**SMALL, "executor": executor}))
    out = folder / "build"
    flow_module.build_corpus([str(corpus)], str(out), str(config), progress=False)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_a_local_dask_cluster_writes_the_same_bytes(prefect_harness, corpus, reference, tmp_path, workers):
    out = build_with(corpus, tmp_path, {"kind": "dask", "workers": workers})
    assert output_files(out) == reference
    assert list((out / "work" / "dask").iterdir()), "the workers' scratch space is inside the build folder"


def _dask(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "dask", *args]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, as a user would start them."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = open(folder / "log.txt", "w")
    processes = [subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                        "--scheduler-file", str(scheduler_file)), cwd=REPO, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline and processes[0].poll() is None, (folder / "log.txt").read_text()
            time.sleep(0.2)
        for i in range(2):  # no nanny: a killed worker stays dead, so its piece must move to the other one
            processes.append(subprocess.Popen(
                _dask("worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-nanny",
                      "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}",
                      "--local-directory", str(folder / f"w{i}")),
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
        from distributed import Client

        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_a_build_submitted_to_a_running_scheduler_writes_the_same_bytes(prefect_harness, corpus, reference,
                                                                       scheduler, tmp_path):
    out = build_with(corpus, tmp_path, {"kind": "dask", "address": scheduler})
    assert output_files(out) == reference


def test_a_worker_killed_in_the_middle_of_a_piece_has_it_rerun_elsewhere(prefect_harness, corpus, reference,
                                                                        scheduler, tmp_path):
    from distributed import Client

    killed: list[str] = []

    def kill_a_busy_worker() -> None:
        with Client(scheduler, timeout=60) as client:
            pids = client.run(os.getpid)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                busy = [worker for worker, keys in client.processing().items() if keys]
                if busy:  # a chunk of pieces is on that worker now, unfinished
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    out = build_with(corpus, tmp_path, {"kind": "dask", "address": scheduler})
    killer.join()
    assert killed, "no piece was seen running"
    with Client(scheduler, timeout=60) as client:
        assert killed[0] not in client.scheduler_info()["workers"]  # the piece could only finish elsewhere
    assert output_files(out) == reference
