"""demo: the whole path on the embedded default corpus (or a given path), offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.build_corpus import build_corpus
from flows.train import evaluate, train

DEMO_CONFIG = Path(__file__).with_name("demo.yaml")


@task(name="demo_corpus", cache_policy=NO_CACHE)
def demo_corpus(out: str) -> list[str]:
    from pipeline.demo_corpus import write_demo_corpus

    corpus_dir = Path(out) / "corpus"
    write_demo_corpus(corpus_dir)
    return [str(corpus_dir)]


@task(name="sample", cache_policy=NO_CACHE)
def sample(run: str, prompt: str) -> str:
    from model.generate import generate_text

    return generate_text(Path(run), prompt, max_new_tokens=80, temperature=0.8, top_k=40, seed=0)


@flow(name="demo", log_prints=True)
def demo(inputs: list[str] | None = None, out: str = "demo-out", config_path: str | None = None,
         prompt: str = "The Python", progress: bool = True) -> dict[str, Any]:
    """build → train → eval → a sample generation; returns the headline numbers."""
    inputs = inputs or demo_corpus(out)
    config_path = config_path or str(DEMO_CONFIG)
    data, run = str(Path(out) / "build"), str(Path(out) / "run")
    built = build_corpus(inputs, data, config_path=config_path, progress=progress)
    trained = train(data, run, config_path=config_path, progress=progress)
    evaluated = evaluate(run, data, progress=progress)
    text = sample(run, prompt)
    summary = {"build": built, "train": trained, "eval": evaluated, "sample": text,
               "report": str(Path(data) / "report.html")}
    (Path(out) / "demo.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
