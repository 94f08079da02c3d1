"""The MLM objective: BERT masking, a non-causal model trained on the same shards, masked evaluation."""

from __future__ import annotations

import pytest
import torch

from model.checkpoint import load_model
from model.evaluate import evaluate
from model.mlm import mask_tokens
from model.train import train
from model_data import make_data_dir
from pipeline.config import Config
from pipeline.tokenizer import MASK_TOKEN, load_tokenizer


def test_bert_masking_proportions():
    ids = torch.randint(10, 1000, (200, 500))
    ids[:, 0] = 0  # a special token: never chosen
    inputs, targets = mask_tokens(ids, mask_id=2, vocab_size=1000, special_ids=[0, 1, 2],
                                  generator=torch.Generator().manual_seed(0))
    chosen = targets != -100
    assert not chosen[:, 0].any()
    assert chosen.float().mean().item() == pytest.approx(0.15, abs=0.005)
    assert (targets[chosen] == ids[chosen]).all() and (inputs[~chosen] == ids[~chosen]).all()
    masked = (inputs[chosen] == 2).float().mean().item()
    unchanged = (inputs[chosen] == ids[chosen]).float().mean().item()
    assert masked == pytest.approx(0.8, abs=0.01)
    assert unchanged == pytest.approx(0.1, abs=0.01)  # (a random draw equal to the original is rare)
    again, _ = mask_tokens(ids, 2, 1000, [0, 1, 2], generator=torch.Generator().manual_seed(0))
    assert torch.equal(inputs, again)


def test_mlm_config_turns_on_the_mask_token():
    assert Config.model_validate({"model": {"objective": "mlm"}}).tokenizer.mask_token
    assert not Config().tokenizer.mask_token


def test_mlm_model_has_no_causal_mask():
    from model.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    for causal in (True, False):
        model = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16, causal=causal)).eval()
        ids = torch.randint(0, 50, (1, 8))
        changed = ids.clone()
        changed[0, -1] = (ids[0, -1] + 1) % 50
        with torch.no_grad():
            same_first = torch.allclose(model(ids)[0][0, 0], model(changed)[0][0, 0])
        assert same_first == causal  # only a bidirectional model lets the last token change the first


def test_mlm_trains_and_evaluates_on_shards(tmp_path):
    data = make_data_dir(tmp_path / "data", n_docs=200, mask_token=True)
    assert load_tokenizer(data / "tokenizer" / "tokenizer.json").token_to_id(MASK_TOKEN) is not None
    run = tmp_path / "run"
    config = Config.model_validate({"model": {"preset": "tiny", "objective": "mlm"},
                                    "train": {"max_steps": 60, "batch_size": 8, "num_threads": 1, "warmup_steps": 5,
                                              "eval_interval": 30}})
    summary = train(data, run, config, progress=False)
    model, _ = load_model(run)
    assert not model.config.causal
    result = evaluate(run, data, progress=False)
    assert result["objective"] == "mlm" and result["masked_tokens"] > 100
    import jsonschema

    from model.task_schemas import SCHEMAS

    jsonschema.validate(result, SCHEMAS["eval_mlm.schema.json"])
    # 60 small steps (about 40 masked targets each) get well below uniform guessing over ~320 tokens
    # (5.77 nats, top-1 accuracy 0.003); MLM learns context far slower than next-token prediction
    assert result["masked_loss"] < 4.5 and result["masked_accuracy"] > 0.03
    assert summary["val_loss"] == pytest.approx(result["masked_loss"], rel=0.3)


def test_mlm_refuses_a_tokenizer_without_mask(tmp_path):
    data = make_data_dir(tmp_path / "data", n_docs=60)
    config = Config.model_validate({"model": {"preset": "tiny", "objective": "mlm"}, "train": {"max_steps": 1}})
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        train(data, tmp_path / "run", config, progress=False)
