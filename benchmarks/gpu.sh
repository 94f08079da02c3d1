#!/usr/bin/env bash
# GPU throughput of gristmill's GPT: tokens/s and MFU for gpt2-124m at context 1024, bf16 autocast,
# fused AdamW, flash attention (forced: the script fails if the flash kernel cannot run), eager vs
# torch.compile; then the real trainer (model.train) for a few steps on a synthetic build.
#
#   bash benchmarks/gpu.sh                    # on a CUDA machine, from the repository root
#   PRESET=tiny CTX=64 BATCH=4 STEPS=3 DEVICE=cpu bash benchmarks/gpu.sh   # smoke test of the script on CPU
#
# Knobs (environment): PRESET (gpt2-124m), CTX (1024), BATCH (16 rows per step), STEPS (timed, 20),
# WARMUP (10), DEVICE (cuda), PYTHON (.venv/bin/python if present, else python3), TRAINER (1: also
# run model.train). Peak FLOP/s come from model/flops.py's table of GPUs by name.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PRESET=${PRESET:-gpt2-124m} CTX=${CTX:-1024} BATCH=${BATCH:-16} STEPS=${STEPS:-20} WARMUP=${WARMUP:-10}
export DEVICE=${DEVICE:-cuda} TRAINER=${TRAINER:-1}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PYTHON" - <<'EOF'
import os, statistics, time
from contextlib import nullcontext

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from model.flops import peak_flops
from model.gpt import GPT, PRESETS, GPTConfig

device = torch.device(os.environ["DEVICE"])
preset, T, B = os.environ["PRESET"], int(os.environ["CTX"]), int(os.environ["BATCH"])
steps, warmup = int(os.environ["STEPS"]), int(os.environ["WARMUP"])
cuda = device.type == "cuda"
if cuda:
    torch.backends.cuda.matmul.allow_tf32 = True
    print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
peak, source = peak_flops(device, torch.bfloat16)
print(f"peak bf16 FLOP/s: {peak / 1e12:.0f} T ({source})")
n_layer, n_head, n_embd = PRESETS[preset]
# flash attention is what we measure on a GPU; on CPU (smoke test) sdpa picks its own kernel
attention = sdpa_kernel(SDPBackend.FLASH_ATTENTION) if cuda else nullcontext()


def measure(compile_model: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50257, block_size=T, n_layer=n_layer, n_head=n_head, n_embd=n_embd)).to(device)
    params = [p for p in model.parameters()]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95), fused=True)
    run = torch.compile(model) if compile_model else model
    times = []
    for i in range(warmup + steps):
        rows = torch.randint(0, 50257, (B, T + 1), device=device)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16), attention:
            _, loss = run(rows[:, :-1], rows[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    step = statistics.median(times)
    tokens_per_s = B * T / step
    mfu = tokens_per_s * model.flops_per_token(T) / peak
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if cuda else float("nan")
    print(f"{'compile' if compile_model else 'eager':8s} {step * 1000:9.1f} {tokens_per_s:12,.0f} {100 * mfu:6.1f} {memory:9.1f}  (loss {loss.item():.3f})")
    del model, optimizer, run
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    return tokens_per_s, mfu


print(f"\n{preset}, context {T}, batch {B} rows = {B * T:,} tokens/step, bf16 autocast, fused AdamW, median of {steps} steps")
print(f"{'mode':8s} {'step ms':>9s} {'tokens/s':>12s} {'MFU %':>6s} {'peak GiB':>9s}")
eager, _ = measure(False)
compiled, _ = measure(True)
print(f"compile speed-up: {compiled / eager:.2f}x")
EOF

if [ "$TRAINER" = "1" ]; then
  # the trainer end to end (data loading, logging, checkpoint): a synthetic build, a few hundred steps
  WORK=$(mktemp -d)
  "$PYTHON" - "$WORK" <<'EOF'
import json, os, sys
from pathlib import Path

sys.path.insert(0, "tests")
from model_data import make_data_dir
from model.train import train
from pipeline.config import Config

work = Path(sys.argv[1])
ctx = int(os.environ["CTX"])
data = make_data_dir(work / "data", n_docs=20000, seq_len=ctx, vocab_size=4096, val_fraction=0.02)
config = Config.model_validate({"model": {"preset": os.environ["PRESET"]}, "train": {
    "max_steps": 60, "batch_size": int(os.environ["BATCH"]), "warmup_steps": 10, "learning_rate": 6e-4,
    "min_lr": 6e-5, "beta2": 0.95, "log_interval": 10, "eval_interval": 60, "checkpoint_interval": 60,
    "device": os.environ["DEVICE"], "compile": os.environ["DEVICE"] == "cuda"}})
summary = train(data, work / "run", config, progress=False)
records = [json.loads(line) for line in (work / "run" / "metrics.jsonl").read_text().splitlines()]
last = [r for r in records if "tokens_per_s" in r][-1]
print(f"\nmodel.train ({os.environ['PRESET']}, ctx {ctx}, compile={config.train.compile}): "
      f"{last['tokens_per_s']:,.0f} tokens/s, MFU {100 * (last['mfu'] or 0):.1f}%, "
      f"data wait {100 * last['data_wait_share']:.2f}% of step time, final loss {summary['loss']:.3f}")
EOF
  rm -rf "$WORK"
fi
