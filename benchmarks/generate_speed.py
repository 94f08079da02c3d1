"""Generation speed with and without the KV cache (CPU), and a check that both give the same tokens.

    .venv/bin/python benchmarks/generate_speed.py [--new-tokens 256] [--repeats 3] [--threads 2]

Model: vocab 8192, 6 layers, 6 heads, width 384, context 512 (random weights: speed does not
depend on what the model learned); prompt of 16 tokens, batch 1, top-k sampling with the same
seeded generator on both paths. Recomputing runs the whole sequence for every new token; the
cache runs the prompt once and then one position per token.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    import torch

    from model.generate import generate
    from model.gpt import GPT, GPTConfig

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=8192, block_size=512, n_layer=6, n_head=6, n_embd=384)).eval()
    prompt = torch.randint(0, 8192, (1, 16))
    seconds: dict[bool, list[float]] = {True: [], False: []}
    outputs = {}
    for _ in range(args.repeats):
        for use_cache in (True, False):
            start = time.perf_counter()
            outputs[use_cache] = generate(model, prompt, args.new_tokens, temperature=1.0, top_k=50,
                                          generator=torch.Generator().manual_seed(0), use_cache=use_cache)
            seconds[use_cache].append(time.perf_counter() - start)
    same = torch.equal(outputs[True], outputs[False])
    cached, recomputed = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(f"\n{args.new_tokens} new tokens after a 16-token prompt, {args.threads} threads, median of {args.repeats}")
    print(f"{'path':12s} {'seconds':>8s} {'tokens/s':>9s} {'speed-up':>8s}")
    print(f"{'recompute':12s} {recomputed:8.2f} {args.new_tokens / recomputed:9.1f} {1.0:8.2f}")
    print(f"{'KV cache':12s} {cached:8.2f} {args.new_tokens / cached:9.1f} {recomputed / cached:8.2f}")
    print(f"same tokens on both paths: {same}")


if __name__ == "__main__":
    main()
