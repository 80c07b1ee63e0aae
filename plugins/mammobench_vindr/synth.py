"""Synthetic VinDr-Mammo in the PhysioNet 1.0.0 layout, drawn by mammobench's generator.

::

    <out>/breast-level_annotations.csv   one row per image
    <out>/finding_annotations.csv        one row per finding box, or one 'No Finding' row
    <out>/images/<study_id>/<image_id>.dicom
    <out>/reports.csv                    one row per breast: image paths and a free-text report
    <out>/SYNTHETIC.json                 marks the folder as synthetic, with the generator config

Ids are 32-digit hexadecimal strings like the hashed ids of the real release. Value formats
follow the release: ``BI-RADS 4``, ``DENSITY C``, list strings such as ``['Mass']`` and
``['No Finding']``, splits ``training`` and ``test``. Only findings a reader marks (BI-RADS 3
or higher) get rows; benign look-alikes are drawn and reported but not listed, as in the release.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mammobench.api import (
    SCREENING_IMAGES,
    ImageRecord,
    ImageSlot,
    PatientPlan,
    PatientRecord,
    SynthConfig,
    dicom_uid,
    generate_patients,
    vocab,
    write_reports_table,
    write_synthetic_marker,
)

LAYOUT = "vindr"
IMAGES_DIR = "images"

BREAST_LEVEL_COLUMNS = (
    "study_id",
    "series_id",
    "image_id",
    "laterality",
    "view_position",
    "height",
    "width",
    "breast_birads",
    "breast_density",
    "split",
)
FINDING_COLUMNS = (
    "study_id",
    "series_id",
    "image_id",
    "laterality",
    "view_position",
    "height",
    "width",
    "breast_birads",
    "breast_density",
    "finding_categories",
    "finding_birads",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "split",
)

# Shared finding name -> VinDr-Mammo category spelling.
CATEGORY_NAMES = {
    vocab.MASS: "Mass",
    vocab.CALCIFICATION: "Suspicious Calcification",
    vocab.ARCHITECTURAL_DISTORTION: "Architectural Distortion",
    vocab.ASYMMETRY: "Asymmetry",
    vocab.FOCAL_ASYMMETRY: "Focal Asymmetry",
    vocab.GLOBAL_ASYMMETRY: "Global Asymmetry",
    vocab.SKIN_THICKENING: "Skin Thickening",
    vocab.SKIN_RETRACTION: "Skin Retraction",
    vocab.NIPPLE_RETRACTION: "Nipple Retraction",
    vocab.SUSPICIOUS_LYMPH_NODE: "Suspicious Lymph Node",
}

# Seed streams for ids and splits, apart from the generator's per-patient streams.
_ID_STREAM = 0x56494E44
_SPLIT_STREAM = 0x56494E45


def write_synthetic(
    out: Path,
    config: SynthConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int | None = None,
) -> None:
    """Write a synthetic VinDr-Mammo copy into ``out`` in the PhysioNet layout.

    Args:
        out: Output folder; created when missing. Existing files with the same names are
            overwritten.
        config: Generator settings; None uses ``SynthConfig.for_layout("vindr")``.
        progress: Called as ``progress(done, total)`` after each patient.
        workers: Worker processes; None uses every CPU core. The output does not depend on it.
    """
    config = config or SynthConfig.for_layout(LAYOUT)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    plans, series_ids = _plan_patients(config)
    records = generate_patients(out, config, plans, progress=progress, workers=workers)
    splits = _split_patients(records, config)

    _write_breast_level(out / "breast-level_annotations.csv", records, series_ids, splits)
    _write_findings(out / "finding_annotations.csv", records, series_ids, splits)
    harmonised = {"training": "train", "test": "test"}
    write_reports_table(out, records, lambda record: harmonised[splits[record.plan.patient_id]])
    write_synthetic_marker(out, LAYOUT, config)


def _plan_patients(config: SynthConfig) -> tuple[list[PatientPlan], dict[str, str]]:
    """Draw the ids of every patient; return the plans and the series id of each image id."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _ID_STREAM]))
    plans = []
    series_ids = {}
    for index in range(config.patients):
        study_id = rng.bytes(16).hex()
        slots = []
        for laterality, view in SCREENING_IMAGES:
            image_id = rng.bytes(16).hex()
            series_id = rng.bytes(16).hex()
            series_ids[image_id] = series_id
            slots.append(
                ImageSlot(
                    laterality=laterality,
                    view=view,
                    image_id=image_id,
                    path=f"{IMAGES_DIR}/{study_id}/{image_id}.dicom",
                    series_instance_uid=dicom_uid(series_id),
                    sop_instance_uid=dicom_uid(image_id),
                )
            )
        plans.append(
            PatientPlan(
                index=index,
                patient_id=study_id,
                study_id=study_id,
                study_instance_uid=dicom_uid(study_id),
                images=tuple(slots),
            )
        )
    return plans, series_ids


def _split_patients(records: list[PatientRecord], config: SynthConfig) -> dict[str, str]:
    """Assign each study to ``training`` or ``test``, stratified by its mass and calcification boxes.

    Stratifying keeps positives of both findings in the test split even for small datasets.
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _SPLIT_STREAM]))
    strata: dict[tuple[bool, bool], list[str]] = {}
    for record in records:
        categories = {category for image in record.images for box in image.boxes for category in box.categories}
        key = (vocab.MASS in categories, vocab.CALCIFICATION in categories)
        strata.setdefault(key, []).append(record.plan.patient_id)

    splits = {}
    for key in sorted(strata):
        members = strata[key]
        test_count = int(round(config.test_fraction * len(members)))
        if config.test_fraction > 0 and len(members) > 1:
            test_count = min(max(test_count, 1), len(members) - 1)
        test_members = set(rng.permutation(members)[:test_count].tolist())
        for patient_id in members:
            splits[patient_id] = "test" if patient_id in test_members else "training"
    return splits


def _write_breast_level(
    path: Path, records: list[PatientRecord], series_ids: dict[str, str], splits: dict[str, str]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(BREAST_LEVEL_COLUMNS)
        for record in records:
            for image in record.images:
                writer.writerow(_image_columns(record, image, series_ids) + [splits[record.plan.patient_id]])


def _write_findings(
    path: Path, records: list[PatientRecord], series_ids: dict[str, str], splits: dict[str, str]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FINDING_COLUMNS)
        for record in records:
            split = splits[record.plan.patient_id]
            for image in record.images:
                columns = _image_columns(record, image, series_ids)
                if not image.boxes:
                    writer.writerow(columns + ["['No Finding']", "", "", "", "", "", split])
                    continue
                for box in image.boxes:
                    names = ", ".join(f"'{CATEGORY_NAMES[category]}'" for category in box.categories)
                    birads = f"BI-RADS {box.birads}" if box.birads is not None else ""
                    coordinates = [f"{value:.2f}" for value in (box.xmin, box.ymin, box.xmax, box.ymax)]
                    writer.writerow(columns + [f"[{names}]", birads, *coordinates, split])


def _image_columns(record: PatientRecord, image: ImageRecord, series_ids: dict[str, str]) -> list[str]:
    """Return the columns every row of an image starts with, up to ``breast_density``."""
    breast = record.breasts[image.slot.laterality].plan
    return [
        record.plan.study_id,
        series_ids[image.slot.image_id],
        image.slot.image_id,
        image.slot.laterality,
        image.slot.view,
        str(image.height),
        str(image.width),
        f"BI-RADS {breast.birads}",
        f"DENSITY {breast.density}",
    ]

