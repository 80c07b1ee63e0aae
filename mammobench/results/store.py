"""A results folder: one JSON file per cell, the cell's predictions, and one header per run.

Layout::

    <root>/cells/<cell_id>.json           the records of one cell
    <root>/predictions/<cell_id>.csv.gz   the cell's per-image predictions, when it has any
    <root>/runs/<run_id>.json             the run header (provenance)

Every file is written atomically (see :mod:`mammobench.results.atomic`), so a process killed at
any moment leaves each file either absent, old or complete. The cell file is written last and is
the cell's commit point. When a cell with predictions is rewritten, its old cell file is removed
first, so no cell file ever refers to a predictions file that is being replaced. A crash in
between leaves the cell missing, so it runs again. The cell file also stores the SHA-256 of its
predictions file, which :meth:`ResultStore.load_predictions` checks.

A cell is complete when its file exists and every record has a final status: ``ok``, ``invalid``
or ``incompatible``. Cells with ``error`` records are not complete, so a resumed sweep runs them
again. Rewriting a cell replaces its file, so records are never duplicated within one folder.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import ValidationError

from mammobench.errors import MammobenchError
from mammobench.results.atomic import remove_atomic, remove_stale_temp_files, write_atomic
from mammobench.results.records import (
    RECORD_SCHEMA_VERSION,
    ResultRecord,
    RunHeader,
    to_jsonable,
)

logger = logging.getLogger(__name__)

CELL_FORMAT = "mammobench-cell"

# Temporary files younger than this may belong to a writer that is still running.
DEFAULT_TEMP_MAX_AGE_S = 3600.0

# Column dtypes that predictions may have, by the name stored in the cell file.
_PREDICTION_DTYPES = {
    "str": str,
    "bool": "bool",
    "boolean": "boolean",
    "int64": "int64",
    "Int64": "Int64",
    "float64": "float64",
}


class OverwritePolicy(str, Enum):
    """Policy for cells that already have results: which of them a run executes again."""

    ONLY_MISSING = "only-missing"  # run cells that are not complete (missing or with errors)
    ALWAYS = "always"  # run every cell and replace its results
    NEVER = "never"  # run only cells without any file; keep error cells as they are


class ResultStoreError(MammobenchError):
    """A results folder or one of its files is missing or invalid."""


@dataclass(frozen=True)
class PredictionsInfo:
    """The predictions file of a cell, as its cell file describes it."""

    file: str  # relative to the results folder
    sha256: str
    rows: int
    columns: dict[str, str]  # column name -> stored dtype name


@dataclass(frozen=True)
class StoredCell:
    """A cell file read back from a results folder."""

    cell_id: str
    run_id: str
    written_at: datetime
    records: tuple[ResultRecord, ...]
    predictions: PredictionsInfo | None
    details: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def completed(self) -> bool:
        """True when every record has a final status (ok, invalid or incompatible)."""
        return all(record.final for record in self.records)


class ResultStore:
    """Read and write one results folder.

    Args:
        root: The results folder.
        create: Create the folder layout if missing and delete stale temporary files. Pass
            False to only read (e.g. committed leaderboard records).
        temp_max_age_s: Age in seconds after which a leftover temporary file is deleted.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        create: bool = True,
        temp_max_age_s: float = DEFAULT_TEMP_MAX_AGE_S,
    ) -> None:
        self.root = Path(root)
        self.cells_dir = self.root / "cells"
        self.predictions_dir = self.root / "predictions"
        self.runs_dir = self.root / "runs"
        if create:
            for folder in (self.cells_dir, self.predictions_dir, self.runs_dir):
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise ResultStoreError(
                        f"results folder '{self.root}' cannot be used: creating '{folder}' failed "
                        f"({error.strerror or error}); choose a writable folder that is not a file"
                    ) from None
            self.remove_stale_temp_files(temp_max_age_s)

    # ---------------------------------------------------------------------------------------------
    # Writing
    # ---------------------------------------------------------------------------------------------

    def write_cell(
        self,
        records: Iterable[ResultRecord],
        predictions: pd.DataFrame | None,
        header: RunHeader,
        *,
        details: dict[str, Any] | None = None,
    ) -> Path:
        """Write the records of one cell, its predictions and (once) the run header.

        Args:
            records: Every record of the cell; all share one ``cell_id`` and differ in
                (split, metric). Their ``run_id`` is set to the header's.
            predictions: Per-image (or per-box) predictions with scalar columns, so intervals
                and paired comparisons can be recomputed later; None when there are none.
            header: Header of the run writing the cell; saved if the folder lacks it.
            details: JSON-compatible extras stored in the cell file, e.g. evaluation settings
                such as ``max_detections``.

        Returns:
            The path of the cell file.

        Raises:
            ResultStoreError: The records are empty, mix cells or repeat a (split, metric), or the
                predictions have a column that cannot be stored.
        """
        records = self._checked_records(records, header)
        cell_id = records[0].cell_id
        extras = to_jsonable(details or {})
        serialised = None if predictions is None else _serialise_predictions(predictions, cell_id)

        if not (self.runs_dir / f"{header.run_id}.json").exists():
            self.write_run_header(header)

        cell_path = self.cell_path(cell_id)
        predictions_path = self.predictions_path(cell_id)
        predictions_info = None
        if serialised is not None:
            data, columns = serialised
            predictions_info = PredictionsInfo(
                file=predictions_path.relative_to(self.root).as_posix(),
                sha256=hashlib.sha256(data).hexdigest(),
                rows=len(predictions),
                columns=columns,
            )
            remove_atomic(cell_path)  # no complete cell may point at a predictions file in flux
            write_atomic(predictions_path, data)

        payload = {
            "format": CELL_FORMAT,
            "schema_version": RECORD_SCHEMA_VERSION,
            "cell_id": cell_id,
            "run_id": header.run_id,
            "written_at": datetime.now(timezone.utc).isoformat(),
            "predictions": None if predictions_info is None else asdict(predictions_info),
            "details": extras,
            "records": [record.model_dump(mode="json") for record in records],
        }
        text = json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        write_atomic(cell_path, text.encode("utf-8"))
        if predictions_info is None:
            remove_atomic(predictions_path)  # predictions of an earlier run of this cell
        return cell_path

    def write_run_header(self, header: RunHeader) -> Path:
        """Write (or replace) the header of a run, e.g. again with its end time."""
        path = self.runs_dir / f"{header.run_id}.json"
        write_atomic(path, (header.model_dump_json(indent=2) + "\n").encode("utf-8"))
        return path

    def remove_stale_temp_files(self, max_age_s: float = DEFAULT_TEMP_MAX_AGE_S) -> int:
        """Delete temporary files of interrupted writes older than ``max_age_s`` seconds."""
        removed = 0
        for folder in (self.cells_dir, self.predictions_dir, self.runs_dir):
            try:
                removed += remove_stale_temp_files(folder, max_age_s)
            except PermissionError as error:
                logger.warning("cannot clean temporary files in '%s': %s", folder, error)
        return removed

    # ---------------------------------------------------------------------------------------------
    # Reading
    # ---------------------------------------------------------------------------------------------

    def cell_path(self, cell_id: str) -> Path:
        """Return the path of a cell's file (which may not exist)."""
        return self.cells_dir / f"{cell_id}.json"

    def predictions_path(self, cell_id: str) -> Path:
        """Return the path of a cell's predictions file (which may not exist)."""
        return self.predictions_dir / f"{cell_id}.csv.gz"

    def read_cell(self, cell_id: str) -> StoredCell | None:
        """Read one cell; None when it has no file.

        Raises:
            ResultStoreError: The file is not a valid cell file.
        """
        path = self.cell_path(cell_id)
        if not path.exists():
            return None
        return _read_cell_file(path)

    def completed(self, cell_id: str) -> bool:
        """True when the cell has a file and every record has a final status.

        An unreadable cell file counts as not complete (with a warning), so the cell runs again
        and its file is replaced.
        """
        try:
            cell = self.read_cell(cell_id)
        except ResultStoreError as error:
            logger.warning("%s; the cell will run again", error)
            return False
        return cell is not None and cell.completed

    def should_run(self, cell_id: str, policy: OverwritePolicy | str) -> bool:
        """Decide whether a run executes a cell under an overwrite policy."""
        policy = OverwritePolicy(policy)
        if policy is OverwritePolicy.ALWAYS:
            return True
        if policy is OverwritePolicy.NEVER:
            return not self.cell_path(cell_id).exists()
        return not self.completed(cell_id)

    def cell_ids(self) -> list[str]:
        """Return the ids of all cells with a file, sorted."""
        if not self.cells_dir.is_dir():
            return []
        return sorted(path.stem for path in self.cells_dir.glob("*.json"))

    def iter_cells(self) -> Iterator[StoredCell]:
        """Yield every cell, sorted by cell id. Temporary files are skipped."""
        for cell_id in self.cell_ids():
            yield _read_cell_file(self.cell_path(cell_id))

    def iter_records(self) -> Iterator[ResultRecord]:
        """Yield every record of every cell."""
        for cell in self.iter_cells():
            yield from cell.records

    def load_predictions(self, cell_id: str) -> pd.DataFrame | None:
        """Read a cell's predictions; None when the cell has none.

        Raises:
            ResultStoreError: The cell is missing, or its predictions file is missing or differs
                from the one the cell file describes.
        """
        cell = self.read_cell(cell_id)
        if cell is None:
            raise ResultStoreError(
                f"cell '{cell_id}' has no file in '{self.cells_dir}'; run it first"
            )
        if cell.predictions is None:
            return None
        path = self.root / cell.predictions.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ResultStoreError(
                f"predictions file '{path}' of cell '{cell_id}' is missing; rerun the cell with "
                "--overwrite always to recreate it"
            ) from None
        if hashlib.sha256(data).hexdigest() != cell.predictions.sha256:
            raise ResultStoreError(
                f"predictions file '{path}' does not match cell '{cell_id}' (SHA-256 differs); "
                "rerun the cell with --overwrite always"
            )
        return _deserialise_predictions(data, cell.predictions.columns)

    def run_header(self, run_id: str) -> RunHeader | None:
        """Read one run header; None when it has no file."""
        path = self.runs_dir / f"{run_id}.json"
        if not path.exists():
            return None
        return _read_model(path, RunHeader)

    def run_headers(self) -> list[RunHeader]:
        """Read every run header, sorted by start time."""
        if not self.runs_dir.is_dir():
            return []
        headers = [_read_model(path, RunHeader) for path in sorted(self.runs_dir.glob("*.json"))]
        return sorted(headers, key=lambda header: (header.started_at, header.run_id))

    # ---------------------------------------------------------------------------------------------
    # Helpers
    # ---------------------------------------------------------------------------------------------

    def _checked_records(
        self, records: Iterable[ResultRecord], header: RunHeader
    ) -> list[ResultRecord]:
        records = list(records)
        if not records:
            raise ResultStoreError(
                "a cell needs at least one record; write error records for failed cells"
            )
        cell_ids = {record.cell_id for record in records}
        if len(cell_ids) > 1:
            raise ResultStoreError(
                f"records of one cell must share a cell_id; got {sorted(cell_ids)}"
            )
        _check_unique_metrics(records, f"cell '{records[0].cell_id}'")
        return [record.model_copy(update={"run_id": header.run_id}) for record in records]


def load_records(
    *roots: Path | str,
    duplicates: Literal["error", "latest"] = "error",
) -> pd.DataFrame:
    """Load every record of one or more results folders into one table.

    Args:
        *roots: Results folders.
        duplicates: What to do when a cell appears in more than one folder: "error" raises,
            "latest" keeps the cell file written last.

    Returns:
        One row per record, with the :class:`ResultRecord` fields as columns, sorted by cell
        identity, split and metric.

    Raises:
        ResultStoreError: A folder is missing, a file is invalid, or a cell is duplicated and
            ``duplicates`` is "error".
    """
    cells: dict[str, StoredCell] = {}
    for root in roots:
        store = ResultStore(root, create=False)
        if not store.root.is_dir():
            raise ResultStoreError(f"results folder '{store.root}' not found")
        for cell in store.iter_cells():
            previous = cells.get(cell.cell_id)
            if previous is not None and duplicates == "error":
                raise ResultStoreError(
                    f"cell '{cell.cell_id}' appears in '{previous.path}' and '{cell.path}'; "
                    "remove one, or load with duplicates='latest'"
                )
            if previous is None or cell.written_at >= previous.written_at:
                cells[cell.cell_id] = cell

    columns = list(ResultRecord.model_fields)
    rows = [record.model_dump(mode="json") for cell in cells.values() for record in cell.records]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("value", "ci_low", "ci_high", "ci_level", "fraction"):
        table[column] = table[column].astype(float)
    order = [
        "encoder",
        "encoder_revision",
        "task",
        "task_version",
        "protocol",
        "fraction",
        "seed",
        "split",
        "metric",
    ]
    return table.sort_values(order, kind="mergesort").reset_index(drop=True)


def _read_cell_file(path: Path) -> StoredCell:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultStoreError(f"cell file '{path}' cannot be read: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != CELL_FORMAT:
        raise ResultStoreError(f"'{path}' is not a mammobench cell file")
    if payload.get("schema_version") != RECORD_SCHEMA_VERSION:
        raise ResultStoreError(
            f"cell file '{path}' has schema version {payload.get('schema_version')!r}; this "
            f"mammobench reads version {RECORD_SCHEMA_VERSION}; upgrade mammobench or rerun the "
            "cell"
        )

    try:
        records = tuple(ResultRecord.model_validate(item) for item in payload["records"])
        cell_id = str(payload["cell_id"])
        run_id = str(payload["run_id"])
        written_at = datetime.fromisoformat(payload["written_at"])
        predictions = payload.get("predictions")
        predictions_info = None if predictions is None else PredictionsInfo(**predictions)
    except (KeyError, TypeError, ValueError, ValidationError) as error:
        raise ResultStoreError(f"cell file '{path}' is invalid: {error}") from error

    if cell_id != path.stem or any(record.cell_id != cell_id for record in records):
        raise ResultStoreError(
            f"cell file '{path}' contains records of another cell ('{cell_id}'), so it was "
            "renamed or edited; delete it and rerun the cell"
        )
    _check_unique_metrics(records, f"cell file '{path}'")
    return StoredCell(
        cell_id=cell_id,
        run_id=run_id,
        written_at=written_at,
        records=records,
        predictions=predictions_info,
        details=payload.get("details") or {},
        path=path,
    )


def _check_unique_metrics(records: Iterable[ResultRecord], where: str) -> None:
    seen = set()
    for record in records:
        key = (record.split, record.metric)
        if key in seen:
            raise ResultStoreError(
                f"{where}: metric '{record.metric}' on split '{record.split}' appears twice"
            )
        seen.add(key)


def _read_model(path: Path, model: type[RunHeader]) -> RunHeader:
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as error:
        raise ResultStoreError(f"'{path}' is not a valid {model.__name__}: {error}") from error


def _serialise_predictions(frame: pd.DataFrame, cell_id: str) -> tuple[bytes, dict[str, str]]:
    """Return gzip-compressed CSV bytes (reproducible: no timestamp) and the column dtypes."""
    if frame.columns.empty:
        raise ResultStoreError(f"cell '{cell_id}': the predictions table has no columns")
    columns: dict[str, str] = {}
    for name in frame.columns:
        if not isinstance(name, str):
            raise ResultStoreError(
                f"cell '{cell_id}': prediction column name {name!r} is not a string"
            )
        columns[name] = _stored_dtype(frame[name], cell_id)
    text = frame.to_csv(index=False, lineterminator="\n")
    return gzip.compress(text.encode("utf-8"), mtime=0), columns


def _stored_dtype(column: pd.Series, cell_id: str) -> str:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean" if isinstance(dtype, pd.BooleanDtype) else "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "Int64" if isinstance(dtype, pd.api.extensions.ExtensionDtype) else "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    textual = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
    if textual and all(isinstance(value, str) for value in column.dropna()):
        return "str"
    raise ResultStoreError(
        f"cell '{cell_id}': prediction column '{column.name}' has dtype {dtype}; store scalars "
        "only (str, bool, int or float), e.g. one column per class probability"
    )


def _deserialise_predictions(data: bytes, columns: dict[str, str]) -> pd.DataFrame:
    dtypes = {name: _PREDICTION_DTYPES[kind] for name, kind in columns.items()}
    frame = pd.read_csv(
        io.BytesIO(gzip.decompress(data)),
        dtype=dtypes,
        keep_default_na=False,  # keep ids such as "NA" as text; only empty fields are missing
        na_values=[""],
    )
    return frame[list(columns)]
