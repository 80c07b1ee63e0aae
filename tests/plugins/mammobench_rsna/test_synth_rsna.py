"""The synthetic RSNA writer: Kaggle layout, loadable by the real adapter, deterministic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mammobench.data.roots import load_dataset
from mammobench.synth import SynthConfig
from mammobench_rsna.synth import TRAIN_COLUMNS, write_synthetic


def _config() -> SynthConfig:
    # A raised prevalence so that a handful of patients include cancers.
    return SynthConfig.for_layout("rsna", patients=6, size=(256, 160), seed=4, cancer_prevalence=0.3)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rsna-synthetic")
    write_synthetic(root, _config(), workers=1)
    return root


def test_adapter_loads_synthetic(synthetic_root: Path) -> None:
    manifest = load_dataset("rsna", synthetic_root)
    assert manifest.synthetic
    assert len(manifest.images) == 24
    assert manifest.images["patient_id"].nunique() == 6
    assert manifest.images["cancer"].isin([0.0, 1.0]).all()
    for path in manifest.images["path"]:
        assert (synthetic_root / path).is_file()


def test_train_csv_has_kaggle_columns(synthetic_root: Path) -> None:
    rows = pd.read_csv(synthetic_root / "train.csv", dtype=str, keep_default_na=False)
    assert tuple(rows.columns) == TRAIN_COLUMNS
    assert rows["patient_id"].str.fullmatch(r"\d{5}").all()
    assert rows["image_id"].str.fullmatch(r"\d+").all()
    assert rows["age"].str.fullmatch(r"\d+\.0").all()
    assert set(rows["site_id"]) <= {"1", "2"}
    assert set(rows["difficult_negative_case"]) <= {"True", "False"}
    site_two = rows[rows["site_id"] == "2"]
    assert (site_two["BIRADS"] == "").all()
    assert (site_two["density"] == "").all()
    assert set(rows.loc[rows["site_id"] == "1", "BIRADS"]) <= {"0", "1", "2"}


def test_labels_per_breast(synthetic_root: Path) -> None:
    rows = pd.read_csv(synthetic_root / "train.csv")
    per_breast = rows.groupby(["patient_id", "laterality"])[["cancer", "biopsy", "invasive"]].nunique()
    assert (per_breast == 1).all().all()
    assert ((rows["invasive"] <= rows["cancer"]) & (rows["cancer"] <= rows["biopsy"])).all()


def test_image_files_in_layout(synthetic_root: Path) -> None:
    rows = pd.read_csv(synthetic_root / "train.csv", dtype=str)
    for patient, image in zip(rows["patient_id"], rows["image_id"]):
        assert (synthetic_root / "train_images" / patient / f"{image}.dcm").is_file()


def test_report_splits_match_manifest(synthetic_root: Path) -> None:
    manifest = load_dataset("rsna", synthetic_root)
    reports = pd.read_csv(synthetic_root / "reports.csv", dtype=str)
    assert len(reports) == 12
    split_of = dict(zip(manifest.images["patient_id"], manifest.images["split"]))
    for patient, split in zip(reports["patient_id"], reports["split"]):
        assert split_of[patient] == split


def test_same_seed_identical_csvs(tmp_path: Path, synthetic_root: Path) -> None:
    write_synthetic(tmp_path, _config(), workers=2)
    for name in ("train.csv", "reports.csv", "SYNTHETIC.json"):
        assert (tmp_path / name).read_bytes() == (synthetic_root / name).read_bytes(), name


def test_default_prevalence_is_screening() -> None:
    assert SynthConfig.for_layout("rsna").cancer_prevalence == pytest.approx(0.02)
