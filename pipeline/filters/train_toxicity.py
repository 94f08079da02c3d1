"""Train gristmill's toxicity model (toxicity_model.npz) from labelled JSONL files.

    python -m pipeline.filters.train_toxicity --data /work/shared/data

What "toxic" means here: a text is positive when the annotators of its source would have
labelled it positive under that source's scheme: offensive (Davidson, OLID), hateful (Stormfront,
the Gab Hate Corpus, HatEval, Implicit Hate), sexist (EDOS), toxic or abusive (Wikipedia talk,
ConvAbuse). The sources are pooled into one logistic regression in which the two classes weigh
the same inside every source (so no source's base rate becomes the prior, and every scheme pulls
on the weights), plus long benign book pieces as negatives (`--weighting natural`, every text
weighing 1, transfers better without the book pieces and worse with them: TOXICITY_MODEL.md). One
linear score is then fitted to
"any of these schemes": the evidence of a profane insult, a slur, a hateful generalisation, a
sexist remark all add up in one logit. Picked by leave-one-platform-out (TOXICITY_MODEL.md).
A source's 0 means "not positive under my scheme" only, so the labelled negatives the pooled fit
reads as clearly positive (logit > 1) are left out of a second fit (conflicting_negatives).

Features: hashed word and character n-grams, plus a second view of the text through the word
classes of word_classes.txt (target groups, animals, violence, insults), which lets what one
source says about its groups transfer to others (toxicity_word_classes.py).

Calibration: Platt scaling (a logistic regression on the model's logit) fitted at each source's
natural class balance on out-of-fold logits (each of fifths 1-4 scored by a model trained on the
other three), folded into the weights and bias of the model trained on fifths 1-4, so the
shipped score is a probability: among in-domain texts scoring about 0.7, about 70 % are positive.

Splits are by crc32 of the record id: fifth 0 is the in-domain test (never trained or calibrated
on), fifths 1-4 train (`--calibration-fifth`: fifths 2-4 train, fifth 1 calibrates). Fitting is liblinear's dual coordinate descent (scikit-learn,
a dev-time dependency; scoring is numpy), seeded, so the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pipeline.filters.toxicity import MODEL_PATH, Featurizer, ToxicityModel, normalize, tf_matrix_rows
from pipeline.filters.toxicity_word_classes import default_word_classes

DEFAULT_C = 1.0
WINDOW_WORDS = 32  # book pieces are cut to the window the filter scores (toxicity.window_words)
BOOKS_WEIGHT = 0.2  # the benign book pieces together weigh this share of the labelled rows
PLANTED_WEIGHT = 0.2  # and the book pieces with a positive text planted inside them, this share
# The worst of many windows is lowered by up to this much (logit): toxicity.ToxicityModel.many_windows_margin.
# Chosen on the dev books that are not trained on (Carroll, Shakespeare): see TOXICITY_MODEL.md.
# A labelled negative that the first fit scores above this logit is left out of a second fit.
# Leave-one-platform-out prefers 0 (0.817) to 1 (0.815) and -1 (0.814), but at 0 2.3 % of the
# unseen books score >= 0.5, over the 2 % goal; at 1, 0.7 % (TOXICITY_MODEL.md).
CONFLICT_LOGIT = 1.0
LONG_WINDOW_WORDS = 12  # windows of a text longer than toxicity.window_words (chosen with the margin)
WINDOW_MARGIN = 0.75
TEST_FOLD, CALIBRATION_FOLD = 0, 1


SYNTHETIC = "synthetic"  # written to train or test models: trained on in every fold, never a left-out platform


def left_out_platforms(sources: "list[Source] | tuple[Source, ...]") -> list[str]:
    """The platforms leave-one-platform-out tests on, in order: every one but SYNTHETIC."""
    return sorted({source.platform for source in sources} - {SYNTHETIC})


@dataclass(frozen=True)
class Source:
    """A labelled set: its file under the data folder, where it was written, whether its
    licence lets gristmill ship weights trained on it, and (`rows`) the prefix of `source_label`
    that picks its rows when the file holds more than this source."""

    name: str
    path: str
    platform: str
    licence: str
    shipped: bool
    rows: str = ""


SOURCES = (
    Source("davidson", "toxicity/davidson_toxicity_dev.jsonl", "twitter", "MIT", True),
    Source("olid2019", "toxicity/more/olid2019.jsonl", "twitter", "none stated (Twitter terms)", False),
    Source("hateval2019", "toxicity/more/hateval2019.jsonl", "twitter", "none stated (Twitter terms)", False),
    Source("implicit_hate", "toxicity/more/implicit_hate.jsonl", "twitter", "CC BY 4.0", True),
    Source("stormfront", "toxicity/stormfront_toxicity_dev.jsonl", "stormfront", "CC BY-SA 3.0 ES", True),
    Source("gab_hate_corpus", "toxicity/more/gab_hate_corpus.jsonl", "gab_reddit", "unverified (third-party copy)", False),
    Source("edos_sexism", "toxicity/more/edos_sexism.jsonl", "gab_reddit", "CC0 1.0", True),
    Source("wiki_talk_cat", "toxicity/more/wiki_talk_cat.jsonl", "wikipedia", "Apache-2.0; text CC BY-SA 3.0", True),
    Source("convabuse", "toxicity/more/convabuse.jsonl", "chatbot", "CC BY 4.0", True),
    # HatemojiBuild: hate written by annotators to fool models, the training half of Hatemoji;
    # its test half, HatemojiCheck, stays a test suite (TEST_SETS)
    Source("hatemoji_build", "toxicity/more/hatemoji.jsonl", SYNTHETIC, "CC BY 4.0", True, rows="build:"),
)
# Test sets only: ETHOS and the Jigsaw sample are other platforms; HateCheck and HatemojiCheck are
# functional and adversarial suites, read per functionality rather than learned.
# name -> (path, source_label prefix of the rows to read)
TEST_SETS = {
    "ethos": ("toxicity/ethos_toxicity_dev.jsonl", ""),
    "jigsaw_wiki": ("toxicity/jigsaw_wiki_toxicity_dev.jsonl", ""),
    "hatecheck": ("toxicity/more/hatecheck.jsonl", ""),
    "hatemoji_check": ("toxicity/more/hatemoji.jsonl", "check:"),
}
# Public-domain books: H. G. Wells (neardup set), Austen, Shelley and Wharton (prose set). Carroll
# and Shakespeare stay out, so benchmarks/filters.py can measure false positives on unseen books.
DEFAULT_BENIGN = (
    "neardup/neardup_dev_docs.jsonl",
    "prose/prose_dev.jsonl:pg1342-,pg84-,the-verdict",
)


@dataclass
class Labelled:
    """Texts of one source with their labels, ids and original labels."""

    name: str
    texts: list[str]
    labels: np.ndarray
    ids: list[str]
    source_labels: list[str]

    def folds(self) -> np.ndarray:
        return np.array([zlib.crc32(i.encode()) % 5 for i in self.ids])

    def subset(self, mask: np.ndarray) -> "Labelled":
        pick = np.flatnonzero(mask)
        return Labelled(self.name, [self.texts[i] for i in pick], self.labels[pick], [self.ids[i] for i in pick],
                        [self.source_labels[i] for i in pick])


def load_labelled(path: Path, name: str | None = None, rows: str = "") -> Labelled:
    """A labelled JSONL file: {"id", "text", and "label" (0/1) or "toxic" (bool)} per line; with
    `rows`, only the records whose "source_label" starts with it."""
    texts, labels, ids, source_labels = [], [], [], []
    with path.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if not str(record.get("source_label", "")).startswith(rows):
                continue
            texts.append(record["text"])
            labels.append(bool(record["label"] if "label" in record else record["toxic"]))
            ids.append(str(record.get("id", len(ids))))
            source_labels.append(str(record.get("source_label", "")))
    return Labelled(name or path.stem, texts, np.array(labels, dtype=bool), ids, source_labels)


def shipped_featurizer(bits: int = Featurizer().bits, word_classes: bool = True) -> Featurizer:
    """The features of the shipped model: plain n-grams, and the word classes of word_classes.txt."""
    return Featurizer(bits=bits, word_classes=default_word_classes() if word_classes else "")


def design_matrix(texts: list[str], featurizer: Featurizer) -> sp.csr_matrix:
    """One row per text: the features the model scores, the whole text as one window."""
    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        buckets, _ = featurizer.features(normalize(text))
        if len(buckets) == 0:
            continue
        _, bucket, value = tf_matrix_rows(buckets, np.zeros(len(buckets), dtype=np.int64), 1, featurizer)
        rows.append(np.full(len(bucket), i))
        cols.append(bucket)
        values.append(value)
    if not rows:
        return sp.csr_matrix((len(texts), featurizer.n_buckets))
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(len(texts), featurizer.n_buckets)
    )


WEIGHTINGS = ("balanced", "natural")


def row_weights(labels: np.ndarray, sources: np.ndarray, weighting: str = "balanced") -> np.ndarray:
    """`natural`: every text weighs 1. `balanced`: the classes weigh the same inside each source."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}")
    return np.ones(len(labels)) if weighting == "natural" else balanced_weights(labels, sources)


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


def fit_logistic(X: sp.csr_matrix, y: np.ndarray, weights: np.ndarray, C: float = DEFAULT_C) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression by liblinear's dual solver (about 10x faster than the
    primal on this many features); weights are rescaled to mean 1 so C means the same
    whatever the data size. Returns (weights, bias)."""
    from sklearn.linear_model import LogisticRegression  # dev-time only: scoring needs numpy alone

    model = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000, tol=1e-4, random_state=0)
    model.fit(X, y, sample_weight=weights * (len(weights) / weights.sum()))
    return model.coef_.ravel().astype(np.float64), float(model.intercept_[0])


def platt(logits: np.ndarray, labels: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """(a, b) so that sigmoid(a * logit + b) is calibrated on these texts: Newton's method on the
    log-loss, each step halved until the loss goes down (plain Newton can overshoot and diverge)."""
    y = labels.astype(np.float64)

    def loss(a: float, b: float) -> float:
        z = a * logits + b
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (a * logits + b)))  # the logistic function, without overflow
        g = np.array([np.sum((p - y) * logits), np.sum(p - y)])
        h = p * (1 - p)
        H = np.array([[np.sum(h * logits * logits), np.sum(h * logits)], [np.sum(h * logits), np.sum(h)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(H, g)
        scale = 1.0
        while scale > 1e-6 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        previous, current = current, loss(a, b)
        if previous - current < 1e-12 * max(1.0, abs(previous)):
            break
    return float(a), float(b)


def benign_chunks(texts: list[str], words: int = WINDOW_WORDS) -> list[str]:
    """Long benign documents (books) cut into window-sized pieces of at least 16 words. The
    labelled sets are tweets, comments and forum sentences; without long-form negatives the
    model reads ordinary narrative (pronouns, dialogue) as toxic and long windows drift up."""
    pieces = []
    for text in texts:
        tokens = text.split()
        for start in range(0, len(tokens), words):
            piece = tokens[start : start + words]
            if len(piece) >= words // 2:
                pieces.append(" ".join(piece))
    return pieces


def planted(pieces: list[str], positives: list[str], seed: int = 0) -> list[str]:
    """Each book piece with a positive text put in at a random word boundary. Scored by windows,
    an insult in a book shares its window with calm narrative; trained on these, the model learns
    that narrative words are no evidence either way, so the insult is not diluted below 0.5."""
    rng = np.random.default_rng(seed)
    out = []
    for piece in pieces:
        words = piece.split(" ")
        passage = positives[int(rng.integers(len(positives)))]
        cut = int(rng.integers(len(words) + 1))
        out.append(" ".join(words[:cut] + [passage] + words[cut:]))
    return out


def conflicting_negatives(logits: np.ndarray, labels: np.ndarray, n_labelled: int, above: float) -> np.ndarray:
    """The labelled negatives (the first `n_labelled` rows; book pieces after them are harmless
    under every scheme) that the pooled fit scores above `above`. A source's 0 only says "not
    positive under my scheme": EDOS calls racist hate "not sexist", a hate source calls plain
    profanity "not hate". Taught as harmless, they pull the union score down on what another
    scheme flags; left out, the scheme that would flag them decides."""
    return ~labels & (logits > above) & (np.arange(len(labels)) < n_labelled)


def train_model(
    labelled: list[Labelled],
    featurizer: Featurizer | None = None,
    C: float = DEFAULT_C,
    books: list[str] | None = None,
    calibration: list[Labelled] | None = None,
    matrices: dict[str, sp.csr_matrix] | None = None,
    weighting: str = "balanced",
    conflict_logit: float | None = CONFLICT_LOGIT,
) -> ToxicityModel:
    """Fit a ToxicityModel on labelled sources (rows weighted by `weighting`) plus benign book
    pieces, alone (negatives) and with a positive planted inside (positives); with `calibration` sets, Platt-scale it on them at their natural class balance.
    With `conflict_logit`, fit twice: the labelled negatives the first fit scores above it are
    left out of the second (see conflicting_negatives).
    `matrices` caches design matrices by source name (benchmarks reuse them across fits).
    The featurizer defaults to shipped_featurizer()."""
    featurizer = featurizer or shipped_featurizer()

    def matrix(part: Labelled) -> sp.csr_matrix:
        if matrices is None:
            return design_matrix(part.texts, featurizer)
        key = (part.name, len(part.texts))  # a source and its fifths share a name, not a length
        if key not in matrices:
            matrices[key] = design_matrix(part.texts, featurizer)
        return matrices[key]

    blocks = [matrix(part) for part in labelled]
    y = np.concatenate([part.labels for part in labelled])
    sources = np.concatenate([np.full(len(part.labels), i) for i, part in enumerate(labelled)])
    weights = row_weights(y, sources, weighting)
    if books:
        positives = [t for part in labelled for t, label in zip(part.texts, part.labels) if label]
        with_abuse = planted(books, positives)
        total = weights.sum()
        blocks += [design_matrix(books, featurizer), design_matrix(with_abuse, featurizer)]
        y = np.concatenate([y, np.zeros(len(books), dtype=bool), np.ones(len(books), dtype=bool)])
        weights = np.concatenate([weights, np.full(len(books), BOOKS_WEIGHT * total / len(books)),
                                  np.full(len(books), PLANTED_WEIGHT * total / len(books))])
    X = sp.vstack(blocks).tocsr()
    w, b = fit_logistic(X, y, weights, C)
    if conflict_logit is not None:
        keep = ~conflicting_negatives(X @ w + b, y, sum(len(part.texts) for part in labelled), conflict_logit)
        if not keep.all() and (~y[keep]).any():  # nothing left out, or no negative left: the first fit stands
            w, b = fit_logistic(X[keep], y[keep], weights[keep], C)
    if calibration:
        logits = np.concatenate([matrix(part) @ w + b for part in calibration])
        a, shift = platt(logits, np.concatenate([part.labels for part in calibration]))
        w, b = a * w, a * b + shift
    return ToxicityModel(w, b, featurizer, WINDOW_MARGIN, LONG_WINDOW_WORDS)


def cross_fitted_model(
    labelled: list[Labelled],
    featurizer: Featurizer | None = None,
    C: float = DEFAULT_C,
    books: list[str] | None = None,
    weighting: str = "balanced",
    conflict_logit: float | None = CONFLICT_LOGIT,
) -> ToxicityModel:
    """A model trained on all of `labelled` (the training and calibration fifths), Platt-scaled
    on out-of-fold logits: each of those four fifths is scored by a model trained on the other
    three, so calibration needs no fifth of its own and training gets a third more texts. Five
    fits instead of one."""
    featurizer = featurizer or shipped_featurizer()
    # each text is featurized once; every fold's model reads its rows (under a name of its own,
    # since train_model's cache knows a part by name and length)
    whole = {part.name: design_matrix(part.texts, featurizer) for part in labelled}
    matrices: dict = {(part.name, len(part.texts)): whole[part.name] for part in labelled}
    logits, labels = [], []
    folds = [part.folds() for part in labelled]
    for fold in sorted({int(f) for fs in folds for f in fs}):
        others = []
        for part, fs in zip(labelled, folds):
            rest = part.subset(fs != fold)
            rest.name = f"{part.name} without fold {fold}"
            matrices[(rest.name, len(rest.texts))] = whole[part.name][fs != fold]
            others.append(rest)
        model = train_model(others, featurizer, C, books=books, matrices=matrices, weighting=weighting,
                            conflict_logit=conflict_logit)
        logits += [whole[part.name][fs == fold] @ model.weights.astype(np.float64) + model.bias for part, fs in zip(labelled, folds)]
        labels += [part.labels[fs == fold] for part, fs in zip(labelled, folds)]
    a, shift = platt(np.concatenate(logits), np.concatenate(labels))
    model = train_model(labelled, featurizer, C, books=books, matrices=matrices, weighting=weighting,
                        conflict_logit=conflict_logit)
    return ToxicityModel(a * model.weights.astype(np.float64), a * model.bias + shift, featurizer, WINDOW_MARGIN, LONG_WINDOW_WORDS)


def load_benign(spec: str, data: Path | None = None) -> list[str]:
    """Texts of 'PATH' or 'PATH:PREFIX,PREFIX' (only records whose id starts with a prefix);
    a relative PATH is read under `data`."""
    path, _, prefixes = spec.partition(":")
    wanted = tuple(p for p in prefixes.split(",") if p)
    full = Path(path) if data is None else data / path
    texts = []
    with full.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if not wanted or str(record.get("id", "")).startswith(wanted):
                texts.append(record["text"])
    return texts


def load_source(data: Path, source: Source) -> Labelled:
    path = data / source.path
    if not path.is_file():
        raise SystemExit(f"{path} not found: pass --data with the folder holding toxicity/ (see TOXICITY_MODEL.md)")
    return load_labelled(path, source.name, source.rows)


def load_test_set(data: Path, name: str) -> Labelled:
    path, rows = TEST_SETS[name]
    return load_labelled(data / path, name, rows)


def split(part: Labelled) -> dict[str, Labelled]:
    """The test, calibration and training fifths of a source (by id hash)."""
    folds = part.folds()
    return {"test": part.subset(folds == TEST_FOLD), "calibration": part.subset(folds == CALIBRATION_FOLD),
            "train": part.subset(folds > CALIBRATION_FOLD)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="the shared data folder (toxicity/, prose/, neardup/)")
    parser.add_argument("--all-sources", action="store_true",
                        help="also train on sources whose licence does not allow shipping (for measurement, never for the package)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--bits", type=int, default=Featurizer().bits, help="log2 of the number of hash buckets")
    parser.add_argument("--no-word-classes", action="store_true",
                        help="plain n-grams only, without the word classes of word_classes.txt (for comparison)")
    parser.add_argument("--C", type=float, default=DEFAULT_C, help="inverse L2 strength (liblinear)")
    parser.add_argument("--weighting", choices=WEIGHTINGS, default="balanced",
                        help="balanced (shipped): classes weigh the same inside each source; natural: every text weighs 1")
    parser.add_argument("--conflict-logit", type=float, default=CONFLICT_LOGIT,
                        help="labelled negatives the first fit scores above this logit are left out of a second fit")
    parser.add_argument("--keep-conflicts", action="store_true", help="one fit, every labelled negative kept (as before)")
    parser.add_argument("--calibration-fifth", action="store_true",
                        help="train on fifths 2-4 and calibrate on fifth 1, as before (default: cross_fitted_model on fifths 1-4)")
    args = parser.parse_args()

    train, calibration = [], []
    for source in SOURCES:
        if not (source.shipped or args.all_sources):
            print(f"{source.name}: left out (licence: {source.licence})")
            continue
        parts = split(load_source(args.data, source))
        train.append(parts["train"])
        calibration.append(parts["calibration"])
        print(f"{source.name}: {len(parts['train'].texts)} train ({int(parts['train'].labels.sum())} positive), "
              f"{len(parts['calibration'].texts)} calibration, {len(parts['test'].texts)} test")
    books = benign_chunks([t for spec in DEFAULT_BENIGN for t in load_benign(spec, args.data)])
    print(f"books: {len(books)} benign pieces")
    featurizer = shipped_featurizer(args.bits, not args.no_word_classes)
    conflict_logit = None if args.keep_conflicts else args.conflict_logit
    if not args.calibration_fifth:
        both = [Labelled(t.name, t.texts + c.texts, np.concatenate([t.labels, c.labels]), t.ids + c.ids, t.source_labels + c.source_labels)
                for t, c in zip(train, calibration)]
        model = cross_fitted_model(both, featurizer, args.C, books=books, weighting=args.weighting, conflict_logit=conflict_logit)
    else:
        model = train_model(train, featurizer, args.C, books=books, calibration=calibration, weighting=args.weighting,
                            conflict_logit=conflict_logit)
    model.save(args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
