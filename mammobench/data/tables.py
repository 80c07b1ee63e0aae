"""Helpers for dataset adapters: read annotation tables and check them, naming file and column.

Every error raised here is a :class:`~mammobench.errors.DataError` whose message names the file
and the column. For a bad value it also names the line of the file (line 1 is the header), so a
user can open the file and fix or replace it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mammobench.errors import DataError

logger = logging.getLogger(__name__)

# Cell texts read as missing. Other spellings that pandas reads as NA by default ('NA', 'null',
# ...) stay text, so they fail validation with their line instead of passing as unknown.
MISSING_VALUES = ["", "nan", "NaN"]


def require_file(path: Path, fix: str) -> Path:
    """Return ``path`` or raise :class:`DataError` saying it is missing and what to do."""
    if not path.is_file():
        raise DataError(f"file '{path}' not found; {fix}")
    return path


def read_csv_table(path: Path, required_columns: Sequence[str], fix: str) -> pd.DataFrame:
    """Read a CSV file with every column as text and check that the required columns exist.

    Empty cells and ``nan`` become NaN. Numeric columns are converted afterwards with
    :func:`to_numbers`, so a bad number is reported with its column and line.

    Args:
        path (Path): The CSV file.
        required_columns (Sequence[str]): Columns that must be present.
        fix (str): What the user should do when the file is missing or invalid.

    Returns:
        pd.DataFrame: The table with a default index, so row ``i`` is line ``i + 2``.

    Raises:
        DataError: When the file is missing, cannot be parsed or lacks a required column.
    """
    require_file(path, fix)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=MISSING_VALUES)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"file '{path}' could not be read as CSV ({error}); {fix}") from error

    frame.columns = [str(column).strip() for column in frame.columns]
    require_columns(frame, required_columns, path, fix)
    return frame


def require_columns(frame: pd.DataFrame, columns: Sequence[str], path: Path, fix: str) -> None:
    """Raise :class:`DataError` naming the file and every required column it lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        names = ", ".join(f"'{column}'" for column in missing)
        raise DataError(
            f"file '{path}' is missing column(s) {names} (found {list(frame.columns)}); {fix}"
        )


def line_of(frame: pd.DataFrame, label: object) -> int:
    """Return the file line of row ``label`` of a table read by :func:`read_csv_table`."""
    return int(label) + 2  # type: ignore[call-overload]


def invalid_value(path: Path, column: str, line: int, value: object, expected: str) -> DataError:
    """Build the error for one bad cell: file, column, line, value and what was expected."""
    return DataError(
        f"file '{path}', column '{column}', line {line}: invalid value {value!r}; "
        f"expected {expected}"
    )


def check_values(
    frame: pd.DataFrame,
    column: str,
    allowed: Iterable[object],
    path: Path,
    *,
    allow_missing: bool = False,
) -> None:
    """Raise :class:`DataError` for the first value of ``column`` outside ``allowed``.

    Args:
        frame (pd.DataFrame): A table from :func:`read_csv_table`.
        column (str): Column to check.
        allowed (Iterable[object]): Accepted values.
        path (Path): File the table came from, for the message.
        allow_missing (bool): Accept empty cells.
    """
    allowed_values = list(allowed)
    values = frame[column]
    bad = ~values.isin(allowed_values)
    if allow_missing:
        bad &= values.notna()
    if bad.any():
        label = bad.idxmax()
        expected = "one of " + ", ".join(repr(value) for value in allowed_values)
        if allow_missing:
            expected += " or an empty cell"
        raise invalid_value(path, column, line_of(frame, label), values[label], expected)


def to_numbers(
    frame: pd.DataFrame, column: str, path: Path, *, allow_missing: bool = True
) -> pd.Series:
    """Convert a text column to float, naming the line of the first value that is not a number."""
    values = frame[column]
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    bad = numbers.isna() & values.notna()
    if not allow_missing:
        bad |= values.isna()
    if bad.any():
        label = bad.idxmax()
        raise invalid_value(path, column, line_of(frame, label), values[label], "a number")
    return numbers


def strip_prefix(
    frame: pd.DataFrame,
    column: str,
    prefix: str,
    allowed: Iterable[str],
    path: Path,
    *,
    allow_missing: bool = False,
) -> pd.Series:
    """Map values such as ``'DENSITY C'`` to ``'C'``, checking them against ``allowed`` suffixes.

    Args:
        frame (pd.DataFrame): A table from :func:`read_csv_table`.
        column (str): Column to convert.
        prefix (str): Text before the value, e.g. ``'DENSITY '``; matched after stripping
            surrounding spaces, case-sensitively.
        allowed (Iterable[str]): Accepted values after the prefix.
        path (Path): File the table came from, for the message.
        allow_missing (bool): Accept empty cells (they become NaN).

    Returns:
        pd.Series: The values without the prefix, NaN for empty cells.
    """
    allowed_values = [str(value) for value in allowed]
    text = frame[column].str.strip()
    stripped = text.str.removeprefix(prefix)
    bad = ~text.str.startswith(prefix, na=False) | ~stripped.isin(allowed_values)
    if allow_missing:
        bad &= text.notna()
    if bad.any():
        label = bad.idxmax()
        expected = "one of " + ", ".join(repr(prefix + value) for value in allowed_values)
        raise invalid_value(path, column, line_of(frame, label), frame[column][label], expected)
    return stripped.where(text.notna(), np.nan)


def image_level_labels(
    rows: pd.DataFrame, image_ids: pd.Series, label_columns: Sequence[str]
) -> pd.DataFrame:
    """Aggregate per-finding rows into image-level labels: 1 when any row of the image has it.

    Args:
        rows (pd.DataFrame): One row per finding with ``image_id`` and 0/1 ``label_columns``.
        image_ids (pd.Series): Images to label, in the order of the result.
        label_columns (Sequence[str]): Columns to aggregate.

    Returns:
        pd.DataFrame: One row per entry of ``image_ids`` (same index), 0.0 or 1.0 for images with
        rows, NaN for images without any row.
    """
    per_image = rows.groupby("image_id")[list(label_columns)].max().astype(float)
    labels = per_image.reindex(image_ids.to_numpy())
    labels.index = image_ids.index
    return labels


def drop_missing_files(images: pd.DataFrame, root: Path, dataset: str) -> pd.DataFrame:
    """Drop images whose file is missing under ``root`` and log how many were dropped.

    Args:
        images (pd.DataFrame): Image rows with a ``path`` column relative to ``root``.
        root (Path): Data root.
        dataset (str): Dataset name, for the log message.

    Returns:
        pd.DataFrame: The rows whose file exists.
    """
    exists = np.array([os.path.isfile(root / relative) for relative in images["path"]], dtype=bool)
    missing = images.loc[~exists, "path"]
    if not missing.empty:
        examples = ", ".join(f"'{path}'" for path in missing.head(3))
        logger.warning(
            "dataset '%s' at '%s': dropped %d of %d images whose file is missing (e.g. %s)",
            dataset,
            root,
            len(missing),
            len(images),
            examples,
        )
    return images.loc[exists]


def first_existing(root: Path, candidates: Sequence[str]) -> Path | None:
    """Return the first of ``candidates`` (paths relative to ``root``) that exists, else None."""
    for candidate in candidates:
        path = root / candidate
        if path.exists():
            return path
    return None
