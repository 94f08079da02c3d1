"""Read packed shards: memory-mapped rows and a resumable, DDP-aware batch stream.

ShardDataset maps every shard of a split (Arrow IPC stream → numpy view, no copy) after checking
it against manifest.json. BatchStream draws rows in a seeded per-epoch permutation, gives each
rank every world_size-th row of it, and keeps a cursor (epoch, step within the epoch) that a
checkpoint saves, so a resumed run sees exactly the rows it would have seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import torch

from pipeline.shards import sample_sha256
from pipeline.tokenizer import file_sha256

Verify = Literal["full", "fast", "none"]
STATE_VERSION = 1


class ShardMismatchError(RuntimeError):
    """A shard on disk is not the one manifest.json describes."""


def read_manifest(data_dir: str | Path) -> dict[str, Any]:
    path = Path(data_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: build the shards first (pipeline.shards.write_shards / gristmill build)")
    return json.loads(path.read_text(encoding="utf-8"))


def verify_shard(path: Path, entry: dict[str, Any], mode: Verify) -> None:
    """Raise ShardMismatchError naming the shard when its size or hash differs from the manifest."""
    if mode == "none":
        return
    if not path.is_file():
        raise ShardMismatchError(f"shard {path} listed in manifest.json is missing: rebuild the shards")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise ShardMismatchError(f"shard {path} has {size} bytes, manifest.json says {entry['bytes']}: "
                                 "it was changed or truncated; rebuild the shards")
    actual, expected = (file_sha256(path), entry["sha256"]) if mode == "full" else (sample_sha256(path), entry["sample_sha256"])
    if actual != expected:
        raise ShardMismatchError(f"shard {path} does not match manifest.json ({mode} sha256 {actual[:12]}… "
                                 f"!= {expected[:12]}…): it was changed after the build; rebuild the shards")


def map_shard(path: Path, row_len: int) -> np.ndarray:
    """The shard's rows as a read-only (rows, row_len) numpy view over the memory-mapped file."""
    reader = pa.ipc.open_stream(pa.memory_map(str(path), "r"))
    views = []
    for batch in reader:
        column = batch.column("input_ids")
        if column.offset:
            column = column.values.slice(column.offset * row_len, len(column) * row_len)
        else:
            column = column.values
        views.append(column.to_numpy(zero_copy_only=True).reshape(-1, row_len))
    if len(views) == 1:
        return views[0]
    # Our writer emits one batch per shard; other writers' multi-batch files are joined (a copy).
    return np.concatenate(views) if views else np.zeros((0, row_len), np.uint16)


def as_data_dirs(data_dir: str | Path | Sequence[str | Path]) -> list[Path]:
    """One build folder or several (the versions of a dataset, oldest first)."""
    dirs = [Path(data_dir)] if isinstance(data_dir, (str, Path)) else [Path(d) for d in data_dir]
    if not dirs:
        raise ValueError("no build folder given: pass at least one folder holding manifest.json")
    return dirs


class ShardDataset:
    """All rows of one split, addressable by a global row index (shards in manifest order).

    Several build folders (the versions of one dataset) read as one split: their shards follow
    each other in the order given. They must share the tokenizer (by sha256) and the row length.
    """

    def __init__(self, data_dir: str | Path | Sequence[str | Path], split: str = "train", verify: Verify = "full"):
        if verify not in ("full", "fast", "none"):
            raise ValueError(f"verify must be 'full', 'fast' or 'none', not {verify!r}")
        self.data_dirs = as_data_dirs(data_dir)
        self.data_dir = self.data_dirs[0]
        manifests = [read_manifest(d) for d in self.data_dirs]
        self.manifest = manifests[0]
        self.split = split
        self.seq_len: int = self.manifest["seq_len"]
        self.row_len: int = self.manifest["row_len"]
        tokenizer = self.manifest["tokenizer"]
        for other_dir, other in zip(self.data_dirs[1:], manifests[1:]):
            if other["tokenizer"]["sha256"] != tokenizer["sha256"] or other["row_len"] != self.row_len:
                raise ShardMismatchError(
                    f"{other_dir} has another tokenizer or row length than {self.data_dir}: build folders trained on "
                    "together must share one tokenizer (build them with tokenizer.from) and shards.seq_len")
        self.vocab_size: int = tokenizer["vocab_size"]
        self.eot_id: int = tokenizer["eot_id"]
        self.pad_id: int = tokenizer["pad_id"]
        self.tokenizer_path = self.data_dir / tokenizer["path"]
        located = [(d, s) for d, m in zip(self.data_dirs, manifests) for s in m["shards"] if s["split"] == split]
        self.shard_entries = [entry for _, entry in located]
        if not self.shard_entries:
            raise ValueError(f"{self.data_dir / 'manifest.json'} lists no {split!r} shards "
                             f"(splits: {sorted({s['split'] for s in self.manifest['shards']})}); "
                             "for validation rows set shards.val_fraction > 0 and rebuild")
        self.shards: list[np.ndarray] = []
        for folder, entry in located:
            path = folder / entry["path"]
            verify_shard(path, entry, verify)
            rows = map_shard(path, self.row_len)
            if len(rows) != entry["rows"]:
                raise ShardMismatchError(f"shard {path} holds {len(rows)} rows, manifest.json says {entry['rows']}: rebuild the shards")
            self.shards.append(rows)
        self.shard_starts = np.cumsum([0] + [len(s) for s in self.shards])
        self.dtype = self.shards[0].dtype

    def __len__(self) -> int:
        return int(self.shard_starts[-1])

    @property
    def num_tokens(self) -> int:
        return len(self) * self.row_len

    def locate(self, index: int) -> tuple[int, int]:
        """(shard number within the split, row within that shard) of a global row index."""
        shard = int(np.searchsorted(self.shard_starts, index, side="right")) - 1
        return shard, index - int(self.shard_starts[shard])

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """Rows at the given global indices, shape (len(indices), seq_len + 1), in the shards' dtype."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"row index out of range 0..{len(self) - 1}")
        if len(self.shards) == 1:
            return self.shards[0][indices]
        out = np.empty((indices.size, self.row_len), dtype=self.dtype)
        shard_of = np.searchsorted(self.shard_starts, indices, side="right") - 1
        for shard in np.unique(shard_of):
            chosen = shard_of == shard
            out[chosen] = self.shards[shard][indices[chosen] - self.shard_starts[shard]]
        return out

    def __getitem__(self, index: int) -> np.ndarray:
        return self.rows(np.array([index]))[0]


class BatchStream:
    """Endless (x, y) int64 batches of shape (batch_size, seq_len) for one rank.

    Epoch e visits the rows in permutation P_e = default_rng([seed, e]).permutation(N); rank r
    takes P_e[r], P_e[r + W], ... (N // W rows each, so every rank has the same number of steps).
    A batch that reaches the end of an epoch continues with the next epoch's first rows, so no
    row is skipped and a split smaller than one batch still works. The cursor is (epoch, offset):
    offset rows of this rank's share of the epoch are consumed.
    """

    def __init__(self, dataset: ShardDataset, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        if len(dataset) < world_size:
            raise ValueError(f"{len(dataset)} rows cannot be shared by {world_size} ranks: build more data or use fewer ranks")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.rows_per_rank = len(dataset) // world_size
        self.epoch, self.offset = 0, 0
        self._order_epoch, self._order = -1, np.zeros(0, np.int64)

    def _rank_order(self, epoch: int) -> np.ndarray:
        if epoch != self._order_epoch:
            permutation = np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))
            self._order = permutation[self.rank::self.world_size][:self.rows_per_rank]
            self._order_epoch = epoch
        return self._order

    def next_indices(self) -> np.ndarray:
        """Global row indices of the next batch (advances the cursor)."""
        chunks, needed = [], self.batch_size
        while needed:
            order = self._rank_order(self.epoch)
            take = order[self.offset:self.offset + needed]
            chunks.append(take)
            needed -= take.size
            self.offset += take.size
            if self.offset == self.rows_per_rank:
                self.epoch, self.offset = self.epoch + 1, 0
        return np.concatenate(chunks)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.from_numpy(self.dataset.rows(self.next_indices()).astype(np.int64))
        return rows[:, :-1], rows[:, 1:]

    @property
    def position(self) -> dict[str, int]:
        """Where the next row comes from: its epoch, shard (within the split) and row (within that shard)."""
        shard, row = self.dataset.locate(int(self._rank_order(self.epoch)[self.offset]))
        return {"epoch": self.epoch, "shard": shard, "row": row}

    def state_dict(self) -> dict[str, Any]:
        """The cursor; the permutation is a pure function of (seed, epoch), so this is the RNG state too."""
        return {"version": STATE_VERSION, "seed": self.seed, "epoch": self.epoch, "offset": self.offset,
                "rank": self.rank, "world_size": self.world_size, "rows": len(self.dataset),
                "batch_size": self.batch_size, "split": self.dataset.split,
                "manifest_config_sha256": self.dataset.manifest.get("config_sha256"), **self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved cursor. Refuses one from other data or another seed; a different
        world_size keeps the number of rows consumed per epoch (the split among ranks then differs)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"data cursor version {state.get('version')} is not {STATE_VERSION}: start the run afresh")
        if state["rows"] != len(self.dataset) or state["seed"] != self.seed:
            raise ValueError(f"data cursor was saved for {state['rows']} rows with seed {state['seed']}, "
                             f"this stream has {len(self.dataset)} rows with seed {self.seed}: "
                             "resume with the same shards and seed, or start a new run")
        offset = state["offset"]
        if state["world_size"] != self.world_size:
            offset = offset * state["world_size"] // self.world_size
        self.epoch, self.offset = state["epoch"], min(offset, self.rows_per_rank - 1)
