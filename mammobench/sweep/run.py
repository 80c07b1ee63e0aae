"""Run a sweep: expand it, save its configuration, and hand the work items to an executor.

Resuming is the runner's ``--overwrite only-missing``. Each cell's file is its commit point, so a
sweep killed at any moment, even with SIGKILL, leaves every cell either complete or absent. A
second run then computes exactly the absent cells and those whose last attempt failed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mammobench import paths
from mammobench.plugin_host import PluginHost, get_host
from mammobench.plural import counted
from mammobench.progress import ProgressReporter
from mammobench.protocols.base import RunSettings
from mammobench.results.atomic import write_atomic
from mammobench.results.records import RecordStatus
from mammobench.results.store import OverwritePolicy
from mammobench.sweep.config import SweepConfig
from mammobench.sweep.local import LocalExecutor
from mammobench.sweep.plan import SweepCell, SweepGroup, all_cells, expand, plan_items, select_shard
from mammobench.sweep.ray_executor import RayExecutor
from mammobench.sweep.synthetic import ensure_synthetic
from mammobench.sweep.tracker import SweepCounts, SweepTracker
from mammobench.sweep.worker import CellEvent, ItemOutcome, RunTemplate

logger = logging.getLogger(__name__)

# Folder inside the results folder that contains the resolved configuration of each sweep.
SWEEPS_DIR = "sweeps"

# Environment variables passed on to workers besides MAMMOBENCH_HOME: every MAMMOBENCH_* one.
_ENVIRONMENT_PREFIX = "MAMMOBENCH_"


@dataclass
class SweepResult:
    """Outcome of a sweep.

    Attributes:
        config: The resolved configuration.
        config_sha256: Hash of its experiment part.
        config_file: Where the resolved configuration was saved.
        results_dir: The results folder.
        groups: The groups run (after sharding).
        finished: Last ``finished`` event of each cell that ended.
        outcomes: One outcome per work item that ran.
        counts: Final counts.
        stopped_early: True when ``--fail-fast`` stopped the sweep.
        elapsed_s: Wall time.
    """

    config: SweepConfig
    config_sha256: str
    config_file: Path
    results_dir: Path
    groups: list[SweepGroup]
    finished: dict[SweepCell, CellEvent] = field(default_factory=dict)
    outcomes: list[ItemOutcome] = field(default_factory=list)
    counts: SweepCounts | None = None
    stopped_early: bool = False
    elapsed_s: float = 0.0

    @property
    def cells(self) -> list[SweepCell]:
        return all_cells(self.groups)

    @property
    def failed(self) -> list[CellEvent]:
        """Cells whose last attempt failed, in plan order."""
        return [
            self.finished[cell]
            for cell in self.cells
            if cell in self.finished and self.finished[cell].status == RecordStatus.ERROR.value
        ]

    @property
    def not_run(self) -> list[SweepCell]:
        """Cells that did not end (stopped early, or their run stopped on an error)."""
        return [cell for cell in self.cells if cell not in self.finished]

    @property
    def errors(self) -> list[str]:
        """Errors of work items that are not cell errors (prepare steps, crashed workers)."""
        return [outcome.error for outcome in self.outcomes if outcome.error]

    @property
    def success(self) -> bool:
        """True when every cell ended with a final record."""
        return not self.failed and not self.not_run


def run_sweep(
    config: SweepConfig,
    *,
    overwrite: OverwritePolicy | str = OverwritePolicy.ONLY_MISSING,
    fail_fast: bool = False,
    shard: tuple[int, int] | None = None,
    on_progress: Callable[[SweepCounts], None] | None = None,
    command_line: Sequence[str] | None = None,
    host: PluginHost | None = None,
    reporter: ProgressReporter | None = None,
) -> SweepResult:
    """Run every cell of a sweep (or of one shard of it).

    Args:
        config: The resolved sweep configuration.
        overwrite: ``only-missing`` (resume), ``always`` or ``never``.
        fail_fast: Stop starting cells after the first failed cell.
        shard: ``(i, n)`` to run only shard i of n (1-based), see :func:`select_shard`.
        on_progress: Called with the counts after each cell event.
        command_line: Stored in every run header; ``sys.argv`` when None.
        host: Plugin host to check names with; the process-wide host when None. Workers of the
            process pool and Ray load their own host from the installed plugins.
        reporter: Progress reporter for the steps of runs executed in this process.

    Returns:
        The result; :attr:`SweepResult.success` is True when every cell has a final record.

    Raises:
        ConfigError: The configuration names unknown encoders, tasks or protocols, or the
            executor cannot start.
    """
    started = time.perf_counter()
    host = host or get_host()
    overwrite = OverwritePolicy(overwrite)
    groups = expand(config, host)
    total = len(all_cells(groups))
    if shard is not None:
        groups = select_shard(groups, *shard)
        logger.info("shard %d/%d: %d of %d cells", shard[0], shard[1], len(all_cells(groups)), total)

    results_dir = config.resolve(config.results) or paths.results_dir()
    sha256 = config.sha256()
    config_file = save_resolved_config(config, results_dir)
    synthetic_roots = {
        dataset: ensure_synthetic(dataset, settings, host) for dataset, settings in sorted(config.synthetic.items())
    }
    template = _template(config, sha256, results_dir, overwrite, command_line, synthetic_roots)

    executor = _executor(config, reporter)
    items = plan_items(groups, parallel=executor.parallel)
    tracker = SweepTracker(all_cells(groups), on_progress)
    logger.info(
        "sweep '%s' (config %s): %s in %s, results in '%s'",
        config.name,
        sha256[:12],
        counted(len(all_cells(groups)), "cell"),
        counted(len(items), "work item"),
        results_dir,
    )
    outcomes = executor.run(items, template, tracker, fail_fast=fail_fast)

    result = SweepResult(
        config=config,
        config_sha256=sha256,
        config_file=config_file,
        results_dir=results_dir,
        groups=list(groups),
        finished=tracker.final_events(),
        outcomes=outcomes,
        counts=tracker.counts(),
        elapsed_s=time.perf_counter() - started,
    )
    result.stopped_early = fail_fast and bool(result.failed) and bool(result.not_run)
    return result


def save_resolved_config(config: SweepConfig, results_dir: Path) -> Path:
    """Write the resolved configuration and its hash to ``<results>/sweeps/<name>-<hash>.json``.

    The file contains no time or host, so the same configuration always gives the same bytes.
    """
    sha256 = config.sha256()
    payload: dict[str, Any] = {
        "name": config.name,
        "config_sha256": sha256,
        "experiment": config.experiment(),
        "executor": config.executor.model_dump(mode="json"),
    }
    path = Path(results_dir) / SWEEPS_DIR / f"{_file_name(config.name)}-{sha256[:12]}.json"
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"))
    return path


def run_settings(config: SweepConfig) -> RunSettings:
    """Return the runner settings of the sweep's ``[settings]`` table."""
    settings = config.settings
    return RunSettings(
        profile=settings.profile,
        batch_size=settings.batch_size,
        num_workers=settings.workers,
        device=settings.device,
        precision=settings.precision,
        n_bootstrap=settings.bootstrap,
        epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        freeze_backbone=settings.freeze_backbone,
    )


def _template(
    config: SweepConfig,
    sha256: str,
    results_dir: Path,
    overwrite: OverwritePolicy,
    command_line: Sequence[str] | None,
    synthetic_roots: dict[str, Path],
) -> RunTemplate:
    environment = {name: value for name, value in os.environ.items() if name.startswith(_ENVIRONMENT_PREFIX)}
    environment["MAMMOBENCH_HOME"] = str(paths.home().absolute())
    return RunTemplate(
        results=Path(results_dir).absolute(),
        overwrite=overwrite,
        settings=run_settings(config),
        data_roots={**{name: config.resolve(root) for name, root in config.data_roots.items()}, **synthetic_roots},
        weights={name: config.resolve(path) for name, path in config.weights.items()},
        trust_pickle=config.trust_pickle,
        sweep={"name": config.name, "config_sha256": sha256},
        command_line=tuple(command_line if command_line is not None else sys.argv),
        environment=environment,
    )


def _executor(config: SweepConfig, reporter: ProgressReporter | None) -> LocalExecutor | RayExecutor:
    settings = config.executor
    if settings.kind == "ray":
        return RayExecutor(
            settings.address,
            max_retries=settings.max_retries,
            probe_gpus=settings.probe_gpus,
            cpus_per_task=settings.cpus_per_task,
        )
    return LocalExecutor(settings.jobs, reporter)


def _file_name(name: str) -> str:
    return "".join(character if character.isalnum() or character in "-_." else "-" for character in name)
