"""Hugging Face interop: our checkpoint <-> a transformers GPT-2 folder.

The architectures are the same; the differences are bookkeeping:
- HF GPT-2 uses Conv1D layers whose weights are the transpose of nn.Linear's;
- HF GPT-2 always has biases (a bias=False model exports zeros, which compute the same);
- our embedding is padded to a multiple of 64 tokens; the export keeps the padded size (extra
  ids are never produced by the tokenizer), an import pads the HF vocabulary up.
Neither direction needs transformers installed: config.json and the tokenizer files are written
as transformers expects them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model.checkpoint import load_model, save_checkpoint, write_text_atomic
from model.gpt import GPT, GPTConfig
from pipeline.tokenizer import EOT_TOKEN, PAD_TOKEN

LINEAR_LAYERS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")  # Conv1D in HF: transposed
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
LAYER_NORM_EPS = 1e-5  # torch's LayerNorm default, and GPT-2's


def _hf_state(model: GPT) -> dict[str, torch.Tensor]:
    ours = model.state_dict()
    c = model.config
    state = {"transformer.wte.weight": ours["transformer.wte.weight"], "transformer.wpe.weight": ours["transformer.wpe.weight"]}

    def copy(name: str, shape: int) -> None:
        state[f"transformer.{name}.weight"] = ours[f"transformer.{name}.weight"]
        state[f"transformer.{name}.bias"] = ours.get(f"transformer.{name}.bias", torch.zeros(shape))

    for i in range(c.n_layer):
        prefix = f"h.{i}"
        copy(f"{prefix}.ln_1", c.n_embd)
        copy(f"{prefix}.ln_2", c.n_embd)
        for layer in LINEAR_LAYERS:
            name = f"transformer.{prefix}.{layer}"
            weight = ours[f"{name}.weight"]
            state[f"{name}.weight"] = weight.t()
            state[f"{name}.bias"] = ours.get(f"{name}.bias", torch.zeros(weight.size(0)))
    copy("ln_f", c.n_embd)
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def _tokenizer_files(run_dir: Path, to_dir: Path, block_size: int) -> dict[str, int | None]:
    """Copy tokenizer.json and write what AutoTokenizer needs beside it; returns the special ids."""
    source = run_dir / "tokenizer.json"
    if not source.is_file():
        return {"eot_id": None, "pad_id": None}
    shutil.copyfile(source, to_dir / "tokenizer.json")
    vocab = {t["content"]: t["id"] for t in json.loads(source.read_text(encoding="utf-8")).get("added_tokens", [])}
    specials = {"bos_token": EOT_TOKEN, "eos_token": EOT_TOKEN, "unk_token": EOT_TOKEN}
    if PAD_TOKEN in vocab:
        specials["pad_token"] = PAD_TOKEN
    tokenizer_config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": block_size,
                        "add_prefix_space": False, "clean_up_tokenization_spaces": False, **specials}
    write_text_atomic(to_dir / "tokenizer_config.json", json.dumps(tokenizer_config, indent=2) + "\n")
    write_text_atomic(to_dir / "special_tokens_map.json", json.dumps(specials, indent=2) + "\n")
    return {"eot_id": vocab.get(EOT_TOKEN), "pad_id": vocab.get(PAD_TOKEN)}


def export_hf(run_dir: Path, to_dir: Path) -> None:
    """Write the run's latest checkpoint as a transformers GPT2LMHeadModel folder (+ tokenizer)."""
    run_dir, to_dir = Path(run_dir), Path(to_dir)
    model, meta = load_model(run_dir)
    c = model.config
    if meta.get("lora"):
        raise ValueError(f"{run_dir} holds LoRA adapters beside its weights: fold them in first with "
                         f"`gristmill merge-lora --run {run_dir} --out MERGED`, then export MERGED")
    if not c.causal:
        raise ValueError("this is a masked language model (model.objective: mlm): GPT-2 is causal; "
                         "only clm models export to GPT2LMHeadModel")
    if c.rope:
        raise ValueError("this model uses rotary position embeddings, which GPT-2 does not have: "
                         "train with model.rope: false to export to transformers")
    to_dir.mkdir(parents=True, exist_ok=True)
    special = _tokenizer_files(run_dir, to_dir, c.block_size)
    tmp = to_dir / ".model.safetensors.tmp"
    save_file(_hf_state(model), tmp, metadata={"format": "pt"})
    tmp.replace(to_dir / "model.safetensors")
    config: dict[str, Any] = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": c.padded_vocab_size,
        "n_positions": c.block_size,
        "n_ctx": c.block_size,
        "n_embd": c.n_embd,
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        "n_inner": None,
        "activation_function": "gelu_new",
        "resid_pdrop": c.dropout,
        "embd_pdrop": c.dropout,
        "attn_pdrop": c.dropout,
        "layer_norm_epsilon": LAYER_NORM_EPS,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "use_cache": True,
        "bos_token_id": special["eot_id"],
        "eos_token_id": special["eot_id"],
        "pad_token_id": special["pad_id"],
        "torch_dtype": "float32",
        "gristmill": {"step": meta["step"], "tokenizer_vocab_size": c.vocab_size},
    }
    write_text_atomic(to_dir / "config.json", json.dumps(config, indent=2) + "\n")


def _read_hf_weights(src_dir: Path) -> dict[str, torch.Tensor]:
    if (src_dir / "model.safetensors").is_file():
        return load_file(src_dir / "model.safetensors")
    index = src_dir / "model.safetensors.index.json"
    if index.is_file():
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
            state.update(load_file(src_dir / shard))
        return state
    if (src_dir / "pytorch_model.bin").is_file():
        return torch.load(src_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{src_dir} holds no model.safetensors or pytorch_model.bin: save the HF model with save_pretrained")


def _check_hf_config(hf: dict[str, Any], src_dir: Path) -> None:
    problems = []
    if hf.get("model_type") != "gpt2":
        problems.append(f"model_type is {hf.get('model_type')!r}, not 'gpt2'")
    if hf.get("activation_function", "gelu_new") not in TANH_GELU:
        problems.append(f"activation_function {hf.get('activation_function')!r} (only tanh GELU: {', '.join(TANH_GELU)})")
    if hf.get("n_inner") not in (None, 4 * hf["n_embd"]):
        problems.append(f"n_inner {hf['n_inner']} (only 4 x n_embd)")
    if abs(hf.get("layer_norm_epsilon", LAYER_NORM_EPS) - LAYER_NORM_EPS) > 1e-12:
        problems.append(f"layer_norm_epsilon {hf['layer_norm_epsilon']} (only {LAYER_NORM_EPS})")
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        problems.append("attention scaling other than 1/sqrt(head width)")
    if not hf.get("tie_word_embeddings", True):
        problems.append("untied input and output embeddings")
    if problems:
        raise ValueError(f"{src_dir / 'config.json'} describes a model gristmill's GPT cannot hold: " + "; ".join(problems))


def import_hf(src_dir: Path, run_dir: Path) -> None:
    """Turn a local transformers GPT-2 folder into a run folder (checkpoint at step 0, tokenizer copied).

    train() on that run folder then fine-tunes from these weights with a fresh optimizer.
    """
    src_dir, run_dir = Path(src_dir), Path(run_dir)
    config_path = src_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} does not exist: point import_hf at a folder written by save_pretrained")
    hf = json.loads(config_path.read_text(encoding="utf-8"))
    _check_hf_config(hf, src_dir)
    # a gristmill export records the tokenizer's own size under its padded one
    vocab_size = hf.get("gristmill", {}).get("tokenizer_vocab_size", hf["vocab_size"])
    gpt_config = GPTConfig(vocab_size=vocab_size, block_size=hf["n_positions"], n_layer=hf["n_layer"],
                           n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0, bias=True)
    hf_state = {k.removeprefix("transformer."): v for k, v in _read_hf_weights(src_dir).items()}
    model = GPT(gpt_config)
    state = model.state_dict()
    padded = torch.zeros_like(state["transformer.wte.weight"])
    rows = min(padded.size(0), hf_state["wte.weight"].size(0))
    padded[:rows] = hf_state["wte.weight"][:rows]  # padding rows stay zero: ids no tokenizer emits
    state["transformer.wte.weight"] = padded
    for name in list(state):
        if name in ("transformer.wte.weight", "lm_head.weight") or not name.startswith("transformer."):
            continue
        source = hf_state[name.removeprefix("transformer.")]
        transposed = any(name.endswith(f"{layer}.weight") for layer in LINEAR_LAYERS)
        state[name] = source.t().contiguous() if transposed else source
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state)
    run_dir.mkdir(parents=True, exist_ok=True)
    if (src_dir / "tokenizer.json").is_file():
        shutil.copyfile(src_dir / "tokenizer.json", run_dir / "tokenizer.json")
    save_checkpoint(run_dir, 0, model.state_dict(), gpt_config, trainer_state=None,
                    extra_meta={"imported_from": str(src_dir.resolve())})
