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
