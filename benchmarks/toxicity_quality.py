"""Toxicity quality: the table that chooses a recipe and the figures of the shipped model.

    .venv/bin/python benchmarks/filters.py --only toxicity      (this, then the chain's throughput)

1. Leave one platform out (the criterion): for each platform, the recipe of train_toxicity.py is
   trained on every other platform and tested on this one (ROC-AUC per source, their mean per
   platform, the mean over platforms). Once with every source (measurement only) and once with the
   sources whose licence lets gristmill ship weights.
2. Test sets never trained on: ETHOS (YouTube/Reddit) and the Jigsaw sample (Wikipedia), for the
   all-sources model and for the shipped model; HateCheck and Hatemoji per functionality.
3. The shipped model on the in-domain test fifth of each source it was trained on: ROC-AUC and
   expected calibration error (ECE, 10 equal-width bins), and on all of them pooled.
4. Long documents: unseen books (Carroll, Shakespeare) scored by their worst window: the share at
   >= 0.5; then abusive passages (positives of the test fifths of Davidson, ConvAbuse and the
   Wikipedia talk set, at most 500 a source) planted at a random place in those books: how many are still caught.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from tables import table

import numpy as np

from pipeline.filters.toxicity import default_model
from pipeline.filters.train_toxicity import (
    DEFAULT_BENIGN,
    SOURCES,
    TEST_SETS,
    benign_chunks,
    design_matrix,
    left_out_platforms,
    load_benign,
    load_test_set,
    load_source,
    shipped_featurizer,
    split,
    train_model,
)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC with average ranks for ties."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    _, first, counts = np.unique(np.asarray(scores)[order], return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width bins of (share of texts) x |mean probability - share positive|."""
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(probabilities[inside].mean() - labels[inside].mean())
    return float(error)




def matrix(part, matrices: dict):
    """The design matrix of a whole source, from the cache train_model fills, or computed."""
    key = (part.name, len(part.texts))
    if key not in matrices:
        matrices[key] = design_matrix(part.texts, shipped_featurizer())
    return matrices[key]


def leave_one_platform_out(sources, data, books, matrices, shipped_only: bool, weighting: str = "balanced"):
    """{platform: {source: ROC-AUC}} and the model trained on every platform of the set."""
    chosen = [s for s in SOURCES if s.shipped or not shipped_only]
    platforms = left_out_platforms(chosen)
    results = {}
    for platform in platforms:
        model = train_model([data[s.name] for s in chosen if s.platform != platform], books=books, matrices=matrices,
                            weighting=weighting)
        results[platform] = {s.name: roc_auc(data[s.name].labels, matrix(data[s.name], matrices) @ model.weights + model.bias)
                             for s in chosen if s.platform == platform}
    everything = train_model([data[s.name] for s in chosen], books=books, matrices=matrices, weighting=weighting)
    return results, everything


def bench_toxicity(root: Path, weighting: str = "balanced") -> None:
    """The shipped model's figures first (seconds), then leave one platform out (a dozen fits)."""
    data = {s.name: load_source(root, s) for s in SOURCES}
    tests = {name: load_test_set(root, name) for name in TEST_SETS}
    books = benign_chunks([t for spec in DEFAULT_BENIGN for t in load_benign(spec, root)])
    matrices: dict = {}
    shipped = default_model()

    test_sets(tests, {"shipped model": shipped})

    hatecheck = tests["hatecheck"]
    scores = np.array([shipped.score(t) for t in hatecheck.texts])
    by_function = defaultdict(list)
    for label, source_label, score in zip(hatecheck.labels, hatecheck.source_labels, scores):
        by_function[source_label.split(":")[-1]].append((label, score >= 0.5))
    rows = [[f, len(v), "hateful" if v[0][0] else "not hateful", float(np.mean([ok == lab for lab, ok in v]))]
            for f, v in sorted(by_function.items())]
    print("## Toxicity: HateCheck per functionality, shipped model at 0.5 (share labelled right)\n")
    table(["functionality", "cases", "gold", "accuracy"], rows)

    rows, pooled_labels, pooled_scores = [], [], []
    for source in SOURCES:
        if not source.shipped:
            continue
        test = split(data[source.name])["test"]
        scores = np.array([shipped.score(t) for t in test.texts])
        pooled_labels.append(test.labels)
        pooled_scores.append(scores)
        predicted = scores >= 0.5
        precision = float((predicted & test.labels).sum() / max(predicted.sum(), 1))
        recall = float((predicted & test.labels).sum() / max(test.labels.sum(), 1))
        rows.append([source.name, len(test.texts), float(test.labels.mean()), roc_auc(test.labels, scores),
                     expected_calibration_error(test.labels, scores), float(scores.mean()), precision, recall])
    labels, scores = np.concatenate(pooled_labels), np.concatenate(pooled_scores)
    rows.append(["pooled", len(labels), float(labels.mean()), roc_auc(labels, scores),
                 expected_calibration_error(labels, scores), float(scores.mean()), "", ""])
    print("## Toxicity: shipped model on the in-domain test fifths (never trained or calibrated on)\n")
    table(["source", "texts", "positive share", "ROC-AUC", "ECE", "mean score", "P at 0.5", "R at 0.5"], rows)

    bench_long_documents(root, data, shipped)
    lopo, all_models = {}, {}
    for label, shipped_only in (("every source", False), ("shippable sources", True)):
        lopo[label], all_models[label] = leave_one_platform_out(SOURCES, data, books, matrices, shipped_only, weighting)
    rows = []
    for label, results in lopo.items():
        for platform, per_source in results.items():
            rows.append([label, platform, " ".join(f"{n} {v:.3f}" for n, v in per_source.items()),
                         float(np.mean(list(per_source.values())))])
        rows.append([label, "MEAN over platforms", "", f"{np.mean([np.mean(list(r.values())) for r in results.values()]):.4f}"])
    print("## Toxicity: leave one platform out (ROC-AUC; trained on the other platforms + books)\n")
    table(["training sources", "left-out platform", "per source", "ROC-AUC"], rows)

    test_sets(tests, all_models)


def test_sets(tests: dict, models: dict) -> None:
    rows = []
    for name in ("ethos", "jigsaw_wiki", "hatemoji_check", "hatecheck"):
        labelled = tests[name]
        for model_name, model in models.items():
            scores = np.array([model.score(t) for t in labelled.texts])
            rows.append([name, model_name, len(labelled.texts), int(labelled.labels.sum()), roc_auc(labelled.labels, scores)])
    print("## Toxicity: test sets never trained on (ROC-AUC)\n")
    table(["test set", "model trained on", "texts", "positive", "ROC-AUC"], rows)


def bench_long_documents(root: Path, data: dict, model) -> None:
    with (root / "prose" / "prose_dev.jsonl").open(encoding="utf-8") as f:
        unseen = [r["text"] for r in map(json.loads, f) if r["id"].startswith(("pg11-", "tinyshakespeare-"))]
    scores = np.array([model.score(t) for t in unseen])
    abusive = []
    for name in ("davidson", "convabuse", "wiki_talk_cat"):  # at most 500 a source, so Davidson does not dominate
        test = split(data[name])["test"]
        abusive += [t for t, label in zip(test.texts, test.labels) if label][:500]
    rng = np.random.default_rng(0)
    alone, planted = [], []
    for passage in abusive:
        book = unseen[int(rng.integers(len(unseen)))].split(" ")
        at = int(rng.integers(len(book) + 1))
        alone.append(model.score(passage) >= 0.5)
        planted.append(model.score(" ".join(book[:at] + [passage] + book[at:])) >= 0.5)
    alone, planted = np.array(alone), np.array(planted)
    print("## Toxicity: long documents (over 32 words: worst 12-word window, less the many-windows margin)\n")
    table(["unseen books (Carroll, Shakespeare)", "median score", "share >= 0.5", "share >= 0.9"],
          [[len(unseen), float(np.median(scores)), float((scores >= 0.5).mean()), float((scores >= 0.9).mean())]])
    table(["planted abusive passages", "caught alone", "caught inside a book", "of those caught alone, caught inside"],
          [[len(abusive), float(alone.mean()), float(planted.mean()), float(planted[alone].mean())]])
