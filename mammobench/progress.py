"""Progress reporting that library code can call without printing.

Long steps (embedding a dataset, training an epoch, running cells) report through a
:class:`ProgressReporter`. The CLI passes one that draws rich progress bars; library callers
get :class:`LoggingReporter`, which logs the start and end of each step only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

logger = logging.getLogger(__name__)


class ProgressHandle(Protocol):
    """One running step."""

    def update(self, completed: int, total: int | None = None, status: str | None = None) -> None:
        """Set how many units are done (and optionally the total and a short status text)."""

    def advance(self, units: int = 1) -> None:
        """Add ``units`` to the units done."""


class ProgressReporter(Protocol):
    """Creates progress handles for steps."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[ProgressHandle]:
        """Report one step from start to end."""


class _LoggingHandle:
    def __init__(self, total: int | None) -> None:
        self.completed = 0
        self.total = total
        self.status: str | None = None

    def update(self, completed: int, total: int | None = None, status: str | None = None) -> None:
        self.completed = completed
        if total is not None:
            self.total = total
        if status is not None:
            self.status = status

    def advance(self, units: int = 1) -> None:
        self.completed += units


class LoggingReporter:
    """Logs when each step starts and ends, with its duration."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[ProgressHandle]:
        handle = _LoggingHandle(total)
        started = time.perf_counter()
        logger.info("%s ...", description)
        yield handle
        elapsed = time.perf_counter() - started
        suffix = f" ({handle.status})" if handle.status else ""
        logger.info("%s done in %.1f s%s", description, elapsed, suffix)


def callback(handle: ProgressHandle):
    """Adapt a handle to the ``(done, total)`` callbacks that extraction loops call."""

    def report(completed: int, total: int) -> None:
        handle.update(completed, total)

    return report
