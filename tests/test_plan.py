"""The cost planner against published training compute, and a finished run's measured FLOPs."""

from __future__ import annotations

import pytest

from model.plan import chinchilla_params, chinchilla_tokens, measured, plan

# (params, tokens, layers, width, published training FLOPs)
PUBLISHED = {
    "GPT-3 175B (Brown et al. 2020, table D.1: 3.14e23)": (175e9, 300e9, 96, 12288, 3.14e23),
    "Chinchilla 70B (Hoffmann et al. 2022, table 3: 5.76e23)": (70e9, 1.4e12, 80, 8192, 5.76e23),
}


@pytest.mark.parametrize("name", PUBLISHED)
@pytest.mark.parametrize("shape_given", [True, False])
def test_within_ten_percent_of_published_compute(name, shape_given):
    params, tokens, layers, width, published = PUBLISHED[name]
    shape = {"n_layer": layers, "n_embd": width} if shape_given else {}
    result = plan(params, tokens, **shape)
    assert abs(result["flops"] / published - 1) < 0.10
    assert result["flops_attention"] < 0.05 * result["flops"]


def test_time_energy_money_follow_from_flops():
    result = plan(1e9, 20e9, gpu="a100", gpus=4, mfu=0.5, price=2.0, n_layer=24, n_embd=2048)
    gpu_hours = result["flops"] / (312e12 * 0.5) / 3600
    assert result["gpu_hours"] == pytest.approx(gpu_hours)
    assert result["wall_hours"] == pytest.approx(gpu_hours / 4)
    assert result["energy_kwh"] == pytest.approx(gpu_hours * 0.4)
    assert result["cost"] == pytest.approx(gpu_hours * 2.0)


def test_chinchilla_optimum():
    assert chinchilla_tokens(70e9) == pytest.approx(1.4e12)
    assert chinchilla_params(6 * 70e9 * 1.4e12) == pytest.approx(70e9)
    budget = plan(budget_flops=5.76e23)
    assert budget["params"] == pytest.approx(69.3e9, rel=0.01) and budget["tokens_per_param"] == pytest.approx(20)
    assert plan(7e9)["tokens"] == pytest.approx(140e9)
    with pytest.raises(ValueError, match="unknown GPU"):
        plan(1e9, gpu="abacus")


def test_measured_run(tmp_path):
    from model.train import train
    from model_data import make_data_dir
    from pipeline.config import Config

    data = make_data_dir(tmp_path / "data", n_docs=60)
    config = Config.model_validate({"model": {"preset": "tiny"},
                                    "train": {"max_steps": 4, "batch_size": 4, "num_threads": 1, "log_interval": 2}})
    train(data, tmp_path / "run", config, progress=False)
    result = measured(tmp_path / "run")
    assert result["tokens"] == 4 * 4 * 32
    assert result["flops"] == pytest.approx(result["flops_per_token"] * result["tokens"])
    assert 0 < result["mfu_median"] < 1
