"""Read result folders into the facts a leaderboard shows, and nothing else.

A leaderboard is a pure function of result files. It reads the records of each cell and the
encoder and task facts stored with every cell (``details["encoder"]`` and ``details["task"]``):
the datasets the encoder saw in pretraining, the task's main metric and its direction. It also
reads the run headers the cells point to, for the commit and version. Nothing is looked up in
the installed plugins, so the same files give the same leaderboard on any machine.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mammobench.errors import DataError
from mammobench.results.records import RecordStatus, canonical_json
from mammobench.results.store import ResultStore, ResultStoreError, StoredCell

TEST_SPLIT = "test"


@dataclass(frozen=True)
class CellInput:
    """One cell reduced to its main metric on the test split.

    Attributes:
        value: Main metric over the test split; None when the cell is not ``ok`` or the metric
            is undefined (see ``reason``).
        ci_low: Lower bound of the cell's confidence interval (patient bootstrap), or None.
        ci_high: Upper bound, or None.
        ci_level: Coverage of the interval, e.g. 0.95.
        reason: Why there is no value (undefined metric, invalid or incompatible cell) or the
            error text.
        pretraining_datasets: Datasets the encoder saw in pretraining, lower case.
        file: The cell file, relative to the leaderboard folder.
    """

    cell_id: str
    encoder: str
    encoder_revision: str
    task: str
    task_version: str
    protocol: str
    fraction: float
    seed: int
    dataset: str
    task_kind: str
    main_metric: str
    higher_is_better: bool
    synthetic: bool
    data_source: str
    status: RecordStatus
    value: float | None
    ci_low: float | None
    ci_high: float | None
    ci_level: float | None
    reason: str | None
    pretraining_datasets: tuple[str, ...]
    run_id: str
    file: str


@dataclass(frozen=True)
class RunInput:
    """Provenance of one run, from its header (None fields when the header is missing)."""

    run_id: str
    git_commit: str | None = None
    git_dirty: bool | None = None
    mammobench_version: str | None = None
    sweep_name: str | None = None
    sweep_sha256: str | None = None


@dataclass
class LeaderboardInputs:
    """Everything read from the result folders.

    Attributes:
        folders: The result folders, relative to the leaderboard folder, as given.
        cells: Every cell, sorted by cell id.
        runs: Run id to provenance, for the runs that wrote the cells.
        records_sha256: SHA-256 of every record of every cell, without run ids: two result
            sets with the same outcomes have the same digest, wherever and whenever they ran.
    """

    folders: list[str]
    cells: list[CellInput] = field(default_factory=list)
    runs: dict[str, RunInput] = field(default_factory=dict)
    records_sha256: str = ""

    @property
    def files(self) -> list[str]:
        return sorted(cell.file for cell in self.cells)


def read_inputs(folders: Sequence[Path | str], base: Path | str) -> LeaderboardInputs:
    """Read every cell and run header of ``folders``.

    Args:
        folders: Result folders (each with ``cells/`` and ``runs/``).
        base: Folder that paths in the leaderboard are written relative to (the leaderboard's
            own folder), so the output does not depend on where it was built.

    Raises:
        DataError: A folder is missing or has no cells, a cell file is invalid or lacks the
            task facts, or a cell appears in two folders.
    """
    base = Path(base).absolute()
    inputs = LeaderboardInputs(folders=[_relative(Path(folder), base) for folder in folders])
    digest_rows: list[tuple[str, str]] = []
    seen: dict[str, Path] = {}

    for folder in folders:
        store = ResultStore(folder, create=False)
        if not store.root.is_dir():
            raise DataError(f"results folder '{folder}' not found; run 'mammobench sweep' first")
        try:
            stored_cells = list(store.iter_cells())
        except ResultStoreError as error:
            raise DataError(str(error)) from error
        if not stored_cells:
            raise DataError(f"results folder '{folder}' has no cell files in '{store.cells_dir}'")

        for stored in stored_cells:
            if stored.cell_id in seen:
                raise DataError(
                    f"cell '{stored.cell_id}' appears in '{seen[stored.cell_id]}' and "
                    f"'{stored.path}'; pass each result set once"
                )
            seen[stored.cell_id] = stored.path
            inputs.cells.append(_cell_input(stored, base))
            digest_rows.extend(
                (stored.cell_id, canonical_json(record.model_dump(mode="json", exclude={"run_id"})))
                for record in stored.records
            )
        for header in _headers(store):
            inputs.runs[header.run_id] = header

    inputs.cells.sort(key=lambda cell: cell.cell_id)
    digest = hashlib.sha256()
    for cell_id, record in sorted(digest_rows):
        digest.update(f"{cell_id}\n{record}\n".encode())
    inputs.records_sha256 = digest.hexdigest()
    return inputs


def _cell_input(stored: StoredCell, base: Path) -> CellInput:
    task = stored.details.get("task")
    encoder = stored.details.get("encoder") or {}
    if not isinstance(task, dict) or "main_metric" not in task:
        raise DataError(
            f"cell file '{stored.path}' does not store its task's main metric (it was written by "
            "an older mammobench); rerun the cell with --overwrite always"
        )
    main_metric = str(task["main_metric"])
    first = stored.records[0]
    record = next(
        (r for r in stored.records if r.split == TEST_SPLIT and r.metric == main_metric),
        None,
    )
    if record is None and first.status is RecordStatus.OK:
        raise DataError(
            f"cell file '{stored.path}' has no '{main_metric}' record on the test split; rerun "
            "the cell with --overwrite always"
        )
    record = record or first
    pretraining = tuple(sorted({str(name).lower() for name in encoder.get("pretraining_datasets", [])}))
    return CellInput(
        cell_id=stored.cell_id,
        encoder=record.encoder,
        encoder_revision=record.encoder_revision,
        task=record.task,
        task_version=record.task_version,
        protocol=record.protocol,
        fraction=record.fraction,
        seed=record.seed,
        dataset=str(task.get("dataset", record.dataset)),
        task_kind=str(task.get("kind", "")),
        main_metric=main_metric,
        higher_is_better=bool(task.get("higher_is_better", True)),
        synthetic=record.synthetic,
        data_source=record.data_source,
        status=record.status,
        value=record.value if record.status is RecordStatus.OK else None,
        ci_low=record.ci_low,
        ci_high=record.ci_high,
        ci_level=record.ci_level,
        reason=record.error if record.status is RecordStatus.ERROR else record.reason,
        pretraining_datasets=pretraining,
        run_id=stored.run_id,
        file=_relative(stored.path, base),
    )


def _headers(store: ResultStore) -> list[RunInput]:
    headers = []
    try:
        run_headers = store.run_headers()
    except ResultStoreError as error:
        raise DataError(str(error)) from error
    for header in run_headers:
        sweep: dict[str, Any] = header.config.get("sweep") or {}
        headers.append(
            RunInput(
                run_id=header.run_id,
                git_commit=header.git_commit,
                git_dirty=header.git_dirty,
                mammobench_version=header.mammobench_version,
                sweep_name=sweep.get("name"),
                sweep_sha256=sweep.get("config_sha256"),
            )
        )
    return headers


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path).absolute(), base)).as_posix()
