"""Toxicity recipes measured against one fit of the recipe: the one shipped and the rest (TOXICITY_MODEL.md).

    .venv/bin/python benchmarks/toxicity_candidates.py [--only NAME ...] [--data ../shared/data]

Each candidate changes one thing of the recipe as it was before conflicting negatives were left
out (train_toxicity.train_model with conflict_logit=None: one fit, classes balanced inside each
source, book pieces and planted pieces, C = 1) and is measured as the
recipe is chosen: leave one platform out over every source (texts scored whole, the criterion),
then ETHOS and the Jigsaw sample, read once, from the shippable sources' fifths 1-4, scored as the
filter scores (up to 32 words whole, longer texts by their worst 12-word window less the
many-windows margin). No calibration: Platt scaling is monotone and moves no ROC-AUC.

Candidates (`--only`):
- anchor: that recipe;
- identity-0.05, identity-0.15: harmless statements naming a group (identity_statements.txt,
  1,484 of them) as negatives weighing 5 % / 15 % of the labelled rows;
- clusters-256, clusters-512: a third view of word clusters learned from the training texts
  (PPMI of co-occurrence within 4 words, SVD to 100 dimensions, k-means), cluster 1-2-grams /
  1-3-grams hashed into 2^16 buckets, weighing 0.5;
- sources-sqrt, sources-equal: each source weighs the square root of its size / the same;
- drop-conflicts-0, drop-conflicts-1, drop-conflicts--1: fit, leave out the labelled negatives
  the fit scores above logit 0 / 1 / -1 (a text one scheme calls harmless and another would
  flag), fit again; drop-conflicts-1 is the shipped recipe (train_toxicity.CONFLICT_LOGIT), since
  at 0 too many unseen books score >= 0.5;
- mlp: a one-hidden-layer network (32 units, ReLU, dropout 0.2, 2 epochs of Adam) on the same
  hashed features instead of the logistic regression;
- "a+b": two changes at once (drop-conflicts-0+identity-0.05, drop-conflicts-0+clusters-512, ...).
Each takes 5-10 minutes on one core.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tables import table
from toxicity_quality import roc_auc

import pipeline.filters.train_toxicity as recipe
from pipeline.filters.toxicity import ToxicityModel, normalize
from pipeline.filters.train_toxicity import (
    DEFAULT_BENIGN, SOURCES, benign_chunks, left_out_platforms, load_benign, load_source, load_test_set, shipped_featurizer,
)

IDENTITY_STATEMENTS = Path(__file__).with_name("identity_statements.txt")


def identity_statements(path: Path = IDENTITY_STATEMENTS) -> list[str]:
    """Every template of the file filled with every group of its slot."""
    groups: dict[str, list[str]] = {"plural": [], "adjective": [], "singular": []}
    templates = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, colon, value = line.partition(":")
        if line.startswith("#") or not colon:
            continue
        if key == "template":
            templates.append(value.strip())
        elif key in groups:
            groups[key] += [g.strip() for g in value.split("|") if g.strip()]
        else:
            raise SystemExit(f"{path}: a line starts with {key!r}; expected template, plural, adjective or singular")
    return [template.replace("{" + slot + "}", group) for template in templates
            for slot in groups if "{" + slot + "}" in template for group in groups[slot]]


def word_clusters(texts: list[str], k: int, min_count: int = 5, contexts: int = 3000) -> dict[str, str]:
    """word -> cluster tag, from PPMI vectors of co-occurrence within 4 words (SVD, k-means)."""
    from sklearn.cluster import KMeans
    from sklearn.utils.extmath import randomized_svd

    tokens = [normalize(t).split() for t in texts]
    vocab = [w for w, c in Counter(w for ws in tokens for w in ws).most_common(30000) if c >= min_count]
    index = {w: i for i, w in enumerate(vocab)}
    rows, cols = [], []
    for words in tokens:
        ids = np.array([index.get(w, -1) for w in words])
        for d in (1, 2, 3, 4):
            for a, b in ((ids[:-d], ids[d:]), (ids[d:], ids[:-d])):
                ok = (a >= 0) & (b >= 0) & (b < contexts)
                rows.append(a[ok])
                cols.append(b[ok])
    counts = sp.coo_matrix((np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(len(vocab), contexts)).tocsr().tocoo()
    total = counts.data.sum()
    p_word = np.bincount(counts.row, counts.data, len(vocab)) / total
    p_context = np.bincount(counts.col, counts.data, contexts) ** 0.75
    p_context /= p_context.sum()
    pmi = np.log(counts.data / total / (p_word[counts.row] * p_context[counts.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=counts.shape)
    u, s, _ = randomized_svd(ppmi, 100, random_state=0)
    vectors = u * np.sqrt(s)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    labels = KMeans(k, n_init=1, random_state=0).fit_predict(vectors)
    return {w: f"k{labels[i]}" for i, w in enumerate(vocab)}


@contextmanager
def replaced(**functions):
    """train_toxicity's functions replaced for the duration of one candidate."""
    before = {name: getattr(recipe, name) for name in functions}
    for name, function in functions.items():
        setattr(recipe, name, function)
    try:
        yield
    finally:
        for name, function in before.items():
            setattr(recipe, name, function)


class Run:
    """One candidate: how train_model is changed, and how its models score a list of texts."""

    def __init__(self, data: dict, books: list[str]):
        self.data, self.books, self.extra_negatives, self.cache = data, books, None, {}
        self.conflict_logit = None  # one fit, the anchor
        # the filter's many-windows margin, from the model class itself (its weights are not used)
        self.margin = ToxicityModel(np.zeros(1), 0.0, shipped_featurizer(), recipe.WINDOW_MARGIN)
        self.design = recipe.design_matrix
        self.fit = recipe.fit_logistic
        self.weights = recipe.balanced_weights

    def train(self, parts: list) -> tuple[np.ndarray, float]:
        """(weights, bias) of the recipe on `parts` (+ books, + the candidate's extra negatives)."""
        parts = list(parts)
        if self.extra_negatives:
            parts.append(recipe.Labelled("extra negatives", self.extra_negatives,
                                         np.zeros(len(self.extra_negatives), dtype=bool), [], []))
        self.n_labelled = sum(len(p.texts) for p in parts)
        with replaced(design_matrix=self.design, fit_logistic=self.fit, balanced_weights=self.weights):
            model = recipe.train_model(parts, shipped_featurizer(), books=self.books, matrices=self.cache,
                                       conflict_logit=self.conflict_logit)
        return model.weights.astype(np.float64), model.bias

    def from_matrix(self, X: sp.csr_matrix, w: np.ndarray, b: float) -> np.ndarray:
        return X @ w + b

    def logits(self, texts: list[str], w: np.ndarray, b: float) -> np.ndarray:
        return self.from_matrix(self.design(texts, shipped_featurizer()), w, b)

    def source_logits(self, part, w: np.ndarray, b: float) -> np.ndarray:
        """logits of a whole source, its features from train_model's cache (every source is
        trained on in some fold)."""
        key = (part.name, len(part.texts))
        if key not in self.cache:
            self.cache[key] = self.design(part.texts, shipped_featurizer())
        return self.from_matrix(self.cache[key], w, b)

    def filter_scores(self, texts: list[str], w: np.ndarray, b: float, long_window: int = recipe.LONG_WINDOW_WORDS) -> np.ndarray:
        """Texts of up to 32 words whole, longer ones by their worst half-overlapping window less
        the margin (toxicity.ToxicityModel), each window featurised as a text of its own."""
        pieces, owner = [], []
        for i, text in enumerate(texts):
            words = normalize(text).split()
            if len(words) <= recipe.WINDOW_WORDS:
                pieces.append(" ".join(words))
                owner.append(i)
                continue
            stride = long_window // 2
            for start in range(0, max(len(words) - long_window, 0) + stride, stride):
                pieces.append(" ".join(words[start:start + long_window]))
                owner.append(i)
        logits, owner = self.logits(pieces, w, b), np.array(owner)
        out = np.empty(len(texts))
        for i in range(len(texts)):
            mine = logits[owner == i]
            out[i] = mine.max() - self.margin.many_windows_margin(len(mine))
        return out


def configure(name: str, run: Run, training_texts: list[str]) -> None:
    """Set `run` up for the candidate `name`; "a+b" is both changes at once."""
    if "+" in name:
        for part in name.split("+"):
            configure(part, run, training_texts)
    elif name.startswith("identity-"):
        run.extra_negatives = identity_statements()
        share = float(name.split("-")[1])
        base_weights = run.weights

        def weights(labels, sources):  # the statements are the last source: give them their share
            out = base_weights(labels, sources)
            statements = sources == sources.max()
            out[statements] = share * out[~statements].sum() / statements.sum()
            return out
        run.weights = weights
    elif name.startswith("clusters-"):
        k = int(name.split("-")[1])
        clusters = word_clusters(training_texts, k)
        from sklearn.feature_extraction.text import HashingVectorizer

        hashing = HashingVectorizer(n_features=2**16, ngram_range=(1, 2 if k == 256 else 3), token_pattern=r"\S+",
                                    alternate_sign=False, norm="l2", binary=True, lowercase=False)
        base_design = run.design

        def design(texts, featurizer):
            view = hashing.transform([" ".join(clusters.get(w, "unk") for w in normalize(t).split()) for t in texts])
            return sp.hstack([base_design(texts, featurizer), 0.5 * view]).tocsr()
        run.design = design
    elif name.startswith("sources-"):
        power = {"sqrt": 0.5, "equal": 0.0}[name.split("-")[1]]

        def weights(labels, sources):  # balanced gives each source as much weight as it has rows
            out = recipe.balanced_weights(labels, sources)
            sizes = np.bincount(sources)
            out = out * sizes[sources] ** (power - 1.0)
            return out * len(labels) / out.sum()
        run.weights = weights
    elif name.startswith("drop-conflicts-"):
        run.conflict_logit = float(name[len("drop-conflicts-"):])
    elif name == "mlp":
        run.fit = mlp_fit(run)
    elif name != "anchor":
        raise SystemExit(f"unknown candidate {name!r}: see --help")


def mlp_fit(run: Run):
    """The logistic regression swapped for a small network; train_model still wants (w, b), so the
    network is kept on the run and its logits replace the linear ones."""
    import torch

    def fit(X, y, weights, C):
        torch.manual_seed(0)
        torch.set_num_threads(1)
        bag = torch.nn.EmbeddingBag(X.shape[1], 32, mode="sum", sparse=True)
        head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 1))
        sparse_opt = torch.optim.SparseAdam(list(bag.parameters()), lr=3e-3)
        dense_opt = torch.optim.Adam(head.parameters(), lr=3e-3)
        weights = torch.from_numpy((weights / weights.mean()).astype(np.float32))
        target = torch.from_numpy(y.astype(np.float32))
        rng = np.random.default_rng(0)

        def forward(rows):
            rows = rows.tocsr()
            return head(bag(torch.from_numpy(rows.indices.astype(np.int64)), torch.from_numpy(rows.indptr[:-1].astype(np.int64)),
                            per_sample_weights=torch.from_numpy(rows.data.astype(np.float32)))).squeeze(-1)
        for _ in range(2):
            order = rng.permutation(X.shape[0])
            for start in range(0, len(order), 256):
                batch = order[start:start + 256]
                sparse_opt.zero_grad()
                dense_opt.zero_grad()
                loss = torch.nn.functional.binary_cross_entropy_with_logits(forward(X[batch]), target[batch], reduction="none")
                (loss * weights[batch]).mean().backward()
                sparse_opt.step()
                dense_opt.step()
        head.eval()

        def from_matrix(X, _w, _b):
            with torch.no_grad():
                return np.concatenate([forward(X[i:i + 4096]).numpy() for i in range(0, X.shape[0], 4096)]).astype(np.float64)
        run.from_matrix = from_matrix
        return np.zeros(X.shape[1]), 0.0
    return fit


CANDIDATES = ("anchor", "identity-0.05", "identity-0.15", "clusters-256", "clusters-512", "sources-sqrt", "sources-equal",
              "drop-conflicts-0", "drop-conflicts-1", "drop-conflicts--1", "mlp",
              "drop-conflicts-0+identity-0.05", "drop-conflicts-0+identity-0.15", "drop-conflicts-0+clusters-512")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Candidates: " + ", ".join(CANDIDATES))
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--only", nargs="+", default=list(CANDIDATES),
                        help="candidates to run, in order; join two with + to run both changes at once")
    args = parser.parse_args()
    data = {s.name: load_source(args.data, s) for s in SOURCES}
    tests = {n: load_test_set(args.data, n) for n in ("ethos", "jigsaw_wiki")}
    books = benign_chunks([t for spec in DEFAULT_BENIGN for t in load_benign(spec, args.data)])
    shippable = [data[s.name].subset(data[s.name].folds() != recipe.TEST_FOLD) for s in SOURCES if s.shipped]
    platforms = left_out_platforms(SOURCES)
    rows = []
    for name in args.only:
        started = time.time()
        run = Run(data, books)
        configure(name, run, [t for part in shippable for t in part.texts] + books)
        w, b = run.train(shippable)
        test_scores = [roc_auc(t.labels, run.filter_scores(t.texts, w, b)) for t in tests.values()]
        per_platform = []
        for platform in platforms:
            w, b = run.train([data[s.name] for s in SOURCES if s.platform != platform])
            per_platform.append(np.mean([roc_auc(data[s.name].labels, run.source_logits(data[s.name], w, b))
                                         for s in SOURCES if s.platform == platform]))
        rows.append([name, *per_platform, f"{np.mean(per_platform):.4f}", *test_scores])
        print(f"{name}: {rows[-1][1:]} ({time.time() - started:.0f} s)", flush=True)
    table(["candidate", *platforms, "mean", "ETHOS", "Jigsaw"], rows)


if __name__ == "__main__":
    main()
