"""The after-pretraining commands through the real CLI and Prefect flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
COMMANDS = ["finetune classify", "finetune instruct", "eval classify", "eval generate", "eval fewshot", "merge-lora", "plan"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_new_command_has_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_eval_without_run_says_what_to_do():
    result = runner.invoke(app, ["eval"])
    assert result.exit_code == 2 and "classify|generate|fewshot" in result.output


def test_plan_prints_the_table():
    result = runner.invoke(app, ["plan", "--params", "175e9", "--tokens", "300e9", "--gpu", "a100", "--gpus", "1024"])
    assert result.exit_code == 0, result.output
    assert "3.2" in result.output and "GPU-hours" in result.output and "kWh" in result.output


@pytest.mark.slow
def test_finetune_evaluate_merge_export_through_the_cli(prefect_harness, tmp_path):
    from model.train import train
    from model_data import make_data_dir
    from pipeline.config import Config
    from test_finetune import spam_rows, write_tsv

    data = make_data_dir(tmp_path / "data", n_docs=200, seq_len=160)
    run = tmp_path / "run"
    train(data, run, Config.model_validate({"model": {"preset": "tiny"}, "train": {"max_steps": 10, "batch_size": 8,
                                            "num_threads": 1}}), progress=False)
    train_file, test_file = write_tsv(tmp_path / "train.tsv", spam_rows(60, 0)), write_tsv(tmp_path / "test.tsv", spam_rows(15, 1))
    lora = tmp_path / "clf-lora"
    result = runner.invoke(app, ["finetune", "classify", "--run", str(run), "--data", str(train_file), "--out", str(lora),
                                 "--lora-rank", "2", "--lora-alpha", "4", "--lr", "3e-3", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert "trainable parameters:" in result.output
    result = runner.invoke(app, ["eval", "classify", "--run", str(lora), "--data", str(test_file)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and (lora / "eval_classify.png").is_file()
    merged = tmp_path / "merged"
    assert runner.invoke(app, ["merge-lora", "--run", str(lora), "--out", str(merged)]).exit_code == 0
    assert runner.invoke(app, ["eval", "classify", "--run", str(merged), "--data", str(test_file),
                               "--out", str(tmp_path / "merged.json")]).exit_code == 0
    # the merged classifier decides exactly as the adapted one
    assert json.loads((tmp_path / "merged.json").read_text())["confusion_matrix"] == \
        json.loads((lora / "eval_classify.json").read_text())["confusion_matrix"]
    assert runner.invoke(app, ["export", "--run", str(merged), "--to", str(tmp_path / "hf")]).exit_code == 0

    records = tmp_path / "ins.jsonl"
    records.write_text("".join(json.dumps({"instruction": "Repeat.", "input": w, "output": w}) + "\n"
                               for w in ["grain", "mill", "bread"] * 3))
    instruct = tmp_path / "ins"
    result = runner.invoke(app, ["finetune", "instruct", "--run", str(run), "--data", str(records), "--out", str(instruct),
                                 "--max-steps", "3", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", "generate", "--run", str(instruct), "--data", str(records), "--limit", "2",
                                 "--max-new-tokens", "4"])
    assert result.exit_code == 0 and "bleu=" in result.output, result.output
    result = runner.invoke(app, ["eval", "fewshot", "--run", str(run), "--task", str(Path(__file__).resolve().parents[1] / "model" / "tasks" / "sms_spam.jsonl"),
                                 "--shots", "1", "--limit", "4"])
    assert result.exit_code == 0 and "4 items" in result.output, result.output
    result = runner.invoke(app, ["plan", "--run", str(run)])
    assert result.exit_code == 0 and "MFU" in result.output, result.output
    result = runner.invoke(app, ["finetune", "classify", "--run", str(run), "--data", str(records), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--text-field" in " ".join(result.output.split())  # the wrong fields are named, with what to do
