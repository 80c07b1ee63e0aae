"""mini-MIAS adapter tests: parsing errors on small files, and the real images and Info.txt.

The real tests read the folder named by MAMMOBENCH_REALDATA (its ``mini-mias`` subfolder contains
66 of the 322 images with the complete Info.txt) and skip when it is not set.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mammobench.data.splits import check_patient_disjoint
from mammobench.errors import DataError
from mammobench.plugin_host import PluginHost


@pytest.fixture(scope="module")
def load_mias():
    """The mini-MIAS adapter as the plugin host resolves it from the installed entry point."""
    host = PluginHost(allow=["mias"]).load()
    assert host.failures == []
    return host.dataset("mias").load()


@pytest.fixture(scope="module")
def mias_dir(realdata_dir: Path) -> Path:
    path = realdata_dir / "mini-mias"
    if not (path / "Info.txt").is_file():
        pytest.skip(f"'{path}' has no Info.txt")
    return path


@pytest.fixture(scope="module")
def real_manifest(load_mias, mias_dir):
    return load_mias(mias_dir)


def info_rows(path: Path) -> list[list[str]]:
    """The ground-truth rows of Info.txt, split on whitespace (an independent, minimal parser)."""
    lines = path.read_text(encoding="latin-1").splitlines()
    return [line.split() for line in lines if line.startswith("mdb")]


def write_info(root: Path, rows: list[str], images: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Info.txt").write_text("header line\n\n" + "\n".join(rows) + "\n", encoding="latin-1")
    for name in images:
        Image.new("L", (64, 48), color=20).save(root / f"{name}.pgm")
    return root


# ---------------------------------------------------------------------------------------------
# Small files
# ---------------------------------------------------------------------------------------------


def test_small_copy_labels_and_box(load_mias, tmp_path):
    rows = ["mdb001 G CIRC B 10 8 4", "mdb002 F NORM ", "mdb003 D CALC M *NOTE 3*", "mdb004 D NORM"]
    root = write_info(tmp_path / "mias", rows, ["mdb001", "mdb002", "mdb003", "mdb004"])

    manifest = load_mias(root)
    images = manifest.images.set_index("image_id")

    assert images.loc["mdb001", "patient_id"] == "mdb001-002"
    assert images.loc["mdb002", "patient_id"] == "mdb001-002"
    assert images.loc["mdb001", "laterality"] == "R"
    assert images.loc["mdb002", "laterality"] == "L"
    assert images.loc["mdb001", "mass"] == 1.0
    assert images.loc["mdb001", "malignant"] == 0.0
    assert images.loc["mdb003", "calcification"] == 1.0
    assert images.loc["mdb003", "malignant"] == 1.0
    assert images.loc["mdb004", "abnormal"] == 0.0
    assert images.loc["mdb003", "tissue"] == "D"
    # Centre (10, 8) counted from the bottom of a 48-row image is row 39; its middle is 39.5.
    box = manifest.boxes.iloc[0]
    assert len(manifest.boxes) == 1
    assert (box["xmin"], box["ymin"], box["xmax"], box["ymax"]) == (6.5, 35.5, 14.5, 43.5)


def test_box_clipped_to_image(load_mias, tmp_path):
    root = write_info(tmp_path / "mias", ["mdb001 G CIRC B 2 45 10"], ["mdb001"])

    box = load_mias(root).boxes.iloc[0]

    assert (box["xmin"], box["ymin"], box["xmax"], box["ymax"]) == (0.0, 0.0, 12.5, 12.5)


def test_absent_images_dropped_and_logged(load_mias, tmp_path, caplog):
    rows = ["mdb001 G NORM", "mdb002 G NORM", "mdb003 F ARCH B 5 5 2", "mdb003 F ARCH M 9 9 2"]
    root = write_info(tmp_path / "mias", rows, ["mdb001", "mdb002"])

    with caplog.at_level(logging.INFO):
        manifest = load_mias(root)

    assert sorted(manifest.images["image_id"]) == ["mdb001", "mdb002"]
    assert manifest.boxes.empty
    assert "dropped 2 of 4 Info.txt rows (1 of 3 images)" in caplog.text


def test_unknown_class_names_line(load_mias, tmp_path):
    root = write_info(tmp_path / "mias", ["mdb001 G NORM", "mdb002 G CIRX B 1 2 3"], ["mdb001"])

    with pytest.raises(DataError, match=r"Info.txt', line 4, column 'class': invalid value 'CIRX'"):
        load_mias(root)


def test_bad_coordinates_name_line(load_mias, tmp_path):
    root = write_info(tmp_path / "mias", ["mdb001 G CIRC B 1 2"], ["mdb001"])

    with pytest.raises(DataError, match=r"line 3, column 'x'"):
        load_mias(root)


def test_centre_outside_image_rejected(load_mias, tmp_path):
    root = write_info(tmp_path / "mias", ["mdb001 G CIRC B 100 2 3"], ["mdb001"])

    with pytest.raises(DataError, match=r"line 3: centre \(100, 2\) lies outside image 'mdb001'"):
        load_mias(root)


def test_missing_info_file_named(load_mias, tmp_path):
    with pytest.raises(DataError, match=r"Info.txt' not found"):
        load_mias(tmp_path)


# ---------------------------------------------------------------------------------------------
# Real mini-MIAS
# ---------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_row_counts_match_info(real_manifest, mias_dir):
    rows = info_rows(mias_dir / "Info.txt")
    present = {row[0] for row in rows if (mias_dir / f"{row[0]}.pgm").is_file()}
    present_rows = [row for row in rows if row[0] in present]
    with_box = [row for row in present_rows if len(row) == 7]
    abnormal = {row[0] for row in present_rows if row[2] != "NORM"}
    malignant = {row[0] for row in present_rows if len(row) > 3 and row[3] == "M"}
    images = real_manifest.images.set_index("image_id")

    assert len(images) == len(present)
    assert set(images.index) == present
    assert len(real_manifest.boxes) == len(with_box)
    assert set(images.index[images["abnormal"] == 1.0]) == abnormal
    assert set(images.index[images["malignant"] == 1.0]) == malignant


@pytest.mark.realdata
def test_real_pairs_share_split(real_manifest):
    images = real_manifest.images

    check_patient_disjoint(real_manifest)
    both = images.groupby("patient_id").filter(lambda pair: len(pair) == 2)
    assert both["patient_id"].nunique() >= 24  # mdb001-mdb048 are all present
    assert (both.groupby("patient_id")["split"].nunique() == 1).all()
    assert set(images["split"]) == {"train", "test"}


@pytest.mark.realdata
def test_real_masses_brighter_than_surround(real_manifest, mias_dir):
    # Circumscribed masses are denser (brighter) than the tissue around them. Measuring at the
    # box from the flipped y proves the flip: at the unflipped row the contrast is gone.
    boxes = real_manifest.boxes
    rows = {
        (row[0], float(row[4]), float(row[5]))
        for row in info_rows(mias_dir / "Info.txt")
        if row[2] == "CIRC" and len(row) == 7
    }
    contrasts, unflipped_contrasts = [], []
    for image_id, x, y in sorted(rows):
        if not (mias_dir / f"{image_id}.pgm").is_file():
            continue
        pixels = np.asarray(Image.open(mias_dir / f"{image_id}.pgm"), dtype=float)
        box = _box_near(boxes, image_id, x + 0.5)
        centre_y = (box["ymin"] + box["ymax"]) / 2
        radius = (box["xmax"] - box["xmin"]) / 2
        contrasts.append(_contrast(pixels, x + 0.5, centre_y, radius))
        unflipped_contrasts.append(_contrast(pixels, x + 0.5, y + 0.5, radius))

    assert len(contrasts) >= 12
    assert min(contrasts) > 5.0, contrasts
    assert np.mean(contrasts) > np.mean(unflipped_contrasts) + 20.0


@pytest.mark.realdata
def test_real_overlays_written(real_manifest, mias_dir, tmp_path):
    written = []
    for image_id in ("mdb001", "mdb002", "mdb005", "mdb015", "mdb028", "mdb209"):
        image = Image.open(mias_dir / f"{image_id}.pgm").convert("RGB")
        draw = ImageDraw.Draw(image)
        for _, box in real_manifest.boxes[real_manifest.boxes["image_id"] == image_id].iterrows():
            draw.rectangle(
                [box["xmin"], box["ymin"], box["xmax"], box["ymax"]], outline=(255, 0, 0), width=3
            )
        path = tmp_path / f"{image_id}-boxes.png"
        image.save(path)
        written.append(path)

    assert all(path.stat().st_size > 0 for path in written)


def _box_near(boxes, image_id: str, centre_x: float):
    candidates = boxes[boxes["image_id"] == image_id]
    distances = ((candidates["xmin"] + candidates["xmax"]) / 2 - centre_x).abs()
    return candidates.loc[distances.idxmin()]


def _contrast(pixels: np.ndarray, centre_x: float, centre_y: float, radius: float) -> float:
    rows, columns = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
    distance = np.hypot(columns + 0.5 - centre_x, rows + 0.5 - centre_y)
    inside = pixels[distance <= radius].mean()
    ring = pixels[(distance > radius) & (distance <= 2 * radius)].mean()
    return float(inside - ring)
