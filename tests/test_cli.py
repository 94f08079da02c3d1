import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
COMMANDS = ["build", "train", "eval", "generate", "export", "import-hf", "demo", "serve", "config show",
            "server start", "catalog list", "catalog show", "catalog prune",
            "config validate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_config_show_prints_commented_defaults():
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "vocab_size: 8192  #" in result.output


def test_build_refuses_an_unknown_key_by_name(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("dedup:\n  near:\n    treshold: 0.5\n")
    (tmp_path / "a.txt").write_text("hello")
    result = runner.invoke(app, ["build", str(tmp_path / "a.txt"), "--out", str(tmp_path / "out"), "--config", str(config)])
    assert result.exit_code == 2
    assert "dedup.near.treshold" in result.output
    assert not (tmp_path / "out").exists()


def test_train_without_a_build_says_what_to_do(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "gristmill build" in result.output
