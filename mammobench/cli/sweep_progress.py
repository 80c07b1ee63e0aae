"""The live display of ``mammobench sweep``: one bar for the cells, one for the current step."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mammobench.cli.console import error_console


class _StepHandle:
    def __init__(self, progress: Progress, task_id: Any) -> None:
        self.progress = progress
        self.task_id = task_id

    def update(self, completed: int, total: int | None = None, status: str | None = None) -> None:
        fields = {} if status is None else {"status": status}
        self.progress.update(self.task_id, completed=completed, total=total, **fields)

    def advance(self, units: int = 1) -> None:
        self.progress.advance(self.task_id, units)


class SweepProgressDisplay:
    """Shows cells done, running, failed and remaining, and the step running in this process.

    It is also a progress reporter (see :mod:`mammobench.progress`): steps of runs executed in
    this process (embedding, training) show as a bar that disappears when the step ends.
    """

    def __init__(self, name: str) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=error_console,
            transient=False,
        )
        self.cells_task = self.progress.add_task(f"Sweep '{name}' cells", total=None, status="starting")

    def __enter__(self) -> SweepProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def update(self, counts: Any) -> None:
        """Show new :class:`~mammobench.sweep.tracker.SweepCounts`."""
        self.progress.update(
            self.cells_task,
            completed=counts.done + counts.failed,
            total=counts.total,
            status=counts.describe(),
        )

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[_StepHandle]:
        """Show one step of a run as a temporary bar."""
        task_id = self.progress.add_task(f"  {description}", total=total, status="")
        try:
            yield _StepHandle(self.progress, task_id)
        finally:
            self.progress.remove_task(task_id)
