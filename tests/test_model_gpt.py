"""The GPT itself: shapes, weight tying, causality, initialisation, presets, KV-cache generation."""

from __future__ import annotations

import math
import typing

import pytest
import torch
from torch.nn import functional as F

from model.generate import generate, sample_next
from model.gpt import GPT, PRESETS, GPTConfig, KVCache, padded_vocab_size
from model.loss import linear_cross_entropy
from pipeline.config import ModelConfig


def tiny(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{"vocab_size": 100, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32, **overrides}))


def test_shapes_and_padded_vocabulary():
    model = tiny()
    assert model.config.padded_vocab_size == 128 and padded_vocab_size(50257) == 50304
    idx = torch.randint(0, 100, (3, 16))
    logits, loss = model(idx, idx)
    assert logits is None  # training: the loss is computed without the full logits
    assert loss.ndim == 0 and math.isclose(loss.item(), math.log(128), rel_tol=0.1)  # near uniform at init
    with torch.no_grad():
        logits, eval_loss = model(idx, idx)
    assert logits.shape == (3, 16, 128)
    assert eval_loss.item() == pytest.approx(loss.item(), rel=1e-6)
    logits, loss = model(idx[:, :5])
    assert logits.shape == (3, 5, 128) and loss is None
    with pytest.raises(ValueError, match="longer than block_size"):
        model(torch.zeros(1, 17, dtype=torch.long))


@pytest.mark.parametrize("bf16", [False, True])
def test_chunked_head_loss_equals_plain_cross_entropy(bf16, monkeypatch):
    import model.loss

    monkeypatch.setattr(model.loss, "CHUNK_ELEMENTS", 64 * 200)  # several chunks
    torch.manual_seed(0)
    h = torch.randn(300, 48, requires_grad=True)
    weight = torch.randn(200, 48, requires_grad=True)
    targets = torch.randint(0, 200, (300,))
    targets[::7] = -100
    results = []
    for loss_fn in (linear_cross_entropy, lambda h, w, y: F.cross_entropy((h @ w.t()).float(), y)):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(h, weight, targets)
        results.append((loss, *torch.autograd.grad(3 * loss, (h, weight))))
    tolerance = 1e-2 if bf16 else 1e-5  # bf16 keeps 8 bits of mantissa
    for fused, plain in zip(*results):
        assert (fused - plain).abs().max() <= tolerance * plain.abs().max()


def test_weight_tying_shares_one_tensor():
    model = tiny()
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names  # counted once


def test_gpt2_initialisation_scales_residual_projections():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, block_size=64, n_layer=8, n_head=4, n_embd=128))
    assert abs(model.transformer.h[0].attn.c_attn.weight.std().item() - 0.02) < 0.002
    scaled = 0.02 / math.sqrt(2 * 8)
    assert abs(model.transformer.h[3].attn.c_proj.weight.std().item() - scaled) < 0.001
    assert abs(model.transformer.h[3].mlp.c_proj.weight.std().item() - scaled) < 0.001
    assert torch.all(model.transformer.h[0].attn.c_attn.bias == 0)


@pytest.mark.parametrize("rope", [False, True])
def test_future_tokens_do_not_change_past_logits(rope):
    model = tiny(rope=rope).eval()
    idx = torch.randint(0, 100, (2, 16))
    changed = idx.clone()
    changed[:, 10:] = torch.randint(0, 100, (2, 6))
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6)
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_presets_match_the_config_choices():
    choices = typing.get_args(typing.get_args(ModelConfig.model_fields["preset"].annotation)[0])
    assert set(choices) == set(PRESETS)
    assert PRESETS["gpt2-124m"] == (12, 12, 768)
    n_layer, n_head, n_embd = PRESETS["gpt2-124m"]
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=50257, block_size=1024, n_layer=n_layer, n_head=n_head, n_embd=n_embd))
    assert 124_000_000 < model.num_params() + model.transformer.wpe.weight.numel() < 125_000_000


@pytest.mark.parametrize("rope", [False, True])
def test_kv_cache_logits_equal_full_forward(rope):
    model = tiny(rope=rope).eval()
    idx = torch.randint(0, 100, (2, 16))
    cache = KVCache(model.config, 2, 16, "cpu", torch.float32)
    with torch.no_grad():
        pieces = [model(idx[:, :6], cache=cache)[0]] + [model(idx[:, t:t + 1], cache=cache)[0] for t in range(6, 16)]
        full, _ = model(idx)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("rope", [False, True])
@pytest.mark.parametrize("sampling", [dict(temperature=0.0), dict(temperature=1.0, top_k=20), dict(temperature=0.9, top_p=0.9)])
def test_generation_with_cache_equals_recomputing(rope, sampling):
    model = tiny(rope=rope).eval()
    prompt = torch.randint(0, 100, (2, 5))
    # 30 new tokens: past block_size (16), where the cached path must fall back to recomputing
    outputs = [
        generate(model, prompt, 30, generator=torch.Generator().manual_seed(7), use_cache=use_cache, vocab_size=100, **sampling)
        for use_cache in (True, False)
    ]
    assert outputs[0].shape == (2, 35)
    assert torch.equal(outputs[0], outputs[1])
    assert int(outputs[0].max()) < 100  # padding ids are never sampled


def test_top_k_and_top_p_restrict_the_candidates():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    generator = torch.Generator().manual_seed(0)
    top_k = {int(sample_next(logits, 1.0, 2, None, generator)) for _ in range(200)}
    assert top_k == {0, 1}
    # softmax: 0.636, 0.234, 0.086, ...: top_p 0.8 keeps the first two, 0.5 only the first
    top_p = {int(sample_next(logits, 1.0, None, 0.8, generator)) for _ in range(200)}
    assert top_p == {0, 1}
    assert {int(sample_next(logits, 1.0, None, 0.5, generator)) for _ in range(50)} == {0}
