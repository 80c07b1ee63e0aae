"""Small VinDr-Mammo copies in both layouts, written to temporary folders.

Six studies of four images each: s0-s3 in the official training split, s4 and s5 in test. The
image files are placeholders because the adapter reads only the CSV files and checks that the
image files exist.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

VIEWS = [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]
DENSITIES = ["DENSITY A", "DENSITY B", "DENSITY C", "DENSITY D", "DENSITY C", "DENSITY B"]

# (study, laterality, view) -> finding rows: (categories, finding BI-RADS, box or None)
FINDINGS = {
    ("s0", "L", "CC"): [("['Mass']", "BI-RADS 4", (10.0, 20.0, 110.0, 220.0))],
    ("s0", "L", "MLO"): [
        ("['Suspicious Calcification', 'Mass']", "BI-RADS 4", (30.5, 40.25, 60.0, 90.0)),
        ("['Mass']", "BI-RADS 3", (200.0, 210.0, 260.0, 280.0)),
    ],
    ("s1", "R", "CC"): [
        ("['Focal Asymmetry']", "BI-RADS 3", (5.0, 5.0, 50.0, 50.0)),
        ("['Architectural Distortion']", "BI-RADS 4", (-6.25, 100.0, 40.0, 160.0)),
    ],
    ("s2", "L", "MLO"): [("['Skin Thickening']", None, (1.0, 2.0, 3.0, 4.0))],
    ("s3", "R", "MLO"): [("['Nipple Retraction', 'Mass']", "BI-RADS 5", (70.0, 80.0, 90.0, 100.0))],
    ("s4", "R", "CC"): [("['Global Asymmetry']", "BI-RADS 3", (300.0, 310.0, 400.0, 420.0))],
    ("s5", "L", "CC"): [("['Suspicious Lymph Node']", "BI-RADS 2", None)],
}


def image_id(study: str, laterality: str, view: str) -> str:
    return f"{study}{laterality}{view.lower()}"


def breast_level_rows() -> pd.DataFrame:
    records = []
    for number in range(6):
        study = f"s{number}"
        for laterality, view in VIEWS:
            records.append(
                {
                    "study_id": study,
                    "series_id": f"series{number}{laterality}",
                    "image_id": image_id(study, laterality, view),
                    "laterality": laterality,
                    "view_position": view,
                    "height": 3518,
                    "width": 2800,
                    "breast_birads": "BI-RADS 4"
                    if (study, laterality, "CC") in FINDINGS
                    else "BI-RADS 1",
                    "breast_density": DENSITIES[number],
                    "split": "training" if number < 4 else "test",
                }
            )
    return pd.DataFrame.from_records(records)


def finding_rows(breast: pd.DataFrame) -> pd.DataFrame:
    records = []
    for _, image in breast.iterrows():
        key = (image["study_id"], image["laterality"], image["view_position"])
        findings = FINDINGS.get(key, [("['No Finding']", None, None)])
        for categories, birads, box in findings:
            xmin, ymin, xmax, ymax = box if box is not None else (np.nan,) * 4
            records.append(
                {
                    **image.to_dict(),
                    "finding_categories": categories,
                    "finding_birads": birads,
                    "xmin": xmin,
                    "ymin": ymin,
                    "xmax": xmax,
                    "ymax": ymax,
                }
            )
    columns = [
        *breast.columns[:-1],
        "finding_categories",
        "finding_birads",
        "xmin",
        "ymin",
        "xmax",
        "ymax",
        "split",
    ]
    return pd.DataFrame.from_records(records)[columns]


def write_dicom_release(root: Path) -> Path:
    breast = breast_level_rows()
    root.mkdir(parents=True, exist_ok=True)
    breast.to_csv(root / "breast-level_annotations.csv", index=False)
    finding_rows(breast).to_csv(root / "finding_annotations.csv", index=False)
    for _, image in breast.iterrows():
        path = root / "images" / image["study_id"] / f"{image['image_id']}.dicom"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")
    return root


def write_png_release(root: Path) -> Path:
    """Write the Mammo-CLIP layout: boxes scaled by 0.25 into 'resized_*' columns."""
    findings = finding_rows(breast_level_rows())
    rows = findings.rename(columns={"study_id": "patient_id", "view_position": "view"})
    rows["image_id"] = rows["image_id"] + ".png"
    for name in ("xmin", "ymin", "xmax", "ymax"):
        rows[f"resized_{name}"] = rows[name] * 0.25
    rows["fold"] = 0
    rows["Mass"] = rows["finding_categories"].str.contains("Mass").astype(int)
    rows["density"] = rows["breast_density"].str[-1].map({"A": 0, "B": 1, "C": 2, "D": 3})

    root.mkdir(parents=True, exist_ok=True)
    rows.to_csv(root / "vindr_detection_v1_folds.csv", index=False)
    for _, row in rows.drop_duplicates("image_id").iterrows():
        path = root / "images_png" / row["patient_id"] / row["image_id"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")
    return root


@pytest.fixture
def dicom_root(tmp_path: Path) -> Path:
    """A VinDr-Mammo copy in the PhysioNet layout."""
    return write_dicom_release(tmp_path / "vindr")


@pytest.fixture
def png_root(tmp_path: Path) -> Path:
    """A VinDr-Mammo copy in the Mammo-CLIP PNG layout."""
    return write_png_release(tmp_path / "vindr-png")


@pytest.fixture
def both_root(tmp_path: Path) -> Path:
    """A folder holding both layouts, as in a Mammo-CLIP checkout of the PhysioNet release."""
    root = write_dicom_release(tmp_path / "both")
    return write_png_release(root)
