"""Scheduled builds: fresh input files become a new build that never republishes what earlier
builds already hold (incremental dedup), and fresh shards can trigger training.

`gristmill serve` runs `scheduled_build` on a cron schedule with Prefect's `serve` (a long-lived
process; no work pool or server to set up beyond what Prefect starts itself).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow

from flows.build_corpus import build_corpus
from flows.train import train
from pipeline.config import dump_config, load_config


def earlier_builds(out_root: Path) -> list[str]:
    """Finished builds under out_root (those with a ledger), oldest first."""
    return sorted(str(p.parent) for p in out_root.glob("*/ledger.parquet"))


@flow(name="scheduled_build", log_prints=True)
def scheduled_build(inputs: list[str], out_root: str, config_path: str | None = None,
                    train_on_fresh: bool = False) -> dict[str, Any]:
    """Build INPUTS into OUT_ROOT/<UTC time>, deduplicated against every earlier build there."""
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    config = load_config(config_path)
    config.dedup.against = sorted(set(config.dedup.against) | set(earlier_builds(root)))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = root / stamp
    resolved = root / f".{stamp}.config.yaml"
    resolved.write_text(dump_config(config))
    result = build_corpus(inputs, str(out), config_path=str(resolved), progress=False)
    kept = result.get("ledger", {}).get("kept", 0)
    if train_on_fresh and kept and (out / "manifest.json").is_file():
        result["train"] = train(str(out), str(root / f"{stamp}-run"), config_path=str(resolved), progress=False)
    return result


def serve_scheduled_build(inputs: list[str], out_root: str, cron: str, config_path: str | None = None,
                          train_on_fresh: bool = False) -> None:
    scheduled_build.serve(
        name="gristmill-scheduled-build",
        cron=cron,
        parameters={"inputs": inputs, "out_root": out_root, "config_path": config_path,
                    "train_on_fresh": train_on_fresh},
    )


__all__ = ["earlier_builds", "scheduled_build", "serve_scheduled_build"]
