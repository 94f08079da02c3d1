"""What the trainer needs from torch.distributed, in one place; a no-op for a single process.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE; with WORLD_SIZE > 1 the process
group is created here (NCCL for CUDA, gloo for CPU). Two ways to spread a model:
- ddp: every process holds the whole model; gradients are all-reduced once per optimizer step.
- fsdp: FSDP2 `fully_shard` on every block and on the root, so parameters, gradients and
  optimizer state are sharded and gathered block by block.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel


class Distributed:
    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0, local_world_size: int = 1,
                 owns_group: bool = False) -> None:
        self.rank, self.world_size = rank, world_size
        self.local_rank, self.local_world_size = local_rank, local_world_size
        self.owns_group = owns_group
        self.parallel = "none"
        self.device = torch.device("cpu")  # where collectives' tensors live (NCCL: the rank's GPU)

    @classmethod
    def from_env(cls, device: str = "auto") -> "Distributed":
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        rank = int(os.environ["RANK"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        owns = not dist.is_initialized()
        if owns:
            use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
            dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size)
        made = cls(rank, world_size, local_rank, local_world_size, owns)
        if dist.get_backend() == "nccl":
            made.device = torch.device(f"cuda:{local_rank}")
            torch.cuda.set_device(made.device)
        return made

    def __enter__(self) -> "Distributed":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.owns_group and dist.is_initialized():
            if exc_type is None:
                # Without this, one rank can tear gloo down while the other still has a collective
                # in flight, and that rank aborts at exit ("terminate called without an active exception").
                dist.barrier()
            dist.destroy_process_group()

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def planned(self, parallel: str) -> str:
        """The parallel mode wrap() will use: none for a single process."""
        return parallel if self.enabled else "none"

    # --- the model ---------------------------------------------------------------------------------
    def wrap(self, model: nn.Module, parallel: str, device: torch.device) -> nn.Module:
        if not self.enabled:
            return model
        self.parallel = parallel
        if parallel == "ddp":
            return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        from torch.distributed.fsdp import fully_shard

        for block in model.transformer.h:
            fully_shard(block)
        return fully_shard(model)  # the root holds the embeddings and the tied head

    def gradient_sync(self, model: nn.Module, sync: bool):
        """Context for one micro-batch's backward: gradients are reduced only when sync is True."""
        if not self.enabled or sync:
            if self.parallel == "fsdp":
                model.set_requires_gradient_sync(True)
            return nullcontext()
        if self.parallel == "ddp":
            return model.no_sync()
        model.set_requires_gradient_sync(False)
        return nullcontext()

    def full_state(self, model: nn.Module, raw_model: nn.Module,
                   optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, Any]]:
        """Unsharded model and optimizer state dicts (complete on rank 0)."""
        if self.parallel != "fsdp":
            return raw_model.state_dict(), optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions, get_model_state_dict, get_optimizer_state_dict,
        )

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return get_model_state_dict(model, options=options), get_optimizer_state_dict(model, optimizer, options=options)

    def load_optimizer(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        if self.parallel != "fsdp":
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))

    # --- collectives -------------------------------------------------------------------------------
    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            tensor = tensor.clone()
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def all_reduce_mean(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.all_reduce_sum(tensor) / self.world_size if self.enabled else tensor

    def any(self, flag: bool) -> bool:
        """True on every rank when it is True on some rank (so all stop at the same step)."""
        if not self.enabled:
            return flag
        return bool(self.all_reduce_sum(torch.tensor([float(flag)], device=self.device)).item() > 0)

    def gather_object(self, obj: Any) -> list[Any]:
        if not self.enabled:
            return [obj]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()
