"""Peak FLOP/s of the device, the denominator of model FLOPs utilisation (MFU).

GPUs: dense tensor-core peaks from the vendors' data sheets, looked up by device name. CPUs
have no data sheet number we can trust inside a VM (clock and vector units vary), so the peak
is measured: the best of a few large matrix multiplications in the training dtype with the
threads this process uses. MFU on CPU therefore says how close a training step comes to the
best matmul this machine does, not to a theoretical number.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch

# Dense bf16 tensor-core FLOP/s (no sparsity). The most specific name must come first.
GPU_PEAK_BF16: list[tuple[str, float]] = [
    ("GB200", 2500e12),
    ("B200", 2250e12),
    ("H200", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H800", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("RTX 6000 Ada", 364e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
    ("V100", 125e12),  # fp16: V100 has no bf16
    ("T4", 65e12),  # fp16
]


def gpu_peak_flops(name: str, dtype: torch.dtype) -> float | None:
    """Data-sheet peak for a GPU name as torch reports it, or None for an unknown card."""
    for key, bf16 in GPU_PEAK_BF16:
        if key.lower() in name.lower():
            # fp32 matmuls run as TF32 on tensor cores (enabled by the trainer): half the bf16 rate
            return bf16 if dtype in (torch.bfloat16, torch.float16) else bf16 / 2
    return None


@lru_cache(maxsize=None)
def measured_cpu_flops(dtype: torch.dtype = torch.float32, n: int = 1536, repeats: int = 3) -> float:
    """Best FLOP/s of an n x n matmul on this CPU with the current thread count."""
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    torch.mm(a, b)  # warm-up: kernel selection, page faults
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def peak_flops(device: torch.device, dtype: torch.dtype) -> tuple[float | None, str]:
    """(peak FLOP/s or None when unknown, where the number comes from)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = gpu_peak_flops(name, dtype)
        return peak, f"data sheet ({name})" if peak else f"unknown GPU {name!r}: add it to model/flops.py"
    if device.type == "cpu":
        return measured_cpu_flops(dtype), f"measured {dtype} matmul, {torch.get_num_threads()} threads"
    return None, f"no peak known for device type {device.type}"
