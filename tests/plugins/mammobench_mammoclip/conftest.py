"""Fixtures for the Mammo-CLIP plugin tests: a tiny image-report dataset and a tiny recipe.

The dataset is a reports CSV with PNG mammogram-like images (a bright breast blob on a dark
background, with a brighter disc where the report names a mass), small enough that a full
pretraining run takes a few seconds on a CPU.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mammobench_mammoclip.recipe import Recipe, parse_recipe

IMAGE_SHAPE = (96, 64)
PATIENTS = {"train": 4, "val": 1, "test": 1}
MASS_REPORT = (
    "FINDINGS: A spiculated mass is seen. The breast is heterogeneously dense.\n"
    "IMPRESSION: Suspicious mass. BI-RADS 4."
)
NORMAL_REPORT = "FINDINGS: No mass is seen. The breast is mostly fatty.\nIMPRESSION: Negative. BI-RADS 1."


def write_reports_dataset(root: Path, seed: int = 0) -> Path:
    """Write PNG images and a reports CSV (see docs/mammoclip.md) under ``root``; return the CSV."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    number = 0
    for split, count in PATIENTS.items():
        for _ in range(count):
            number += 1
            patient = f"P{number:03d}"
            for laterality in ("L", "R"):
                has_mass = bool(rng.random() < 0.5)
                names = []
                for view in ("CC", "MLO"):
                    name = f"{patient}_{laterality}_{view}.png"
                    Image.fromarray(_breast_image(rng, has_mass)).save(root / name)
                    names.append(name)
                report = MASS_REPORT if has_mass else NORMAL_REPORT
                rows.append([patient, laterality, names[0], names[1], report, split])

    csv_path = root / "reports.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "laterality", "cc_image", "mlo_image", "report", "split"])
        writer.writerows(rows)
    return csv_path


def tiny_recipe_text(csv_path: Path, epochs: int = 2) -> str:
    return f"""
name = "mammoclip-test"

[model]
image_architecture = "test_efficientnet"

[model.text]
max_length = 48
vocab_size = 120
hidden_size = 32
num_layers = 1
num_heads = 2
intermediate_size = 64

[data]
profile = "tiny"

[[data.sources]]
dataset = "tiny-reports"
reports = true
synthesize = false
reports_csv = "{csv_path}"

[train]
epochs = {epochs}
batch_size = 4
learning_rate = 1e-3
warmup_epochs = 0.5
seed = 3
device = "cpu"
"""


@pytest.fixture(scope="session")
def reports_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reports_dataset(tmp_path_factory.mktemp("tiny-reports"))


@pytest.fixture(scope="session")
def tiny_recipe(reports_csv: Path) -> Recipe:
    return parse_recipe(tiny_recipe_text(reports_csv), source="tiny test recipe")


def _breast_image(rng: np.random.Generator, has_mass: bool) -> np.ndarray:
    height, width = IMAGE_SHAPE
    rows, cols = np.mgrid[0:height, 0:width]
    # A half-ellipse against the left edge, as a breast with its chest wall on the left.
    inside = ((rows - height / 2) / (height * 0.45)) ** 2 + (cols / (width * 0.8)) ** 2 < 1.0
    image = np.where(inside, 110 + 30 * rng.random((height, width)), 5 * rng.random((height, width)))
    if has_mass:
        center_row, center_col = rng.integers(height // 3, 2 * height // 3), rng.integers(width // 6, width // 2)
        image[(rows - center_row) ** 2 + (cols - center_col) ** 2 < 36] = 240
    return image.astype(np.uint8)
