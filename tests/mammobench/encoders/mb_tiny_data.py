"""A tiny manifest of PNG mammogram look-alikes, one of them damaged, for extraction tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mammobench.data.manifest import Manifest

BAD_IMAGE_ID = "damaged"
MANIFEST_FILE = "manifest.csv"


def write_mammogram(path: Path, seed: int, height: int = 96, width: int = 64) -> None:
    """Write an 8-bit PNG: a textured half-ellipse (the breast) against a dark background."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width]
    breast = (columns / (0.8 * width)) ** 2 + ((rows - height / 2) / (0.45 * height)) ** 2 < 1
    pixels = np.where(breast, 120 + 100 * rng.random((height, width)), 5).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def tiny_manifest(root: Path, count: int = 6, *, with_damaged: bool = True) -> Manifest:
    """Write ``count`` images (two per patient, first two thirds train, rest test) and a manifest."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        path = root / f"image{index}.png"
        write_mammogram(path, seed=index)
        rows.append(
            _row(
                f"image{index}",
                f"patient{index // 2}",
                "L" if index % 2 == 0 else "R",
                path.name,
                "train" if index < 2 * count // 3 else "test",
            )
        )
    if with_damaged:
        (root / "damaged.png").write_bytes(b"not a png file")
        rows.append(_row(BAD_IMAGE_ID, "patient-damaged", "L", "damaged.png", "train"))
    images = pd.DataFrame(rows)
    images.to_csv(root / MANIFEST_FILE, index=False)
    return Manifest(dataset="tiny-test", root=root, images=images).validate()


def read_tiny(root: Path) -> Manifest:
    """Dataset adapter of the 'tiny-test' dataset: read the manifest that tiny_manifest wrote."""
    images = pd.read_csv(
        Path(root) / MANIFEST_FILE, dtype={"density": str, "site": str}, keep_default_na=False
    )
    images["birads"] = images["birads"].astype(float)
    images["age"] = images["age"].astype(float)
    return Manifest(dataset="tiny-test", root=Path(root), images=images).validate()


def _row(
    image_id: str, patient_id: str, laterality: str, path: str, split: str
) -> dict[str, object]:
    return {
        "image_id": image_id,
        "patient_id": patient_id,
        "exam_id": f"{patient_id}-exam",
        "laterality": laterality,
        "view": "CC",
        "path": path,
        "split": split,
        "density": "B",
        "birads": 1.0,
        "age": 55.0,
        "site": "",
    }
