"""Sample text from a model: temperature, top-k, top-p, with a KV cache.

With the cache, the prompt is run once (prefill) and then each new token costs one position.
Past block_size tokens a GPT with learned positions cannot slide its cache (every position
would shift), so from then on each step recomputes the last block_size tokens: exactly what
the no-cache path does, so both paths give the same tokens for the same generator.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.nn import functional as F

from model.checkpoint import load_model
from model.gpt import GPT, KVCache


def sample_next(logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None,
                generator: torch.Generator | None) -> torch.Tensor:
    """One token id per row from (B, vocab) logits; temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # drop a token when the tokens ranked above it already hold top_p of the mass
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


@torch.no_grad()
def generate(model: GPT, idx: torch.Tensor, max_new_tokens: int, temperature: float = 0.8,
             top_k: int | None = 50, top_p: float | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True, vocab_size: int | None = None, stop_id: int | None = None) -> torch.Tensor:
    """idx (B, T) followed by max_new_tokens sampled ids (fewer when every row produced stop_id)."""
    block_size = model.config.block_size
    vocab_size = vocab_size or model.config.vocab_size
    param = next(model.parameters())
    cache: KVCache | None = None
    finished = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
    for _ in range(max_new_tokens):
        if use_cache and cache is not None and cache.length < block_size:
            logits, _ = model(idx[:, -1:], cache=cache)
        else:
            context = idx[:, -block_size:]
            if use_cache:
                cache = KVCache(model.config, idx.size(0), block_size, param.device, param.dtype)
            logits, _ = model(context, cache=cache)
        logits = logits[:, -1, :vocab_size].float()  # padding rows of the embedding are not tokens
        next_id = sample_next(logits, temperature, top_k, top_p, generator)
        idx = torch.cat((idx, next_id), dim=1)
        if stop_id is not None:
            finished |= next_id[:, 0] == stop_id
            if finished.all():
                break
    return idx


def load_tokenizer_of(run_dir: Path, data_dir: Path | None = None):
    from pipeline.tokenizer import load_tokenizer

    for candidate in [Path(run_dir) / "tokenizer.json"] + ([Path(data_dir) / "tokenizer" / "tokenizer.json"] if data_dir else []):
        if candidate.is_file():
            return load_tokenizer(candidate)
    raise FileNotFoundError(f"{run_dir} holds no tokenizer.json: train() copies it there; copy the build's tokenizer/tokenizer.json")


def generate_text(run_dir: Path, prompt: str, max_new_tokens: int = 100, temperature: float = 0.8,
                  top_k: int | None = 50, top_p: float | None = None, seed: int = 0) -> str:
    """The prompt and its sampled continuation, cut at the first <|endoftext|>."""
    from pipeline.tokenizer import EOT_TOKEN

    model, _ = load_model(run_dir, "cuda" if torch.cuda.is_available() else "cpu")
    if not model.config.causal:
        raise ValueError(f"{run_dir} is a masked language model (model.objective: mlm): it fills in [MASK] tokens "
                         "and does not continue text")
    tokenizer = load_tokenizer_of(run_dir)
    eot = tokenizer.token_to_id(EOT_TOKEN)
    device = next(model.parameters()).device
    ids = tokenizer.encode(prompt, add_special_tokens=False).ids or [eot]  # an empty prompt starts a document
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = generate(model, idx, max_new_tokens, temperature, top_k, top_p, generator,
                   vocab_size=tokenizer.get_vocab_size(), stop_id=eot)[0].tolist()
    new = out[len(ids):]
    if eot in new:
        new = new[:new.index(eot)]
    # decoded as one sequence: a character may span the prompt's last token and the first new one
    return tokenizer.decode(ids + new, skip_special_tokens=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m model.generate", description="Sample text from a trained run.")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(generate_text(args.run, args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.top_p, args.seed))


if __name__ == "__main__":
    main()
