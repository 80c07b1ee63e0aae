"""A progress reporter that draws rich progress bars on standard error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


class _RichHandle:
    def __init__(self, progress: Progress, task_id: int) -> None:
        self.progress = progress
        self.task_id = task_id

    def update(self, completed: int, total: int | None = None, status: str | None = None) -> None:
        fields = {} if status is None else {"status": status}
        self.progress.update(self.task_id, completed=completed, total=total, **fields)

    def advance(self, units: int = 1) -> None:
        self.progress.advance(self.task_id, units)


class RichReporter:
    """One live display; each step adds a bar that stays visible when it ends."""

    def __init__(self) -> None:
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

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[_RichHandle]:
        task_id = self.progress.add_task(description, total=total, status="")
        handle = _RichHandle(self.progress, task_id)
        try:
            yield handle
        finally:
            task = next((t for t in self.progress.tasks if t.id == task_id), None)
            if task is not None and task.total is not None:
                self.progress.update(task_id, completed=task.total)
            self.progress.stop_task(task_id)
