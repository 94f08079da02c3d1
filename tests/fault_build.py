"""Helpers of the fault-injection tests and benchmarks/kill_matrix.py: a tiny corpus, a tiny config,
a build run as a real `gristmill build --no-prefect` subprocess, and the outputs to compare."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from corpus import english_doc, make_corpus

REPO = Path(__file__).resolve().parents[1]

# Small enough that a build takes a few seconds: the expensive filters are off (what is under test
# here is resumption, not filtering), a tiny tokenizer, small shards.
TINY_BUILD: dict[str, Any] = {
    "ingest": {"workers": 1},
    "language": {"enabled": False},
    "toxicity": {"enabled": False},
    "quality": {"enabled": False},
    "dedup": {"workers": 1},
    "tokenizer": {"vocab_size": 300},
    "shards": {"seq_len": 16, "val_fraction": 0.2, "rows_per_shard": 32, "workers": 1},
}


def make_fault_corpus(root: Path) -> Path:
    """The end-to-end corpus (good, duplicate and broken files) plus two more plain files."""
    import random

    make_corpus(root, n_docs=12)
    rng = random.Random(7)
    for name in ("good-1.jsonl", "good-2.jsonl"):
        (root / name).write_text("".join(json.dumps({"id": f"{name}-{i}", "text": english_doc(rng)}) + "\n"
                                         for i in range(4)))
    return root


class _Runner:
    cwd = REPO

    @staticmethod
    def command(corpus: Path, out: Path, config: Path) -> list[str]:
        return [sys.executable, "-m", "flows.cli", "build", str(corpus), "--out", str(out), "--config", str(config),
                "--no-prefect", "--quiet"]

    @staticmethod
    def env(**extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRISTMILL_")}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(extra)
        return env

    def __call__(self, corpus: Path, out: Path, config: Path, workers: int | None = None,
                 **faults: str) -> subprocess.CompletedProcess:
        if workers is not None:  # the same config with other worker counts (its sha256 then differs)
            settings = json.loads(config.read_text())
            settings["ingest"]["workers"] = workers
            config = config.with_name(f"{config.stem}-workers-{workers}.yaml")
            config.write_text(json.dumps(settings))
        return subprocess.run(self.command(corpus, out, config), cwd=self.cwd, env=self.env(**faults),
                              capture_output=True, text=True, timeout=600)


run_build = _Runner()


TIMING = ("seconds", "per_s", "mb_s", "elapsed", "started", "finished")


def _figures(data: Any) -> Any:
    """A report without its timings (they differ from run to run by nature)."""
    if isinstance(data, dict):
        return {k: _figures(v) for k, v in data.items() if not any(t in k for t in TIMING)}
    if isinstance(data, list):
        return [_figures(v) for v in data]
    return data


def leftovers(out: Path) -> list[str]:
    """Temporaries a killed write left behind that the finished build still holds."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*")
                  if p.name.startswith(".tokenize-") or (p.name.startswith(".") and p.name.endswith(".tmp")))


def build_outputs(out: Path, same_config: bool = True) -> dict[str, Any]:
    """What must be byte-identical between builds: ledger, tokenizer, shards, manifest, and the
    report's figures (with `same_config` False, all but the config's hash in the manifest)."""
    outputs: dict[str, Any] = {}
    if not same_config:
        manifest = json.loads((out / "manifest.json").read_text())
        manifest.pop("config_sha256")
        outputs["manifest"] = manifest
    for path in sorted([out / "ledger.parquet", out / "tokenizer" / "tokenizer.json",
                        *([out / "manifest.json"] if same_config else []),
                        *(out / "shards").rglob("*")]):
        if path.is_file():
            outputs[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    report = _figures(json.loads((out / "report.json").read_text()))
    outputs["report figures"] = report if same_config else json.loads(
        json.dumps(report).replace(json.loads((out / "manifest.json").read_text())["config_sha256"], "-"))
    return outputs
