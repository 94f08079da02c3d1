"""Dedup across builds (an earlier build's index) and stage by stage (each stage skips when done)."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest

from pipeline.config import DedupConfig
from pipeline.dedup import IndexMismatchError, buckets, clusters, deduplicate, signatures
from test_dedup import SEED, edit, make_text, run, write_part


@pytest.fixture
def earlier_build(tmp_path: Path) -> dict:
    rng = random.Random(21)
    texts = [make_text(rng) for _ in range(5)]
    build = tmp_path / "build-2024-01"
    part = write_part(tmp_path / "old.parquet", [("old0", texts[0]), ("old1", texts[1]), ("old2", texts[1]),
                                                 ("old3", texts[2])])
    assert len(run([part], build)) == 1  # old2 is a copy of old1; only old0, old1, old3 enter the index
    return {"build": build, "texts": texts, "rng": rng}


def test_a_later_build_drops_what_an_earlier_build_holds(earlier_build: dict, tmp_path: Path) -> None:
    texts, rng, build = earlier_build["texts"], earlier_build["rng"], earlier_build["build"]
    new_text = make_text(rng)
    part = write_part(tmp_path / "new.parquet", [("new0", texts[1]), ("new1", new_text), ("new2", edit(texts[2], rng)),
                                                 ("new3", new_text), ("new4", texts[3])])
    config = DedupConfig(workers=1, against=[str(build)])
    rows = run([part], tmp_path / "build-2024-02", config)
    got = {r["row"]: (r["drop_reason"], r["duplicate_of"], r["duplicate_of_build"]) for r in rows}
    assert got == {0: ("exact_duplicate", "old1", "build-2024-01"), 2: ("near_duplicate", "old3", "build-2024-01"),
                   3: ("exact_duplicate", "new1", None)}
    index = tmp_path / "build-2024-02" / "dedup"
    stats = json.loads((index / "stats.json").read_text())
    assert stats["duplicates_of_earlier_builds"] == 2
    assert stats["against"] == [{"build": "build-2024-01", "documents": 3}]
    assert json.loads((index / "settings.json").read_text())["documents"] == 2  # new1, new4: its own kept documents


def test_an_index_made_with_other_settings_is_refused(earlier_build: dict, tmp_path: Path) -> None:
    part = write_part(tmp_path / "new.parquet", [("new0", earlier_build["texts"][0])])
    config = DedupConfig(workers=1, against=[str(earlier_build["build"])], near={"num_perm": 128})
    with pytest.raises(IndexMismatchError, match=r"num_perm: 112 != 128.*dedup.near.num_perm"):
        deduplicate([part], config, SEED, tmp_path / "work", tmp_path / "later" / "dedup")
    with pytest.raises(IndexMismatchError, match=r"seed: 1337 != 1"):
        deduplicate([part], DedupConfig(workers=1, against=[str(earlier_build["build"])]), 1, tmp_path / "w2",
                    tmp_path / "later2" / "dedup")


def test_an_unfinished_or_own_index_is_refused(earlier_build: dict, tmp_path: Path) -> None:
    part = write_part(tmp_path / "new.parquet", [("new0", earlier_build["texts"][0])])
    with pytest.raises(FileNotFoundError, match="not a finished gristmill build"):
        run([part], tmp_path / "later", DedupConfig(workers=1, against=[str(tmp_path / "nowhere")]))
    own = tmp_path / "later"
    with pytest.raises(ValueError, match="the build being made"):
        run([part], own, DedupConfig(workers=1, against=[str(own)]))


def test_stages_skip_when_their_output_exists(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(8)
    texts = [make_text(rng) for _ in range(4)]
    parts = [write_part(tmp_path / "p0.parquet", [("x0", texts[0]), ("x1", texts[1])]),
             write_part(tmp_path / "p1.parquet", [("y0", texts[0]), ("y1", edit(texts[2], rng)), ("y2", texts[2])])]
    work, index = tmp_path / "work", tmp_path / "build" / "dedup"
    config = DedupConfig(workers=1)
    first = deduplicate(parts, config, SEED, work, index)
    outputs = sorted(p for p in list(work.rglob("*")) + list(index.iterdir()) if p.is_file())
    mtimes = {p: p.stat().st_mtime_ns for p in outputs}
    with caplog.at_level(logging.INFO, logger="pipeline.dedup"):
        again = deduplicate(parts, config, SEED, work, index)
    assert again.equals(first)
    assert {p: p.stat().st_mtime_ns for p in outputs} == mtimes
    assert [m for m in caplog.messages if "skipping" in m] == [
        "dedup: signatures already on disk; skipping", "dedup: buckets already on disk; skipping",
        "dedup: clusters already on disk; skipping"]

    # one span lost: only that span is signed again; a changed threshold redoes buckets and clusters only
    (work / "signatures" / "p00001-r000000000000.status.npy").unlink()
    kept_span = work / "signatures" / "p00000-r000000000000.sig.npy"
    signatures(parts, config, SEED, work)
    assert kept_span.stat().st_mtime_ns == mtimes[kept_span]
    stricter = DedupConfig(workers=1, near={"threshold": 0.99, "verify": "exact"})
    buckets(parts, stricter, SEED, work, index)
    assert kept_span.stat().st_mtime_ns == mtimes[kept_span]
    rows = clusters(parts, stricter, SEED, work, index).to_pylist()
    assert [(r["part"], r["row"], r["drop_reason"]) for r in rows] == [(1, 0, "exact_duplicate")]


def test_a_stage_run_out_of_order_says_what_to_do(tmp_path: Path) -> None:
    part = write_part(tmp_path / "p.parquet", [("x", "some words here for a text")])
    with pytest.raises(RuntimeError, match="run the signatures stage first"):
        buckets([part], DedupConfig(workers=1), SEED, tmp_path / "work")
