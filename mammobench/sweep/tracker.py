"""Counting the cells of a sweep: done, running, failed and remaining."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mammobench.results.records import RecordStatus
from mammobench.sweep.plan import SweepCell
from mammobench.sweep.worker import CellEvent

RUNNING = "running"


@dataclass(frozen=True)
class SweepCounts:
    """A snapshot of a sweep's progress.

    Attributes:
        total: Cells in this sweep (or shard).
        done: Cells with a final record (``ok``, ``invalid`` or ``incompatible``), including
            cells that already had one.
        reused: The part of ``done`` that already had a final record before this sweep.
        running: Cells started and not finished (with Ray: also waiting for resources).
        failed: Cells whose last attempt wrote an ``error`` record.
        remaining: Cells not started yet.
    """

    total: int
    done: int
    reused: int
    running: int
    failed: int
    remaining: int

    def describe(self) -> str:
        """Return e.g. '12 done (4 reused), 2 running, 1 failed, 30 remaining'."""
        reused = f" ({self.reused} reused)" if self.reused else ""
        return (
            f"{self.done} done{reused}, {self.running} running, {self.failed} failed, "
            f"{self.remaining} remaining"
        )


class SweepTracker:
    """Follows cell events and keeps the latest state of every cell.

    A cell that fails and then runs again (a retry) counts once, by its latest event. Events
    may come from several threads; the tracker serialises them.

    Args:
        cells: Every cell of the sweep.
        on_change: Called with the new counts after each event.
    """

    def __init__(
        self, cells: Iterable[SweepCell], on_change: Callable[[SweepCounts], None] | None = None
    ) -> None:
        self._states: dict[SweepCell, CellEvent | None] = {cell: None for cell in cells}
        self._on_change = on_change
        self._lock = threading.Lock()

    def handle(self, event: CellEvent) -> None:
        """Record one event and report the new counts."""
        with self._lock:
            if event.cell not in self._states:
                return
            self._states[event.cell] = event
            counts = self._count()
        if self._on_change is not None:
            self._on_change(counts)

    def settle(self, cells: Iterable[SweepCell]) -> None:
        """Count cells that started but never finished (their run stopped) as not started."""
        with self._lock:
            for cell in cells:
                event = self._states.get(cell)
                if event is not None and event.kind == "started":
                    self._states[cell] = None
            counts = self._count()
        if self._on_change is not None:
            self._on_change(counts)

    def counts(self) -> SweepCounts:
        """Return the current counts."""
        with self._lock:
            return self._count()

    def final_events(self) -> dict[SweepCell, CellEvent]:
        """Return the last ``finished`` event of every finished cell."""
        with self._lock:
            return {
                cell: event
                for cell, event in self._states.items()
                if event is not None and event.kind == "finished"
            }

    @property
    def failed(self) -> int:
        return self.counts().failed

    def _count(self) -> SweepCounts:
        done = reused = running = failed = remaining = 0
        for event in self._states.values():
            if event is None:
                remaining += 1
            elif event.kind == "started":
                running += 1
            elif event.status == RecordStatus.ERROR.value:
                failed += 1
            else:
                done += 1
                reused += int(event.reused)
        return SweepCounts(len(self._states), done, reused, running, failed, remaining)
