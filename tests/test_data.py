"""model/data.py: memory-mapped shards, verification, a resumable DDP-aware batch stream."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data import BatchStream, ShardDataset, ShardMismatchError
from pipeline.config import Config
from pipeline.shards import write_shards
from pipeline.tokenizer import train_tokenizer
from shard_fixtures import make_kept_parts


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("build")
    parts = make_kept_parts(root / "work" / "kept", docs=240, seed=3)
    config = Config()
    config.tokenizer.vocab_size = 600
    config.shards.seq_len = 32
    config.shards.rows_per_shard = 150
    config.shards.val_fraction = 0.1
    train_tokenizer(parts, config.tokenizer, config.seed, root / "tokenizer" / "tokenizer.json")
    write_shards(parts, root / "tokenizer" / "tokenizer.json", config.shards, config.seed, root, config.sha256())
    return root


def test_dataset_maps_every_row_without_copying(data_dir: Path) -> None:
    dataset = ShardDataset(data_dir, "train")
    assert len(dataset.shards) > 2, "fixture must span several shards"
    assert len(dataset) == dataset.manifest["totals"]["train_rows"]
    assert dataset.seq_len == 32 and dataset.dtype == np.uint16
    for rows in dataset.shards:
        assert not rows.flags.owndata and not rows.flags.writeable  # a view over the mapped file
    # Rows spanning shard boundaries come back in global order.
    boundary = int(dataset.shard_starts[1])
    got = dataset.rows(np.array([boundary - 1, boundary, 0]))
    assert np.array_equal(got[0], dataset.shards[0][-1]) and np.array_equal(got[1], dataset.shards[1][0])
    assert np.array_equal(got[2], dataset.shards[0][0])
    assert (got < dataset.vocab_size).all()
    with pytest.raises(IndexError):
        dataset.rows(np.array([len(dataset)]))


def test_batches_are_shifted_long_tensors(data_dir: Path) -> None:
    stream = BatchStream(ShardDataset(data_dir, "train", verify="fast"), batch_size=4, seed=0)
    x, y = next(stream)
    assert x.shape == y.shape == (4, 32) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_tampered_shard_is_refused_by_name(data_dir: Path, tmp_path: Path, mode: str) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    victim = copy / "shards" / "train-00001.arrow"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte in the token data
    victim.write_bytes(bytes(data))
    with pytest.raises(ShardMismatchError, match="train-00001.arrow"):
        ShardDataset(copy, "train", verify=mode)
    ShardDataset(copy, "val", verify=mode)  # the untouched split still opens
    victim.write_bytes(bytes(data[:-8]))
    with pytest.raises(ShardMismatchError, match="train-00001.arrow.*bytes"):
        ShardDataset(copy, "train", verify=mode)


def test_each_epoch_visits_every_row_once_in_a_seeded_order(data_dir: Path) -> None:
    dataset = ShardDataset(data_dir, "train", verify="none")
    n = len(dataset)
    stream = BatchStream(dataset, batch_size=7, seed=5)
    seen = np.concatenate([stream.next_indices() for _ in range(2 * n // 7 + 1)])
    assert sorted(seen[:n]) == list(range(n)) and sorted(seen[n:2 * n]) == list(range(n))
    assert not np.array_equal(seen[:n], seen[n:2 * n]), "epochs must reshuffle"
    again = BatchStream(dataset, batch_size=7, seed=5)
    assert np.array_equal(np.concatenate([again.next_indices() for _ in range(5)]), seen[:35])
    other = BatchStream(dataset, batch_size=7, seed=6)
    assert not np.array_equal(other.next_indices(), seen[:7])


def test_cursor_save_and_restore_reproduces_rows(data_dir: Path) -> None:
    dataset = ShardDataset(data_dir, "train", verify="none")
    steps = len(dataset) // 8 + 3  # crosses an epoch boundary after the save
    stream = BatchStream(dataset, batch_size=8, seed=1)
    for _ in range(steps - 5):
        next(stream)
    state = stream.state_dict()
    assert {"epoch", "shard", "row", "offset", "seed"} <= state.keys()
    expected = [next(stream) for _ in range(10)]
    resumed = BatchStream(ShardDataset(data_dir, "train", verify="none"), batch_size=8, seed=1)
    resumed.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, (next(resumed) for _ in range(10))):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="seed"):
        BatchStream(dataset, batch_size=8, seed=2).load_state_dict(state)


def test_ranks_partition_each_epoch(data_dir: Path) -> None:
    dataset = ShardDataset(data_dir, "train", verify="none")
    world = 3
    per_rank = len(dataset) // world
    shares = []
    for rank in range(world):
        stream = BatchStream(dataset, batch_size=per_rank, seed=9, rank=rank, world_size=world)
        shares.append(set(stream.next_indices().tolist()))
        assert len(shares[-1]) == per_rank
    assert not (shares[0] & shares[1] or shares[0] & shares[2] or shares[1] & shares[2])
    assert len(set.union(*shares)) == per_rank * world  # at most world - 1 rows left out per epoch
    with pytest.raises(ValueError, match="rank"):
        BatchStream(dataset, batch_size=2, seed=0, rank=3, world_size=3)


def test_missing_split_says_how_to_get_one(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        ShardDataset(data_dir, "test")
    with pytest.raises(FileNotFoundError, match="build"):
        ShardDataset(tmp_path, "train")
