"""What training costs: FLOPs, GPU-hours, wall time, energy and money, and the compute-optimal size.

- FLOPs: 6·N·T for the weights (forward 2, backward 4 per parameter and token; Kaplan et al. 2020)
  plus attention's 12·n_layer·n_embd·seq_len per token (PaLM, appendix B), the same count the
  trainer uses for MFU (GPT.flops_per_token). When the shape is not given it is estimated from N
  with GPT-3's aspect ratio (n_embd = 128·n_layer, N ≈ 12·n_layer·n_embd²).
- Time: FLOPs / (GPUs · peak · MFU); the peaks are model/flops.py's data-sheet numbers.
- Energy: GPU-hours × the board power (TDP, data sheets) × PUE; a GPU rarely draws full TDP,
  so this is an upper estimate of the GPUs' share.
- Chinchilla (Hoffmann et al. 2022): compute-optimal training uses about 20 tokens per
  parameter, so for a budget C = 6·N·(20·N): N = sqrt(C / 120), T = 20·N.
- A finished run: its metrics.jsonl gives the tokens trained, the time and the MFU measured.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import median
from typing import Any

from model.flops import gpu_peak_flops

TOKENS_PER_PARAM = 20.0  # Chinchilla
ASPECT_RATIO = 128  # n_embd / n_layer of GPT-3 175B (12288 / 96)
# board power in watts (vendors' data sheets; SXM parts)
GPU_WATTS: dict[str, float] = {"b200": 1000, "h200": 700, "h100": 700, "a100": 400, "l40s": 350, "l4": 72,
                               "a10g": 150, "v100": 300, "t4": 70, "rtx 4090": 450}


def estimated_shape(params: float) -> tuple[int, int]:
    """(n_layer, n_embd) of a GPT with about params weights and GPT-3's width-to-depth ratio."""
    n_embd = (ASPECT_RATIO * params / 12) ** (1 / 3)
    return max(1, round(n_embd / ASPECT_RATIO)), int(n_embd)


def training_flops(params: float, tokens: float, n_layer: int | None = None, n_embd: int | None = None,
                   seq_len: int = 2048) -> dict[str, float]:
    if n_layer is None or n_embd is None:
        n_layer, n_embd = estimated_shape(params)
    weights = 6 * params * tokens
    attention = 12 * n_layer * n_embd * seq_len * tokens
    return {"weights": weights, "attention": attention, "total": weights + attention,
            "n_layer": n_layer, "n_embd": n_embd, "seq_len": seq_len}


def chinchilla_tokens(params: float) -> float:
    return TOKENS_PER_PARAM * params


def chinchilla_params(flops: float) -> float:
    return math.sqrt(flops / (6 * TOKENS_PER_PARAM))


def gpu_specs(gpu: str) -> tuple[float, float]:
    """(bf16 peak FLOP/s, watts) of a GPU named like 'h100'."""
    import torch

    peak = gpu_peak_flops(gpu.upper(), torch.bfloat16)
    watts = next((w for name, w in GPU_WATTS.items() if name in gpu.lower()), None)
    if peak is None or watts is None:
        known = ", ".join(sorted(GPU_WATTS))
        raise ValueError(f"unknown GPU {gpu!r}: use one of {known}, or give --peak-tflops and --watts")
    return peak, watts


def plan(params: float | None = None, tokens: float | None = None, budget_flops: float | None = None,
         gpu: str = "h100", gpus: int = 8, mfu: float = 0.4, price: float = 2.5, n_layer: int | None = None,
         n_embd: int | None = None, seq_len: int = 2048, peak_flops: float | None = None,
         watts: float | None = None, pue: float = 1.0) -> dict[str, Any]:
    """The cost of training params on tokens; with only a budget, the Chinchilla-optimal N and T for it;
    without tokens, the Chinchilla-optimal tokens for params. price is per GPU-hour."""
    if params is None and budget_flops is None:
        raise ValueError("give --params (and optionally --tokens) or --budget-flops")
    if params is None:
        params = chinchilla_params(budget_flops)
    if tokens is None:
        tokens = chinchilla_tokens(params) if budget_flops is None else budget_flops / (6 * params)
    if peak_flops is None or watts is None:
        sheet_peak, sheet_watts = gpu_specs(gpu)
        peak_flops, watts = peak_flops or sheet_peak, watts or sheet_watts
    flops = training_flops(params, tokens, n_layer, n_embd, seq_len)
    gpu_hours = flops["total"] / (peak_flops * mfu) / 3600
    return {
        "params": params, "tokens": tokens, "tokens_per_param": tokens / params,
        "flops": flops["total"], "flops_weights": flops["weights"], "flops_attention": flops["attention"],
        "shape": {"n_layer": flops["n_layer"], "n_embd": flops["n_embd"], "seq_len": seq_len,
                  "estimated": n_layer is None or n_embd is None},
        "gpu": gpu, "gpus": gpus, "mfu": mfu, "peak_flops_per_gpu": peak_flops,
        "gpu_hours": gpu_hours, "wall_hours": gpu_hours / gpus, "wall_days": gpu_hours / gpus / 24,
        "energy_kwh": gpu_hours * watts * pue / 1000, "watts_per_gpu": watts, "pue": pue,
        "cost": gpu_hours * price, "price_per_gpu_hour": price,
        "chinchilla_tokens": chinchilla_tokens(params),
        "chinchilla_params_for_these_flops": chinchilla_params(flops["total"]),
    }


def measured(run_dir: Path) -> dict[str, Any]:
    """A finished run's FLOPs, time and MFU, from its checkpoint and metrics.jsonl."""
    from model.checkpoint import latest_checkpoint, read_checkpoint
    from model.gpt import GPT

    run_dir = Path(run_dir)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise FileNotFoundError(f"{run_dir} holds no checkpoint: train it first")
    _, gpt_config, meta = read_checkpoint(checkpoint)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in records if "tokens" in r]
    if not steps:
        raise ValueError(f"{run_dir / 'metrics.jsonl'} has no training records (a fine-tune or import has none)")
    model = GPT(gpt_config)
    flops_per_token = model.flops_per_token(gpt_config.block_size)
    last = steps[-1]
    mfus = [r["mfu"] for r in steps if r.get("mfu") is not None]
    flops = flops_per_token * last["tokens"]
    return {
        "run": str(run_dir), "step": meta["step"], "params": model.num_params(), "tokens": last["tokens"],
        "flops_per_token": flops_per_token, "flops": flops, "seconds": last["elapsed_s"],
        "flops_per_second": flops / last["elapsed_s"], "tokens_per_second": median(r["tokens_per_s"] for r in steps),
        "mfu_median": median(mfus) if mfus else None,
        "chinchilla_tokens": chinchilla_tokens(model.num_params()),
    }


def format_plan(result: dict[str, Any]) -> str:
    if "run" in result:
        mfu = "unknown" if result["mfu_median"] is None else f"{result['mfu_median']:.3f}"
        lines = [f"run            {result['run']} (step {result['step']})",
                 f"parameters     {result['params']:,}",
                 f"tokens         {result['tokens']:,} (Chinchilla-optimal for this size: {result['chinchilla_tokens']:.3g})",
                 f"FLOPs          {result['flops']:.3e} ({result['flops_per_token']:.3e} per token)",
                 f"time           {result['seconds']:.1f} s, {result['flops_per_second']:.3e} FLOP/s achieved",
                 f"MFU            {mfu} (median of the logged windows)"]
        return "\n".join(lines)
    shape = result["shape"]
    return "\n".join([
        f"parameters     {result['params']:.4g}",
        f"tokens         {result['tokens']:.4g} ({result['tokens_per_param']:.1f} per parameter; "
        f"Chinchilla-optimal: {result['chinchilla_tokens']:.4g})",
        f"FLOPs          {result['flops']:.3e} (6NT {result['flops_weights']:.3e} + attention {result['flops_attention']:.3e}; "
        f"{shape['n_layer']} layers x {shape['n_embd']}{' estimated' if shape['estimated'] else ''}, context {shape['seq_len']})",
        f"GPU-hours      {result['gpu_hours']:,.0f} on {result['gpu']} at MFU {result['mfu']} "
        f"({result['peak_flops_per_gpu'] / 1e12:.0f} TFLOP/s peak)",
        f"wall time      {result['wall_hours']:,.1f} h ({result['wall_days']:,.2f} days) on {result['gpus']} GPUs",
        f"energy         {result['energy_kwh']:,.0f} kWh ({result['watts_per_gpu']:.0f} W per GPU, PUE {result['pue']})",
        f"cost           {result['cost']:,.0f} at {result['price_per_gpu_hour']} per GPU-hour",
        f"compute-optimal N for these FLOPs: {result['chinchilla_params_for_these_flops']:.4g} parameters",
    ])
