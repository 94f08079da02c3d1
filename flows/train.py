"""train and evaluate: a GPT on a build folder's shards, then its honest evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipeline.catalog import resolve_data
from pipeline.config import load_config


@task(name="train_model", cache_policy=NO_CACHE)
def train_model(data: str | list[str], run: str, config_path: str | None, progress: bool = True,
                init_from: str | None = None) -> dict[str, Any]:
    from model.train import train as train_fn

    folders = resolve_data([data] if isinstance(data, str) else data)
    config = _run_config(str(folders[0]), run, config_path)
    if init_from is not None:
        config.train.init_from = init_from
    return train_fn(folders, Path(run), config, progress=progress)


@task(name="evaluate_model", cache_policy=NO_CACHE)
def evaluate_model(run: str, data: str | list[str], progress: bool = True) -> dict[str, Any]:
    from model.evaluate import evaluate as evaluate_fn

    return evaluate_fn(Path(run), resolve_data([data] if isinstance(data, str) else data), progress=progress)


def _run_config(data: str, run: str, config_path: str | None) -> Any:
    """An explicit --config wins; a resumed run keeps its config; else the build's own config."""
    if config_path is not None:
        return load_config(config_path)
    for saved in (Path(run) / "config.yaml", Path(data) / "config.yaml"):
        if saved.is_file():
            return load_config(saved)
    return load_config(None)


@flow(name="train", log_prints=True)
def train(data: str | list[str], run: str, config_path: str | None = None, progress: bool = True,
          init_from: str | None = None) -> dict[str, Any]:
    """Train (or resume) a GPT on DATA's train shards into RUN (DATA: build folders or a catalog root)."""
    return train_model(data, run, config_path, progress, init_from)


@flow(name="evaluate", log_prints=True)
def evaluate(run: str, data: str | list[str], progress: bool = True) -> dict[str, Any]:
    """Validation loss, perplexity, bits per byte and the unigram baseline → RUN/eval.json."""
    return evaluate_model(run, data, progress)
