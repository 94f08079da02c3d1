"""Instruction fine-tuning, the book's recipe (chapter 7): Alpaca prompts, loss on the response only.

Each record {instruction, input, output} becomes the Alpaca prompt followed by the response and
<|endoftext|>. The targets are the ids shifted by one, with every position that predicts a
prompt token set to -100, so the model learns to answer, not to recite the instructions. The
collate pads a batch to its longest row (targets -100 on the padding) and truncates rows to the
context; a record whose prompt alone fills the context has nothing left to learn from and is
counted as `too_long` (it is never silently dropped).

`evaluate_generation` answers each test prompt greedily and scores the answers with
model/task_metrics.py: BLEU, ROUGE-1/2/L, exact match; the generations are written beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from model.checkpoint import load_model, write_text_atomic
from model.finetune import FinetuneSettings, choose_trainable, fit, load_base, resolve_device, save_run
from model.generate import generate, load_tokenizer_of
from model.progress import MetricsLog
from model.records import read_records
from model.task_metrics import generation_metrics

FIELDS = ("instruction", "input", "output")
PREAMBLE = ("Below is an instruction that describes a task. "
            "Write a response that appropriately completes the request.")


def format_prompt(record: dict[str, Any]) -> str:
    """The Alpaca prompt up to and including the response header (the book's format_input + header)."""
    text = f"{PREAMBLE}\n\n### Instruction:\n{record['instruction']}"
    if record.get("input"):
        text += f"\n\n### Input:\n{record['input']}"
    return text + "\n\n### Response:\n"


def encode_example(tokenizer, record: dict[str, Any], block_size: int) -> tuple[list[int], int] | None:
    """(ids of prompt + response + <|endoftext|>, prompt length), truncated to block_size + 1 ids;
    None when the prompt leaves no response token inside the context."""
    eot = tokenizer.token_to_id("<|endoftext|>")
    prompt = tokenizer.encode(format_prompt(record), add_special_tokens=False).ids
    response = tokenizer.encode(str(record["output"]), add_special_tokens=False).ids + [eot]
    ids = (prompt + response)[:block_size + 1]
    if len(prompt) >= len(ids):
        return None
    return ids, len(prompt)


def collate(examples: list[tuple[list[int], int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, T) padded with pad_id; targets shifted by one, -100 on prompt and padding."""
    longest = max(len(ids) for ids, _ in examples) - 1
    inputs = torch.full((len(examples), longest), pad_id, dtype=torch.long)
    targets = torch.full((len(examples), longest), -100, dtype=torch.long)
    for row, (ids, prompt_len) in enumerate(examples):
        sequence = torch.tensor(ids, dtype=torch.long)
        inputs[row, :len(ids) - 1] = sequence[:-1]
        targets[row, :len(ids) - 1] = sequence[1:]
        targets[row, :prompt_len - 1] = -100  # positions whose next token is still the prompt
    return inputs.to(device), targets.to(device)


def read_instructions(path: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    records = read_records(path, ["instruction", "output"])  # input may be empty
    return records.rows, dict(records.skipped)


def finetune_instructions(run: Path, data: Path, out: Path, settings: FinetuneSettings,
                          progress: bool = True) -> dict[str, Any]:
    """Fine-tune run's model on data's Alpaca records; write the run folder out."""
    model, _ = load_base(run, settings)
    device = next(model.parameters()).device
    tokenizer = load_tokenizer_of(run)
    pad_id = tokenizer.token_to_id("<|pad|>")
    records, skipped = read_instructions(data)
    examples = []
    for record in records:
        example = encode_example(tokenizer, record, model.config.block_size)
        if example is None:
            skipped["too_long"] = skipped.get("too_long", 0) + 1
        else:
            examples.append(example)
    if not examples:
        raise ValueError(f"no record of {data} fits the model's context of {model.config.block_size} tokens")
    choose_trainable(model, settings)

    def batches(epoch: int):
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(settings.seed + epoch)).tolist()
        for start in range(0, len(order), settings.batch_size):
            yield collate([examples[i] for i in order[start:start + settings.batch_size]], pad_id, device)

    def loss_of(batch) -> torch.Tensor:
        inputs, targets = batch
        _, loss = model(inputs, targets)
        return loss

    stats = fit(model, batches, loss_of, settings, MetricsLog(Path(out) / "metrics.jsonl"), progress)
    stats.update({"rows": len(examples), "skipped": skipped,
                  "truncated": sum(len(ids) == model.config.block_size + 1 for ids, _ in examples)})
    save_run(model, run, out, settings, "instruct", stats)
    return stats


@torch.no_grad()
def answer(model, tokenizer, record: dict[str, Any], max_new_tokens: int) -> str:
    """The greedy response to one record's prompt, cut at <|endoftext|> or the next '###' header."""
    eot = tokenizer.token_to_id("<|endoftext|>")
    device = next(model.parameters()).device
    prompt = tokenizer.encode(format_prompt(record), add_special_tokens=False).ids
    prompt = prompt[-(model.config.block_size - 1):]
    idx = torch.tensor([prompt], dtype=torch.long, device=device)
    out = generate(model, idx, max_new_tokens, temperature=0.0, stop_id=eot,
                   vocab_size=tokenizer.get_vocab_size())[0, len(prompt):].tolist()
    if eot in out:
        out = out[:out.index(eot)]
    text = tokenizer.decode(out, skip_special_tokens=True)
    return text.split("###")[0].strip()


def evaluate_generation(run: Path, data: Path, out: Path | None = None, max_new_tokens: int = 64,
                        limit: int | None = None, device: str = "auto") -> dict[str, Any]:
    """BLEU, ROUGE-1/2/L and exact match of greedy answers → out (JSON) and generations.jsonl beside it."""
    run = Path(run)
    model, meta = load_model(run, resolve_device(device))
    tokenizer = load_tokenizer_of(run)
    records, skipped = read_instructions(data)
    records = records[:limit] if limit else records
    predictions = [answer(model, tokenizer, record, max_new_tokens) for record in records]
    references = [str(r["output"]).strip() for r in records]
    result = {**generation_metrics(predictions, references), "skipped": skipped, "data": str(data),
              "step": meta["step"], "max_new_tokens": max_new_tokens}
    out = Path(out) if out else run / "eval_generate.json"
    write_text_atomic(out, json.dumps(result, indent=1) + "\n")
    lines = [json.dumps({"instruction": r["instruction"], "input": r.get("input", ""), "reference": ref,
                         "generation": p}, ensure_ascii=False) for r, ref, p in zip(records, references, predictions)]
    write_text_atomic(out.with_name(out.stem + ".generations.jsonl"), "\n".join(lines) + "\n")
    return result
