"""Run every cell of one (encoder, task, protocol) over label fractions and seeds.

This is the engine behind ``mammobench run``; sweeps call it once per (encoder, task,
protocol). Steps:

1. Resolve the task, the protocol and the encoder spec; an encoder that lacks a capability the
   task or protocol needs gets ``incompatible`` records instead of a crash.
2. Load the dataset (the default synthetic one when no data root is configured) and let the task
   select its images and make patient-level train, validation and test splits.
3. Build the encoder and skip cells that already have a final record (``--overwrite``).
4. Run the protocol's shared work once, then each cell: sample the label fraction for the seed,
   train, select on validation, predict the test split, and score it with patient-bootstrap
   intervals. A failing cell records its error and the other cells still run.
5. Write one cell file (records plus per-image predictions) atomically per cell.

Sweeps pass :class:`RunHooks` to follow each cell and to stop early, an explicit cell list to
run a share of the (fraction, seed) grid, and ``errors_as_records=True`` so that a failure
before the cells run becomes error records instead of an exception.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mammobench import paths
from mammobench.data.fractions import LabelSubset, sample_label_fraction
from mammobench.data.manifest import Manifest
from mammobench.data.profiles import get_profile
from mammobench.data.roots import load_dataset
from mammobench.encoders.base import EncoderInfo
from mammobench.encoders.registry import build_encoder, check_compatible, resolve_device
from mammobench.errors import ConfigError, MammobenchError
from mammobench.plugin_host import PluginHost, get_host
from mammobench.progress import LoggingReporter, ProgressReporter
from mammobench.protocols import get_protocol
from mammobench.protocols.base import CellResult, Protocol, ProtocolContext, RunSettings
from mammobench.results.provenance import collect_run_header, finish_run_header
from mammobench.results.records import (
    CellKey,
    RecordStatus,
    ResultRecord,
    RunHeader,
    canonical_json,
    to_jsonable,
)
from mammobench.results.store import OverwritePolicy, ResultStore, StoredCell
from mammobench.specs import EncoderSpec, TaskSpec
from mammobench.synth.runner import MARKER_FILE
from mammobench.tasks.base import ClassificationTask, Task, build_task
from mammobench.tasks.evaluation import ScoredMetric, evaluate_classification

logger = logging.getLogger(__name__)

# Encoder revision recorded for cells whose encoder was never built (incompatible cells, or
# cells of a run that failed before the encoder was built).
UNBUILT_REVISION = "not-built"

# Data source recorded for error cells of a run whose dataset failed to load.
UNLOADED_SOURCE = "not-loaded"

# Maximum seed that NumPy and scikit-learn accept as a random state.
MAX_SEED = 2**32 - 1


@dataclass
class RunRequest:
    """A run: one encoder on one task with one protocol, over fractions and seeds."""

    model: str
    task: str
    protocol: str | None = None
    fractions: tuple[float, ...] = (1.0,)
    seeds: tuple[int, ...] = (0,)
    data_root: Path | None = None
    results: Path | None = None
    weights: Path | None = None
    trust_pickle: bool = False
    overwrite: OverwritePolicy = OverwritePolicy.ONLY_MISSING
    settings: RunSettings = field(default_factory=RunSettings)
    # (fraction, seed) pairs to run instead of every fraction x seed; a sweep shard may hold
    # only part of the grid.
    cells: tuple[tuple[float, int], ...] | None = None
    # Name and config hash of the sweep that issued this run, kept in the run header.
    sweep: dict[str, Any] | None = None

    def config(self) -> dict[str, Any]:
        """Return the resolved configuration, JSON-compatible, as stored in the run header."""
        values = asdict(self)
        values["settings"] = asdict(self.settings)
        return values


@dataclass
class CellSummary:
    """Outcome of one cell, for the table the CLI prints."""

    fraction: float
    seed: int
    status: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n_train_patients: int | None = None
    message: str | None = None
    reused: bool = False


@dataclass
class RunSummary:
    """Everything a caller needs to report a run."""

    task: TaskSpec
    protocol: str
    encoder: str
    encoder_revision: str
    main_metric: str
    results_dir: Path
    run_id: str
    dataset: str
    data_source: str
    synthetic: bool
    cells: list[CellSummary] = field(default_factory=list)
    records: list[ResultRecord] = field(default_factory=list)
    elapsed_s: float = 0.0

    pretraining_datasets: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for cell in self.cells if cell.status == RecordStatus.ERROR.value)


@dataclass
class RunHooks:
    """Callbacks through which a caller, such as a sweep, follows a run and stops it early.

    Attributes:
        cell_started: Called with (fraction, seed) right before a cell runs.
        cell_finished: Called with the summary of every cell when it ends, including cells
            skipped because they already have a final record (``reused``) and the error cells
            of a failed setup.
        stop_requested: Polled before each cell. Once it returns True, the remaining cells
            stay unrun and without a record, so a later run picks them up.
    """

    cell_started: Callable[[float, int], None] | None = None
    cell_finished: Callable[[CellSummary], None] | None = None
    stop_requested: Callable[[], bool] | None = None

    def started(self, fraction: float, seed: int) -> None:
        if self.cell_started is not None:
            self.cell_started(fraction, seed)

    def finished(self, cell: CellSummary) -> None:
        if self.cell_finished is not None:
            self.cell_finished(cell)

    def should_stop(self) -> bool:
        return self.stop_requested is not None and self.stop_requested()


def run_benchmark(
    request: RunRequest,
    *,
    reporter: ProgressReporter | None = None,
    host: PluginHost | None = None,
    command_line: Sequence[str] | None = None,
    hooks: RunHooks | None = None,
    errors_as_records: bool = False,
) -> RunSummary:
    """Run every cell of ``request`` and write its records; see the module docstring.

    Args:
        request: The encoder, task, protocol, cells and settings to run.
        reporter: Progress reporter for long steps; logging only when None.
        host: Plugin host that resolves names; the process-wide host when None.
        command_line: Command line stored in the run header; ``sys.argv`` when None.
        hooks: Callbacks for each cell and an early stop; see :class:`RunHooks`.
        errors_as_records: When True, a failure after the run header is written and before
            the cells run (loading the dataset, building the encoder, the protocol's shared
            setup) writes an ``error`` record for every cell to run and returns, instead of
            raising. Invalid names and options still raise.

    Returns:
        The summary of every cell, with the records written.
    """
    started = time.perf_counter()
    reporter = reporter or LoggingReporter()
    host = host or get_host()
    hooks = hooks or RunHooks()
    task_spec = host.task(request.task)
    protocol_name = request.protocol or task_spec.default_protocol
    if protocol_name not in task_spec.protocols:
        raise ConfigError(
            f"task '{task_spec.name}' does not support protocol '{protocol_name}'; choose one of: "
            f"{', '.join(task_spec.protocols)}"
        )
    protocol = get_protocol(protocol_name)
    encoder_spec, _ = host.encoder(request.model)
    cells = _cell_grid(request, protocol)
    settings = request.settings
    _check_settings(settings)
    settings.device = resolve_device(settings.device)

    results_dir = Path(request.results) if request.results else paths.results_dir()
    store = ResultStore(results_dir)
    header = collect_run_header(request.config(), seeds=request.seeds, device=settings.device, command_line=command_line)
    store.write_run_header(header)

    summary = RunSummary(
        task=task_spec,
        protocol=protocol_name,
        encoder=request.model,
        encoder_revision=UNBUILT_REVISION,
        main_metric=task_spec.main_metric,
        results_dir=results_dir,
        run_id=header.run_id,
        dataset=task_spec.dataset,
        data_source=UNLOADED_SOURCE,
        synthetic=False,
        pretraining_datasets=list(encoder_spec.pretraining_datasets),
    )
    needed = set(task_spec.capabilities) | set(protocol.capabilities)
    try:
        incompatible, context = _prepare(request, summary, task_spec, encoder_spec, needed, reporter)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        if not errors_as_records:
            raise
        _fail_cells(store, header, summary, cells, error, hooks)
        _finish(store, header, summary, started)
        return summary

    if incompatible is not None:
        for fraction, seed in cells:
            records = _status_records(
                summary, task_spec, protocol_name, fraction, seed, RecordStatus.INCOMPATIBLE, reason=incompatible
            )
            store.write_cell(records, None, header, details=_cell_details(summary))
            summary.records.extend(records)
            cell = CellSummary(fraction, seed, RecordStatus.INCOMPATIBLE.value, message=incompatible)
            summary.cells.append(cell)
            hooks.finished(cell)
        _finish(store, header, summary, started)
        return summary
    assert context is not None

    pending = []
    for fraction, seed in cells:
        key = _cell_key(summary, task_spec, protocol_name, fraction, seed)
        if store.should_run(key.cell_id, request.overwrite):
            pending.append((fraction, seed))
        else:
            stored = store.read_cell(key.cell_id)
            assert stored is not None  # should_run is False only for a cell with a file
            _check_same_data(store, key, stored, summary)
            _check_same_settings(store, key, stored, request.settings)
            reused = _reused_summary(key, stored, task_spec.main_metric)
            summary.cells.append(reused)
            hooks.finished(reused)
            logger.info("cell fraction=%g seed=%d already has results; skipping", fraction, seed)

    if pending and not hooks.should_stop():
        try:
            protocol.setup(context)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:
            if not errors_as_records:
                raise
            _fail_cells(store, header, summary, pending, error, hooks)
            pending = []
        with reporter.step(f"Running {len(pending)} cell(s)", len(pending)) as handle:
            for index, (fraction, seed) in enumerate(pending):
                if hooks.should_stop():
                    logger.info("stop requested: %d cell(s) of this run were not started", len(pending) - index)
                    break
                hooks.started(fraction, seed)
                cell = _run_cell(context, protocol, summary, store, header, fraction, seed)
                summary.cells.append(cell)
                hooks.finished(cell)
                handle.advance()

    summary.cells.sort(key=lambda cell: (cell.fraction, cell.seed))
    _finish(store, header, summary, started)
    return summary


def _prepare(
    request: RunRequest,
    summary: RunSummary,
    task_spec: TaskSpec,
    encoder_spec: EncoderSpec,
    needed: set,
    reporter: ProgressReporter,
) -> tuple[str | None, ProtocolContext | None]:
    """Load the data and build the encoder.

    Returns:
        Why the encoder cannot serve the task (None when it can), and the protocol context
        (None when it cannot).
    """
    dataset_manifest = load_dataset(task_spec.dataset, request.data_root)
    task = build_task(task_spec)
    manifest = task.prepare(dataset_manifest)
    logger.info("task '%s': %s", task_spec.name, manifest.summary())
    summary.dataset = manifest.dataset
    if manifest.synthetic:
        summary.data_source = synthetic_source(manifest.root)
    else:
        summary.data_source = real_source(dataset_manifest)
    summary.synthetic = manifest.synthetic

    incompatible = check_compatible(encoder_spec, needed)
    if incompatible is not None:
        return incompatible, None
    settings = request.settings
    encoder = build_encoder(
        request.model, weights=request.weights, trust_pickle=request.trust_pickle, device=settings.device
    )
    summary.encoder_revision = encoder.info.revision
    if encoder.info.pretraining_datasets:
        summary.pretraining_datasets = pretraining_provenance(encoder.info, summary.synthetic)
    incompatible = check_compatible(encoder, needed)
    if incompatible is not None:
        return incompatible, None
    context = ProtocolContext(
        encoder=encoder,
        task=task,
        manifest=manifest,
        settings=settings,
        reporter=reporter,
        dataset_manifest=dataset_manifest,
    )
    return None, context


def _fail_cells(
    store: ResultStore,
    header: RunHeader,
    summary: RunSummary,
    cells: Sequence[tuple[float, int]],
    error: Exception,
    hooks: RunHooks,
) -> None:
    """Write an error record for each cell of a run whose shared work failed."""
    message = f"{type(error).__name__}: {error}"
    logger.error(
        "%s on %s (%s) failed before its cells ran: %s",
        summary.encoder,
        summary.task.name,
        summary.protocol,
        message,
    )
    logger.debug("".join(traceback.format_exception(error)))
    for fraction, seed in cells:
        records = _status_records(
            summary, summary.task, summary.protocol, fraction, seed, RecordStatus.ERROR, error=message
        )
        store.write_cell(records, None, header, details=_cell_details(summary))
        summary.records.extend(records)
        cell = CellSummary(fraction, seed, RecordStatus.ERROR.value, message=message)
        summary.cells.append(cell)
        hooks.finished(cell)


# -------------------------------------------------------------------------------------------------
# Cells
# -------------------------------------------------------------------------------------------------


def _run_cell(
    context: ProtocolContext,
    protocol: Protocol,
    summary: RunSummary,
    store: ResultStore,
    header: RunHeader,
    fraction: float,
    seed: int,
) -> CellSummary:
    task = context.task
    spec = task.spec
    assert spec is not None
    subset = _subset(context.manifest, task, fraction, seed, protocol)

    if not subset.valid:
        records = _status_records(
            summary, spec, protocol.name, fraction, seed, RecordStatus.INVALID, reason=subset.reason, subset=subset
        )
        store.write_cell(records, None, header, details=_cell_details(summary))
        summary.records.extend(records)
        logger.warning("cell fraction=%g seed=%d is invalid: %s", fraction, seed, subset.reason)
        return CellSummary(fraction, seed, RecordStatus.INVALID.value, message=subset.reason)

    try:
        result = protocol.run_cell(context, subset)
        scored = _score(task, result, context.settings, seed)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # one failing cell never stops the others
        message = f"{type(error).__name__}: {error}"
        logger.error("cell fraction=%g seed=%d failed: %s", fraction, seed, message)
        logger.debug("".join(traceback.format_exception(error)))
        records = _status_records(
            summary, spec, protocol.name, fraction, seed, RecordStatus.ERROR, error=message, subset=subset
        )
        store.write_cell(records, None, header, details=_cell_details(summary))
        summary.records.extend(records)
        return CellSummary(fraction, seed, RecordStatus.ERROR.value, message=message)

    records = _ok_records(summary, spec, protocol.name, fraction, seed, subset, result, scored)
    details = {
        **result.details,
        "failed_images": result.failed_images,
        "validation": result.validation,
        **_cell_details(summary),
    }
    store.write_cell(records, result.predictions, header, details=details)
    summary.records.extend(records)
    main = next((s for s in scored if s.name == spec.main_metric), scored[0])
    return CellSummary(
        fraction,
        seed,
        RecordStatus.OK.value,
        value=_finite_or_none(main.estimate.value.value),
        ci_low=_finite_or_none(main.estimate.ci.low),
        ci_high=_finite_or_none(main.estimate.ci.high),
        n_train_patients=subset.n_patients,
        message=main.estimate.value.reason,
    )


def _subset(manifest: Manifest, task: Task, fraction: float, seed: int, protocol: Protocol) -> LabelSubset:
    if not protocol.uses_labels:
        # Zero-shot uses no training labels: an empty, valid subset at fraction 0.
        return LabelSubset(
            fraction=0.0, seed=seed, image_ids=(), patient_ids=(), subset_hash="no-labels",
            valid=True, reason="", n_images=0, n_patients=0,
        )
    return sample_label_fraction(manifest, fraction, seed, task.stratify)


def _score(task: Task, result: CellResult, settings: RunSettings, seed: int) -> list[ScoredMetric]:
    if result.metrics is not None:
        return result.metrics
    if isinstance(task, ClassificationTask):
        return evaluate_classification(task, result.predictions, n_bootstrap=settings.n_bootstrap, seed=seed)
    raise MammobenchError(f"task '{task.name}': the protocol returned predictions but no metrics")


def _cell_grid(request: RunRequest, protocol: Protocol) -> list[tuple[float, int]]:
    if request.cells is not None:
        grid = list(dict.fromkeys((float(fraction), int(seed)) for fraction, seed in request.cells))
        if not grid:
            raise ConfigError("the run request lists no cells; give at least one (fraction, seed) pair")
    else:
        # A fraction or seed listed twice would run the same cell twice and count it twice.
        pairs = ((float(fraction), int(seed)) for fraction in request.fractions for seed in request.seeds)
        grid = list(dict.fromkeys(pairs))
    _check_fractions(request.fractions if request.cells is None else [fraction for fraction, _ in grid])
    _check_seeds([seed for _, seed in grid])
    if not protocol.uses_labels:
        return [(0.0, 0)]
    return grid


def _check_fractions(fractions: Sequence[float]) -> None:
    if not fractions:
        raise ConfigError("no label fractions given; pass --fractions such as 0.1,0.5,1.0")
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"label fraction {fraction} is invalid; use values in (0, 1]")


def _check_seeds(seeds: Sequence[int]) -> None:
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"seed {seed} is invalid; use integers from 0 to {MAX_SEED}")


def _check_settings(settings: RunSettings) -> None:
    """Check the settings before any work, so a typo fails even when every cell is reused."""
    get_profile(settings.profile)
    rate = settings.learning_rate
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"learning rate {rate} is invalid; use a positive number such as 1e-4")


# -------------------------------------------------------------------------------------------------
# Records
# -------------------------------------------------------------------------------------------------


def _cell_key(summary: RunSummary, spec: TaskSpec, protocol: str, fraction: float, seed: int) -> CellKey:
    return CellKey(
        encoder=summary.encoder,
        encoder_revision=summary.encoder_revision,
        task=spec.name,
        task_version=spec.version,
        protocol=protocol,
        fraction=fraction,
        seed=seed,
    )


def _common(summary: RunSummary, spec: TaskSpec, protocol: str, fraction: float, seed: int) -> dict[str, Any]:
    return {
        **_cell_key(summary, spec, protocol, fraction, seed).model_dump(),
        "run_id": summary.run_id,
        "synthetic": summary.synthetic,
        "dataset": summary.dataset,
        "data_source": summary.data_source,
    }


def _status_records(
    summary: RunSummary,
    spec: TaskSpec,
    protocol: str,
    fraction: float,
    seed: int,
    status: RecordStatus,
    *,
    reason: str | None = None,
    error: str | None = None,
    subset: LabelSubset | None = None,
) -> list[ResultRecord]:
    metrics = spec.metrics or [spec.main_metric]
    return [
        ResultRecord(
            **_common(summary, spec, protocol, fraction, seed),
            split="test",
            metric=metric,
            status=status,
            reason=reason,
            error=error,
            n_train=subset.n_images if subset else None,
            n_train_patients=subset.n_patients if subset else None,
            subset_hash=subset.subset_hash if subset else None,
        )
        for metric in metrics
    ]


def _ok_records(
    summary: RunSummary,
    spec: TaskSpec,
    protocol: str,
    fraction: float,
    seed: int,
    subset: LabelSubset,
    result: CellResult,
    scored: list[ScoredMetric],
) -> list[ResultRecord]:
    common = _common(summary, spec, protocol, fraction, seed)
    shared = {
        "n_train": subset.n_images,
        "n_train_patients": subset.n_patients,
        "subset_hash": subset.subset_hash,
        "cache_key": result.cache_key,
    }
    records = []
    for metric in scored:
        estimate = metric.estimate
        ci_defined = estimate.ci.defined
        records.append(
            ResultRecord(
                **common,
                **shared,
                split="test",
                metric=metric.name,
                value=estimate.value.value,
                ci_low=estimate.ci.low if ci_defined else None,
                ci_high=estimate.ci.high if ci_defined else None,
                ci_level=estimate.ci.confidence,
                ci_method=estimate.ci.method,
                n_bootstrap=estimate.ci.n_used,
                status=RecordStatus.OK,
                reason=estimate.value.reason or (None if ci_defined or not estimate.value.defined else estimate.ci.reason),
                n_eval=metric.n_eval,
                n_eval_patients=metric.n_eval_patients,
            )
        )
    if result.validation is not None:
        records.append(
            ResultRecord(
                **common,
                **shared,
                split="val",
                metric=spec.main_metric,
                value=result.validation,
                status=RecordStatus.OK,
            )
        )
    return records


def synthetic_source(root: Path | str) -> str:
    """Describe a synthetic dataset by its generator, e.g. 'synthetic (generator v1, settings 73ff23f1e2db)'.

    The settings part is a hash of the generator settings in the folder's ``SYNTHETIC.json``, so
    two copies drawn with the same generator version and settings get the same description on
    every machine, and results on differently drawn data are never taken for the same source.
    """
    try:
        marker = json.loads((Path(root) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        logger.warning("cannot read the synthetic marker of '%s': %s", root, error)
        return "synthetic"
    settings = canonical_json(marker.get("config", {}))
    digest = hashlib.sha256(settings.encode("utf-8")).hexdigest()[:12]
    return f"synthetic (generator v{marker.get('generator_version', '?')}, settings {digest})"


def pretraining_provenance(info: EncoderInfo, synthetic_run: bool) -> list[str]:
    """Return the pretraining datasets to store with a run's cells.

    A dataset seen only as a synthetic copy is named ``'<name> (synthetic)'`` in runs on real
    data, so leaderboards do not mark real results on it as seen in pretraining.
    """
    if synthetic_run:
        return list(info.pretraining_datasets)
    synthetic = set(info.synthetic_pretraining)
    return [f"{name} (synthetic)" if name in synthetic else name for name in info.pretraining_datasets]


def real_source(manifest: Manifest) -> str:
    """Describe a real dataset copy by its content, never by its local path.

    Result records and leaderboards are shared, so a folder such as ``/home/alice/vindr`` must
    not appear in them. The manifest hash covers ids, labels, splits, relative paths and boxes,
    so two copies of one release agree on every machine and a changed copy gets a new source.
    """
    images = len(manifest.images)
    return f"real data ({images} images, manifest {manifest.content_hash()[:12]})"


def _cell_details(summary: RunSummary) -> dict[str, Any]:
    """Facts about the encoder and task that leaderboards need, stored with every cell.

    Leaderboards are built from result files alone, so what they show besides the records (the
    main metric, its direction, the datasets the encoder saw in pretraining) is kept here.
    """
    task = summary.task
    return {
        "encoder": {"pretraining_datasets": sorted(summary.pretraining_datasets)},
        "task": {
            "dataset": task.dataset,
            "kind": task.kind,
            "main_metric": task.main_metric,
            "higher_is_better": task.higher_is_better,
        },
    }


def _check_same_data(store: ResultStore, key: CellKey, stored: StoredCell, summary: RunSummary) -> None:
    """Raise ConfigError when a stored cell was computed on other data than this run reads.

    The cell identity leaves the data out, so without this check a results folder filled on
    synthetic data would be reused for a later run on a real dataset, and its table would show the
    synthetic numbers as real ones. Two synthetic sources differ by generator settings, two real
    copies by the content of their manifests.
    """
    if not stored.records:
        return
    record = stored.records[0]
    if record.synthetic == summary.synthetic and record.data_source == summary.data_source:
        return
    raise _reuse_conflict(
        store, key, f"computed on {record.data_source}, but this run reads {summary.data_source}"
    )


# RunSettings fields that change a cell's numbers. The device and the worker count change them
# at most by floating-point rounding, so a results folder filled on one machine is reused on another.
_RESULT_SETTINGS = {
    "profile": "profile",
    "batch_size": "batch size",
    "precision": "precision",
    "n_bootstrap": "bootstrap resamples",
    "epochs": "epochs",
    "learning_rate": "learning rate",
    "freeze_backbone": "frozen backbone",
    "prompts": "prompts",
    "options": "protocol options",
}


def _check_same_settings(store: ResultStore, key: CellKey, stored: StoredCell, settings: RunSettings) -> None:
    """Raise ConfigError when a stored cell was computed with other settings than this run's.

    The cell identity leaves the settings out, so without this check a run with, say, another
    ``--profile`` or heatmap percentile would print the stored numbers as its own. A cell whose
    run header is missing cannot be checked and is reused.
    """
    header = store.run_header(stored.run_id)
    if header is None:
        return
    before = header.config.get("settings", {})
    now = to_jsonable(asdict(settings))
    changed = [
        f"{label} {_setting_text(before.get(name))} -> {_setting_text(now.get(name))}"
        for name, label in _RESULT_SETTINGS.items()
        if canonical_json(before.get(name)) != canonical_json(now.get(name))
    ]
    if changed:
        raise _reuse_conflict(store, key, f"computed with other settings ({'; '.join(changed)})")


def _reuse_conflict(store: ResultStore, key: CellKey, difference: str) -> ConfigError:
    """Return the error for a stored cell that this run must not reuse, naming ``difference``."""
    return ConfigError(
        f"results folder '{store.root}' already has cell fraction {key.fraction:g}, seed {key.seed} "
        f"of '{key.encoder}' on '{key.task}' {difference}; use another results folder (--results) "
        "or replace the stored cells with --overwrite always"
    )


def _setting_text(value: Any) -> str:
    # None means the protocol's default. The header does not keep what the default resolved to,
    # so an explicit value equal to it still counts as a change.
    return "default" if value is None else repr(value)


def _reused_summary(key: CellKey, stored: StoredCell, main_metric: str) -> CellSummary:
    record = next(
        (r for r in stored.records if r.metric == main_metric and r.split == "test"), stored.records[0]
    )
    return CellSummary(
        fraction=key.fraction,
        seed=key.seed,
        status=record.status.value,
        value=record.value,
        ci_low=record.ci_low,
        ci_high=record.ci_high,
        n_train_patients=record.n_train_patients,
        message=record.reason or record.error,
        reused=True,
    )


def _finish(store: ResultStore, header: RunHeader, summary: RunSummary, started: float) -> None:
    store.write_run_header(finish_run_header(header))
    summary.elapsed_s = time.perf_counter() - started


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
