"""Run by tests/test_train.py under `torchrun --nnodes 1 --nproc_per_node 2`: the real Trainer, plus a
record of the training rows each rank read and the weights each rank ended with.

Recording wraps BatchStream.next_indices (the real method still chooses and serves every batch);
each rank writes rows-rank<R>.npy and weights-rank<R>.safetensors into the run folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

from model.data import BatchStream
from model.distributed import Distributed
from model.train import Trainer
from pipeline.config import load_config


def main() -> None:
    data_dir, run_dir, config_path = (Path(a) for a in sys.argv[1:4])
    read: list[np.ndarray] = []
    serve = BatchStream.next_indices

    def recording(stream: BatchStream) -> np.ndarray:
        indices = serve(stream)
        read.append(indices.copy())
        return indices

    BatchStream.next_indices = recording  # type: ignore[method-assign]
    config = load_config(config_path)
    with Distributed.from_env(config.train.device) as dist:
        trainer = Trainer(data_dir, run_dir, config, dist, progress=False)
        trainer.run()
        weights = {k: v.detach().cpu().clone() for k, v in trainer.raw_model.state_dict().items()}  # tied tensors apart
        save_file(weights, str(run_dir / f"weights-rank{dist.rank}.safetensors"))
        np.save(run_dir / f"rows-rank{dist.rank}.npy", np.concatenate(read))


if __name__ == "__main__":
    main()
