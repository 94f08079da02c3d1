"""The service's three deployments, served by one long-lived process (`gristmill serve`).

    gristmill-build     publish_version on a cron schedule (or an interval)
    gristmill-train     train_dataset, triggered by `gristmill.build.published` of this dataset
    gristmill-evaluate  evaluate_runs, triggered by `gristmill.train.completed` of this dataset

Each has a concurrency limit of one with CANCEL_NEW: builds never overlap, neither do trainings
(Prefect's default, ENQUEUE, piles up waiting runs). A cancelled training is not lost work: the
next one trains on every published version. Schedules need a real server
(`gristmill server start`): Prefect's temporary API runs no scheduler.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.events import DeploymentEventTrigger

from flows.service import BUILD_PUBLISHED, TRAIN_COMPLETED, evaluate_runs, publish_version, train_dataset

ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def earlier_builds(out_root: Path) -> list[str]:
    """Finished builds under out_root (those with a ledger), oldest first."""
    return sorted(str(p.parent) for p in Path(out_root).glob("*/ledger.parquet"))


def service_deployments(inputs: list[str], out_root: str, cron: str | None, config_path: str | None = None,
                        train_on_fresh: bool = False, continue_training: bool = True,
                        interval_seconds: float | None = None) -> list:
    root = str(Path(out_root).resolve())
    schedule = {"interval": timedelta(seconds=interval_seconds)} if interval_seconds else {"cron": cron}
    deployments = [publish_version.to_deployment(
        name="gristmill-build", **schedule, concurrency_limit=ONE_AT_A_TIME,
        parameters={"inputs": [str(Path(i).resolve()) for i in inputs], "out_root": root, "config_path": config_path},
        description=f"publish the next version of {root} from the new files of {', '.join(inputs)}")]
    if train_on_fresh:
        deployments.append(train_dataset.to_deployment(
            name="gristmill-train", concurrency_limit=ONE_AT_A_TIME,
            parameters={"out_root": root, "config_path": config_path, "continue_latest": continue_training},
            triggers=[DeploymentEventTrigger(name="fresh version", expect={BUILD_PUBLISHED},
                                             match={"prefect.resource.id": f"gristmill.build.{root}/*"})],
            description=f"train on every published version of {root}"))
        deployments.append(evaluate_runs.to_deployment(
            name="gristmill-evaluate", concurrency_limit=ONE_AT_A_TIME, parameters={"out_root": root},
            triggers=[DeploymentEventTrigger(name="trained", expect={TRAIN_COMPLETED},
                                             match={"prefect.resource.id": f"gristmill.run.{root}/runs/*"})],
            description=f"evaluate the runs on {root}"))
    return deployments


def serve_service(inputs: list[str], out_root: str, cron: str | None, config_path: str | None = None,
                  train_on_fresh: bool = False, continue_training: bool = True,
                  interval_seconds: float | None = None) -> None:
    """Register the deployments with the API in PREFECT_API_URL and run their flows until interrupted."""
    # pause_on_shutdown=False: a restarted service keeps its schedule (Prefect pauses it by default)
    serve(*service_deployments(inputs, out_root, cron, config_path, train_on_fresh, continue_training,
                               interval_seconds), pause_on_shutdown=False)


__all__ = ["earlier_builds", "serve_service", "service_deployments"]
