"""Real CBIS-DDSM films: the crop keeps the breast and leaves out the burned-in labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mammobench.data.preprocess import preprocess
from mammobench.data.readers import read_image
from mammobench.data.roi import find_breast_region

pytestmark = pytest.mark.realdata

# Burned-in view labels, (x0, y0, x1, y1) in original pixels with a margin of about 60 pixels
# around the letters measured on these two files:
# "LCC" on the left CC film and "RCC" (cut by the film edge) on the right CC film.
CASES = {
    "sfm-benign-0/1-130.dcm": {"laterality": "L", "label": (1900, 380, 2450, 940), "chest_wall": "left"},
    "sfm-malign-0/1-282.dcm": {"laterality": "R", "label": (0, 520, 320, 1080), "chest_wall": "right"},
}


@pytest.fixture(scope="module")
def films(realdata_dir: Path) -> dict[str, np.ndarray]:
    """Both films decoded once for the whole module (about 4700 x 2600 pixels each)."""
    folder = realdata_dir / "dicom" / "cbis-ddsm"
    return {name: read_image(folder / name) for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_crop_excludes_label(films: dict[str, np.ndarray], name: str) -> None:
    region = find_breast_region(films[name])
    x0, y0, x1, y1 = region.box
    lx0, ly0, lx1, ly1 = CASES[name]["label"]

    overlap_x = min(x1, lx1) - max(x0, lx0)
    overlap_y = min(y1, ly1) - max(y0, ly0)
    assert region.found
    assert overlap_x <= 0 or overlap_y <= 0, f"crop {region.box} overlaps the label {CASES[name]['label']}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_crop_keeps_breast(films: dict[str, np.ndarray], name: str) -> None:
    image = films[name]
    x0, y0, x1, y1 = find_breast_region(image).box
    lx0, ly0, lx1, ly1 = CASES[name]["label"]

    # Tissue: clearly bright pixels, not counting the label, the film edges or border glow.
    tissue = image > 0.25
    tissue[ly0:ly1, lx0:lx1] = False
    margin = 64
    tissue[:margin, :] = tissue[-margin:, :] = False
    tissue[:, :margin] = tissue[:, -margin:] = False
    inside = tissue[y0:y1, x0:x1].sum()

    assert inside / tissue.sum() > 0.99
    # and the crop is not the whole film
    assert (x1 - x0) * (y1 - y0) < 0.6 * image.size


@pytest.mark.parametrize("name", sorted(CASES))
def test_chest_wall_side_read_from_image(films: dict[str, np.ndarray], name: str) -> None:
    region = find_breast_region(films[name])
    assert region.side_confident
    assert region.chest_wall_side == CASES[name]["chest_wall"]


def test_right_breast_flipped_to_left(films: dict[str, np.ndarray]) -> None:
    processed, transform = preprocess(films["sfm-malign-0/1-282.dcm"], "R", "tiny")
    height, width = processed.shape

    assert transform.flip
    assert processed.shape == (256, 160)
    # The chest wall is now on the left, so the left half contains most of the tissue.
    assert processed[:, : width // 2].mean() > 2 * processed[:, width // 2 :].mean()


def test_box_on_film_round_trip(films: dict[str, np.ndarray]) -> None:
    _, transform = preprocess(films["sfm-malign-0/1-282.dcm"], "R", "paper")
    box = np.array([[1800.0, 2000.0, 2100.0, 2350.0]])
    assert np.abs(transform.inverse(transform.forward(box)) - box).max() < 1.0


def test_overlays_written(films: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("cbis-crops")
    for name, image in films.items():
        region = find_breast_region(image)
        overlay = Image.fromarray((image * 255).astype(np.uint8)).convert("RGB")
        draw = ImageDraw.Draw(overlay)
        draw.rectangle([region.box[0], region.box[1], region.box[2] - 1, region.box[3] - 1], outline=(255, 0, 0), width=24)
        draw.rectangle(list(CASES[name]["label"]), outline=(255, 255, 0), width=12)
        path = folder / (name.replace("/", "-").replace(".dcm", ".png"))
        overlay.resize((image.shape[1] // 8, image.shape[0] // 8)).save(path)
        assert path.stat().st_size > 0
