"""The local executor: work items in this process, or in a small pool of worker processes.

With one job, items run one after the other in this process, and every cell reports to the
tracker the moment it starts and ends. With several jobs, items run in a process pool (spawned,
so each worker starts with a clean torch and CUDA state). An item is submitted once the items it
depends on have finished, and cell events come back through a queue.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from mammobench.progress import ProgressReporter
from mammobench.sweep.plan import WorkItem
from mammobench.sweep.tracker import SweepTracker
from mammobench.sweep.worker import ItemOutcome, RunTemplate, execute_item

logger = logging.getLogger(__name__)

# Seconds between checks of the event queue while waiting for pool jobs.
_POLL_S = 0.2


class LocalExecutor:
    """Runs work items here (``jobs=1``) or in ``jobs`` worker processes.

    Args:
        jobs: Worker processes; 1 runs every item in this process.
        reporter: Progress reporter for the steps of runs executed in this process.
    """

    def __init__(self, jobs: int = 1, reporter: ProgressReporter | None = None) -> None:
        self.jobs = max(1, int(jobs))
        self.reporter = reporter

    @property
    def parallel(self) -> bool:
        """True when items may run at the same time (and so need prepare items)."""
        return self.jobs > 1

    def run(
        self, items: list[WorkItem], template: RunTemplate, tracker: SweepTracker, *, fail_fast: bool
    ) -> list[ItemOutcome]:
        """Run every item and return their outcomes, in completion order.

        With ``fail_fast``, no item or cell starts after the first failed cell; cells already
        running finish.
        """
        if self.jobs == 1:
            return self._run_here(items, template, tracker, fail_fast)
        return self._run_pool(items, template, tracker, fail_fast)

    def _run_here(
        self, items: list[WorkItem], template: RunTemplate, tracker: SweepTracker, fail_fast: bool
    ) -> list[ItemOutcome]:
        def stop() -> bool:
            return fail_fast and tracker.failed > 0

        outcomes = []
        for item in items:
            if stop():
                break
            outcomes.append(execute_item(item, template, emit=tracker.handle, stop=stop, reporter=self.reporter))
            tracker.settle(item.cells)
        return outcomes

    def _run_pool(
        self, items: list[WorkItem], template: RunTemplate, tracker: SweepTracker, fail_fast: bool
    ) -> list[ItemOutcome]:
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        outcomes: list[ItemOutcome] = []
        with context.Manager() as manager:
            events = manager.Queue()
            stop_flag = manager.Event()
            with ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=context, initializer=_limit_threads, initargs=(threads,)
            ) as pool:
                waiting = list(items)
                finished_ids: set[int] = set()
                running: dict[Future, WorkItem] = {}
                while waiting or running:
                    stopping = fail_fast and tracker.failed > 0
                    if stopping:
                        stop_flag.set()
                        waiting = []
                    for item in [item for item in waiting if set(item.depends_on) <= finished_ids]:
                        waiting.remove(item)
                        try:
                            future = pool.submit(_execute_in_pool, item, template, events, stop_flag)
                        except BrokenProcessPool as error:
                            outcomes.append(_broken(item, error))
                            finished_ids.add(item.id)
                            continue
                        running[future] = item
                    if not running:
                        break

                    done, _ = wait(list(running), timeout=_POLL_S, return_when=FIRST_COMPLETED)
                    _drain(events, tracker)
                    for future in done:
                        item = running.pop(future)
                        finished_ids.add(item.id)
                        outcomes.append(_outcome(future, item))
                        tracker.settle(item.cells)
            _drain(events, tracker)
        return outcomes


def _execute_in_pool(item: WorkItem, template: RunTemplate, events: Any, stop_flag: Any) -> ItemOutcome:
    return execute_item(item, template, emit=events.put, stop=stop_flag.is_set)


def _limit_threads(threads: int) -> None:
    """Give each pool worker its share of the CPU cores for torch's intra-op threads."""
    import torch

    torch.set_num_threads(threads)


def _drain(events: Any, tracker: SweepTracker) -> None:
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        tracker.handle(event)


def _outcome(future: Future, item: WorkItem) -> ItemOutcome:
    try:
        return future.result()
    except BrokenProcessPool as error:
        return _broken(item, error)
    except Exception as error:  # execute_item catches errors; this is a pickling or pool failure
        message = f"{type(error).__name__}: {error}"
    logger.error("%s failed: %s", item.label(), message)
    return ItemOutcome(item_id=item.id, error=message)


def _broken(item: WorkItem, error: BaseException) -> ItemOutcome:
    message = f"a worker process died, so {item.label()} did not run to the end: {error}"
    logger.error(message)
    return ItemOutcome(item_id=item.id, error=message)
