"""Patient-level splits: fixed folds, a validation split carved out of train, and a leakage check.

Every function here moves whole patients, never single images, so the images of one patient
(both breasts, every view, every exam) always share a split.

- :func:`stratified_patient_folds` assigns each patient a fold from a salt and the patient id
  alone (SHA-256, no random number generator), stratified by patient-level labels. Datasets
  without a public labelled test set (RSNA, mini-MIAS) use it to define their test split.
- :func:`carve_validation` moves a stratified share of the training patients to ``val`` for
  model selection.
- :func:`check_patient_disjoint` raises when a patient appears in two splits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import pandas as pd

from mammobench.data.manifest import Manifest
from mammobench.data.strata import order_by_rank, patient_labels, stratum_keys
from mammobench.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


def stratified_patient_folds(
    images: pd.DataFrame,
    n_folds: int,
    salt: str,
    stratify_columns: Sequence[str] = (),
) -> pd.Series:
    """Assign every patient to one of ``n_folds`` folds, stratified and reproducible.

    Patients are sorted by (stratum, SHA-256 of ``salt`` and patient id) and dealt out round
    robin: the i-th patient in that order goes to fold ``i % n_folds``. Each stratum is
    contiguous in the order, so every fold receives its share of each stratum (counts differ by
    at most one), and fold sizes differ by at most one. The result depends only on the patient
    ids, their labels and the salt, so it is identical on every machine and run.

    Args:
        images (pd.DataFrame): Image rows with ``patient_id`` and the ``stratify_columns``.
        n_folds (int): Number of folds, at least 2.
        salt (str): Changes the assignment; ship a fixed salt with a task so its folds never
            move, e.g. ``'mammobench-rsna-v1'``.
        stratify_columns (Sequence[str]): Image-level label columns; a patient's label is
            positive when any of its images is (see :mod:`mammobench.data.strata`).

    Returns:
        pd.Series: Fold number (0 to ``n_folds - 1``) indexed by ``patient_id``.

    Raises:
        ConfigError: When ``n_folds`` is below 2 or a column is missing.
    """
    if n_folds < 2:
        raise ConfigError(f"n_folds={n_folds} is invalid; use at least 2 folds")

    strata = stratum_keys(patient_labels(images, stratify_columns))
    ordered: list[str] = []
    for stratum in sorted(strata.unique()):
        members = strata.index[strata == stratum].tolist()
        ordered.extend(order_by_rank(members, salt))

    folds = pd.Series(
        [position % n_folds for position in range(len(ordered))],
        index=pd.Index(ordered, name="patient_id"),
        name="fold",
    )
    return folds.sort_index()


def assign_split_from_folds(
    images: pd.DataFrame, folds: pd.Series, test_folds: Sequence[int]
) -> pd.DataFrame:
    """Return a copy of ``images`` with a ``fold`` column and ``split`` set from the folds.

    Images of patients in ``test_folds`` get ``split='test'``; every other image gets
    ``split='train'``.

    Raises:
        DataError: When an image's patient has no fold.
    """
    patient_ids = images["patient_id"].astype(str)
    unassigned = sorted(set(patient_ids) - set(folds.index))
    if unassigned:
        raise DataError(f"patient '{unassigned[0]}' has no fold; compute folds from every image")

    result = images.copy()
    result["fold"] = patient_ids.map(folds).astype(int).to_numpy()
    in_test = result["fold"].isin(list(test_folds))
    result["split"] = in_test.map({True: "test", False: "train"})
    return result


def carve_validation(
    manifest: Manifest,
    fraction: float,
    seed: int,
    stratify_column: str | None = None,
) -> Manifest:
    """Move a share of the training patients to a new ``val`` split.

    The number of validation patients is ``round(fraction * training patients)``, at least one
    and leaving at least one in train. It is shared out over the strata of ``stratify_column``
    in proportion to their size (largest remainders first). Each stratum with two or more
    patients then gets at least one validation patient and keeps at least one in train, which can
    add up to one patient per stratum to the total. Inside a stratum, patients are taken in SHA-256 order of
    the seed and patient id, so the same seed always carves the same patients.

    Args:
        manifest (Manifest): A manifest with a ``train`` split and no ``val`` split.
        fraction (float): Share of training patients to move, in (0, 1).
        seed (int): Selects which patients move.
        stratify_column (str | None): Image-level label column to stratify by, e.g. ``'cancer'``.

    Returns:
        Manifest: A copy whose moved images have ``split='val'``; test images are unchanged.

    Raises:
        ConfigError: When ``fraction`` is outside (0, 1) or the column is missing.
        DataError: When the manifest already has a ``val`` split or fewer than two training
            patients.
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction {fraction} is invalid; use a value in (0, 1)")
    images = manifest.images
    where = f"dataset '{manifest.dataset}'"
    if (images["split"] == "val").any():
        raise DataError(f"{where} already has a 'val' split; use it instead of carving another")

    train = images[images["split"] == "train"]
    columns = [stratify_column] if stratify_column else []
    strata = stratum_keys(patient_labels(train, columns))
    if len(strata) < 2:
        raise DataError(
            f"{where}: carving a validation split needs at least 2 training patients, "
            f"found {len(strata)}"
        )

    quotas = _validation_quotas(strata, fraction)
    chosen: set[str] = set()
    for stratum, quota in quotas.items():
        members = strata.index[strata == stratum].tolist()
        chosen.update(order_by_rank(members, f"validation:{seed}")[:quota])

    result = images.copy()
    moved = (result["split"] == "train") & result["patient_id"].astype(str).isin(chosen)
    result.loc[moved, "split"] = "val"
    logger.info(
        "%s: moved %d of %d training patients (%d images) to the validation split",
        where,
        len(chosen),
        len(strata),
        int(moved.sum()),
    )
    return manifest.with_images(result)


def check_patient_disjoint(manifest: Manifest) -> None:
    """Raise :class:`DataError` when any patient has images in more than one split.

    The message names the first such patient (in sorted order), its splits and how many patients
    are affected.
    """
    images = manifest.images
    splits_per_patient = images.groupby(images["patient_id"].astype(str))["split"].agg(
        lambda splits: sorted(set(splits))
    )
    shared = splits_per_patient[splits_per_patient.map(len) > 1]
    if shared.empty:
        return

    patient_id = min(shared.index)
    splits = " and ".join(f"'{name}'" for name in shared[patient_id])
    raise DataError(
        f"dataset '{manifest.dataset}': patient '{patient_id}' appears in splits {splits} "
        f"({len(shared)} patient(s) in more than one split); splits must be made by patient"
    )


def _validation_quotas(strata: pd.Series, fraction: float) -> dict[str, int]:
    sizes = strata.value_counts().sort_index()
    n_patients = int(sizes.sum())
    total = min(max(1, round(fraction * n_patients)), n_patients - 1)

    # Largest-remainder apportionment of `total` over the strata, ties broken by stratum key.
    exact = {stratum: total * size / n_patients for stratum, size in sizes.items()}
    quotas = {stratum: math.floor(share) for stratum, share in exact.items()}
    leftover = total - sum(quotas.values())
    by_remainder = sorted(exact, key=lambda stratum: (-(exact[stratum] - quotas[stratum]), stratum))
    for stratum in by_remainder[:leftover]:
        quotas[stratum] += 1

    for stratum, size in sizes.items():
        if size >= 2:
            quotas[stratum] = min(max(quotas[stratum], 1), size - 1)
    return quotas
