from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from mammobench import vocab
from mammobench.data.readers import read_image
from mammobench.synth import FindingRates, generate_patients
from mammobench.synth.exam import generate_patient

# Every breast gets a mass and a calcification cluster, so each test sees lesions.
_LESION_RATES = FindingRates(mass=1.0, calcification=1.0, benign_calcification=0.0, skin_marker=0.0)


def _breast_mask(pixels: np.ndarray) -> np.ndarray:
    """Return the largest connected bright region: the breast (burned-in labels are small)."""
    mask = pixels > 0.02
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = ndimage.sum(mask, labels, range(1, count + 1))
    return labels == (int(np.argmax(sizes)) + 1)


def test_patient_writes_four_views(tmp_path: Path, small_config, make_plans) -> None:
    record = generate_patient(small_config(), make_plans(1)[0], tmp_path)

    assert [(image.slot.laterality, image.slot.view) for image in record.images] == [
        ("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")
    ]
    for image in record.images:
        dataset = pydicom.dcmread(tmp_path / image.slot.path)
        assert dataset.Modality == "MG"
        assert dataset.ImageLaterality == image.slot.laterality
        assert dataset.Laterality == image.slot.laterality
        assert dataset.ViewPosition == image.slot.view
        assert dataset.pixel_array.shape == (256, 160)


def test_same_seed_same_files(tmp_path: Path, small_config, make_plans) -> None:
    config = small_config()
    plan = make_plans(1)[0]
    first = generate_patient(config, plan, tmp_path / "a")
    second = generate_patient(config, plan, tmp_path / "b")

    for image in first.images:
        assert (tmp_path / "a" / image.slot.path).read_bytes() == (tmp_path / "b" / image.slot.path).read_bytes()
    assert [b.report for b in first.breasts.values()] == [b.report for b in second.breasts.values()]


def test_worker_count_same_output(tmp_path: Path, small_config, make_plans) -> None:
    config = small_config()
    plans = make_plans(3)
    serial = generate_patients(tmp_path / "serial", config, plans, workers=1)
    parallel = generate_patients(tmp_path / "parallel", config, plans, workers=2)

    assert [r.plan.patient_id for r in parallel] == [p.patient_id for p in plans]
    for left, right in zip(serial, parallel):
        assert [i.boxes for i in left.images] == [i.boxes for i in right.images]
        for image in left.images:
            serial_bytes = (tmp_path / "serial" / image.slot.path).read_bytes()
            assert serial_bytes == (tmp_path / "parallel" / image.slot.path).read_bytes()


def test_different_seeds_differ(tmp_path: Path, small_config, make_plans) -> None:
    plan = make_plans(1)[0]
    generate_patient(small_config(seed=1), plan, tmp_path / "a")
    generate_patient(small_config(seed=2), plan, tmp_path / "b")
    path = plan.images[0].path
    assert (tmp_path / "a" / path).read_bytes() != (tmp_path / "b" / path).read_bytes()


def test_boxes_inside_breast(tmp_path: Path, small_config, make_plans) -> None:
    config = small_config(patients=4, finding_rates=_LESION_RATES)
    records = generate_patients(tmp_path, config, make_plans(4), workers=1)

    box_count = 0
    for record in records:
        for image in record.images:
            pixels = read_image(tmp_path / image.slot.path)
            breast = ndimage.binary_dilation(_breast_mask(pixels), iterations=3)
            for box in image.boxes:
                box_count += 1
                assert 0 <= box.xmin < box.xmax <= image.width
                assert 0 <= box.ymin < box.ymax <= image.height
                row = int((box.ymin + box.ymax) / 2)
                column = int((box.xmin + box.xmax) / 2)
                assert breast[row, column], f"box {box} of {image.slot.image_id} is outside the breast"
    assert box_count >= 8


def test_lesions_brighter_than_surroundings(tmp_path: Path, small_config, make_plans) -> None:
    config = small_config(patients=4, finding_rates=_LESION_RATES, size=(384, 240))
    records = generate_patients(tmp_path, config, make_plans(4), workers=1)

    differences = {vocab.MASS: [], vocab.CALCIFICATION: []}
    for record in records:
        for image in record.images:
            pixels = read_image(tmp_path / image.slot.path)
            breast = _breast_mask(pixels)
            for box in image.boxes:
                inside, around = _box_and_ring(pixels, breast, box)
                if inside is None:
                    continue
                for category in box.categories:
                    if category in differences:
                        differences[category].append(inside - around)

    assert len(differences[vocab.MASS]) >= 4
    assert len(differences[vocab.CALCIFICATION]) >= 4
    assert np.mean(differences[vocab.MASS]) > 0.02
    assert np.mean(differences[vocab.CALCIFICATION]) > 0.0


def test_zero_contrast_draws_no_lesion(tmp_path: Path, small_config, make_plans) -> None:
    plan = make_plans(1)[0]
    with_lesions = small_config(finding_rates=_LESION_RATES, lesion_contrast=1.0)
    without = small_config(finding_rates=_LESION_RATES, lesion_contrast=0.0)
    record = generate_patient(with_lesions, plan, tmp_path / "a")
    generate_patient(without, plan, tmp_path / "b")

    image = next(image for image in record.images if image.boxes)
    box = image.boxes[0]
    visible = read_image(tmp_path / "a" / image.slot.path)
    hidden = read_image(tmp_path / "b" / image.slot.path)
    rows = slice(int(box.ymin), int(np.ceil(box.ymax)))
    columns = slice(int(box.xmin), int(np.ceil(box.xmax)))
    assert visible[rows, columns].mean() > hidden[rows, columns].mean()


def test_lesions_keep_display_window(tmp_path: Path, small_config, make_plans) -> None:
    # A window widened by bright specks would darken the whole image: a global label cue.
    plan = make_plans(1)[0]
    generate_patient(small_config(finding_rates=_LESION_RATES, lesion_contrast=1.0), plan, tmp_path / "a")
    generate_patient(small_config(finding_rates=_LESION_RATES, lesion_contrast=0.0), plan, tmp_path / "b")

    for slot in plan.images:
        with_lesions = pydicom.dcmread(tmp_path / "a" / slot.path, stop_before_pixels=True)
        without = pydicom.dcmread(tmp_path / "b" / slot.path, stop_before_pixels=True)
        assert (with_lesions.WindowCenter, with_lesions.WindowWidth) == (without.WindowCenter, without.WindowWidth)


def test_reports_name_each_breast(tmp_path: Path, small_config, make_plans) -> None:
    record = generate_patient(small_config(), make_plans(1)[0], tmp_path)
    assert "left" in record.breasts["L"].report
    assert "right" in record.breasts["R"].report
    for breast in record.breasts.values():
        assert f"BI-RADS {breast.plan.birads}" in breast.report.replace("category ", "")


@pytest.mark.parametrize("photometric_fraction, expected", [(0.0, "MONOCHROME2"), (1.0, "MONOCHROME1")])
def test_photometric_fraction(tmp_path: Path, small_config, make_plans, photometric_fraction: float, expected: str) -> None:
    record = generate_patient(small_config(monochrome1_fraction=photometric_fraction), make_plans(1)[0], tmp_path)
    dataset = pydicom.dcmread(tmp_path / record.images[0].slot.path)
    assert dataset.PhotometricInterpretation == expected
    pixels = read_image(tmp_path / record.images[0].slot.path)
    corner = pixels[-10:, -10:] if record.images[0].slot.laterality == "L" else pixels[-10:, :10]
    assert corner.mean() < pixels.mean(), "air should read dark after MONOCHROME1 inversion"


def _box_and_ring(pixels: np.ndarray, breast: np.ndarray, box) -> tuple[float | None, float]:
    """Return the mean inside the central half of a box and in a ring around the box."""
    height, width = pixels.shape
    center_y = (box.ymin + box.ymax) / 2
    center_x = (box.xmin + box.xmax) / 2
    half_y = (box.ymax - box.ymin) / 2
    half_x = (box.xmax - box.xmin) / 2
    rows, columns = np.mgrid[0:height, 0:width]
    distance = np.maximum(np.abs(rows + 0.5 - center_y) / max(half_y, 1), np.abs(columns + 0.5 - center_x) / max(half_x, 1))
    inside = (distance <= 0.5) & breast
    ring = (distance > 1.2) & (distance <= 2.2) & breast
    if inside.sum() < 2 or ring.sum() < 10:
        return None, 0.0
    return float(pixels[inside].mean()), float(pixels[ring].mean())
