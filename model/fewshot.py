"""Few-shot multiple-choice evaluation, scored as lm-evaluation-harness scores `multiple_choice` tasks.

A task file is JSONL, one item a line: {"context": str, "choices": [str, ...], "answer": int}
(`answer` indexes `choices`; each choice is the continuation, with its leading space). For an
item, K other items of the same file (chosen by a seeded generator, never the item itself; the
harness draws from the training split, or the same split minus the item when there is none) are
written in front, each as context + its correct choice, separated by a blank line. Each choice
is then scored by the sum of the log-probabilities of its tokens after the prompt:
- acc: the choice with the highest log-likelihood is the answer;
- acc_norm: the same divided by the choice's length in bytes (the harness's length normalisation).
A prompt longer than the context keeps its end (the item itself, then the nearest examples).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from model.checkpoint import load_model, write_text_atomic
from model.finetune import resolve_device
from model.generate import load_tokenizer_of
from model.records import read_records

SEPARATOR = "\n\n"


def read_task(path: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    records = read_records(path, ["context", "choices", "answer"])
    items, skipped = [], dict(records.skipped)
    for row in records.rows:
        choices, answer = row["choices"], row["answer"]
        if not isinstance(choices, list) or len(choices) < 2 or not isinstance(answer, int) or not 0 <= answer < len(choices):
            skipped["invalid:choices"] = skipped.get("invalid:choices", 0) + 1
        else:
            items.append(row)
    return items, skipped


def fewshot_prompt(items: list[dict[str, Any]], index: int, shots: int, seed: int) -> str:
    others = [i for i in range(len(items)) if i != index]
    chosen = random.Random(seed * 1_000_003 + index).sample(others, min(shots, len(others)))
    examples = [items[i]["context"] + items[i]["choices"][items[i]["answer"]] for i in chosen]
    return SEPARATOR.join(examples + [items[index]["context"]])


@torch.no_grad()
def choice_log_likelihoods(model, tokenizer, context: str, choices: list[str]) -> list[float]:
    """Sum of log p(choice tokens | context) for each choice, one forward pass per choice."""
    device = next(model.parameters()).device
    block = model.config.block_size
    vocab = tokenizer.get_vocab_size()
    context_ids = tokenizer.encode(context, add_special_tokens=False).ids
    scores = []
    for choice in choices:
        # the harness encodes context and continuation apart, so a word boundary never moves
        choice_ids = tokenizer.encode(choice, add_special_tokens=False).ids
        ids = (context_ids + choice_ids)[-(block + 1):]
        x = torch.tensor([ids[:-1]], device=device)
        logits, _ = model(x)
        log_probs = F.log_softmax(logits[0, :, :vocab].float(), dim=-1)
        targets = torch.tensor(ids[1:], device=device)
        n = len(choice_ids)
        scores.append(float(log_probs[-n:].gather(1, targets[-n:, None]).sum()))
    return scores


def evaluate_fewshot(run: Path, task: Path, shots: int = 0, seed: int = 1234, limit: int | None = None,
                     out: Path | None = None, device: str = "auto") -> dict[str, Any]:
    """Accuracy (and length-normalised accuracy) on task's items with `shots` examples each → JSON."""
    run, task = Path(run), Path(task)
    model, meta = load_model(run, resolve_device(device))
    if not model.config.causal:
        raise ValueError(f"{run} is a masked language model: few-shot scoring needs a causal one")
    tokenizer = load_tokenizer_of(run)
    items, skipped = read_task(task)
    indices = range(min(limit, len(items)) if limit else len(items))
    correct = correct_norm = 0
    for index in indices:
        item = items[index]
        scores = choice_log_likelihoods(model, tokenizer, fewshot_prompt(items, index, shots, seed), item["choices"])
        normalised = [s / max(1, len(c.encode("utf-8"))) for s, c in zip(scores, item["choices"])]
        correct += max(range(len(scores)), key=scores.__getitem__) == item["answer"]
        correct_norm += max(range(len(normalised)), key=normalised.__getitem__) == item["answer"]
    n = len(indices)
    answers = [items[i]["answer"] for i in indices]
    result = {"task": str(task), "shots": shots, "items": n, "acc": correct / n, "acc_norm": correct_norm / n,
              "majority_baseline": max(answers.count(a) for a in set(answers)) / n,
              "skipped": skipped, "step": meta["step"], "seed": seed}
    out = Path(out) if out else run / f"eval_fewshot_{task.stem}_{shots}shot.json"
    write_text_atomic(out, json.dumps(result, indent=1) + "\n")
    return result
