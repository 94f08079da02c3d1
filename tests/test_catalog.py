"""A dataset that grows by versions: pipeline/catalog.py without Prefect."""

import json
import os

import jsonschema
import pyarrow.parquet as pq
import pytest

from inbox import TINY_SERVICE, three_drops, write_jsonl, documents
from pipeline.catalog import CATALOG_SCHEMA, Catalog, build_version, resolve_data
from pipeline.config import parse_config


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """Three drops into one inbox, a version built after each; then a changed file and an idle run."""
    inbox, root = tmp_path_factory.mktemp("inbox"), tmp_path_factory.mktemp("dataset")
    config = parse_config(TINY_SERVICE)
    drops, versions = three_drops(inbox), []
    for path, records, _ in drops:
        write_jsonl(path, records)
        versions.append(build_version(root, [str(inbox)], config))
    idle = build_version(root, [str(inbox)], config)
    return inbox, root, drops, versions, idle, config


def test_each_version_consumes_only_its_drop(grown):
    inbox, root, drops, versions, _, _ = grown
    assert [v["id"] for v in versions] == ["v0001", "v0002", "v0003"]
    for (path, records, _), version in zip(drops, versions):
        assert [f["path"] for f in version["files"]] == [str(path.resolve())]
        ledger = pq.read_table(root / version["folder"] / "ledger.parquet").to_pylist()
        assert {r["source"] for r in ledger} == {path.name}
        assert sorted(r["doc_id"] for r in ledger) == sorted(r["id"] for r in records)


def test_copies_of_earlier_versions_are_marked_with_their_build(grown):
    _, root, drops, versions, _, _ = grown
    expected = {"b-copy-a3": ("exact_duplicate", "v0001"), "b-near-a5": ("near_duplicate", "v0001"),
                "c-copy-b2": ("exact_duplicate", "v0002")}
    for version in versions[1:]:
        for row in pq.read_table(root / version["folder"] / "ledger.parquet").to_pylist():
            if row["doc_id"] in expected:
                assert (row["drop_reason"], row["duplicate_of_build"]) == expected.pop(row["doc_id"])
            else:
                assert row["duplicate_of_build"] is None
    assert not expected
    assert [v["duplicates_of_earlier_versions"] for v in versions] == [0, 2, 1]


def test_one_tokenizer_for_all_versions_and_a_valid_catalog(grown):
    _, root, _, versions, idle, _ = grown
    assert idle is None  # nothing new: nothing published
    catalog = json.loads((root / "catalog.json").read_text())
    jsonschema.Draft202012Validator(CATALOG_SCHEMA).validate(catalog)
    assert len({v["tokenizer_sha256"] for v in catalog["versions"]}) == 1
    assert all(v["train_tokens"] > 0 and v["manifest_sha256"] for v in catalog["versions"])
    assert resolve_data([root]) == [root / "v0001", root / "v0002", root / "v0003"]


def test_a_model_trains_on_all_versions_and_a_second_run_continues_it(grown, tmp_path):
    import torch

    from model.checkpoint import latest_checkpoint, read_checkpoint
    from model.data import ShardDataset
    from model.train import train

    _, root, _, versions, _, config = grown
    folders = resolve_data([root])
    rows = sum(json.loads((f / "manifest.json").read_text())["totals"]["train_rows"] for f in folders)
    assert len(ShardDataset(folders, "train", verify="full")) == rows
    first = train(folders, tmp_path / "run1", config, progress=False)
    assert first["step"] == 6 and first["data_dirs"] == [str(f) for f in folders]
    weights, _, _ = read_checkpoint(latest_checkpoint(tmp_path / "run1"))
    continued = config.model_copy(deep=True)
    continued.train.init_from = str(tmp_path / "run1")
    continued.train.max_steps = 1
    continued.train.learning_rate = continued.train.min_lr = 1e-12  # a step that barely moves the weights
    second = train(folders, tmp_path / "run2", continued, progress=False)
    assert second["steps_this_run"] == 1 and second["init_from"]["run"] == str((tmp_path / "run1").resolve())
    after, _, meta = read_checkpoint(latest_checkpoint(tmp_path / "run2"))
    assert meta["init_from"]["step"] == 6
    assert all(torch.allclose(weights[k], after[k], atol=1e-6) for k in weights)


def test_a_changed_file_is_consumed_again_and_supersedes_its_earlier_copy(grown):
    inbox, root, drops, _, _, config = grown
    path, records, _ = drops[0]
    write_jsonl(path, records + documents("a-more", 2, 9))  # two new documents appended
    os.utime(path, (1, 1))
    version = build_version(root, [str(inbox)], config)
    assert version["id"] == "v0004" and version["supersedes"] == [{"path": str(path.resolve()), "version": "v0001"}]
    assert Catalog(root).version("v0001")["files"][0]["superseded_by"] == "v0004"
    ledger = pq.read_table(root / "v0004" / "ledger.parquet").to_pylist()
    kept = sorted(r["doc_id"] for r in ledger if r["kept"])
    assert kept == ["a-more-000", "a-more-001"]  # the unchanged documents are already published in v0001
    assert {r["duplicate_of_build"] for r in ledger if not r["kept"]} == {"v0001"}


def test_prune_keeps_versions_a_run_trained_on(grown, tmp_path):
    _, root, _, _, _, _ = grown
    catalog = Catalog(root)
    run = tmp_path / "run"
    run.mkdir()
    catalog.record_run(run, ["v0001"], {"step": 1, "val_loss": 5.0}, None)
    assert catalog.prune(keep=1) == ["v0002", "v0003"]
    assert catalog.version("v0001")["status"] == "published" and (root / "v0001" / "shards").is_dir()
    assert not (root / "v0002" / "shards").exists() and (root / "v0002" / "dedup").is_dir()
    assert resolve_data([root]) == [root / "v0001", root / "v0004"]


def test_a_killed_version_is_finished_first_and_new_files_wait_for_the_next(tmp_path):
    from pipeline.build import discover_stage, prepare
    from pipeline.catalog import next_version

    inbox, root = tmp_path / "inbox", tmp_path / "dataset"
    config = parse_config(TINY_SERVICE)
    (path, records, _), (later, later_records, _) = three_drops(inbox)[:2]
    write_jsonl(path, records)
    catalog = Catalog(root)
    pending = next_version(catalog, [str(inbox)])
    build_dir = prepare(root / pending["folder"], catalog.version_config(config), [f["path"] for f in pending["files"]])
    discover_stage(build_dir, config, [f["path"] for f in pending["files"]])  # ...and the process was killed here
    assert catalog.versions() == [] and (root / ".pending.json").is_file()
    write_jsonl(later, later_records)
    first = build_version(root, [str(inbox)], config)
    assert first["id"] == "v0001" and [f["path"] for f in first["files"]] == [str(path.resolve())]
    assert not (root / ".pending.json").exists()
    second = build_version(root, [str(inbox)], config)
    assert second["id"] == "v0002" and [f["path"] for f in second["files"]] == [str(later.resolve())]
