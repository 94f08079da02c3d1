"""Classification fine-tuning, the book's recipe (chapter 6): a linear head on the last token.

A causal model's last token is the only one that has seen the whole text, so its final hidden
state feeds a Linear(n_embd, classes) head. Texts are right-padded to the batch's longest, and
the head reads the last real token of each row (the book pads with <|endoftext|> and reads the
last position; reading the last real token gives the same answer without depending on padding).
Texts longer than the context keep their first block_size tokens.

Run folder: the GPT checkpoint (or base + LoRA adapters) plus head.safetensors, and the labels
in meta.json {"classifier": {"labels": [...], "text_field", "label_field"}}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from model.checkpoint import latest_checkpoint, load_model, write_text_atomic
from model.finetune import FinetuneSettings, choose_trainable, fit, load_base, resolve_device, save_run
from model.generate import load_tokenizer_of
from model.gpt import GPT
from model.progress import MetricsLog
from model.records import read_records
from model.task_metrics import classification_metrics, plot_confusion

HEAD = "head.safetensors"


class GPTClassifier(nn.Module):
    def __init__(self, gpt: GPT, n_classes: int) -> None:
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.n_embd, n_classes)

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, classes) logits from the hidden state of each row's last real token."""
        hidden = self.gpt.hidden_states(idx)
        last = hidden[torch.arange(idx.size(0), device=idx.device), lengths - 1]
        return self.head(last)


def encode_texts(tokenizer, texts: list[str], block_size: int) -> list[list[int]]:
    encodings = tokenizer.encode_batch([str(t) for t in texts], add_special_tokens=False)
    return [(e.ids or [tokenizer.token_to_id("<|endoftext|>")])[:block_size] for e in encodings]


def collate(sequences: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids (B, longest) and each row's length."""
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return ids.to(device), torch.tensor([len(s) for s in sequences], device=device)


def read_labelled(path: Path, text_field: str, label_field: str) -> tuple[list[str], list[str], dict[str, int]]:
    records = read_records(path, [text_field, label_field])
    return ([str(r[text_field]) for r in records.rows], [str(r[label_field]) for r in records.rows],
            dict(records.skipped))


def finetune_classifier(run: Path, data: Path, out: Path, settings: FinetuneSettings, text_field: str = "text",
                        label_field: str = "label", progress: bool = True) -> dict[str, Any]:
    """Fine-tune run's model as a classifier of data's label_field; write the run folder out."""
    gpt, _ = load_base(run, settings)
    device = next(gpt.parameters()).device
    tokenizer = load_tokenizer_of(run)
    pad_id = tokenizer.token_to_id("<|pad|>")
    texts, labels, skipped = read_labelled(data, text_field, label_field)
    names = sorted(set(labels))
    if len(names) < 2:
        raise ValueError(f"{data} has a single label {names}: a classifier needs at least two")
    y = torch.tensor([names.index(label) for label in labels], device=device)
    sequences = encode_texts(tokenizer, texts, gpt.config.block_size)

    for param in gpt.parameters():
        param.requires_grad = True
    torch.manual_seed(settings.seed)
    model = GPTClassifier(gpt, len(names)).to(device)
    choose_trainable(gpt, settings, head=model.head)

    def batches(epoch: int):
        order = torch.randperm(len(sequences), generator=torch.Generator().manual_seed(settings.seed + epoch)).tolist()
        for start in range(0, len(order), settings.batch_size):
            chosen = order[start:start + settings.batch_size]
            yield collate([sequences[i] for i in chosen], pad_id, device), y[chosen]

    def loss_of(batch) -> torch.Tensor:
        (ids, lengths), targets = batch
        return F.cross_entropy(model(ids, lengths), targets)

    stats = fit(model, batches, loss_of, settings, MetricsLog(Path(out) / "metrics.jsonl"), progress)
    stats.update({"rows": len(texts), "skipped": skipped, "label_counts": {n: labels.count(n) for n in names}})
    classifier = {"labels": names, "text_field": text_field, "label_field": label_field}
    save_run(gpt, run, out, settings, "classify", stats, extra_meta={"classifier": classifier},
             extra_tensors={HEAD: {k: v for k, v in model.head.state_dict().items()}})
    return stats


def load_classifier(run: Path, device: str = "auto") -> tuple[GPTClassifier, dict[str, Any]]:
    gpt, meta = load_model(run, resolve_device(device))
    if "classifier" not in meta:
        raise ValueError(f"{run} is not a classifier run: make one with `gristmill finetune classify`")
    model = GPTClassifier(gpt, len(meta["classifier"]["labels"]))
    model.head.load_state_dict(load_file(latest_checkpoint(run) / HEAD))
    return model.to(next(gpt.parameters()).device).eval(), meta


@torch.no_grad()
def predict(model: GPTClassifier, tokenizer, texts: list[str], batch_size: int = 32) -> list[int]:
    device = next(model.parameters()).device
    sequences = encode_texts(tokenizer, texts, model.gpt.config.block_size)
    pad_id = tokenizer.token_to_id("<|pad|>")
    predictions: list[int] = []
    for start in range(0, len(sequences), batch_size):
        ids, lengths = collate(sequences[start:start + batch_size], pad_id, device)
        predictions += model(ids, lengths).argmax(dim=-1).tolist()
    return predictions


def evaluate_classifier(run: Path, data: Path, out: Path | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall, confusion matrix → out (JSON) and out's .png."""
    run = Path(run)
    model, meta = load_classifier(run)
    info = meta["classifier"]
    tokenizer = load_tokenizer_of(run)
    texts, labels, skipped = read_labelled(data, info["text_field"], info["label_field"])
    names = info["labels"]
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise ValueError(f"{data} has labels the classifier was not trained on: {unknown} (it knows {names})")
    predicted = predict(model, tokenizer, texts)
    result = classification_metrics([names.index(label) for label in labels], predicted, names)
    majority = max(names, key=labels.count)
    result["majority_baseline"] = {"label": majority, "accuracy": labels.count(majority) / len(labels),
                                   "macro_f1": classification_metrics([names.index(x) for x in labels],
                                                                      [names.index(majority)] * len(labels), names)["macro_f1"]}
    result.update({"rows": len(texts), "skipped": skipped, "data": str(data), "step": meta["step"]})
    out = Path(out) if out else run / "eval_classify.json"
    write_text_atomic(out, json.dumps(result, indent=1) + "\n")
    plot_confusion(result["confusion_matrix"], names, out.with_suffix(".png"))
    return result
