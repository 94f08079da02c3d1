"""Checkpoints of a run folder, written atomically.

    run_dir/checkpoints/step-000600/model.safetensors   weights (+ the GPT config in the metadata)
    run_dir/checkpoints/step-000600/trainer.pt          optimizer, RNG states, data cursor (absent
                                                        for an imported model: it starts afresh)
    run_dir/checkpoints/step-000600/meta.json           step, GPT config, what wrote it
    run_dir/checkpoints/step-000600/adapter.safetensors LoRA adapters (a LoRA fine-tune; meta["lora"])
    run_dir/checkpoints/step-000600/head.safetensors    a classifier head (meta["classifier"])
    run_dir/checkpoint.json                             {"step", "path"}: the latest complete one

A checkpoint folder is written under a temporary name and renamed when complete, and only then
does checkpoint.json point at it (os.replace), so a run killed at any moment leaves the previous
checkpoint usable.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model.gpt import GPT, GPTConfig
from pipeline.faults import fault_point

POINTER = "checkpoint.json"
FOLDER = "checkpoints"
WEIGHTS = "model.safetensors"
TRAINER_STATE = "trainer.pt"
META = "meta.json"
TIED = "lm_head.weight"  # the same tensor as transformer.wte.weight: stored once


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def weights_of(model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict as safetensors wants it: on CPU, contiguous, the tied head left out."""
    return {k: v.detach().to("cpu").contiguous() for k, v in model_state.items() if k != TIED}


def save_checkpoint(
    run_dir: Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    gpt_config: GPTConfig,
    trainer_state: dict[str, Any] | None,
    keep: int = 2,
    extra_meta: dict[str, Any] | None = None,
    extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write one checkpoint folder; extra_tensors maps a file name (e.g. head.safetensors) to its tensors."""
    run_dir = Path(run_dir)
    folder = run_dir / FOLDER
    final = folder / f"step-{step:06d}"
    tmp = folder / f".step-{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config_json = json.dumps(gpt_config.to_dict(), sort_keys=True)
    save_file(weights_of(model_state), tmp / WEIGHTS, metadata={"gpt_config": config_json, "step": str(step)})
    if trainer_state is not None:
        torch.save(trainer_state, tmp / TRAINER_STATE)
    for name, tensors in (extra_tensors or {}).items():
        save_file(weights_of(tensors), tmp / name)
    meta = {"step": step, "gpt_config": gpt_config.to_dict(), **(extra_meta or {})}
    (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    fault_point("checkpoint.files_written")  # tests kill -9 here: the folder is complete but not yet named
    if final.exists():  # the same step written again (a resumed run that re-saves its last step)
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_text_atomic(run_dir / POINTER, json.dumps({"step": step, "path": f"{FOLDER}/{final.name}"}) + "\n")
    _prune(folder, keep, final)
    return final


def _prune(folder: Path, keep: int, latest: Path) -> None:
    steps = sorted(p for p in folder.glob("step-*") if p.is_dir())
    for old in steps[:-keep]:
        if old != latest:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    pointer = Path(run_dir) / POINTER
    if not pointer.is_file():
        return None
    path = Path(run_dir) / json.loads(pointer.read_text(encoding="utf-8"))["path"]
    if not (path / WEIGHTS).is_file():
        raise FileNotFoundError(f"{pointer} points at {path}, which has no {WEIGHTS}: delete {pointer} to start afresh")
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], GPTConfig, dict[str, Any]]:
    """(state dict with the tied head restored, GPT config, meta) of one checkpoint folder."""
    meta = json.loads((path / META).read_text(encoding="utf-8"))
    state = load_file(path / WEIGHTS)
    state[TIED] = state["transformer.wte.weight"]
    return state, GPTConfig(**meta["gpt_config"]), meta


def read_trainer_state(path: Path) -> dict[str, Any] | None:
    file = path / TRAINER_STATE
    return torch.load(file, map_location="cpu", weights_only=True) if file.is_file() else None


def load_model(run_dir: Path, device: str | torch.device = "cpu") -> tuple[GPT, dict[str, Any]]:
    """The latest checkpoint's model in eval mode, and its meta."""
    path = latest_checkpoint(run_dir)
    if path is None:
        raise FileNotFoundError(f"{run_dir} holds no checkpoint: train one with model.train.train or import one with model.export.import_hf")
    state, gpt_config, meta = read_checkpoint(path)
    model = GPT(gpt_config)
    model.load_state_dict(state)
    if meta.get("lora"):  # a LoRA fine-tune: the base weights above plus its adapters
        from model.lora import add_lora, load_adapters

        add_lora(model, **meta["lora"])
        load_adapters(model, path)
    return model.to(device).eval(), meta
