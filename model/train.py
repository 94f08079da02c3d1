"""Train a GPT on a build's shards: `train(data_dir, run_dir, config)` or, under torchrun,
`python -m model.train --data DIR --out RUN [--config FILE]`.

One optimizer step = grad_accum micro-batches per process; under torchrun every process reads
its own rank's rows (BatchStream(rank, world_size)) and gradients are averaged once per step
(no_sync on the other micro-batches). A run folder holding a checkpoint resumes exactly where
it stopped: weights, optimizer, step, RNG states and the data cursor are all restored, and
train.max_steps counts the whole run.

Run folder: config.yaml, tokenizer.json (copy), metrics.jsonl, loss.png, checkpoint.json +
checkpoints/ (see model/checkpoint.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.checkpoint import (
    latest_checkpoint, read_checkpoint, read_trainer_state, save_checkpoint, write_text_atomic,
)
from model.data import BatchStream, ShardDataset, as_data_dirs, read_manifest
from model.distributed import Distributed
from model.evaluate import token_nll
from model.flops import peak_flops
from model.gpt import GPT, PRESETS, GPTConfig
from model.progress import MetricsLog, TrainProgress, plot_losses
from pipeline.config import Config, ModelConfig, TrainConfig, dump_config, load_config


def gpt_config_for(model: ModelConfig, vocab_size: int, block_size: int) -> GPTConfig:
    n_layer, n_head, n_embd = PRESETS[model.preset] if model.preset else (model.n_layer, model.n_head, model.n_embd)
    return GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                     dropout=model.dropout, bias=model.bias, rope=model.rope, causal=model.objective == "clm")


def resolve_device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"train.device is {name!r} but torch sees no CUDA device: set train.device: cpu")
    return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls run at about twice the fp32 rate (Linux: /proc/cpuinfo flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32.

    On CPU bf16 was measured (benchmarks/train_speed.py, and fp32/bf16 loss curves on two corpora)
    to train 1.1-1.9x faster with validation loss within 0.03 nats of fp32 for the same seed, well
    inside the seed-to-seed spread (0.08-0.25).
    """
    if name == "auto":
        native = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
        return torch.bfloat16 if native else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def cpu_threads(requested: int, local_world_size: int) -> int:
    if requested:
        return requested
    return max(1, len(os.sched_getaffinity(0)) // local_world_size)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to learning_rate, then cosine decay to min_lr at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.learning_rate - cfg.min_lr)


def rng_state(device: torch.device) -> dict[str, Any]:
    # numpy's global generator is not used here (BatchStream has its own, in its cursor)
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class Trainer:
    def __init__(self, data_dir: Path | Sequence[Path], run_dir: Path, config: Config, dist: Distributed,
                 progress: bool) -> None:
        self.data_dirs = as_data_dirs(data_dir)
        self.data_dir, self.run_dir, self.config, self.dist = self.data_dirs[0], Path(run_dir), config, dist
        self.cfg = config.train
        self.device = resolve_device(self.cfg.device, dist.local_rank)
        self.dtype = resolve_dtype(self.cfg.dtype, self.device)
        if self.device.type == "cpu":
            torch.set_num_threads(cpu_threads(self.cfg.num_threads, dist.local_world_size))
        else:
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.autocast = (torch.autocast(self.device.type, dtype=self.dtype) if self.dtype != torch.float32
                         else nullcontext())
        self.manifest = read_manifest(self.data_dir)
        self.pad_id = self.manifest["tokenizer"].get("pad_id")
        self.train_set = ShardDataset(self.data_dirs, "train", verify=self.cfg.data_verify)
        if len(self.train_set) == 0:
            raise ValueError(f"{self.data_dir} has no train rows: build with more text or a smaller shards.seq_len")
        val_rows = sum(read_manifest(d)["totals"]["val_rows"] for d in self.data_dirs)
        self.val_set = ShardDataset(self.data_dirs, "val", verify=self.cfg.data_verify) if val_rows else None
        self.gpt_config = gpt_config_for(config.model, self.train_set.vocab_size, self.train_set.seq_len)
        self.mlm = None if self.gpt_config.causal else MaskedObjective(self.data_dir, self.manifest, config.seed)
        self.log = MetricsLog(self.run_dir / "metrics.jsonl") if dist.is_main else None
        self.progress = TrainProgress(self.cfg.max_steps) if progress and dist.is_main else None
        self.step = 0
        self.init_from: dict[str, Any] | None = None

    # --- setup -----------------------------------------------------------------------------------
    def build(self) -> None:
        torch.manual_seed(self.config.seed)  # the same initial weights on every rank
        model = GPT(self.gpt_config)
        checkpoint = latest_checkpoint(self.run_dir)
        trainer_state = None
        if checkpoint is None and self.cfg.init_from:
            model.load_state_dict(self._initial_weights(Path(self.cfg.init_from)))
        if checkpoint is not None:
            state, saved_config, meta = read_checkpoint(checkpoint)
            if meta.get("lora"):
                raise ValueError(f"{checkpoint} is a LoRA fine-tune: fold its adapters in with `gristmill merge-lora` "
                                 "and train the merged run")
            trainer_state = read_trainer_state(checkpoint)
            self.init_from = meta.get("init_from")  # a resumed continuation stays one
            if trainer_state is None:
                # an imported model (model.export.import_hf): its shape wins, training starts at step 0
                self.gpt_config = self._imported_config(saved_config, checkpoint)
                model = GPT(self.gpt_config)
            elif saved_config != self.gpt_config:
                raise ValueError(
                    f"{checkpoint} holds a model {saved_config} but the config asks for {self.gpt_config}: "
                    "use a new run folder, or the model config the run was started with"
                )
            else:
                self.step = meta["step"]
                if trainer_state.get("parallel", "none") != self.dist.planned(self.cfg.parallel):
                    raise ValueError(f"{checkpoint} was written with parallel={trainer_state.get('parallel')}: "
                                     f"resume with the same train.parallel and number of processes")
            model.load_state_dict(state)
        model.to(self.device)
        self.raw_model = model
        self.wrapped = self.dist.wrap(model, self.cfg.parallel, self.device)
        self.model = torch.compile(self.wrapped) if self.cfg.compile else self.wrapped
        self.optimizer = torch.optim.AdamW(
            optimizer_groups(self.wrapped, self.cfg.weight_decay),
            lr=self.cfg.learning_rate, betas=(0.9, self.cfg.beta2),
            # fused: one kernel for all parameters; FSDP's DTensor parameters need the foreach path
            fused=not (self.dist.enabled and self.cfg.parallel == "fsdp"),
        )
        torch.manual_seed(self.config.seed + self.dist.rank)  # dropout differs per rank
        self.stream = BatchStream(self.train_set, self.cfg.batch_size, self.config.seed, self.dist.rank, self.dist.world_size)
        if trainer_state is not None:
            if trainer_state["world_size"] != self.dist.world_size:
                raise ValueError(
                    f"{checkpoint} was written by {trainer_state['world_size']} processes and this run has "
                    f"{self.dist.world_size}: resume with the same number of processes"
                )
            self.dist.load_optimizer(self.wrapped, self.optimizer, trainer_state["optimizer"])
            self.stream.load_state_dict(trainer_state["data"][self.dist.rank])
            set_rng_state(trainer_state["rng"][self.dist.rank], self.device)
        self.batches = iter(self.stream)
        self.tokens_per_step = self.cfg.batch_size * self.gpt_config.block_size * self.cfg.grad_accum * self.dist.world_size
        self.flops_per_step = self.raw_model.flops_per_token(self.gpt_config.block_size) * self.tokens_per_step
        self.peak_flops, self.peak_source = peak_flops(self.device, self.dtype)

    def prepare_run_dir(self) -> None:
        if not self.dist.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.run_dir / "config.yaml", dump_config(self.config))
        tokenizer = self.data_dir / self.manifest["tokenizer"]["path"]
        if tokenizer.is_file():
            shutil.copyfile(tokenizer, self.run_dir / "tokenizer.json")
        # a resumed run replays from its checkpoint: metrics logged after it are stale
        self.log.truncate_after(self.step)

    def _initial_weights(self, run: Path) -> dict[str, torch.Tensor]:
        """train.init_from: the weights of another run's latest checkpoint; optimizer, schedule and
        data cursor start afresh (step 0), so the run is a continuation on fresher data."""
        checkpoint = latest_checkpoint(run)
        if checkpoint is None:
            raise ValueError(f"train.init_from is {run}, which holds no checkpoint: name a run folder that has trained")
        state, saved_config, meta = read_checkpoint(checkpoint)
        if saved_config != self.gpt_config:
            raise ValueError(f"train.init_from {run} holds a model {saved_config} but the config asks for "
                             f"{self.gpt_config}: use the same model config and tokenizer as that run")
        self.init_from = {"run": str(run.resolve()), "checkpoint": str(checkpoint.resolve()), "step": meta["step"]}
        return state

    def _imported_config(self, saved: GPTConfig, checkpoint: Path) -> GPTConfig:
        if saved.vocab_size != self.train_set.vocab_size:
            raise ValueError(f"{checkpoint} has a vocabulary of {saved.vocab_size} tokens and {self.data_dir} one of "
                             f"{self.train_set.vocab_size}: tokenize the data with the imported model's tokenizer")
        if saved.block_size < self.train_set.seq_len:
            raise ValueError(f"{checkpoint} takes at most {saved.block_size} tokens and the shards have rows of "
                             f"{self.train_set.seq_len}: rebuild with shards.seq_len <= {saved.block_size}")
        return GPTConfig(**{**saved.to_dict(), "dropout": self.config.model.dropout})

    # --- one step ----------------------------------------------------------------------------------
    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, float]:
        start = time.perf_counter()
        x, y = next(self.batches)
        waited = time.perf_counter() - start
        if self.mlm is not None:
            x, y = self.mlm.corrupt(x)
        elif self.pad_id is not None:
            y = y.masked_fill(y == self.pad_id, -100)
        non_blocking = self.device.type == "cuda"
        return x.to(self.device, non_blocking=non_blocking), y.to(self.device, non_blocking=non_blocking), waited

    def train_step(self) -> tuple[torch.Tensor, float, float]:
        lr = learning_rate(self.step, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_sum = torch.zeros((), device=self.device)
        data_wait = 0.0
        for micro in range(self.cfg.grad_accum):
            x, y, waited = self.next_batch()
            data_wait += waited
            with self.dist.gradient_sync(self.wrapped, micro == self.cfg.grad_accum - 1):
                with self.autocast:
                    _, loss = self.model(x, y)
                (loss / self.cfg.grad_accum).backward()
            loss_sum += loss.detach()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_sum / self.cfg.grad_accum, lr, data_wait

    @torch.no_grad()
    def validate(self) -> float | None:
        """Token-weighted loss on the first eval_batches x batch_size validation rows (the same rows every time)."""
        if self.val_set is None:
            return None
        self.model.eval()
        n_rows = min(len(self.val_set), self.cfg.eval_batches * self.cfg.batch_size)
        mine = np.arange(self.dist.rank, n_rows, self.dist.world_size)
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        # every rank runs the same number of forwards: FSDP gathers parameters collectively
        batches = math.ceil(math.ceil(n_rows / self.dist.world_size) / self.cfg.batch_size)
        for b in range(batches):
            rows = mine[b * self.cfg.batch_size:(b + 1) * self.cfg.batch_size]
            if rows.size == 0:
                rows = mine[:1]  # a dummy forward, not counted
                weight = 0.0
            else:
                weight = 1.0
            ids = torch.from_numpy(self.val_set.rows(rows).astype(np.int64)).to(self.device)
            with self.autocast:
                if self.mlm is not None:
                    nll, _, count = self.mlm.validation_nll(self.model, ids[:, :-1], b)
                else:
                    nll, count = token_nll(self.model, ids, self.pad_id, self.gpt_config.vocab_size)
            totals += weight * torch.stack([nll.double(), count.double()])
        self.model.train()
        totals = self.dist.all_reduce_sum(totals)
        return float(totals[0] / totals[1])

    def save(self) -> None:
        model_state, optimizer_state = self.dist.full_state(self.wrapped, self.raw_model, self.optimizer)
        data = self.dist.gather_object(self.stream.state_dict())
        rng = self.dist.gather_object(rng_state(self.device))
        if self.dist.is_main:
            trainer_state = {"step": self.step, "optimizer": optimizer_state, "data": data, "rng": rng,
                             "world_size": self.dist.world_size, "parallel": self.dist.parallel,
                             "train_config": self.cfg.model_dump()}
            save_checkpoint(self.run_dir, self.step, model_state, self.gpt_config, trainer_state,
                            keep=self.cfg.keep_checkpoints, extra_meta=self.run_meta())
            plot_losses(self.run_dir / "metrics.jsonl", self.run_dir / "loss.png")
        self.dist.barrier()

    def run_meta(self) -> dict[str, Any]:
        """What a checkpoint says about how its run began: the data it read and the run it continued."""
        meta: dict[str, Any] = {"data_dir": str(self.data_dir.resolve()),
                                "data_dirs": [str(d.resolve()) for d in self.data_dirs]}
        if self.init_from is not None:
            meta["init_from"] = self.init_from
        return meta

    # --- the loop ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.build()
        self.prepare_run_dir()
        start_step = self.step
        started = window_start = time.perf_counter()
        window_wait, window_steps = 0.0, 0
        loss = val_loss = None
        stopped = "max_steps"
        if self.progress:
            self.progress.start(self.step)
        self.model.train()
        while self.step < self.cfg.max_steps:
            loss, lr, waited = self.train_step()
            self.step += 1
            if self.progress:
                self.progress.update(self.step, {})
            window_wait += waited
            window_steps += 1
            last = self.step == self.cfg.max_steps
            # stop before a step that would end past the budget (at the mean step time so far)
            elapsed = time.perf_counter() - started
            next_step_end = elapsed + elapsed / (self.step - start_step)
            out_of_time = self.cfg.max_seconds is not None and self.dist.any(next_step_end > self.cfg.max_seconds)
            if self.step % self.cfg.log_interval == 0 or last or out_of_time:
                loss_value = float(self.dist.all_reduce_mean(loss))
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                seconds = time.perf_counter() - window_start
                record = {
                    "step": self.step, "loss": loss_value, "lr": lr,
                    "tokens_per_s": window_steps * self.tokens_per_step / seconds,
                    "step_ms": 1000 * seconds / window_steps,
                    "data_wait_ms": 1000 * window_wait / window_steps,
                    "data_wait_share": window_wait / seconds,
                    "mfu": (window_steps * self.flops_per_step / seconds / self.peak_flops) if self.peak_flops else None,
                    "tokens": self.step * self.tokens_per_step,
                    "elapsed_s": time.perf_counter() - started,
                }
                if self.log:
                    self.log.write(record)
                if self.progress:
                    self.progress.update(self.step, record)
                window_start, window_wait, window_steps = time.perf_counter(), 0.0, 0
            if self.step % self.cfg.eval_interval == 0 or last or out_of_time:
                val_loss = self.validate()
                if self.log and val_loss is not None:
                    self.log.write({"step": self.step, "val_loss": val_loss})
                if self.progress:
                    self.progress.update(self.step, {"val_loss": val_loss})
                window_start = time.perf_counter()  # keep eval time out of tokens/s
            if self.step % self.cfg.checkpoint_interval == 0 or last or out_of_time:
                self.save()
                window_start = time.perf_counter()
            if out_of_time:
                stopped = "max_seconds"
                break
        if self.progress:
            self.progress.stop()
        seconds = time.perf_counter() - started
        trained = self.step - start_step
        summary = {
            "step": self.step, "stopped": stopped, "loss": None if loss is None else float(self.dist.all_reduce_mean(loss)),
            "val_loss": val_loss, "seconds": seconds, "steps_this_run": trained,
            "tokens_per_s": trained * self.tokens_per_step / seconds if trained else None,
            "peak_flops": self.peak_flops, "peak_flops_source": self.peak_source,
            "device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
            "world_size": self.dist.world_size, "params": self.raw_model.num_params(),
            "run_dir": str(self.run_dir), "data_dirs": [str(d) for d in self.data_dirs],
            "init_from": self.init_from,
        }
        if self.dist.is_main and trained == 0:
            plot_losses(self.run_dir / "metrics.jsonl", self.run_dir / "loss.png")
        return summary


class MaskedObjective:
    """BERT masking of the train batches (model/mlm.py); its generator is part of the RNG state that
    checkpoints save (it draws from torch's global generator), so a resumed run masks alike."""

    def __init__(self, data_dir: Path, manifest: dict[str, Any], seed: int) -> None:
        from model.mlm import mask_id_of, special_ids_of
        from pipeline.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(data_dir / manifest["tokenizer"]["path"])
        self.mask_id, self.special_ids = mask_id_of(tokenizer), special_ids_of(tokenizer)
        self.vocab_size = manifest["tokenizer"]["vocab_size"]
        self.seed = seed

    def corrupt(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from model.mlm import mask_tokens

        return mask_tokens(x, self.mask_id, self.vocab_size, self.special_ids)

    def validation_nll(self, model: torch.nn.Module, ids: torch.Tensor, batch: int) -> tuple[torch.Tensor, ...]:
        from model.mlm import masked_nll

        # the same masks at every evaluation, so periodic validation losses are comparable
        generator = torch.Generator().manual_seed(self.seed + batch)
        return masked_nll(model, ids, self.mask_id, self.vocab_size, self.special_ids, generator)


def optimizer_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay matrices (Linear weights, embeddings), not biases and LayerNorm gains.

    Taken from the wrapped model, whose parameters FSDP has replaced by sharded ones."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def train(data_dir: Path | Sequence[Path], run_dir: Path, config: Config, progress: bool = True) -> dict[str, Any]:
    """Train (or resume) the run in run_dir on the shards in data_dir (one build folder, or several
    read in order); returns a summary dict."""
    with Distributed.from_env(config.train.device) as dist:
        return Trainer(data_dir, Path(run_dir), config, dist, progress).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, nargs="+",
                        help="build folder(s) holding manifest.json and shards/ (several: read in order)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (resumed if it holds a checkpoint)")
    parser.add_argument("--config", type=Path, default=None, help="YAML config (only the model and train sections matter)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to metrics.jsonl)")
    args = parser.parse_args(argv)
    summary = train(args.data, args.out, load_config(args.config), progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
