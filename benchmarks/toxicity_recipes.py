"""Toxicity recipes that were measured and not adopted: hashed n-grams against WordLlama embeddings.

    .venv/bin/pip install wordllama==0.4.0.post1   # not a gristmill dependency: only this script reads it
    .venv/bin/python benchmarks/toxicity_recipes.py [--data ../shared/data] [--limit 2000]

Same protocol as the leave-one-platform-out table of benchmarks/toxicity_quality.py (every text of
a source, classes balanced inside each source, scored whole, no book pieces), for three
featurisations: the shipped n-grams (classes balanced inside each source, as shipped, and every text
weighing 1), WordLlama's `l2_supercat_256` mean token embedding alone
(standardised), and both in one logistic regression (the embedding L2-normalised). Once with every
source and once with the shippable ones; ETHOS and the Jigsaw sample are read by the model trained
on all of them. About 15 minutes on 2 cores. Results: pipeline/filters/TOXICITY_MODEL.md.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tables import table
from toxicity_quality import roc_auc

from pipeline.filters.toxicity import normalize
from pipeline.filters.train_toxicity import (
    SOURCES, left_out_platforms, shipped_featurizer, design_matrix, fit_logistic, load_test_set, load_source, row_weights,
)


def mean_token_embeddings(texts: list[str]) -> np.ndarray:
    """WordLlama's token embeddings averaged over each normalised text (its tokenizer, its weights)."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("this benchmark reads WordLlama's weights: .venv/bin/pip install wordllama==0.4.0.post1")
    root = Path(list(spec.submodule_search_locations)[0])
    vectors = load_file(str(root / "weights" / "l2_supercat_256.safetensors"))["embedding.weight"].astype(np.float32)
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    out = np.zeros((len(texts), vectors.shape[1]), np.float32)
    for start in range(0, len(texts), 2000):
        batch = [normalize(t).strip() for t in texts[start : start + 2000]]
        for i, encoding in enumerate(tokenizer.encode_batch(batch, add_special_tokens=False)):
            if encoding.ids:
                mean = vectors[encoding.ids].mean(0)
                out[start + i] = mean / (np.linalg.norm(mean) + 1e-9)
    return out


def features(cache: dict, name: str, kind: str):
    ngrams, embedding = cache[name]
    if kind == "n-grams":
        return ngrams
    if kind == "embedding":
        return embedding
    return sp.hstack([ngrams, sp.csr_matrix(embedding)]).tocsr()


def fit(data: dict, cache: dict, names: list[str], kind: str, weighting: str):
    """A scorer (source name -> logits) trained on `names`, rows weighted by `weighting`: n-grams by
    train_toxicity's own fit, the dense embedding alone standardised and fitted by lbfgs."""
    from sklearn.linear_model import LogisticRegression

    y = np.concatenate([data[n].labels for n in names])
    weights = row_weights(y, np.concatenate([np.full(len(data[n].labels), i) for i, n in enumerate(names)]), weighting)
    if kind == "embedding":
        weights = weights * (len(weights) / weights.sum())
        X = np.vstack([features(cache, n, kind) for n in names])
        mean, spread = X.mean(0), X.std(0) + 1e-6
        model = LogisticRegression(C=1.0, max_iter=2000).fit((X - mean) / spread, y, sample_weight=weights)
        return lambda n: model.decision_function((features(cache, n, kind) - mean) / spread)
    w, b = fit_logistic(sp.vstack([features(cache, n, kind) for n in names]).tocsr(), y, weights)
    return lambda n: features(cache, n, kind) @ w + b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="read only the first N texts of each set (a quick look)")
    args = parser.parse_args()
    data = {s.name: load_source(args.data, s) for s in SOURCES}
    data |= {n: load_test_set(args.data, n) for n in ("ethos", "jigsaw_wiki")}
    if args.limit:
        data = {n: d.subset(np.arange(len(d.texts)) < args.limit) for n, d in data.items()}
    cache = {n: (design_matrix(d.texts, shipped_featurizer()), mean_token_embeddings(d.texts)) for n, d in data.items()}
    rows = []
    for kind, weighting in (("n-grams", "balanced"), ("n-grams", "natural"), ("embedding", "balanced"),
                            ("n-grams + embedding", "balanced")):
        for label, shipped_only in (("every source", False), ("shippable", True)):
            chosen = [s for s in SOURCES if s.shipped or not shipped_only]
            per_platform = {}
            for platform in left_out_platforms(chosen):
                score = fit(data, cache, [s.name for s in chosen if s.platform != platform], kind, weighting)
                per_platform[platform] = np.mean([roc_auc(data[s.name].labels, score(s.name))
                                                  for s in chosen if s.platform == platform])
            score = fit(data, cache, [s.name for s in chosen], kind, weighting)
            rows.append([kind, weighting, label, *per_platform.values(), float(np.mean(list(per_platform.values()))),
                         roc_auc(data["ethos"].labels, score("ethos")),
                         roc_auc(data["jigsaw_wiki"].labels, score("jigsaw_wiki"))])
            print(f"{kind}, {weighting}, {label}: done", flush=True)
    platforms = left_out_platforms(SOURCES)
    table(["features", "weighting", "sources", *platforms, "mean", "ETHOS", "Jigsaw"], rows)


if __name__ == "__main__":
    main()
