"""Task metrics: classification (accuracy, macro-F1, per-class precision/recall, confusion matrix)
and generation (sacrebleu BLEU, rouge-score ROUGE-1/2/L, exact match).

BLEU is sacrebleu's corpus BLEU with its default 13a tokenisation (the number papers quote);
ROUGE is rouge-score's F-measure with Porter stemming, averaged over items (as the HF
`evaluate` wrapper reports it). Exact match compares answers after stripping and collapsing
whitespace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def classification_metrics(truth: list[int], predicted: list[int], names: list[str]) -> dict[str, Any]:
    """Rows of the confusion matrix are true classes, columns predicted ones."""
    k = len(names)
    confusion = [[0] * k for _ in range(k)]
    for t, p in zip(truth, predicted):
        confusion[t][p] += 1
    per_class, f1s = {}, []
    for c, name in enumerate(names):
        true_pos = confusion[c][c]
        predicted_c = sum(confusion[r][c] for r in range(k))
        actual_c = sum(confusion[c])
        precision = true_pos / predicted_c if predicted_c else 0.0
        recall = true_pos / actual_c if actual_c else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": actual_c}
        f1s.append(f1)
    correct = sum(confusion[c][c] for c in range(k))
    return {"accuracy": correct / max(1, len(truth)), "macro_f1": sum(f1s) / k, "per_class": per_class,
            "labels": names, "confusion_matrix": confusion}


def plot_confusion(confusion: list[list[int]], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 1.2 * len(names) + 1.5))
    ax.imshow(confusion, cmap="Blues")
    top = max(max(row) for row in confusion) or 1
    for r, row in enumerate(confusion):
        for c, count in enumerate(row):
            ax.text(c, r, str(count), ha="center", va="center", color="white" if count > top / 2 else "black")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def normalise_answer(text: str) -> str:
    return " ".join(text.split())


def generation_metrics(predictions: list[str], references: list[str]) -> dict[str, float]:
    import sacrebleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, reference in zip(predictions, references):
        scores = scorer.score(reference, prediction)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(1, len(predictions))
    exact = sum(normalise_answer(p) == normalise_answer(r) for p, r in zip(predictions, references))
    return {
        "bleu": sacrebleu.corpus_bleu(predictions, [references]).score,
        **{key: value / n for key, value in totals.items()},
        "exact_match": exact / n,
        "items": len(predictions),
    }
