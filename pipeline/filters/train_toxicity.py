"""Train gristmill's toxicity model (toxicity_model.npz) from labelled JSONL files.

    python -m pipeline.filters.train_toxicity --data /work/shared/data/toxicity \
        --sources davidson stormfront jigsaw_wiki --out pipeline/filters/toxicity_model.npz

Each `<source>_toxicity_dev.jsonl` holds {"text", "toxic"} records. The model is L2-regularised
logistic regression over toxicity.Featurizer's hashed n-grams (sublinear tf, L2-normalised, as
scored), fitted with L-BFGS. Sample weights balance the classes inside each source while every
source keeps its share of the data, so no source's toxic rate becomes the prior (Davidson is
83 % toxic, Stormfront 11 %). Deterministic: same files and options, same bytes.
TOXICITY_MODEL.md records what the shipped model was trained on and how well it does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from pipeline.filters.toxicity import MODEL_PATH, Featurizer, ToxicityModel, normalize, tf_matrix_rows

DEFAULT_SOURCES = ("davidson", "stormfront", "jigsaw_wiki")
# Public-domain books: H. G. Wells (neardup set), Austen, Shelley and Wharton (prose set). Carroll
# and Shakespeare stay out, so benchmarks/filters.py can measure false positives on unseen books.
DEFAULT_BENIGN = (
    "/work/shared/data/neardup/neardup_dev_docs.jsonl",
    "/work/shared/data/prose/prose_dev.jsonl:pg1342-,pg84-,the-verdict",
)
DEFAULT_L2 = 1e-6
DEFAULT_MAX_ITER = 400


def load_labelled(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """(texts, toxic labels, ids) of a labelled JSONL file."""
    texts, labels, ids = [], [], []
    with path.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            texts.append(record["text"])
            labels.append(bool(record["toxic"]))
            ids.append(str(record.get("id", len(ids))))
    return texts, np.array(labels, dtype=bool), ids


def design_matrix(texts: list[str], featurizer: Featurizer) -> sp.csr_matrix:
    """One row per text: the features the model scores, the whole text as one window."""
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        buckets, _ = featurizer.features(normalize(text))
        if len(buckets) == 0:
            continue
        _, bucket, value = tf_matrix_rows(buckets, np.zeros(len(buckets), dtype=np.int64), 1, featurizer.n_buckets)
        rows.append(np.full(len(bucket), i))
        cols.append(bucket)
        values.append(value)
    if not rows:
        return sp.csr_matrix((len(texts), featurizer.n_buckets))
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(len(texts), featurizer.n_buckets)
    )


def balanced_weights(labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Classes weigh the same inside each source; each source weighs as many rows as it has."""
    weights = np.ones(len(labels))
    for source in np.unique(sources):
        in_source = sources == source
        for value in (False, True):
            cell = in_source & (labels == value)
            if cell.any():
                weights[cell] = in_source.sum() / 2 / cell.sum()
    return weights


def fit_logistic(
    X: sp.csr_matrix, y: np.ndarray, weights: np.ndarray, l2: float = DEFAULT_L2, max_iter: int = DEFAULT_MAX_ITER
) -> tuple[np.ndarray, float]:
    """Weighted, L2-regularised logistic regression; returns (weights, bias)."""
    target = y.astype(np.float64)
    w_norm = weights / weights.sum()
    Xt = X.T.tocsr()

    def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        z = X @ w + b
        loss = float(np.sum(w_norm * (np.logaddexp(0.0, z) - target * z)) + 0.5 * l2 * (w @ w))
        residual = w_norm * (1.0 / (1.0 + np.exp(-z)) - target)
        return loss, np.append(Xt @ residual + l2 * w, residual.sum())

    result = minimize(loss_and_grad, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return result.x[:-1], float(result.x[-1])


def benign_chunks(texts: list[str], words: int = 64) -> list[str]:
    """Long benign documents (books) cut into window-sized pieces of at least 16 words. The
    labelled sets are tweets, comments and forum sentences; without long-form negatives the
    model reads ordinary narrative (pronouns, dialogue) as toxic and long windows drift up."""
    pieces = []
    for text in texts:
        tokens = text.split()
        for start in range(0, len(tokens), words):
            piece = tokens[start : start + words]
            if len(piece) >= 16:
                pieces.append(" ".join(piece))
    return pieces


def train_model(
    labelled: list[tuple[list[str], np.ndarray, str]],
    featurizer: Featurizer = Featurizer(),
    l2: float = DEFAULT_L2,
    max_iter: int = DEFAULT_MAX_ITER,
) -> ToxicityModel:
    """Fit a ToxicityModel on [(texts, labels, source name), ...]."""
    X = sp.vstack([design_matrix(texts, featurizer) for texts, _, _ in labelled]).tocsr()
    y = np.concatenate([labels for _, labels, _ in labelled])
    sources = np.concatenate([np.full(len(labels), name) for _, labels, name in labelled])
    w, b = fit_logistic(X, y, balanced_weights(y, sources), l2, max_iter)
    return ToxicityModel(w, b, featurizer)


def load_benign(spec: str) -> list[str]:
    """Texts of 'PATH' or 'PATH:PREFIX,PREFIX' (only records whose id starts with a prefix)."""
    path, _, prefixes = spec.partition(":")
    wanted = tuple(p for p in prefixes.split(",") if p)
    texts = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if not wanted or str(record.get("id", "")).startswith(wanted):
                texts.append(record["text"])
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/toxicity"), help="folder of <source>_toxicity_dev.jsonl")
    parser.add_argument("--sources", nargs="+", default=list(DEFAULT_SOURCES))
    parser.add_argument(
        "--benign", nargs="*", default=list(DEFAULT_BENIGN),
        help="JSONL files of long benign text (PATH or PATH:ID_PREFIX,...), cut into window-sized negatives",
    )
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--bits", type=int, default=Featurizer().bits, help="log2 of the number of hash buckets")
    parser.add_argument("--l2", type=float, default=DEFAULT_L2)
    args = parser.parse_args()

    labelled = []
    for source in args.sources:
        path = args.data / f"{source}_toxicity_dev.jsonl"
        if not path.is_file():
            raise SystemExit(f"{path} not found: pass --data with the folder holding the labelled JSONL files")
        texts, labels, _ = load_labelled(path)
        labelled.append((texts, labels, source))
        print(f"{source}: {len(texts)} texts, {int(labels.sum())} toxic")
    if args.benign:
        pieces = benign_chunks([t for spec in args.benign for t in load_benign(spec)])
        labelled.append((pieces, np.zeros(len(pieces), dtype=bool), "books"))
        print(f"books: {len(pieces)} benign pieces")
    model = train_model(labelled, Featurizer(bits=args.bits), l2=args.l2)
    model.save(args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
