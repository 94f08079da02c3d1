"""Training-step throughput and peak memory on CPU: gristmill's GPT vs transformers' GPT2LMHeadModel.

    .venv/bin/python benchmarks/train_speed.py [--steps 8] [--repeats 3] [--threads 2]

Same shape for both (vocab 8192, context 256, 6 layers, 6 heads, width 384, batch 8), random
tokens, AdamW (fused) with the same groups, one optimizer step = forward + backward + clip +
step. Each (model, dtype) runs in its own subprocess so peak RSS is that configuration's alone;
the configurations alternate across repeats (a noisy, shared machine drifts) and the table shows
medians. Ratios are against HF fp32 measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAPE = dict(vocab_size=8192, block_size=256, n_layer=6, n_head=6, n_embd=384, batch=8)
CONFIGS = [("hf", "float32"), ("hf", "bfloat16"), ("gristmill", "float32"), ("gristmill", "bfloat16")]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(impl: str, dtype_name: str, steps: int, warmup: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if impl == "hf":
        import transformers

        config = transformers.GPT2Config(attn_implementation="sdpa", vocab_size=SHAPE["vocab_size"], n_positions=SHAPE["block_size"],
                                         n_embd=SHAPE["n_embd"], n_layer=SHAPE["n_layer"], n_head=SHAPE["n_head"],
                                         resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        baseline = rss_mb()
        model = transformers.GPT2LMHeadModel(config)

        def loss_of(x, y):
            # HF shifts the labels itself (255 predictions per row against our 256: 0.4% less work)
            return model(input_ids=x, labels=y).loss
    else:
        from model.gpt import GPT, GPTConfig

        baseline = rss_mb()
        model = GPT(GPTConfig(**{k: v for k, v in SHAPE.items() if k != "batch"}, dropout=0.0))

        def loss_of(x, y):
            return model(x, y)[1]
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=3e-4, fused=True)
    dtype = getattr(torch, dtype_name)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    B, T = SHAPE["batch"], SHAPE["block_size"]
    times, losses = [], []
    for step in range(warmup + steps):
        rows = torch.randint(0, SHAPE["vocab_size"], (B, T + 1))
        if impl == "hf":
            x, y = rows[:, :-1], rows[:, :-1].clone()  # labels = inputs; HF shifts inside
        else:
            x, y = rows[:, :-1], rows[:, 1:]
        start = time.perf_counter()
        with autocast:
            loss = loss_of(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - start
        if step >= warmup:
            times.append(elapsed)
            losses.append(loss.item())
    return {"step_s": statistics.median(times), "tokens_per_s": B * T / statistics.median(times),
            "peak_rss_mb": rss_mb(), "rss_after_imports_mb": baseline,
            "params": sum(p.numel() for p in params)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "DTYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.steps, args.warmup, args.threads)))
        return

    # both models under the OpenMP setting `import model` makes (see model/__init__.py): on a shared
    # machine spinning threads make 2-thread timings swing by several times
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    results: dict[tuple[str, str], list[dict]] = {c: [] for c in CONFIGS}
    for repeat in range(args.repeats):
        for impl, dtype in CONFIGS:
            out = subprocess.run([sys.executable, __file__, "--child", impl, dtype, "--steps", str(args.steps),
                                  "--warmup", str(args.warmup), "--threads", str(args.threads)],
                                 capture_output=True, text=True, check=True, cwd=REPO, env=env)
            results[(impl, dtype)].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"repeat {repeat + 1}/{args.repeats} {impl:9s} {dtype:8s} "
                  f"{results[(impl, dtype)][-1]['tokens_per_s']:8.0f} tok/s", file=sys.stderr)

    def med(key: tuple[str, str], field: str) -> float:
        return statistics.median(r[field] for r in results[key])

    anchor = ("hf", "float32")
    print(f"\nCPU training step, {SHAPE} | {args.threads} threads | median of {args.repeats} processes x {args.steps} steps")
    print(f"{'model':10s} {'dtype':9s} {'params':>9s} {'tokens/s':>9s} {'x HF fp32':>9s} {'peak RSS MB':>11s} "
          f"{'x HF fp32':>9s} {'RSS-imports MB':>14s} {'x HF fp32':>9s}")
    for key in CONFIGS:
        impl, dtype = key
        print(f"{impl:10s} {dtype:9s} {results[key][0]['params']:>9,d} {med(key, 'tokens_per_s'):9.0f} "
              f"{med(key, 'tokens_per_s') / med(anchor, 'tokens_per_s'):9.2f} {med(key, 'peak_rss_mb'):11.0f} "
              f"{med(key, 'peak_rss_mb') / med(anchor, 'peak_rss_mb'):9.2f} "
              f"{med(key, 'peak_rss_mb') - med(key, 'rss_after_imports_mb'):14.0f} "
              f"{(med(key, 'peak_rss_mb') - med(key, 'rss_after_imports_mb')) / (med(anchor, 'peak_rss_mb') - med(anchor, 'rss_after_imports_mb')):9.2f}")


if __name__ == "__main__":
    main()
