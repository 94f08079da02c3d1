"""What a training run shows and leaves behind: metrics.jsonl, a progress bar, loss.png."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class MetricsLog:
    """run_dir/metrics.jsonl: one JSON object per line, appended and flushed as it happens."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records of steps after `step` (a resumed run logs them again), atomically."""
        if not self.path.is_file():
            return
        kept = [line for line in read_metrics(self.path) if line["step"] <= step]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(tmp, self.path)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a crash: everything before it is intact
    return records


def plot_losses(metrics_path: Path, out_path: Path) -> None:
    """Train and validation loss against step, as a PNG (written atomically)."""
    if not Path(metrics_path).is_file():
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(out_path).with_name(f".{Path(out_path).name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out_path)


class TrainProgress:
    """A rich progress bar with the latest loss, validation loss and throughput."""

    def __init__(self, total_steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.total = total_steps
        self.fields: dict[str, str] = {"loss": "-", "val": "-", "speed": "-"}
        self.bar = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}  val {task.fields[val]}  {task.fields[speed]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
        )
        self.task = None

    def start(self, step: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task("train", total=self.total, completed=step, **self.fields)

    def update(self, step: int, record: dict[str, Any]) -> None:
        if "loss" in record:
            self.fields["loss"] = f"{record['loss']:.4f}"
            self.fields["speed"] = f"{record['tokens_per_s']:,.0f} tok/s"
        if record.get("val_loss") is not None:
            self.fields["val"] = f"{record['val_loss']:.4f}"
        self.bar.update(self.task, completed=step, **self.fields)

    def stop(self) -> None:
        self.bar.stop()
