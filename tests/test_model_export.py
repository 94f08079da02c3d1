"""Hugging Face interop: export to transformers GPT-2 and import from it, logits within 1e-4."""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from model.checkpoint import load_model
from model.export import export_hf, import_hf
from model.train import train
from model_data import make_data_dir
from pipeline.config import Config



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("export-data"), n_docs=120)


@pytest.fixture(scope="module")
def trained_run(data_dir, tmp_path_factory):
    data = data_dir
    run = tmp_path_factory.mktemp("export") / "run"
    config = Config.model_validate({"model": {"preset": "tiny", "bias": False},
                                    "train": {"max_steps": 6, "batch_size": 4, "num_threads": 1, "warmup_steps": 2}})
    train(data, run, config, progress=False)
    return run


def test_exported_checkpoint_loads_in_transformers_with_equal_logits(trained_run, tmp_path):
    out = tmp_path / "hf"
    export_hf(trained_run, out)
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {p.name for p in out.iterdir()}
    hf = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    ours, _ = load_model(trained_run)
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    text = "The miller grinds the grain before dawn. A baker sells fresh bread."
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    from pipeline.tokenizer import load_tokenizer
    assert ids[0].tolist() == load_tokenizer(trained_run / "tokenizer.json").encode(text).ids
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token == "<|pad|>"
    with torch.no_grad():
        expected, _ = ours(ids)
        got = hf(ids).logits
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()


def test_import_from_a_local_random_transformers_gpt2(tmp_path):
    torch.manual_seed(0)
    hf_config = transformers.GPT2Config(vocab_size=1000, n_positions=64, n_embd=48, n_layer=2, n_head=4)
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    src = tmp_path / "hf"
    hf.save_pretrained(src)
    run = tmp_path / "run"
    import_hf(src, run)
    ours, meta = load_model(run)
    assert meta["step"] == 0 and ours.config.vocab_size == 1000 and ours.config.padded_vocab_size == 1024
    ids = torch.randint(0, 1000, (2, 64))
    with torch.no_grad():
        expected = hf(ids).logits
        got, _ = ours(ids)
    assert torch.allclose(got[..., :1000], expected, atol=1e-4), (got[..., :1000] - expected).abs().max()

    # and back: an export of the import loads in transformers with the same logits
    again = tmp_path / "again"
    export_hf(run, again)
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(again).eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits[..., :1000], expected, atol=1e-4)
    assert json.loads((again / "config.json").read_text())["gristmill"]["tokenizer_vocab_size"] == 1000


def test_import_refuses_what_the_gpt_cannot_hold(tmp_path):
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=100, n_positions=16, n_embd=16, n_layer=1,
                                                              n_head=2, activation_function="relu"))
    hf.save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match="activation_function"):
        import_hf(tmp_path / "hf", tmp_path / "run")


def test_training_continues_from_an_imported_model(data_dir, tmp_path):
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=320, n_positions=64, n_embd=32, n_layer=2, n_head=2))
    hf.save_pretrained(tmp_path / "hf")
    run = tmp_path / "run"
    import_hf(tmp_path / "hf", run)
    config = Config.model_validate({"train": {"max_steps": 3, "batch_size": 4, "num_threads": 1, "warmup_steps": 1}})
    summary = train(data_dir, run, config, progress=False)  # the config's model shape is not used: the import's is
    assert summary["step"] == 3 and summary["params"] == load_model(run)[0].num_params()
    assert load_model(run)[0].config.block_size == 64
