"""LoRA (Hu et al. 2021) on gristmill's GPT, through peft.

peft wraps any torch module whose Linear layers it is told to target: `inject_adapter_in_model`
replaces each targeted nn.Linear by a peft LoRA Linear that keeps the frozen original as
`base_layer` and adds W x + (alpha / r) B A x with A (r x in), B (out x r), B starting at zero,
so the adapted model starts as the base model. Only A and B train.

Storage keeps the trainer's checkpoint format: model.safetensors holds the base weights under
their usual names (a LoRA run loads into a plain GPT), adapter.safetensors the A and B matrices,
meta.json {"lora": {"rank", "alpha", "targets"}}. merge_lora folds B A into the base weights
and removes the wrappers: the result is a plain GPT that exports to Hugging Face like any other.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from safetensors.torch import load_file

ADAPTERS = "adapter.safetensors"
# every Linear inside the blocks: attention qkv and output, MLP up and down (not the tied LM head)
DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def add_lora(model: torch.nn.Module, rank: int, alpha: float, targets: list[str] | tuple[str, ...] = DEFAULT_TARGETS,
             dropout: float = 0.0) -> torch.nn.Module:
    """Wrap the target Linear layers of model in place; afterwards only the adapters train."""
    if rank < 1:
        raise ValueError(f"--lora-rank must be at least 1, not {rank}")
    # a target matches a module whose name ends with it (peft's rule for a list of names)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets), bias="none")
    inject_adapter_in_model(config, model)
    for name, param in model.named_parameters():
        param.requires_grad = "lora_" in name
    return model


def has_lora(model: torch.nn.Module) -> bool:
    return any(isinstance(m, LoraLayer) for m in model.modules())


def adapter_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


def base_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict a plain GPT would have: wrapped layers under their own names, no adapters."""
    return {k.replace(".base_layer.", "."): v for k, v in model.state_dict().items() if "lora_" not in k}


def load_adapters(model: torch.nn.Module, checkpoint: Path) -> None:
    missing = set(adapter_state(model)) - set(tensors := load_file(Path(checkpoint) / ADAPTERS))
    if missing:
        raise ValueError(f"{checkpoint / ADAPTERS} lacks {len(missing)} adapter tensors (e.g. {sorted(missing)[0]}): "
                         "it was written with other LoRA targets")
    model.load_state_dict(tensors, strict=False)


def merge_lora(model: torch.nn.Module) -> torch.nn.Module:
    """Fold every adapter into its base weight (W += alpha/r B A) and unwrap: a plain model again."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge(safe_merge=True)  # safe: refuses to write NaN/inf into the weights
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.get_base_layer())
    for param in model.parameters():
        param.requires_grad = True
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters; a tied tensor counts once."""
    seen: dict[int, torch.nn.Parameter] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return trainable, total


def merge_run(run_dir: Path, out_dir: Path) -> dict:
    """Write out_dir: run_dir's LoRA model with the adapters folded in, as a plain run folder
    (a classifier head and the tokenizer come along). Returns the new checkpoint's meta."""
    import shutil

    from model.checkpoint import latest_checkpoint, load_model, save_checkpoint

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    model, meta = load_model(run_dir)
    if not has_lora(model):
        raise ValueError(f"{run_dir} has no LoRA adapters: there is nothing to merge")
    merge_lora(model)
    checkpoint = latest_checkpoint(run_dir)
    extra = {}
    if (checkpoint / "head.safetensors").is_file():
        extra["head.safetensors"] = load_file(checkpoint / "head.safetensors")
    new_meta = {k: v for k, v in meta.items() if k not in ("lora", "step", "gpt_config")}
    new_meta["merged_from"] = str(run_dir.resolve())
    new_meta["merged_lora"] = meta["lora"]
    save_checkpoint(out_dir, meta["step"], model.state_dict(), model.config, trainer_state=None,
                    extra_meta=new_meta, extra_tensors=extra)
    for name in ("tokenizer.json", "finetune.json"):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out_dir / name)
    return new_meta
