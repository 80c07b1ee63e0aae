from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mammobench.data.fractions import sample_label_fraction, subset_hash
from mammobench.data.manifest import Manifest
from mammobench.errors import ConfigError

FRACTIONS = (0.01, 0.1, 0.5, 1.0)


def make_train(
    n_patients: int = 200, positive_every: int = 10, densities: str = "ABCD"
) -> Manifest:
    """Two images per patient; every tenth patient has a positive left image; a few test rows."""
    records = []
    for patient in range(n_patients):
        for laterality in ("L", "R"):
            records.append(
                {
                    "image_id": f"p{patient:04d}{laterality}",
                    "patient_id": f"p{patient:04d}",
                    "exam_id": f"p{patient:04d}",
                    "laterality": laterality,
                    "view": "MLO",
                    "path": f"p{patient:04d}{laterality}.png",
                    "split": "test" if patient >= n_patients - 10 else "train",
                    "density": densities[patient % len(densities)],
                    "birads": np.nan,
                    "age": np.nan,
                    "site": "",
                    "cancer": float(patient % positive_every == 0 and laterality == "L"),
                }
            )
    images = pd.DataFrame.from_records(records)
    return Manifest(dataset="toy", root="/data", images=images, label_columns=("cancer", "density"))


def train_images(manifest: Manifest) -> pd.DataFrame:
    return manifest.images[manifest.images["split"] == "train"]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_subsets_are_nested(seed):
    manifest = make_train()

    subsets = [
        sample_label_fraction(manifest, fraction, seed, ["cancer"]) for fraction in FRACTIONS
    ]

    for smaller, larger in itertools.pairwise(subsets):
        assert set(smaller.image_ids) <= set(larger.image_ids)
        assert set(smaller.patient_ids) <= set(larger.patient_ids)
        assert smaller.n_images < larger.n_images


def test_full_fraction_is_all_train():
    manifest = make_train()

    subset = sample_label_fraction(manifest, 1.0, 3, ["cancer"])

    assert set(subset.image_ids) == set(train_images(manifest)["image_id"])
    assert subset.n_patients == 190


def test_same_seed_same_subset():
    manifest = make_train()

    first = sample_label_fraction(manifest, 0.1, 5, ["cancer"])
    second = sample_label_fraction(manifest, 0.1, 5, ["cancer"])

    assert first == second


def test_seed_changes_subset():
    manifest = make_train()

    first = sample_label_fraction(manifest, 0.1, 0, ["cancer"])
    second = sample_label_fraction(manifest, 0.1, 1, ["cancer"])

    assert first.image_ids != second.image_ids
    assert first.subset_hash != second.subset_hash


def test_subset_independent_of_row_order():
    manifest = make_train()
    shuffled = manifest.with_images(manifest.images.sample(frac=1.0, random_state=11))

    assert sample_label_fraction(manifest, 0.5, 2, ["cancer"]) == sample_label_fraction(
        shuffled, 0.5, 2, ["cancer"]
    )


def test_subset_is_stratified():
    manifest = make_train()  # 19 positive and 171 negative training patients

    subset = sample_label_fraction(manifest, 0.5, 0, ["cancer"])

    # Each stratum takes floor(fraction * size + 0.5) patients.
    assert subset.positives["cancer"] == 10
    assert subset.n_patients == 10 + 86
    assert subset.valid
    assert subset.reason == ""


def test_small_fraction_keeps_one_positive():
    manifest = make_train()  # 1 % of 19 positive patients rounds to 0

    subset = sample_label_fraction(manifest, 0.01, 0, ["cancer"])

    assert subset.positives["cancer"] == 1
    assert subset.n_patients == 1 + 2  # floor(0.01 * 171 + 0.5) negatives
    assert subset.valid


def test_patients_whole_and_train_only():
    manifest = make_train()

    subset = sample_label_fraction(manifest, 0.1, 4, ["cancer"])
    chosen = manifest.images[manifest.images["image_id"].isin(subset.image_ids)]
    all_of_chosen = manifest.images[manifest.images["patient_id"].isin(subset.patient_ids)]

    assert set(chosen["split"]) == {"train"}
    assert set(chosen["image_id"]) == set(all_of_chosen["image_id"])
    assert subset.n_images == 2 * subset.n_patients


def test_no_positive_is_invalid_not_error():
    manifest = make_train(positive_every=10_000)
    images = manifest.images.copy()
    images["cancer"] = 0.0
    manifest = manifest.with_images(images)

    subset = sample_label_fraction(manifest, 0.5, 0, ["cancer"])

    assert not subset.valid
    assert "label 'cancer' has no positive image" in subset.reason
    assert "(0 in the training split)" in subset.reason
    assert subset.positives == {"cancer": 0}
    assert subset.n_images > 0


def test_density_needs_every_class():
    manifest = make_train(densities="ABC")

    subset = sample_label_fraction(manifest, 1.0, 0, ["density"])

    assert not subset.valid
    assert "label 'density' has no class 'D' image" in subset.reason
    assert subset.positives["density=A"] > 0
    assert subset.positives["density=D"] == 0


def test_density_small_fraction_covers_classes():
    manifest = make_train()

    subset = sample_label_fraction(manifest, 0.01, 0, ["density"])

    assert subset.valid
    assert all(subset.positives[f"density={cls}"] >= 1 for cls in "ABCD")


def test_multi_label_strata_nested():
    manifest = make_train()

    small = sample_label_fraction(manifest, 0.1, 9, ["cancer", "density"])
    large = sample_label_fraction(manifest, 0.5, 9, ["cancer", "density"])

    assert set(small.image_ids) <= set(large.image_ids)
    assert small.valid
    assert large.valid


def test_hash_covers_ids_fraction_seed():
    ids = ["b", "a"]

    assert subset_hash(ids, 0.1, 0) == subset_hash(["a", "b"], 0.1, 0)
    assert subset_hash(ids, 0.1, 0) != subset_hash(ids, 0.5, 0)
    assert subset_hash(ids, 0.1, 0) != subset_hash(ids, 0.1, 1)
    assert subset_hash(ids, 0.1, 0) != subset_hash(["a"], 0.1, 0)


def test_empty_train_is_invalid():
    manifest = make_train()
    images = manifest.images.assign(split="test")

    subset = sample_label_fraction(manifest.with_images(images), 0.5, 0, ["cancer"])

    assert not subset.valid
    assert "has no training images" in subset.reason
    assert subset.n_images == 0


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.01])
def test_fraction_out_of_range_rejected(fraction):
    with pytest.raises(ConfigError, match="label fraction"):
        sample_label_fraction(make_train(), fraction, 0, ["cancer"])


def test_unknown_label_column_rejected():
    with pytest.raises(ConfigError, match="'mass'"):
        sample_label_fraction(make_train(), 0.5, 0, ["mass"])
