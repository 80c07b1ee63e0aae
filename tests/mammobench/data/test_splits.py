from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from mammobench.data.manifest import Manifest
from mammobench.data.splits import (
    assign_split_from_folds,
    carve_validation,
    check_patient_disjoint,
    stratified_patient_folds,
)
from mammobench.errors import ConfigError, DataError


def make_manifest(n_patients: int = 60, positive_every: int = 6, test_every: int = 5) -> Manifest:
    """Two images per patient; patients 0, 6, 12, ... have one positive image."""
    records = []
    for patient in range(n_patients):
        for laterality in ("L", "R"):
            positive = patient % positive_every == 0 and laterality == "L"
            records.append(
                {
                    "image_id": f"p{patient:03d}{laterality}",
                    "patient_id": f"p{patient:03d}",
                    "exam_id": f"p{patient:03d}",
                    "laterality": laterality,
                    "view": "CC",
                    "path": f"p{patient:03d}{laterality}.dcm",
                    "split": "test" if patient % test_every == 0 else "train",
                    "density": "ABCD"[patient % 4],
                    "birads": np.nan,
                    "age": np.nan,
                    "site": "",
                    "cancer": float(positive),
                }
            )
    return Manifest(
        dataset="toy",
        root="/data",
        images=pd.DataFrame.from_records(records),
        label_columns=("cancer",),
    )


# ---------------------------------------------------------------------------------------------
# Fixed folds
# ---------------------------------------------------------------------------------------------


def test_folds_are_deterministic():
    images = make_manifest().images

    first = stratified_patient_folds(images, 5, "salt-a", ["cancer"])
    second = stratified_patient_folds(images, 5, "salt-a", ["cancer"])

    pd.testing.assert_series_equal(first, second)


def test_folds_ignore_row_order():
    images = make_manifest().images
    shuffled = images.sample(frac=1.0, random_state=3)

    pd.testing.assert_series_equal(
        stratified_patient_folds(images, 5, "salt-a", ["cancer"]),
        stratified_patient_folds(shuffled, 5, "salt-a", ["cancer"]),
    )


def test_folds_depend_on_salt():
    images = make_manifest().images

    first = stratified_patient_folds(images, 5, "salt-a", ["cancer"])
    other = stratified_patient_folds(images, 5, "salt-b", ["cancer"])

    assert not first.equals(other)


def test_folds_follow_documented_hash_order():
    # Recomputes the documented rule independently, so a change to the hash input (which would
    # silently move shipped test splits) fails here.
    images = make_manifest(n_patients=10).images

    folds = stratified_patient_folds(images, 3, "mammobench-test", ["cancer"])

    def rank(patient_id: str) -> str:
        return hashlib.sha256(f"mammobench-test\x1f{patient_id}".encode()).hexdigest()

    negatives = sorted([f"p{n:03d}" for n in range(10) if n % 6], key=rank)
    positives = sorted(["p000", "p006"], key=rank)
    expected = {
        patient_id: position % 3 for position, patient_id in enumerate(negatives + positives)
    }
    assert folds.to_dict() == expected


def test_folds_balanced_and_stratified():
    images = make_manifest(n_patients=60).images
    positive_patients = set(images.loc[images["cancer"] == 1.0, "patient_id"])

    folds = stratified_patient_folds(images, 5, "salt-a", ["cancer"])
    sizes = folds.value_counts()
    positives = (
        folds[folds.index.isin(positive_patients)].value_counts().reindex(range(5), fill_value=0)
    )

    assert sorted(folds.unique()) == [0, 1, 2, 3, 4]
    assert sizes.max() - sizes.min() <= 1
    assert positives.max() - positives.min() <= 1
    assert positives.sum() == 10


def test_folds_reject_single_fold():
    with pytest.raises(ConfigError, match="at least 2 folds"):
        stratified_patient_folds(make_manifest().images, 1, "salt")


def test_split_from_folds_keeps_patients_together():
    manifest = make_manifest()
    folds = stratified_patient_folds(manifest.images, 5, "salt-a", ["cancer"])

    images = assign_split_from_folds(manifest.images, folds, test_folds=[0])

    assert set(images.loc[images["split"] == "test", "fold"]) == {0}
    check_patient_disjoint(manifest.with_images(images))


# ---------------------------------------------------------------------------------------------
# Validation split
# ---------------------------------------------------------------------------------------------


def test_carve_moves_whole_patients():
    manifest = make_manifest()

    carved = carve_validation(manifest, 0.25, seed=0, stratify_column="cancer")
    splits = carved.images.groupby("patient_id")["split"].nunique()

    assert (splits == 1).all()
    check_patient_disjoint(carved)


def test_carve_size_and_strata():
    manifest = make_manifest()
    train_patients = manifest.images.loc[
        manifest.images["split"] == "train", "patient_id"
    ].nunique()

    carved = carve_validation(manifest, 0.25, seed=0, stratify_column="cancer").images
    val = carved[carved["split"] == "val"]

    assert val["patient_id"].nunique() == round(0.25 * train_patients)
    assert val["cancer"].sum() >= 1
    assert (carved["split"] == "train").any()


def test_carve_leaves_test_untouched():
    manifest = make_manifest()
    before = manifest.images.loc[manifest.images["split"] == "test", "image_id"]

    carved = carve_validation(manifest, 0.3, seed=1).images

    assert set(carved.loc[carved["split"] == "test", "image_id"]) == set(before)


def test_carve_deterministic_per_seed():
    manifest = make_manifest()

    def val_ids(seed: int) -> set[str]:
        images = carve_validation(manifest, 0.25, seed=seed, stratify_column="cancer").images
        return set(images.loc[images["split"] == "val", "patient_id"])

    assert val_ids(0) == val_ids(0)
    assert val_ids(0) != val_ids(1)


def test_carve_rare_stratum_gets_one():
    # Two positive training patients (p006, p012; p000 is in test): 10 % of them rounds to 0,
    # but validation still gets one.
    manifest = make_manifest(n_patients=13, positive_every=6, test_every=1000)

    carved = carve_validation(manifest, 0.1, seed=0, stratify_column="cancer").images

    val_positive = carved.loc[(carved["split"] == "val") & (carved["cancer"] == 1.0), "patient_id"]
    train_positive = carved.loc[
        (carved["split"] == "train") & (carved["cancer"] == 1.0), "patient_id"
    ]
    assert val_positive.nunique() == 1
    assert train_positive.nunique() == 1


def test_carve_rejects_existing_val():
    manifest = carve_validation(make_manifest(), 0.2, seed=0)

    with pytest.raises(DataError, match="already has a 'val' split"):
        carve_validation(manifest, 0.2, seed=0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_carve_rejects_bad_fraction(fraction):
    with pytest.raises(ConfigError, match="validation fraction"):
        carve_validation(make_manifest(), fraction, seed=0)


# ---------------------------------------------------------------------------------------------
# Leakage check
# ---------------------------------------------------------------------------------------------


def test_disjoint_check_names_patient():
    manifest = make_manifest()
    images = manifest.images.copy()
    images.loc[images["image_id"] == "p001L", "split"] = "test"

    with pytest.raises(DataError) as raised:
        check_patient_disjoint(manifest.with_images(images))

    assert "patient 'p001'" in str(raised.value)
    assert "'test' and 'train'" in str(raised.value)


def test_disjoint_check_passes_clean_manifest():
    check_patient_disjoint(make_manifest())
