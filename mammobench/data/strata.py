"""Patient-level labels, strata and hash ranks shared by splits and label-fraction sampling.

Splits and label fractions work on patients, never on single images, so every image of a patient
lands on the same side. A patient's label is derived from the image-level labels:

- a binary column (values 0, 1 or NaN): 1 when any image is positive, else 0 when any image is
  negative, else NaN;
- any other column (for example density ``A``-``D``): the most frequent value among the images,
  ties broken by the smallest value, NaN when no image has one.

The stratum of a patient is the combination of its patient-level labels. Patients are ordered
inside a stratum by the SHA-256 of a salt and the patient id, which gives the same order on every
machine, Python version and run, without a random number generator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mammobench.errors import ConfigError

MISSING_LABEL = "nan"  # how an unknown patient-level label is spelled in stratum keys


def is_binary_column(values: pd.Series) -> bool:
    """Return True when every known value is 0 or 1 (NaN means unknown)."""
    known = values.dropna()
    if not pd.api.types.is_numeric_dtype(known):
        return False
    return bool(known.isin((0, 1)).all())


def patient_labels(images: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Derive one label per patient and column from image-level labels.

    Args:
        images (pd.DataFrame): Image rows with ``patient_id`` and the label ``columns``.
        columns (Sequence[str]): Label columns to aggregate.

    Returns:
        pd.DataFrame: Indexed by ``patient_id`` (sorted), one column per label. Binary columns
        hold 0.0, 1.0 or NaN; other columns hold the most frequent value or NaN.

    Raises:
        ConfigError: When a column is not in ``images``.
    """
    missing = [column for column in columns if column not in images.columns]
    if missing:
        raise ConfigError(
            f"label column(s) {missing} not found; available columns: {sorted(images.columns)}"
        )

    patient_ids = pd.Index(sorted(images["patient_id"].astype(str).unique()), name="patient_id")
    table = pd.DataFrame(index=patient_ids)
    grouped = images.assign(patient_id=images["patient_id"].astype(str)).groupby("patient_id")
    for column in columns:
        if is_binary_column(images[column]):
            table[column] = grouped[column].max().astype(float)
        else:
            table[column] = grouped[column].agg(_most_frequent)
    return table


def stratum_keys(labels: pd.DataFrame) -> pd.Series:
    """Return one stratum key per patient, e.g. ``'cancer=1|density=C'``.

    Args:
        labels (pd.DataFrame): Output of :func:`patient_labels`.

    Returns:
        pd.Series: String keys indexed by ``patient_id``; an empty string when ``labels`` has
        no columns, so every patient is in one stratum.
    """
    keys = pd.Series("", index=labels.index, dtype=object)
    for position, column in enumerate(labels.columns):
        separator = "|" if position else ""
        keys = keys + separator + column + "=" + labels[column].map(format_label)
    return keys


def format_label(value: object) -> str:
    """Spell a patient-level label for a stratum key: ``1``, ``0``, ``C``, or ``nan``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING_LABEL
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def rank_key(salt: str, patient_id: str) -> str:
    """Return the SHA-256 hex digest that orders ``patient_id`` for ``salt``.

    Sorting patients by this key gives a pseudo-random order that depends only on the salt and
    the id, so adding or removing other patients never reorders the rest.
    """
    return hashlib.sha256(f"{salt}\x1f{patient_id}".encode()).hexdigest()


def order_by_rank(patient_ids: Sequence[str], salt: str) -> list[str]:
    """Sort patient ids by :func:`rank_key` (ties, which need a SHA-256 collision, by id)."""
    return sorted(patient_ids, key=lambda patient_id: (rank_key(salt, patient_id), patient_id))


def _most_frequent(values: pd.Series) -> object:
    counts = values.dropna().value_counts()
    if counts.empty:
        return np.nan
    best = counts.max()
    return min(counts.index[counts == best], key=str)
