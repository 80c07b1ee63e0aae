"""Progress reporting for pretraining: a rich bar on a terminal, log lines elsewhere.

The training loop only calls :class:`Progress` methods, so it runs the same under the CLI, under
a test, or when an encoder trains its weights on first use.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# Without a terminal, a log line every this many steps (and at every epoch end).
LOG_EVERY_STEPS = 50


class Progress(Protocol):
    """Interface through which the training loop reports its progress."""

    def start(self, total_steps: int, completed: int, description: str) -> None: ...

    def advance(self, step: int, loss: float, learning_rate: float) -> None: ...

    def message(self, text: str) -> None: ...

    def stop(self) -> None: ...


class LogProgress:
    """Report progress as log lines every :data:`LOG_EVERY_STEPS` steps."""

    def __init__(self, every: int = LOG_EVERY_STEPS) -> None:
        self.every = every
        self.total = 0
        self.description = ""

    def start(self, total_steps: int, completed: int, description: str) -> None:
        self.total = total_steps
        self.description = description
        logger.info("%s: %d steps (%d done)", description, total_steps, completed)

    def advance(self, step: int, loss: float, learning_rate: float) -> None:
        if step % self.every == 0 or step == self.total:
            logger.info("%s: step %d/%d, loss %.4f, lr %.2e", self.description, step, self.total, loss, learning_rate)

    def message(self, text: str) -> None:
        logger.info("%s", text)

    def stop(self) -> None:
        return None


class RichProgress:
    """A rich progress bar with the running loss, written to standard error."""

    def __init__(self, console: Any | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, highlight=False)
        self._progress: Any = None
        self._task: Any = None

    def start(self, total_steps: int, completed: int, description: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("lr {task.fields[lr]}"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total_steps, completed=completed, loss="-", lr="-")

    def advance(self, step: int, loss: float, learning_rate: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step, loss=f"{loss:.4f}", lr=f"{learning_rate:.2e}")

    def message(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            logger.info("%s", text)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def default_progress() -> Progress:
    """Return a rich bar when standard error is a terminal, else log lines."""
    if sys.stderr.isatty():
        return RichProgress()
    return LogProgress()
