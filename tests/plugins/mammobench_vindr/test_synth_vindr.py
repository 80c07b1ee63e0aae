"""The synthetic VinDr-Mammo writer: real layout, loadable by the real adapter, deterministic."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mammobench.data.roots import load_dataset
from mammobench.synth import FindingRates, SynthConfig
from mammobench_vindr.synth import BREAST_LEVEL_COLUMNS, CATEGORY_NAMES, FINDING_COLUMNS, write_synthetic

_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def _config(**overrides: object) -> SynthConfig:
    settings: dict[str, object] = {
        "patients": 5,
        "size": (256, 160),
        "seed": 3,
        "finding_rates": FindingRates(mass=0.5, calcification=0.5),
    }
    settings.update(overrides)
    return SynthConfig.for_layout("vindr", **settings)


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vindr-synthetic")
    write_synthetic(root, _config(), workers=1)
    return root


def test_adapter_loads_synthetic(synthetic_root: Path) -> None:
    manifest = load_dataset("vindr", synthetic_root)
    assert manifest.synthetic
    assert len(manifest.images) == 20
    assert manifest.images["patient_id"].nunique() == 5
    assert set(manifest.images["split"]) == {"train", "test"}
    assert manifest.images["density"].isin(list("ABCD")).all()
    assert manifest.images["mass"].sum() > 0
    assert len(manifest.boxes) > 0
    for path in manifest.images["path"]:
        assert (synthetic_root / path).is_file()


def test_csv_columns_and_formats(synthetic_root: Path) -> None:
    breast = pd.read_csv(synthetic_root / "breast-level_annotations.csv", dtype=str)
    findings = pd.read_csv(synthetic_root / "finding_annotations.csv", dtype=str, keep_default_na=False)

    assert tuple(breast.columns) == BREAST_LEVEL_COLUMNS
    assert tuple(findings.columns) == FINDING_COLUMNS
    assert breast["breast_birads"].str.fullmatch(r"BI-RADS [1-5]").all()
    assert breast["breast_density"].str.fullmatch(r"DENSITY [ABCD]").all()
    assert set(breast["split"]) <= {"training", "test"}
    assert breast["study_id"].str.fullmatch(_HEX_ID).all()
    assert breast["image_id"].str.fullmatch(_HEX_ID).all()

    known = set(CATEGORY_NAMES.values()) | {"No Finding"}
    for text, birads, xmin in zip(findings["finding_categories"], findings["finding_birads"], findings["xmin"]):
        names = ast.literal_eval(text)
        assert names and set(names) <= known
        if names == ["No Finding"]:
            assert birads == "" and xmin == ""
        else:
            assert re.fullmatch(r"BI-RADS [3-5]", birads)
            assert float(xmin) >= 0


def test_image_files_in_layout(synthetic_root: Path) -> None:
    breast = pd.read_csv(synthetic_root / "breast-level_annotations.csv", dtype=str)
    for study, image in zip(breast["study_id"], breast["image_id"]):
        assert (synthetic_root / "images" / study / f"{image}.dicom").is_file()


def test_reports_table_links_images(synthetic_root: Path) -> None:
    reports = pd.read_csv(synthetic_root / "reports.csv", dtype=str)
    assert list(reports.columns) == ["patient_id", "laterality", "cc_image", "mlo_image", "report", "split"]
    assert len(reports) == 10
    assert set(reports["split"]) <= {"train", "test"}
    for row in reports.itertuples():
        assert (synthetic_root / row.cc_image).is_file()
        assert (synthetic_root / row.mlo_image).is_file()
        assert row.report.startswith("FINDINGS: ")
        assert "IMPRESSION: " in row.report


def test_report_splits_match_manifest(synthetic_root: Path) -> None:
    manifest = load_dataset("vindr", synthetic_root)
    reports = pd.read_csv(synthetic_root / "reports.csv", dtype=str)
    split_of = dict(zip(manifest.images["patient_id"], manifest.images["split"]))
    for patient, split in zip(reports["patient_id"], reports["split"]):
        assert split_of[patient] == split


def test_test_split_has_positives(synthetic_root: Path) -> None:
    manifest = load_dataset("vindr", synthetic_root)
    test = manifest.images[manifest.images["split"] == "test"]
    assert test["mass"].sum() + test["calcification"].sum() > 0


def test_same_seed_identical_csvs(tmp_path: Path, synthetic_root: Path) -> None:
    write_synthetic(tmp_path, _config(), workers=2)
    for name in ("breast-level_annotations.csv", "finding_annotations.csv", "reports.csv", "SYNTHETIC.json"):
        assert (tmp_path / name).read_bytes() == (synthetic_root / name).read_bytes(), name
    breast = pd.read_csv(tmp_path / "breast-level_annotations.csv", dtype=str)
    first = Path("images") / breast["study_id"][0] / f"{breast['image_id'][0]}.dicom"
    assert (tmp_path / first).read_bytes() == (synthetic_root / first).read_bytes()


def test_boxes_inside_image(synthetic_root: Path) -> None:
    manifest = load_dataset("vindr", synthetic_root)
    boxes = manifest.boxes
    assert (boxes["xmin"] >= 0).all() and (boxes["ymin"] >= 0).all()
    assert (boxes["xmax"] <= 160).all() and (boxes["ymax"] <= 256).all()
    assert (boxes["xmax"] > boxes["xmin"]).all() and (boxes["ymax"] > boxes["ymin"]).all()


def test_lesion_in_both_views(synthetic_root: Path) -> None:
    manifest = load_dataset("vindr", synthetic_root)
    masses = manifest.boxes[manifest.boxes["category"] == "mass"].merge(manifest.images, on="image_id")
    views_per_breast = masses.groupby(["patient_id", "laterality"])["view"].nunique()
    assert (views_per_breast == 2).mean() > 0.8
    assert np.all(views_per_breast >= 1)
