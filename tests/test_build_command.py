"""`gristmill build`: inputs refused before any work, one-line errors (traceback with --debug),
--no-prefect, and Prefect's temporary API given a second chance."""

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from fault_build import TINY_BUILD, build_outputs, make_fault_corpus, run_build
from flows.cli import app

runner = CliRunner()


def build(*args: str):
    return runner.invoke(app, ["build", *args])


def test_a_missing_input_is_refused_before_any_work_naming_the_path(tmp_path):
    result = build("/nonexistent/inbox", "--out", str(tmp_path / "out"), "--no-prefect")
    assert result.exit_code == 2
    assert result.output.strip() == "error: /nonexistent/inbox: no such file or folder (check the path)"
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_or_one_without_readable_inputs_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    result = build(str(tmp_path / "empty"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and f"no input gristmill can read in {tmp_path / 'empty'} (empty)" in result.output
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "pdfs" / "a.pdf").write_bytes(b"%PDF-1.4")
    result = build(str(tmp_path / "pdfs"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "a.pdf: unsupported_format" in result.output
    result = build(str(tmp_path / "*.jsonl"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "the pattern matches no file" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder whatever its permissions")
def test_an_unreadable_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("text")
    locked.chmod(0)
    try:
        result = build(str(locked), "--out", str(tmp_path / "out"))
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and "cannot be read" in result.output


def test_an_expected_error_is_one_line_and_debug_adds_the_traceback(tmp_path):
    (tmp_path / "a.txt").write_text("some text")
    (tmp_path / "b.txt").write_text("other text")
    out = tmp_path / "out"
    (out / "work").mkdir(parents=True)
    (out / "work" / "request.json").write_text(json.dumps({"inputs": ["elsewhere"], "config_sha256": "x"}))
    result = build(str(tmp_path / "a.txt"), "--out", str(out), "--no-prefect")
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "holds a build of other inputs" in result.output
    assert "Traceback" not in result.output
    result = build(str(tmp_path / "a.txt"), "--out", str(out), "--no-prefect", "--debug")
    assert result.exit_code == 2 and "Traceback" in result.output


def test_no_prefect_with_a_dask_executor_is_refused_saying_what_to_do(tmp_path):
    (tmp_path / "a.txt").write_text("some text")
    config = tmp_path / "dask.yaml"
    config.write_text("executor:\n  kind: dask\n")
    result = build(str(tmp_path / "a.txt"), "--out", str(tmp_path / "out"), "--config", str(config), "--no-prefect")
    assert result.exit_code == 2
    assert "executor.kind is dask, which runs through Prefect: drop --no-prefect" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.timeout(900)  # two Prefect API starts and two builds: 300 s was not enough on a loaded machine
def test_prefect_startup_timeout_is_retried_and_the_outputs_equal_those_without_prefect(tmp_path):
    corpus = make_fault_corpus(tmp_path / "corpus")
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(TINY_BUILD))
    assert run_build(corpus, tmp_path / "direct", config).returncode == 0  # --no-prefect

    command = run_build.command(corpus, tmp_path / "flow", config)
    command.remove("--no-prefect")
    # A startup timeout of 0 s fails the first start at once, as a loaded machine did; the retry
    # gets twice gristmill's default (180 s).
    env = run_build.env(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0", PREFECT_HOME=str(tmp_path / "prefect"))
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run(command, cwd=run_build.cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trying once more" in result.stderr
    assert build_outputs(tmp_path / "flow") == build_outputs(tmp_path / "direct")
