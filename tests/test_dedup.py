"""Dedup end to end on generated parts: exact and near duplicates, the keep rule, determinism,
NULL texts, empty input, and the index files a build leaves for the report and later builds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import DedupConfig
from pipeline.dedup import deduplicate, lean_minhash, signature_settings
from pipeline.dedup.clusters import UnionFind, bucket_pairs, connected_components
from pipeline.dedup.exact import exact_groups, normalised_words

SEED = 1337


def words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(n)]


def make_text(rng: random.Random, n: int = 160) -> str:
    tokens = words(rng, n)
    for i in range(12, n, 13):
        tokens[i] += "."
    return " ".join(tokens)


def edit(text: str, rng: random.Random, substitutions: int = 2) -> str:
    """A near duplicate: a few words replaced (5-gram Jaccard about 0.9 on 160 words)."""
    tokens = text.split()
    for i in rng.sample(range(len(tokens)), substitutions):
        tokens[i] = "zz" + tokens[i]
    return " ".join(tokens)


def write_part(path: Path, rows: list[tuple[str, str | None]], first_line: bool = True) -> Path:
    columns = {"doc_id": [r[0] for r in rows], "text": [r[1] for r in rows]}
    if first_line:
        columns["first_line"] = [None if t is None else t[:120] for _, t in rows]
    pq.write_table(pa.table(columns, schema=pa.schema([(k, pa.string()) for k in columns])), path)
    return path


def run(parts: list[Path], build: Path, config: DedupConfig | None = None) -> list[dict]:
    config = config or DedupConfig(workers=1)
    table = deduplicate(parts, config, SEED, build / "work" / "dedup", build / "dedup")
    assert table.schema.names == ["part", "row", "drop_reason", "duplicate_of", "duplicate_of_build"]
    return table.to_pylist()


@pytest.fixture
def corpus(tmp_path: Path) -> dict:
    rng = random.Random(7)
    originals = [make_text(rng) for _ in range(6)]
    near_a1 = edit(originals[1], rng)
    part0 = [("a0", originals[0]), ("a1", originals[1]), ("a2", originals[0]),  # a2: exact copy of a0
             ("a3", None), ("a4", originals[2]), ("a5", near_a1)]  # a5: near a1
    part1 = [("b0", originals[3]), ("b1", "  " + originals[2].upper().replace(" ", "\n") + " !"),  # re-cased copy
             ("b2", edit(originals[4], rng)), ("b3", originals[4]), ("b4", originals[5]),
             ("b5", edit(near_a1, rng, substitutions=1))]  # b5: near a5 and a1
    parts = [write_part(tmp_path / "part-00000.parquet", part0), write_part(tmp_path / "part-00001.parquet", part1)]
    return {"parts": parts, "originals": originals, "rng": rng}


def test_exact_and_near_duplicates_are_dropped_with_the_kept_document(corpus: dict, tmp_path: Path) -> None:
    rows = run(corpus["parts"], tmp_path / "build")
    got = {(r["part"], r["row"]): (r["drop_reason"], r["duplicate_of"], r["duplicate_of_build"]) for r in rows}
    assert got == {
        (0, 2): ("exact_duplicate", "a0", None),
        (0, 5): ("near_duplicate", "a1", None),
        (1, 1): ("exact_duplicate", "a4", None),  # case, spacing and punctuation fold away
        (1, 3): ("near_duplicate", "b2", None),  # the earliest (part, row) stays, even if it is the edit
        (1, 5): ("near_duplicate", "a1", None),
    }


def test_index_files_explain_the_clusters(corpus: dict, tmp_path: Path) -> None:
    run(corpus["parts"], tmp_path / "build")
    index = tmp_path / "build" / "dedup"
    clusters = pq.read_table(index / "clusters.parquet").to_pylist()
    by_cluster: dict[int, set[tuple[str, bool]]] = {}
    for row in clusters:
        by_cluster.setdefault(row["cluster_id"], set()).add((row["doc_id"], row["kept"]))
        assert row["first_line"] and row["build"] is None
    assert sorted(map(sorted, by_cluster.values())) == sorted(map(sorted, [
        {("a0", True), ("a2", False)}, {("a1", True), ("a5", False), ("b5", False)},
        {("a4", True), ("b1", False)}, {("b2", True), ("b3", False)}]))
    stats = json.loads((index / "stats.json").read_text())
    assert stats["documents"] == 12 and stats["candidates"] == 11 and stats["kept"] == 6
    assert (stats["exact_duplicates"], stats["near_duplicates"]) == (2, 3)
    assert stats["cluster_size_histogram"] == {"2": 3, "3": 1}
    docs = pq.read_table(index / "docs.parquet").column("doc_id").to_pylist()
    assert docs == ["a0", "a1", "a4", "b0", "b2", "b4"]
    settings = json.loads((index / "settings.json").read_text())
    assert settings["documents"] == 6 and settings["signature"]["num_perm"] == DedupConfig().near.num_perm
    signatures = np.load(index / "index.sig.npy")
    assert signatures.shape == (6, DedupConfig().near.num_perm)
    # a stored row is a datasketch LeanMinHash: estimates work on it directly
    settings_obj = signature_settings(DedupConfig(), SEED)
    assert lean_minhash(signatures[0], settings_obj).jaccard(lean_minhash(signatures[0], settings_obj)) == 1.0


def test_distinct_texts_are_not_clustered(tmp_path: Path) -> None:
    rng = random.Random(3)
    base = make_text(rng, 200)
    tokens = base.split()
    # shares its first half with `base`: 5-gram Jaccard about 0.33, far below the 0.8 threshold
    half = " ".join(tokens[:100] + words(rng, 100))
    rows = [(f"d{i}", make_text(rng)) for i in range(40)] + [("base", base), ("half", half)]
    assert run([write_part(tmp_path / "p.parquet", rows)], tmp_path / "build") == []


def test_deterministic_across_runs_and_worker_counts(corpus: dict, tmp_path: Path) -> None:
    first = run(corpus["parts"], tmp_path / "one", DedupConfig(workers=1))
    second = run(corpus["parts"], tmp_path / "two", DedupConfig(workers=2))  # spawned workers, one per part
    assert first == second
    for name in ("clusters.parquet", "docs.parquet", "index.sig.npy", "index.exact.npy", "stats.json"):
        assert (tmp_path / "one" / "dedup" / name).read_bytes() == (tmp_path / "two" / "dedup" / name).read_bytes()


@pytest.mark.parametrize("verify", ["none", "estimated"])
def test_verification_modes_agree_on_clear_cases(corpus: dict, tmp_path: Path, verify: str) -> None:
    config = DedupConfig(workers=1, near={"verify": verify})
    assert run(corpus["parts"], tmp_path / verify, config) == run(corpus["parts"], tmp_path / "exact")


def test_exact_verification_rejects_a_pair_below_the_threshold(tmp_path: Path) -> None:
    rng = random.Random(11)
    base = make_text(rng, 300)
    variant = edit(base, rng, substitutions=9)  # exact Jaccard about 0.74
    shingles = [set(zip(*[normalised_words(t)[i:] for i in range(5)])) for t in (base, variant)]
    jaccard = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
    assert 0.6 < jaccard < 0.8
    part = write_part(tmp_path / "p.parquet", [("base", base), ("variant", variant)])
    loose = DedupConfig(workers=1, near={"verify": "none", "threshold": 0.8})
    strict = DedupConfig(workers=1, near={"verify": "exact", "threshold": 0.8})
    assert run([part], tmp_path / "exact", strict) == []
    # without verification the LSH collision alone merges it (20 bands of 5 catch J=0.74 ~99%)
    assert [r["duplicate_of"] for r in run([part], tmp_path / "none", loose)] == ["base"]


def test_null_texts_are_never_candidates(tmp_path: Path) -> None:
    rng = random.Random(5)
    text = make_text(rng)
    part = write_part(tmp_path / "p.parquet", [("n0", None), ("t0", text), ("n1", None), ("t1", text), ("n2", None)])
    rows = run([part], tmp_path / "build")
    assert [(r["row"], r["duplicate_of"]) for r in rows] == [(3, "t0")]
    stats = json.loads((tmp_path / "build" / "dedup" / "stats.json").read_text())
    assert (stats["documents"], stats["candidates"], stats["kept"]) == (5, 2, 1)


def test_texts_without_words_only_match_themselves(tmp_path: Path) -> None:
    part = write_part(tmp_path / "p.parquet", [("s0", "!!! ???"), ("s1", "*** ---"), ("s2", "!!!  ???"), ("e", "")])
    rows = run([part], tmp_path / "build")
    assert [(r["row"], r["drop_reason"], r["duplicate_of"]) for r in rows] == [(2, "exact_duplicate", "s0")]


def test_empty_input(tmp_path: Path) -> None:
    assert run([], tmp_path / "none") == []
    empty = write_part(tmp_path / "empty.parquet", [])
    only_null = write_part(tmp_path / "null.parquet", [("x", None)], first_line=False)
    assert run([empty, only_null], tmp_path / "build") == []
    stats = json.loads((tmp_path / "build" / "dedup" / "stats.json").read_text())
    assert stats["documents"] == 1 and stats["kept"] == 0 and stats["cluster_size_histogram"] == {}


def test_parts_without_first_line_column(corpus: dict, tmp_path: Path) -> None:
    rng = random.Random(2)
    text = "Title line\n\n" + make_text(rng)
    part = write_part(tmp_path / "p.parquet", [("x", text), ("y", text)], first_line=False)
    run([part], tmp_path / "build")
    rows = pq.read_table(tmp_path / "build" / "dedup" / "clusters.parquet").to_pylist()
    assert {r["first_line"] for r in rows} == {"Title line"}


def test_exact_groups_pick_the_earliest_key() -> None:
    keys = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
    hashes = np.array([[1, 1], [2, 2], [1, 1], [3, 3], [2, 2], [1, 1]], dtype=np.uint64)
    duplicates, representatives = exact_groups(keys, hashes)
    assert duplicates.tolist() == [2, 4, 5] and representatives.tolist() == [0, 1, 0]


def test_buckets_give_all_pairs_when_small_and_a_star_and_chain_when_large() -> None:
    hashes = np.array([5, 5, 5, 7, 9, 9], dtype=np.uint64)
    first, second = bucket_pairs(hashes, np.array([1, 4, 6, 2, 3, 8], dtype=np.int64))
    assert sorted(zip(first.tolist(), second.tolist())) == [(1, 4), (1, 6), (3, 8), (4, 6)]
    big = np.arange(100, dtype=np.int64)
    first, second = bucket_pairs(np.zeros(100, dtype=np.uint64), big)
    assert len(first) == 99 + 98 and set(first.tolist()) | set(second.tolist()) == set(range(100))


def test_union_find_roots_are_the_smallest_member() -> None:
    sets = UnionFind(6)
    for a, b in [(4, 5), (3, 5), (1, 2)]:
        sets.union(a, b)
    assert sets.roots().tolist() == [0, 1, 1, 3, 3, 3]
    members, roots = connected_components(np.array([[40, 50], [30, 50], [10, 20]], dtype=np.int64))
    assert members.tolist() == [10, 20, 30, 40, 50] and roots.tolist() == [10, 10, 30, 30, 30]
