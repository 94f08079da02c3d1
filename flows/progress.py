"""Rich progress for long steps, shared by the flows' tasks and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipeline.build import Progress as ProgressCallback

console = Console(stderr=True)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """A callback (what, done, total) that draws one bar per step, or None when disabled."""
    if not enabled:
        yield None
        return
    bars = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)
    tasks: dict[str, int] = {}

    def update(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    with bars:
        yield update
