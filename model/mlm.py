"""The masked-language-model objective (BERT, Devlin et al. 2019) on the same GPT and shards.

`model.objective: mlm` builds the GPT with `causal=False` (every token attends to the whole row)
and trains it to recover hidden tokens: each row's tokens are chosen with probability 0.15
(special tokens such as <|endoftext|> and <|pad|> never), and of the chosen ones 80% become
[MASK], 10% a random token and 10% stay as they are; the loss is the cross-entropy on the
chosen positions only. The build's tokenizer holds [MASK] when the build config says
`model.objective: mlm` (the config turns tokenizer.mask_token on).

Evaluation masks every validation row with a fixed seed and reports the masked-token loss and
accuracy (the share of chosen positions whose original token is the model's top prediction).
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
from model.generate import load_tokenizer_of
from pipeline.tokenizer import MASK_TOKEN

MASK_PROBABILITY = 0.15
EVAL_SEED = 0


def mask_id_of(tokenizer) -> int:
    mask_id = tokenizer.token_to_id(MASK_TOKEN)
    if mask_id is None:
        raise ValueError(f"the tokenizer has no {MASK_TOKEN} token: rebuild the data with model.objective: mlm "
                         "in the build config (it adds the token to the tokenizer)")
    return mask_id


def special_ids_of(tokenizer) -> list[int]:
    return [token_id for token_id, token in tokenizer.get_added_tokens_decoder().items() if token.special]


def mask_tokens(ids: torch.Tensor, mask_id: int, vocab_size: int, special_ids: list[int],
                generator: torch.Generator | None = None,
                probability: float = MASK_PROBABILITY) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets): BERT's 80/10/10 corruption of ids; targets -100 where nothing is asked."""
    device = ids.device
    uniform = lambda: torch.rand(ids.shape, generator=generator, device="cpu").to(device)  # noqa: E731 (same draws on any device)
    special = torch.isin(ids, torch.tensor(special_ids, device=device))
    chosen = (uniform() < probability) & ~special
    targets = ids.masked_fill(~chosen, -100)
    action = uniform()
    inputs = ids.clone()
    inputs[chosen & (action < 0.8)] = mask_id
    to_random = chosen & (action >= 0.8) & (action < 0.9)
    random_ids = torch.randint(0, vocab_size, ids.shape, generator=generator, device="cpu").to(device)
    inputs[to_random] = random_ids[to_random]
    return inputs, targets


def masked_nll(model: torch.nn.Module, ids: torch.Tensor, mask_id: int, vocab_size: int, special_ids: list[int],
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sum of nats, correct top-1 predictions, masked positions) for rows of ids."""
    inputs, targets = mask_tokens(ids, mask_id, vocab_size, special_ids, generator)
    logits, _ = model(inputs)
    logits = logits[..., :vocab_size].float()
    asked = targets != -100
    nll = F.cross_entropy(logits[asked], targets[asked], reduction="sum")
    correct = (logits[asked].argmax(dim=-1) == targets[asked]).sum()
    return nll, correct, asked.sum()


@torch.no_grad()
def evaluate_mlm(run_dir: Path, data_dir: Path | Sequence[Path], batch_rows: int = 16,
                 device: str | None = None) -> dict[str, Any]:
    """Masked-token loss and accuracy on every validation row (fixed masking seed) → run_dir/eval.json."""
    data_dirs = as_data_dirs(data_dir)
    run_dir, data_dir = Path(run_dir), data_dirs[0]
    started = time.perf_counter()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, meta = load_model(run_dir, device)
    tokenizer = load_tokenizer_of(run_dir, data_dir)
    mask_id, specials = mask_id_of(tokenizer), special_ids_of(tokenizer)
    val = ShardDataset(data_dirs, "val", verify="fast")
    generator = torch.Generator().manual_seed(EVAL_SEED)
    nats, correct, asked = 0.0, 0, 0
    for start in range(0, len(val), batch_rows):
        ids = torch.from_numpy(val.rows(np.arange(start, min(start + batch_rows, len(val)))).astype(np.int64))
        nll, right, count = masked_nll(model, ids[:, :-1].to(device), mask_id, val.vocab_size, specials, generator)
        nats, correct, asked = nats + float(nll), correct + int(right), asked + int(count)
    if asked == 0:
        raise ValueError(f"{data_dir} has no validation tokens to mask: build with shards.val_fraction > 0")
    result = {"objective": "mlm", "step": meta["step"], "masked_loss": nats / asked,
              "masked_perplexity": math.exp(nats / asked), "masked_accuracy": correct / asked,
              "masked_tokens": asked, "val_rows": len(val), "mask_probability": MASK_PROBABILITY,
              "seconds": time.perf_counter() - started}
    write_text_atomic(run_dir / "eval.json", json.dumps(result, indent=1) + "\n")
    return result
