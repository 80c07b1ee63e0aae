"""Breast region: synthetic layouts and the real mini-MIAS films."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mammobench.data.preprocess import preprocess
from mammobench.data.readers import read_image
from mammobench.data.roi import find_breast_region


def synthetic_breast(height: int = 600, width: int = 400, chest_wall: str = "left") -> np.ndarray:
    """A half-ellipse breast against the chest wall, with faint background noise."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0.0, 0.02, size=(height, width)).astype(np.float32)
    rows, columns = np.mgrid[0:height, 0:width]
    distance = columns if chest_wall == "left" else width - 1 - columns
    inside = ((distance / (0.6 * width)) ** 2 + ((rows - height / 2) / (0.4 * height)) ** 2) <= 1.0
    image[inside] = 0.5 + 0.2 * np.sin(rows[inside] / 7.0)
    return image


def test_synthetic_breast_found() -> None:
    region = find_breast_region(synthetic_breast())
    x0, y0, x1, y1 = region.box
    assert region.found
    assert x0 == 0
    assert abs(x1 - 240) <= 6
    assert abs(y0 - 60) <= 6
    assert abs(y1 - 540) <= 6
    assert region.chest_wall_side == "left"
    assert region.side_confident


def test_right_chest_wall_detected() -> None:
    region = find_breast_region(synthetic_breast(chest_wall="right"))
    assert region.chest_wall_side == "right"
    assert region.side_confident


def test_label_and_film_edge_excluded() -> None:
    image = synthetic_breast()
    image[20:60, 300:360] = 1.0  # burned-in label plate
    image[:, 390:400] = 0.95  # bright film edge along the right border
    image[0:8, :] = 0.9  # bright film edge along the top, touching the breast's band

    x0, y0, x1, y1 = find_breast_region(image).box

    assert x1 <= 250
    assert y0 >= 50


def test_edge_glow_joined_to_breast_trimmed() -> None:
    # A graded glow along the chest-wall edge, as on CBIS-DDSM films, joins the breast from top
    # to bottom. The crop must still end near the breast.
    image = synthetic_breast()
    glow = np.linspace(0.3, 0.0, 24, dtype=np.float32)
    image[:, :24] = np.maximum(image[:, :24], glow)

    _, y0, _, y1 = find_breast_region(image).box

    assert abs(y0 - 60) <= 12
    assert abs(y1 - 540) <= 12


def test_label_only_image_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    image = np.random.default_rng(1).uniform(0.0, 0.02, size=(400, 300)).astype(np.float32)
    image[10:40, 200:260] = 1.0

    region = find_breast_region(image)
    with caplog.at_level(logging.WARNING, logger="mammobench.data.preprocess"):
        processed, transform = preprocess(image, "L", "tiny", name="label-only")

    assert not region.found
    assert region.box == (0, 0, 300, 400)
    assert "small mark or text" in region.reason
    assert transform.crop == (0, 0, 300, 400)
    assert processed.max() > 0.5  # the label is kept: nothing is blanked without a breast
    assert "label-only: no breast found" in caplog.text


def test_narrow_breast_at_edge_kept() -> None:
    # A breast only 7 % of the image wide, pressed against the left edge, is all "band".
    rows, columns = np.mgrid[0:600, 0:400]
    inside = (columns / 28.0) ** 2 + ((rows - 300) / 260.0) ** 2 <= 1.0
    image = np.where(inside, 0.6, 0.0).astype(np.float32)
    region = find_breast_region(image)
    assert region.found
    assert region.box[0] == 0
    assert abs(region.box[1] - 40) <= 4
    assert abs(region.box[3] - 560) <= 4


def test_full_frame_breast_keeps_frame() -> None:
    image = np.random.default_rng(2).uniform(0.3, 0.9, size=(300, 200)).astype(np.float32)
    region = find_breast_region(image)
    assert region.found
    assert region.box == (0, 0, 200, 300)


# -------------------------------------------------------------------------------------------------
# Real mini-MIAS films
# -------------------------------------------------------------------------------------------------

_INFO_ROW = re.compile(r"^(mdb\d{3})\s+[FGD]\s+(\w+)\s+([BM])\s+(\d+)\s+(\d+)\s+(\d+)\s*$")


@pytest.fixture(scope="module")
def mias_regions(realdata_dir: Path):
    """Regions of every mini-MIAS image in the real-data folder, keyed by image name."""
    folder = realdata_dir / "mini-mias"
    paths = sorted(folder.glob("mdb*.pgm"))
    if not paths:
        pytest.skip(f"no mini-MIAS images in '{folder}'")
    return {path.stem: (path, find_breast_region(read_image(path))) for path in paths}


@pytest.mark.realdata
def test_mias_breast_found_everywhere(mias_regions) -> None:
    for name, (_, region) in mias_regions.items():
        x0, y0, x1, y1 = region.box
        area = (x1 - x0) * (y1 - y0) / 1024**2
        assert region.found, name
        assert 0.1 < area < 0.9, f"{name}: crop covers {area:.0%} of the film"


@pytest.mark.realdata
def test_mias_lesions_inside_crop(mias_regions, realdata_dir: Path) -> None:
    # Info.txt gives lesion centres with y counted from the bottom edge.
    checked = 0
    for line in (realdata_dir / "mini-mias" / "Info.txt").read_text().splitlines():
        match = _INFO_ROW.match(line)
        if match is None or match.group(1) not in mias_regions:
            continue
        name, x, y = match.group(1), int(match.group(4)), int(match.group(5))
        row = 1023 - y
        x0, y0, x1, y1 = mias_regions[name][1].box
        where = f"{name}: lesion at ({x}, {row}) outside crop {(x0, y0, x1, y1)}"
        assert x0 <= x < x1, where
        assert y0 <= row < y1, where
        checked += 1
    assert checked >= 10


@pytest.mark.realdata
def test_mias_pairs_face_opposite_sides(mias_regions) -> None:
    # Consecutive mini-MIAS films are the two breasts of one patient, scanned facing opposite
    # directions.
    pairs = 0
    for name, (_, region) in mias_regions.items():
        number = int(name[3:])
        partner = f"mdb{number + 1:03d}"
        if number % 2 == 0 or partner not in mias_regions:
            continue
        other = mias_regions[partner][1]
        assert region.side_confident and other.side_confident, name
        assert region.chest_wall_side != other.chest_wall_side, f"{name} and {partner}"
        pairs += 1
    assert pairs >= 10


@pytest.mark.realdata
def test_mias_overlays_written(mias_regions, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("mias-crops")
    tiles = []
    for name, (path, region) in sorted(mias_regions.items()):
        tile = Image.fromarray((read_image(path) * 255).astype(np.uint8)).convert("RGB")
        ImageDraw.Draw(tile).rectangle([region.box[0], region.box[1], region.box[2] - 1, region.box[3] - 1], outline=(255, 0, 0), width=8)
        tiles.append(np.asarray(tile.resize((192, 192))))
    while len(tiles) % 11:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[start : start + 11], axis=1) for start in range(0, len(tiles), 11)]
    overlay = folder / "mini-mias-crops.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(overlay)
    assert overlay.stat().st_size > 0
