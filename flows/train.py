"""train and evaluate: a GPT on a build folder's shards, then its honest evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline.config import load_config


@task(name="train_model", cache_policy=NO_CACHE)
def train_model(data: str, run: str, config_path: str | None, progress: bool = True) -> dict[str, Any]:
    from model.train import train as train_fn

    config = _run_config(data, run, config_path)
    return train_fn(Path(data), Path(run), config, progress=progress)


@task(name="evaluate_model", cache_policy=NO_CACHE)
def evaluate_model(run: str, data: str, progress: bool = True) -> dict[str, Any]:
    from model.evaluate import evaluate as evaluate_fn

    return evaluate_fn(Path(run), Path(data), progress=progress)


def _run_config(data: str, run: str, config_path: str | None) -> Any:
    """An explicit --config wins; a resumed run keeps its config; else the build's own config."""
    if config_path is not None:
        return load_config(config_path)
    for saved in (Path(run) / "config.yaml", Path(data) / "config.yaml"):
        if saved.is_file():
            return load_config(saved)
    return load_config(None)


@flow(name="train", log_prints=True)
def train(data: str, run: str, config_path: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) a GPT on DATA's train shards into RUN."""
    return train_model(data, run, config_path, progress)


@flow(name="evaluate", log_prints=True)
def evaluate(run: str, data: str, progress: bool = True) -> dict[str, Any]:
    """Validation loss, perplexity, bits per byte and the unigram baseline → RUN/eval.json."""
    return evaluate_model(run, data, progress)
