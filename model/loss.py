"""Cross-entropy of the language-model head without materialising every logit.

The (tokens x vocabulary) logits are the largest tensor of a small GPT's training step: with
8192 tokens in the vocabulary and 2048 tokens per batch they take 64 MiB, and plain
`F.cross_entropy(h @ W.T, y)` keeps the logits, their log-softmax and a zero-filled gradient of
the same size. Here the head runs over chunks of rows; each chunk's gradient (softmax - onehot)
is turned into the gradients of h and W at once, so only one chunk of logits lives at a time.
The matmuls are the same three as in the unfused head (h W^T, dL h, dL^T W): no extra FLOPs.
(The same idea as Liger-Kernel's fused linear cross-entropy.)
"""

from __future__ import annotations

import torch

# logits per chunk: 8 MiB in fp32 on a CPU (cache-friendly); 256 MiB on a GPU, where a chunk must
# be big enough to keep the matmuls efficient (about 1300 rows for GPT-2's 50304 tokens)
CHUNK_ELEMENTS = 1 << 21
CHUNK_ELEMENTS_CUDA = 1 << 26


class LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk_rows: int) -> torch.Tensor:
        valid = targets != -100
        count = valid.sum().clamp(min=1)
        compute_dtype = torch.get_autocast_dtype(h.device.type) if torch.is_autocast_enabled(h.device.type) else h.dtype
        w = weight.to(compute_dtype)
        grad_h = torch.empty_like(h, dtype=compute_dtype)
        grad_w = torch.zeros_like(weight, dtype=torch.float32)
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        with torch.autocast(h.device.type, enabled=False):
            for start in range(0, h.size(0), chunk_rows):
                rows = slice(start, start + chunk_rows)
                hc = h[rows].to(compute_dtype)
                logits = (hc @ w.t()).float()
                y = targets[rows].clamp(min=0).unsqueeze(1)
                keep = (targets[rows] != -100).unsqueeze(1).float()
                log_norm = torch.logsumexp(logits, dim=-1, keepdim=True)
                total += ((log_norm - logits.gather(1, y)) * keep).sum()
                # d(sum of nll)/d(logits) = softmax - onehot, zero on ignored rows (in place: one buffer)
                grad = logits.sub_(log_norm).exp_()
                grad.scatter_add_(1, y, -keep)
                grad = grad.mul_(keep).to(compute_dtype)
                grad_h[rows] = grad @ w
                grad_w += (grad.t() @ hc).float()
        ctx.save_for_backward(grad_h, grad_w, count)
        ctx.dtypes = (h.dtype, weight.dtype)
        return total / count

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grad_h, grad_w, count = ctx.saved_tensors
        scale = grad_output / count
        h_dtype, w_dtype = ctx.dtypes
        return (grad_h * scale).to(h_dtype), (grad_w * scale).to(w_dtype), None, None


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits h @ weight.T against targets (-100 ignored); h (N, C), weight (V, C)."""
    elements = CHUNK_ELEMENTS_CUDA if h.device.type == "cuda" else CHUNK_ELEMENTS
    chunk_rows = max(1, elements // weight.size(0))
    return LinearCrossEntropy.apply(h, weight, targets, chunk_rows)
