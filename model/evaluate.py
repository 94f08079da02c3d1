"""Evaluate a run on ALL validation rows: loss, perplexity, bits per byte, a unigram baseline.

- val_loss: mean cross-entropy (nats) over every predicted validation token, token-weighted.
  Logits are restricted to the tokenizer's vocabulary (the padding rows of the embedding are
  not tokens).
- bits_per_byte: total nats / ln 2 / the UTF-8 bytes of the text the predicted tokens stand for,
  comparable across tokenizers. Byte-level BPE gives each token's byte length exactly; special
  tokens (<|endoftext|>) stand for no text, so their nats count and their bytes do not. For
  WordPiece the spacing is not in the tokens: a word-initial token counts one byte for the space
  before it (an approximation).
- unigram baseline: a unigram model of the train tokens with add-one smoothing, scored on the
  same validation targets: what a model that ignores context achieves.
Writes run_dir/eval.json.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from model.checkpoint import load_model, write_text_atomic
from model.data import ShardDataset, as_data_dirs
from model.generate import generate, load_tokenizer_of

EVAL_BATCH_ROWS = 16
COUNT_CHUNK_ROWS = 8192
SAMPLE_PROMPTS, SAMPLE_PROMPT_TOKENS, SAMPLE_NEW_TOKENS = 3, 16, 48


def token_nll(model: torch.nn.Module, ids: torch.Tensor, pad_id: int | None, vocab_size: int,
              per_token: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of nats, number of predicted tokens) for rows of seq_len + 1 ids; pad targets are skipped.

    With per_token=True the first element is the (B, T) nats, zero where skipped.
    """
    x, y = ids[:, :-1], ids[:, 1:]
    logits, _ = model(x)
    logits = logits[..., :vocab_size].float()
    nll = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1), reduction="none").view_as(y)
    mask = y != pad_id if pad_id is not None else torch.ones_like(y, dtype=torch.bool)
    nll = nll * mask
    return (nll if per_token else nll.sum()), mask.sum()


# --- bytes per token ---------------------------------------------------------------------------------
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte <-> printable character table, inverted (character -> byte)."""
    from pipeline.encoder import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def _uses_byte_level(spec: dict[str, Any]) -> bool:
    def has(node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        if node.get("type") == "ByteLevel":
            return True
        return any(has(child) for child in node.get("pretokenizers", []) + node.get("decoders", []))
    return has(spec.get("pre_tokenizer")) or has(spec.get("decoder"))


def token_byte_lengths(tokenizer) -> np.ndarray:
    """UTF-8 bytes of text each token id stands for (0 for special tokens)."""
    spec = json.loads(tokenizer.to_str())
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    lengths = np.zeros(tokenizer.get_vocab_size(with_added_tokens=True), dtype=np.int64)
    special = {t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special}
    byte_level = _uses_byte_level(spec)
    decoder = _byte_decoder()
    prefix = (spec.get("model") or {}).get("continuing_subword_prefix") or "##"
    for token, token_id in vocab.items():
        if token in special:
            continue
        if byte_level:
            lengths[token_id] = len(token) if all(c in decoder for c in token) else len(token.encode("utf-8"))
        elif token.startswith(prefix):
            lengths[token_id] = len(token[len(prefix):].encode("utf-8"))
        else:
            lengths[token_id] = len(token.encode("utf-8")) + 1  # the space before a new word
    return lengths


# --- unigram baseline -------------------------------------------------------------------------------
def unigram_log_probs(train: ShardDataset, vocab_size: int) -> np.ndarray:
    """log p(token) of an add-one-smoothed unigram model of every train token."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for start in range(0, len(train), COUNT_CHUNK_ROWS):
        rows = train.rows(np.arange(start, min(start + COUNT_CHUNK_ROWS, len(train))))
        counts += np.bincount(rows.ravel(), minlength=vocab_size)[:vocab_size]
    return np.log(counts + 1.0) - math.log(counts.sum() + vocab_size)


# --- the evaluation ------------------------------------------------------------------------------------
def evaluate(run_dir: Path, data_dir: Path | Sequence[Path], progress: bool = True, batch_rows: int = EVAL_BATCH_ROWS,
             device: str | None = None) -> dict[str, Any]:
    """Score the run's latest checkpoint on every validation row of data_dir (one build folder, or
    several: the versions of a dataset); write run_dir/eval.json."""
    data_dirs = as_data_dirs(data_dir)
    run_dir, data_dir = Path(run_dir), data_dirs[0]
    started = time.perf_counter()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, meta = load_model(run_dir, device)
    if not model.config.causal:
        from model.mlm import evaluate_mlm

        return evaluate_mlm(run_dir, data_dirs, batch_rows, str(device))
    val = ShardDataset(data_dirs, "val", verify="fast")
    train = ShardDataset(data_dirs, "train", verify="fast")
    vocab_size = val.vocab_size
    if model.config.vocab_size != vocab_size:
        raise ValueError(f"the model has a vocabulary of {model.config.vocab_size} and {data_dir} one of {vocab_size}: "
                         "evaluate on the data the run was trained on")
    tokenizer = load_tokenizer_of(run_dir, data_dir)
    byte_lengths = torch.from_numpy(token_byte_lengths(tokenizer)[:vocab_size])
    unigram = torch.from_numpy(unigram_log_probs(train, vocab_size))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)

    nats = unigram_nats = 0.0
    tokens = n_bytes = 0
    bar = _bar(progress, len(val))
    with torch.no_grad(), autocast:
        for start in range(0, len(val), batch_rows):
            ids = torch.from_numpy(val.rows(np.arange(start, min(start + batch_rows, len(val)))).astype(np.int64))
            nll, count = token_nll(model, ids.to(device), val.pad_id, vocab_size, per_token=True)
            targets = ids[:, 1:]
            mask = targets != val.pad_id
            nats += float(nll.double().sum())
            tokens += int(count)
            n_bytes += int(byte_lengths[targets][mask].sum())
            unigram_nats -= float(unigram[targets][mask].double().sum())
            if bar:
                bar.update(bar.task_ids[0], advance=ids.size(0))
    if bar:
        bar.stop()
    if tokens == 0:
        raise ValueError(f"{data_dir} has no validation tokens: build with shards.val_fraction > 0")

    val_loss, unigram_loss = nats / tokens, unigram_nats / tokens
    result = {
        "step": meta["step"],
        "val_loss": val_loss,
        "perplexity": math.exp(val_loss),
        "bits_per_byte": nats / math.log(2) / n_bytes if n_bytes else None,
        "unigram_loss": unigram_loss,
        "unigram_perplexity": math.exp(unigram_loss),
        "unigram_bits_per_byte": unigram_nats / math.log(2) / n_bytes if n_bytes else None,
        "val_rows": len(val),
        "val_tokens": tokens,
        "val_bytes": n_bytes,
        "bytes_per_token": n_bytes / tokens,
        "train_tokens": train.num_tokens,
        "data_dirs": [str(d) for d in data_dirs],
        "samples": _samples(model, tokenizer, val, device),
        "seconds": time.perf_counter() - started,
    }
    write_text_atomic(run_dir / "eval.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result


def _samples(model, tokenizer, val: ShardDataset, device: torch.device) -> list[dict[str, str]]:
    """Continuations of the first tokens of a few validation rows (seeded, so reruns agree)."""
    samples = []
    prompt_len = min(SAMPLE_PROMPT_TOKENS, val.seq_len // 2)
    for i in range(min(SAMPLE_PROMPTS, len(val))):
        prompt = torch.from_numpy(val.rows(np.array([i]))[0, :prompt_len].astype(np.int64))[None].to(device)
        generator = torch.Generator(device=device).manual_seed(i)
        out = generate(model, prompt, SAMPLE_NEW_TOKENS, temperature=0.8, top_k=50, generator=generator,
                       vocab_size=val.vocab_size)
        samples.append({
            "prompt": tokenizer.decode(prompt[0].tolist(), skip_special_tokens=False),
            "completion": tokenizer.decode(out[0, prompt_len:].tolist(), skip_special_tokens=False),
        })
    return samples


def _bar(progress: bool, total: int):
    if not progress:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]evaluate"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar.add_task("evaluate", total=total)
    bar.start()
    return bar


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description="Evaluate a run on all validation rows.")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args(argv)
    result = evaluate(args.run, args.data)
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
