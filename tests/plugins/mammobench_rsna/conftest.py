"""Small RSNA Screening Mammography copies in the Kaggle and Mammo-CLIP layouts.

40 patients with four images each (L/R x CC/MLO); every fifth patient has cancer in the left
breast. Image files are placeholders: the adapter reads only the CSV and checks that files exist.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

N_PATIENTS = 40
DENSITIES = ["A", "B", "C", "D", ""]


def train_rows() -> pd.DataFrame:
    records = []
    image_id = 1000
    for patient in range(N_PATIENTS):
        patient_id = 10_000 + patient
        cancer_patient = patient % 5 == 0
        for laterality in ("L", "R"):
            for view in ("CC", "MLO"):
                image_id += 1
                cancer = int(cancer_patient and laterality == "L")
                # BI-RADS is known for every third patient: 0 (recall) for cancer, else 1.
                birads = ""
                if patient % 3 == 0:
                    birads = "0" if cancer_patient else "1"
                records.append(
                    {
                        "site_id": 1 + patient % 2,
                        "patient_id": patient_id,
                        "image_id": image_id,
                        "laterality": laterality,
                        "view": view,
                        "age": "" if patient == 3 else 40 + patient,
                        "cancer": cancer,
                        "biopsy": int(cancer or patient == 7),
                        "invasive": int(cancer and patient % 10 == 0),
                        "BIRADS": birads,
                        "implant": 0,
                        "density": DENSITIES[patient % 5],
                        "machine_id": 49,
                        "difficult_negative_case": "False",
                    }
                )
    return pd.DataFrame.from_records(records)


def write_kaggle_release(root: Path) -> Path:
    rows = train_rows()
    root.mkdir(parents=True, exist_ok=True)
    rows.to_csv(root / "train.csv", index=False)
    for _, row in rows.iterrows():
        path = root / "train_images" / str(row["patient_id"]) / f"{row['image_id']}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")
    return root


def write_png_release(root: Path) -> Path:
    """Write Mammo-CLIP's layout: 'train_folds.csv' (BIRADS as floats, plus 'fold') and PNGs."""
    rows = train_rows()
    rows["BIRADS"] = pd.to_numeric(rows["BIRADS"]).map(
        lambda value: "" if pd.isna(value) else f"{value:.1f}"
    )
    rows["fold"] = rows["patient_id"] % 4
    root.mkdir(parents=True, exist_ok=True)
    rows.to_csv(root / "train_folds.csv", index=False)
    for _, row in rows.iterrows():
        path = root / "train_images_png" / str(row["patient_id"]) / f"{row['image_id']}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")
    return root


@pytest.fixture
def kaggle_root(tmp_path: Path) -> Path:
    """An RSNA copy in the Kaggle layout."""
    return write_kaggle_release(tmp_path / "rsna")


@pytest.fixture
def rsna_png_root(tmp_path: Path) -> Path:
    """An RSNA copy in the Mammo-CLIP PNG layout."""
    return write_png_release(tmp_path / "rsna-png")
