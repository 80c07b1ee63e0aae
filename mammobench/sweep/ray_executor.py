"""The Ray executor: every work item becomes a Ray task on a local or remote Ray cluster.

Resources follow the item's kind when the cluster has GPUs. An embedding pass, a training cell
and an encoder that may be trained on first use get one GPU each. Light items (linear-probe or
zero-shot cells reading cached embeddings) get a share of one (``probe_gpus``), and preparing a
dataset needs no GPU. Without GPUs every task asks for CPUs only.

Workers read and write the same caches and results as the driver, so ``MAMMOBENCH_HOME``, the
results folder and the data roots must be on a file system every node mounts at the same path.
The driver passes ``MAMMOBENCH_HOME`` and every other ``MAMMOBENCH_*`` variable to the workers.

Retries: Ray reruns a task whose worker process died (``max_retries``). Besides, an item whose
cells failed, or which stopped on an unexpected error, is submitted again up to ``max_retries``
times with ``--overwrite only-missing``, so only its unfinished cells run again. ``--fail-fast``
retries nothing: it cancels the remaining tasks at the first failed cell.

Progress is known per task: a task's cells count as running from when its dependencies have
finished (it may still wait for resources) until it returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from mammobench.errors import ConfigError
from mammobench.results.store import OverwritePolicy
from mammobench.sweep.plan import WorkItem
from mammobench.sweep.tracker import SweepTracker
from mammobench.sweep.worker import CellEvent, ItemOutcome, RunTemplate, execute_item

logger = logging.getLogger(__name__)

# Seconds between progress checks while tasks run.
_POLL_S = 1.0


class RayExecutor:
    """Runs work items as Ray tasks.

    Args:
        address: Cluster address for ``ray.init`` (e.g. ``'auto'``, ``'ray://head:10001'``);
            None starts a local instance. An already initialised Ray is used as it is.
        max_retries: Retries of a task whose worker died, and of an item whose cells failed.
        probe_gpus: Share of a GPU for light items when the cluster has GPUs.
        cpus_per_task: CPUs reserved for each task.
    """

    parallel = True

    def __init__(
        self,
        address: str | None = None,
        *,
        max_retries: int = 2,
        probe_gpus: float = 0.25,
        cpus_per_task: float = 1.0,
    ) -> None:
        self.address = address
        self.max_retries = max_retries
        self.probe_gpus = probe_gpus
        self.cpus_per_task = cpus_per_task

    def run(
        self, items: list[WorkItem], template: RunTemplate, tracker: SweepTracker, *, fail_fast: bool
    ) -> list[ItemOutcome]:
        """Submit every item, follow them to the end and return their outcomes.

        Raises:
            ConfigError: Ray is not installed, or the cluster cannot be reached.
        """
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            self._connect(ray, template)
        try:
            return self._run(ray, items, template, tracker, fail_fast)
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any, template: RunTemplate) -> None:
        try:
            ray.init(
                address=self.address,
                runtime_env={"env_vars": dict(template.environment)},
                include_dashboard=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"the Ray cluster at '{self.address}'" if self.address else "a local Ray instance"
            raise ConfigError(f"cannot start or reach {where}: {error}") from error

    def _run(
        self, ray: Any, items: list[WorkItem], template: RunTemplate, tracker: SweepTracker, fail_fast: bool
    ) -> list[ItemOutcome]:
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        remote = ray.remote(_execute_remote)
        logger.info("submitting %d Ray tasks (%g GPUs in the cluster)", len(items), gpus)

        def submit(item: WorkItem, item_template: RunTemplate, dependencies: list[Any]) -> Any:
            options = {
                "num_cpus": self.cpus_per_task,
                "num_gpus": self._gpus(item, gpus),
                "max_retries": self.max_retries,
                "name": item.label()[:100],
            }
            return remote.options(**options).remote(item, item_template, *dependencies)

        references: dict[int, Any] = {}
        waiting: dict[Any, WorkItem] = {}
        for item in items:
            reference = submit(item, template, [references[i] for i in item.depends_on])
            references[item.id] = reference
            waiting[reference] = item

        outcomes: list[ItemOutcome] = []
        finished_ids: set[int] = set()
        announced: set[int] = set()
        attempts = {item.id: 0 for item in items}
        retry_template = replace(template, overwrite=OverwritePolicy.ONLY_MISSING)
        while waiting:
            _announce_ready(waiting.values(), finished_ids, announced, tracker)
            ready, _ = ray.wait(list(waiting), num_returns=1, timeout=_POLL_S)
            for reference in ready:
                item = waiting.pop(reference)
                outcome = _collect(ray, reference, item)
                for event in outcome.finished:
                    tracker.handle(event)
                failed = bool(outcome.failed_cells) or (outcome.error is not None and item.kind != "prepare")
                if failed and not fail_fast and attempts[item.id] < self.max_retries:
                    attempts[item.id] += 1
                    logger.warning(
                        "%s failed (%s); retrying (%d of %d)",
                        item.label(),
                        outcome.error or f"{len(outcome.failed_cells)} failed cell(s)",
                        attempts[item.id],
                        self.max_retries,
                    )
                    retry = submit(item, retry_template, [])
                    waiting[retry] = item
                    announced.discard(item.id)
                    continue
                finished_ids.add(item.id)
                tracker.settle(item.cells)
                outcomes.append(outcome)
            if fail_fast and tracker.failed > 0 and waiting:
                logger.warning("a cell failed; cancelling %d remaining Ray task(s) (--fail-fast)", len(waiting))
                for reference, item in waiting.items():
                    ray.cancel(reference)
                    tracker.settle(item.cells)
                break
        return outcomes

    def _gpus(self, item: WorkItem, available: float) -> float:
        if available <= 0:
            return 0.0
        if item.kind == "prepare":
            return 1.0 if item.prepare_encoder is not None else 0.0
        if item.kind == "light":
            return self.probe_gpus
        return 1.0


def _execute_remote(item: WorkItem, template: RunTemplate, *dependencies: Any) -> ItemOutcome:
    """Body of a Ray task; ``dependencies`` are the outcomes Ray waited for, unused."""
    return execute_item(item, template)


def _announce_ready(
    items: Any, finished_ids: set[int], announced: set[int], tracker: SweepTracker
) -> None:
    """Mark the cells of items whose dependencies are done as running."""
    for item in items:
        if item.id in announced or not set(item.depends_on) <= finished_ids:
            continue
        announced.add(item.id)
        for cell in item.cells:
            tracker.handle(CellEvent("started", cell))


def _collect(ray: Any, reference: Any, item: WorkItem) -> ItemOutcome:
    started = time.perf_counter()
    try:
        return ray.get(reference)
    except Exception as error:  # RayTaskError, WorkerCrashedError, TaskCancelledError, ...
        message = f"Ray task for {item.label()} failed: {type(error).__name__}: {error}"
        logger.error(message)
        return ItemOutcome(item_id=item.id, error=message, elapsed_s=time.perf_counter() - started)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "the ray executor needs Ray; install it with: pip install 'mammobench[ray]'"
        ) from None
    return ray
