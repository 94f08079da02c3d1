"""Which run folder the service's training takes (flows/service.py, no Prefect run needed)."""

import json

from flows.service import next_run_folder
from pipeline.catalog import Catalog


def fake_checkpoint(run, data_dirs):
    step = run / "checkpoints" / "step-000006"
    step.mkdir(parents=True)
    (step / "model.safetensors").write_bytes(b"")
    (step / "meta.json").write_text(json.dumps({"step": 6, "data_dirs": data_dirs}))
    (run / "checkpoint.json").write_text(json.dumps({"step": 6, "path": "checkpoints/step-000006"}))


def test_a_killed_training_resumes_on_the_same_versions_and_is_left_alone_on_others(tmp_path):
    catalog = Catalog(tmp_path)
    folders = [str(tmp_path / "v0001")]
    assert next_run_folder(catalog, folders) == tmp_path / "runs" / "run-0001"
    (tmp_path / "runs" / "run-0001").mkdir(parents=True)  # killed before its first checkpoint: reused
    assert next_run_folder(catalog, folders) == tmp_path / "runs" / "run-0001"
    fake_checkpoint(tmp_path / "runs" / "run-0001", [str((tmp_path / "v0001").resolve())])
    assert next_run_folder(catalog, folders) == tmp_path / "runs" / "run-0001"  # same data: resumed
    assert next_run_folder(catalog, folders + [str(tmp_path / "v0002")]) == tmp_path / "runs" / "run-0002"


def test_serve_once_with_nothing_new_publishes_nothing_and_says_so(prefect_harness, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    (tmp_path / "inbox").mkdir()
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "inbox"), "--out-root", str(tmp_path / "dataset"), "--once"])
    assert result.exit_code == 0, result.output
    assert "nothing new" in result.output
    assert not (tmp_path / "dataset" / "catalog.json").exists()


def test_serve_without_a_server_refuses_and_says_what_to_do(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--out-root", str(tmp_path / "dataset")])
    assert result.exit_code == 2 and "gristmill server start" in result.output
