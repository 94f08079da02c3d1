"""What classification and instruction fine-tuning share: which weights train, the loop, the run folder.

- Full fine-tuning trains every weight, or only the last `train_last_blocks` blocks with the final
  LayerNorm (and the task head): the book's recipe for the spam classifier.
- LoRA (lora_rank > 0) freezes the base and trains adapters (model/lora.py).
- The loop is AdamW over the trainable parameters, a seeded shuffle per epoch, linear warmup then
  constant; it logs to metrics.jsonl. Fine-tuning sets are small, so it runs whole epochs.
- The result is a run folder in the trainer's format (model/checkpoint.py), so `generate`,
  `export`, `eval` and `merge-lora` read it like any other run; finetune.json says how it was made.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from model.checkpoint import load_model, save_checkpoint, write_text_atomic
from model.gpt import GPT
from model.lora import add_lora, adapter_state, base_state, count_parameters, has_lora
from model.progress import MetricsLog


@dataclass
class FinetuneSettings:
    epochs: int = 3
    batch_size: int = 8
    learning_rate: float = 5e-5
    weight_decay: float = 0.1
    warmup_steps: int = 10
    max_steps: int | None = None  # stop early (tests, benchmarks)
    train_last_blocks: int | None = None  # None: every block (full fine-tuning)
    lora_rank: int = 0  # > 0: LoRA instead of full fine-tuning
    lora_alpha: float = 16.0
    seed: int = 1337
    device: str = "auto"


def resolve_device(name: str) -> torch.device:
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)


def load_base(run_dir: Path, settings: FinetuneSettings) -> tuple[GPT, dict[str, Any]]:
    """The run's model ready to fine-tune (train mode); LoRA runs must be merged first."""
    model, meta = load_model(run_dir, resolve_device(settings.device))
    if has_lora(model):
        raise ValueError(f"{run_dir} is a LoRA fine-tune: fold its adapters in with `gristmill merge-lora` first")
    model.train()
    return model, meta


def choose_trainable(model: GPT, settings: FinetuneSettings, head: torch.nn.Module | None = None) -> None:
    """Set requires_grad by the recipe: LoRA adapters, or the last blocks, or everything; a head always trains."""
    if settings.lora_rank > 0:
        add_lora(model, settings.lora_rank, settings.lora_alpha)
    elif settings.train_last_blocks is not None:
        keep = settings.train_last_blocks
        if not 0 <= keep <= model.config.n_layer:
            raise ValueError(f"--train-last-blocks must be between 0 and {model.config.n_layer}, not {keep}")
        for param in model.parameters():
            param.requires_grad = False
        for block in model.transformer.h[model.config.n_layer - keep:]:
            block.requires_grad_(True)
        model.transformer.ln_f.requires_grad_(True)
    if head is not None:
        head.requires_grad_(True)


def fit(modules: torch.nn.Module, batches: Callable[[int], Iterator[Any]], loss_of: Callable[[Any], torch.Tensor],
        settings: FinetuneSettings, log: MetricsLog | None = None, progress: bool = True) -> dict[str, Any]:
    """Train the trainable parameters of modules; batches(epoch) yields an epoch's batches."""
    params = [p for p in modules.parameters() if p.requires_grad]
    trainable, total = count_parameters(modules)
    if progress:
        print(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)", file=sys.stderr)
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": settings.weight_decay},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
        lr=settings.learning_rate)
    torch.manual_seed(settings.seed)
    modules.train()
    step, loss_value, started = 0, None, time.perf_counter()
    for epoch in range(settings.epochs):
        for batch in batches(epoch):
            lr = settings.learning_rate * min(1.0, (step + 1) / max(1, settings.warmup_steps))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_of(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value = float(loss.detach())
            if log is not None and (step % 10 == 0 or step == 1):
                log.write({"step": step, "epoch": epoch, "loss": loss_value, "lr": lr,
                           "elapsed_s": time.perf_counter() - started})
            if settings.max_steps is not None and step >= settings.max_steps:
                break
        if settings.max_steps is not None and step >= settings.max_steps:
            break
    modules.eval()
    return {"steps": step, "loss": loss_value, "seconds": time.perf_counter() - started,
            "trainable_params": trainable, "total_params": total,
            # the process's peak resident memory so far (Linux: KiB); run one fine-tune per process to compare
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def save_run(model: GPT, base_run: Path, out_dir: Path, settings: FinetuneSettings, task: str, stats: dict[str, Any],
             extra_meta: dict[str, Any] | None = None, extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None) -> Path:
    """Write out_dir as a run folder: checkpoint (+ adapters), tokenizer, finetune.json."""
    base_run, out_dir = Path(base_run), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"finetune": task, "base_run": str(base_run.resolve()), **(extra_meta or {})}
    tensors = dict(extra_tensors or {})
    if has_lora(model):
        meta["lora"] = {"rank": settings.lora_rank, "alpha": settings.lora_alpha}
        tensors["adapter.safetensors"] = adapter_state(model)
    path = save_checkpoint(out_dir, stats["steps"], base_state(model), model.config, trainer_state=None,
                           extra_meta=meta, extra_tensors=tensors)
    if (base_run / "tokenizer.json").is_file():
        shutil.copyfile(base_run / "tokenizer.json", out_dir / "tokenizer.json")
    record = {"task": task, "settings": asdict(settings), **stats, **(extra_meta or {})}
    write_text_atomic(out_dir / "finetune.json", json.dumps(record, indent=1) + "\n")
    return path
