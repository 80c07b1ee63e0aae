"""Execute one work item: the code that runs in this process, a pool worker or a Ray worker.

Everything an item needs travels with it (:class:`RunTemplate` and the item itself are plain,
picklable values), so the same function serves every executor. Cells report progress through
``emit`` as :class:`CellEvent` values, and ``stop`` is polled between cells for ``--fail-fast``.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from mammobench.errors import MammobenchError
from mammobench.progress import ProgressReporter
from mammobench.protocols.base import RunSettings
from mammobench.results.records import RecordStatus
from mammobench.results.store import OverwritePolicy
from mammobench.runner import CellSummary, RunHooks, RunRequest, run_benchmark
from mammobench.sweep.plan import SweepCell, WorkItem, WorkRun

logger = logging.getLogger(__name__)

EventKind = Literal["started", "finished"]


@dataclass(frozen=True)
class RunTemplate:
    """Settings shared by every run of a sweep, from which each run's request is made.

    Attributes:
        results: Results folder (absolute).
        overwrite: Which cells to run when results exist.
        settings: Run settings shared by every run (copied per run).
        data_roots: Dataset name to data root (absolute); other datasets use their
            environment variable or the synthetic default.
        weights: Encoder name to weights file or folder (absolute).
        trust_pickle: Allow pickled checkpoints.
        sweep: Name and config hash of the sweep, stored in every run header.
        command_line: The sweep's command line, stored in every run header.
        environment: Variables set in the worker before it runs (Ray workers on other
            machines get ``MAMMOBENCH_HOME`` and the data root variables this way).
    """

    results: Path
    overwrite: OverwritePolicy
    settings: RunSettings
    data_roots: dict[str, Path] = field(default_factory=dict)
    weights: dict[str, Path] = field(default_factory=dict)
    trust_pickle: bool = False
    sweep: dict[str, Any] = field(default_factory=dict)
    command_line: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)

    def request(self, run: WorkRun, dataset_root: Path | None) -> RunRequest:
        """Build the runner request of one work run."""
        group = run.group
        return RunRequest(
            model=group.encoder,
            task=group.task,
            protocol=group.protocol,
            fractions=tuple(sorted({cell.fraction for cell in run.cells})),
            seeds=tuple(sorted({cell.seed for cell in run.cells})),
            data_root=dataset_root,
            results=self.results,
            weights=self.weights.get(group.encoder),
            trust_pickle=self.trust_pickle,
            overwrite=self.overwrite,
            settings=replace(self.settings),
            cells=tuple((cell.fraction, cell.seed) for cell in run.cells),
            sweep=dict(self.sweep),
        )


@dataclass(frozen=True)
class CellEvent:
    """A cell started or finished.

    Attributes:
        kind: ``started`` or ``finished``.
        cell: The cell.
        status: Final status when finished: ``ok``, ``error``, ``invalid``, ``incompatible``.
        message: Error text or reason, when there is one.
        reused: True when the cell was skipped because it already had a final record.
    """

    kind: EventKind
    cell: SweepCell
    status: str | None = None
    message: str | None = None
    reused: bool = False


@dataclass
class ItemOutcome:
    """Outcome of one work item.

    Attributes:
        item_id: The item's id.
        finished: One ``finished`` event per cell that ended (ok, failed or reused).
        error: Why a prepare item failed, or an unexpected error that stopped a run before its
            cells ended (those cells have no record and run again on resume).
        elapsed_s: Wall time of the item.
    """

    item_id: int
    finished: list[CellEvent] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def failed_cells(self) -> list[CellEvent]:
        return [event for event in self.finished if event.status == RecordStatus.ERROR.value]


def execute_item(
    item: WorkItem,
    template: RunTemplate,
    *,
    emit: Callable[[CellEvent], None] | None = None,
    stop: Callable[[], bool] | None = None,
    reporter: ProgressReporter | None = None,
) -> ItemOutcome:
    """Run one work item and return what happened; cell failures become error records.

    Args:
        item: The item.
        template: Settings shared by every run of the sweep.
        emit: Receives a :class:`CellEvent` when a cell starts and when it ends.
        stop: Polled before each cell; True leaves the remaining cells unrun.
        reporter: Progress reporter for the runs' steps; logging only when None.

    Returns:
        The outcome. Exceptions are caught and reported in ``error``, except
        ``KeyboardInterrupt`` and ``SystemExit``.
    """
    started = time.perf_counter()
    for name, value in template.environment.items():
        os.environ[name] = value
    outcome = ItemOutcome(item_id=item.id)

    def report(event: CellEvent) -> None:
        if event.kind == "finished":
            outcome.finished.append(event)
        if emit is not None:
            emit(event)

    if item.kind == "prepare":
        outcome.error = _prepare(item, template)
    else:
        for run in item.runs:
            if stop is not None and stop():
                break
            error = _execute_run(run, template, report, stop, reporter)
            if error is not None:
                outcome.error = error
    outcome.elapsed_s = time.perf_counter() - started
    return outcome


def _execute_run(
    run: WorkRun,
    template: RunTemplate,
    report: Callable[[CellEvent], None],
    stop: Callable[[], bool] | None,
    reporter: ProgressReporter | None,
) -> str | None:
    cells = {(cell.fraction, cell.seed): cell for cell in run.cells}

    def started(fraction: float, seed: int) -> None:
        report(CellEvent("started", cells[(fraction, seed)]))

    def finished(summary: CellSummary) -> None:
        cell = cells[(summary.fraction, summary.seed)]
        report(CellEvent("finished", cell, summary.status, summary.message, summary.reused))

    hooks = RunHooks(cell_started=started, cell_finished=finished, stop_requested=stop)
    request = template.request(run, template.data_roots.get(run.group.dataset))
    try:
        run_benchmark(
            request,
            hooks=hooks,
            errors_as_records=True,
            reporter=reporter,
            command_line=list(template.command_line) or None,
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # the remaining cells stay without a record and run on resume
        # mammobench's own errors are written for users, so only other exceptions keep their type.
        message = str(error) if isinstance(error, MammobenchError) else f"{type(error).__name__}: {error}"
        logger.error("%s / %s / %s stopped: %s", run.group.encoder, run.group.task, run.group.protocol, message)
        logger.debug("".join(traceback.format_exception(error)))
        return message
    return None


def _prepare(item: WorkItem, template: RunTemplate) -> str | None:
    """Load (or generate) a dataset, or build (or train) an encoder, once before its users."""
    try:
        if item.prepare_dataset is not None:
            from mammobench.data.roots import load_dataset

            manifest = load_dataset(item.prepare_dataset, template.data_roots.get(item.prepare_dataset))
            logger.info("dataset '%s': %d images ready", item.prepare_dataset, len(manifest.images))
        if item.prepare_encoder is not None:
            from mammobench.encoders.registry import build_encoder

            encoder = build_encoder(
                item.prepare_encoder,
                weights=template.weights.get(item.prepare_encoder),
                trust_pickle=template.trust_pickle,
                device=template.settings.device,
            )
            logger.info("encoder '%s' ready (revision %s)", item.prepare_encoder, encoder.info.revision)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # the runs that need it fail again and write error records
        message = f"{type(error).__name__}: {error}"
        logger.error("%s failed: %s", item.label(), message)
        return message
    return None
