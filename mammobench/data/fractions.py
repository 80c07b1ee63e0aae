"""Label fractions: nested, stratified, patient-level subsets of a training split.

A label-efficiency sweep trains on, say, 1 %, 10 %, 50 % and 100 % of the labelled training
patients. :func:`sample_label_fraction` draws those subsets as follows.

1. Patients. Only images with ``split == 'train'`` are used. Each patient gets one label per
   label column: for a binary column it is positive when any image is positive, and for a
   multi-class column such as density it is the most frequent class. The combination of those
   labels is the patient's stratum (see :mod:`mammobench.data.strata`).
2. Order. Inside each stratum, patients are sorted by the SHA-256 of ``'fraction:<seed>'`` and
   the patient id. The order depends on the seed but not on the fraction, and it is the same on
   every machine and run.
3. Quota. For fraction ``f``, a stratum of ``n`` patients contributes its first
   ``k = floor(f * n + 0.5)`` patients, capped at ``n``. Because ``k`` never decreases as ``f``
   grows and every stratum takes a prefix of a fixed order, the subsets of one seed are
   **nested**: each smaller fraction's subset is contained in every larger one's. Fraction 1.0
   takes every patient.
4. One patient per class. For every class of every label column (``0`` and ``1`` for a binary
   column, each observed class otherwise, ``A``-``D`` for density) the largest stratum whose
   patients carry that class takes at least one patient, so small fractions still see each
   class. This can add up to one patient per class above ``f * n``, and it keeps nesting
   because the minimum does not depend on ``f``.
5. Validity. The subset is valid when, at image level, every binary column has at least one
   positive and one negative image and every multi-class column has at least one image of each
   class. Otherwise it is returned with ``valid=False`` and a reason, never an exception. With
   step 4 this happens only when the training split itself lacks a class.

The subset hash is the SHA-256 of the sorted image ids, the fraction and the seed; result
records store it, so two results with the same hash were trained on the same images.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from mammobench import vocab
from mammobench.data.manifest import Manifest
from mammobench.data.strata import (
    format_label,
    is_binary_column,
    order_by_rank,
    patient_labels,
    stratum_keys,
)
from mammobench.errors import ConfigError


@dataclass(frozen=True)
class LabelSubset:
    """A patient-level subset of a training split for one (fraction, seed)."""

    fraction: float
    seed: int
    image_ids: tuple[str, ...]  # sorted
    patient_ids: tuple[str, ...]  # sorted
    subset_hash: str  # SHA-256 of the sorted image ids, fraction and seed
    valid: bool
    reason: str  # why the subset is invalid; empty when valid
    n_images: int
    n_patients: int
    # Images per class: the label name for a binary column's positives, '<column>=<class>' for
    # each class of a multi-class column.
    positives: dict[str, int] = field(default_factory=dict)


def sample_label_fraction(
    train: Manifest,
    fraction: float,
    seed: int,
    label_columns: Sequence[str],
) -> LabelSubset:
    """Sample a nested, stratified, patient-level subset of the training split.

    See the module docstring for the algorithm.

    Args:
        train (Manifest): A manifest; only images with ``split == 'train'`` are sampled.
        fraction (float): Share of training patients, in (0, 1].
        seed (int): Selects the patients; the same seed gives nested subsets across fractions.
        label_columns (Sequence[str]): Image-level label columns to stratify by and to check for
            at least one example per class.

    Returns:
        LabelSubset: The subset, with ``valid=False`` and a reason when a class has no image.

    Raises:
        ConfigError: When ``fraction`` is outside (0, 1] or a label column is missing.
    """
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"label fraction {fraction} is invalid; use a value in (0, 1]")

    images = train.images[train.images["split"] == "train"]
    columns = list(label_columns)
    labels = patient_labels(images, columns)
    strata = stratum_keys(labels)

    minimums = _strata_with_minimum(labels, strata, images, columns)
    chosen: list[str] = []
    for stratum in sorted(strata.unique()):
        members = strata.index[strata == stratum].tolist()
        quota = _stratum_quota(len(members), fraction, minimums.get(stratum, 0))
        chosen.extend(order_by_rank(members, f"fraction:{seed}")[:quota])

    patient_ids = tuple(sorted(chosen))
    selected = images[images["patient_id"].astype(str).isin(set(patient_ids))]
    image_ids = tuple(sorted(selected["image_id"].astype(str)))
    positives, problems = _count_classes(selected, images, columns)

    if images.empty:
        problems.insert(0, f"dataset '{train.dataset}' has no training images")
    return LabelSubset(
        fraction=fraction,
        seed=seed,
        image_ids=image_ids,
        patient_ids=patient_ids,
        subset_hash=subset_hash(image_ids, fraction, seed),
        valid=not problems,
        reason="; ".join(problems),
        n_images=len(image_ids),
        n_patients=len(patient_ids),
        positives=positives,
    )


def subset_hash(image_ids: Sequence[str], fraction: float, seed: int) -> str:
    """Return the SHA-256 of the sorted image ids, the fraction and the seed."""
    digest = hashlib.sha256()
    for image_id in sorted(image_ids):
        digest.update(image_id.encode())
        digest.update(b"\n")
    digest.update(f"fraction={float(fraction)!r}\nseed={int(seed)}".encode())
    return digest.hexdigest()


def label_classes(images: pd.DataFrame, column: str) -> list[object]:
    """Return the classes a subset must contain for ``column``.

    Binary columns need ``0`` and ``1``; ``density`` needs ``A``-``D``; any other column needs
    every class present in ``images``.
    """
    if is_binary_column(images[column]):
        return [0.0, 1.0]
    if column == "density":
        return list(vocab.DENSITIES)
    return sorted(images[column].dropna().unique(), key=str)


def _stratum_quota(size: int, fraction: float, minimum: int) -> int:
    # Round half up, never below the class minimum, never above the stratum: this never
    # decreases as the fraction grows, which is what keeps the subsets nested.
    return min(size, max(math.floor(fraction * size + 0.5), minimum))


def _strata_with_minimum(
    labels: pd.DataFrame, strata: pd.Series, images: pd.DataFrame, columns: list[str]
) -> dict[str, int]:
    # For each class, the largest stratum whose patients all carry it must take one patient.
    minimums: dict[str, int] = {}
    sizes = strata.value_counts()
    for column in columns:
        for cls in label_classes(images, column):
            carriers = strata[labels[column].map(format_label) == format_label(cls)]
            if carriers.empty:
                continue
            candidates = sorted(carriers.unique(), key=lambda stratum: (-sizes[stratum], stratum))
            minimums[candidates[0]] = 1
    return minimums


def _count_classes(
    selected: pd.DataFrame, images: pd.DataFrame, columns: list[str]
) -> tuple[dict[str, int], list[str]]:
    positives: dict[str, int] = {}
    problems: list[str] = []
    for column in columns:
        binary = is_binary_column(images[column])
        for cls in label_classes(images, column):
            count = int((selected[column] == cls).sum())
            available = int((images[column] == cls).sum())
            if binary and cls == 1.0:
                positives[column] = count
            elif not binary:
                positives[f"{column}={format_label(cls)}"] = count
            if count == 0:
                if not binary:
                    kind = f"class '{format_label(cls)}'"
                elif cls == 1.0:
                    kind = "positive"
                else:
                    kind = "negative"
                problems.append(
                    f"label '{column}' has no {kind} image in the subset "
                    f"({available} in the training split)"
                )
    return positives, problems
