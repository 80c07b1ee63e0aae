"""Synthetic RSNA Screening Mammography data in the Kaggle layout, drawn by mammobench's generator.

::

    <out>/train.csv                                  one row per image, Kaggle's columns
    <out>/train_images/<patient_id>/<image_id>.dcm
    <out>/reports.csv                                one row per breast: image paths and a report
    <out>/SYNTHETIC.json                             marks the folder as synthetic

Ids are integers like Kaggle's. As in the competition data, site 2 leaves ``BIRADS`` and
``density`` empty, and ``BIRADS`` is 0 (recalled), 1 (negative) or 2 (benign). ``cancer``,
``biopsy`` and ``invasive`` are 0 or 1 per breast. ``difficult_negative_case`` is True for a
biopsied breast without cancer.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mammobench.api import (
    ConfigError,
    SCREENING_IMAGES,
    ImageSlot,
    PatientPlan,
    PatientRecord,
    SynthConfig,
    dicom_uid,
    generate_patients,
    write_reports_table,
    write_synthetic_marker,
)

LAYOUT = "rsna"
IMAGES_DIR = "train_images"

TRAIN_COLUMNS = (
    "site_id",
    "patient_id",
    "image_id",
    "laterality",
    "view",
    "age",
    "cancer",
    "biopsy",
    "invasive",
    "BIRADS",
    "implant",
    "density",
    "machine_id",
    "difficult_negative_case",
)

# Seed stream for ids, apart from the generator's per-patient streams.
_ID_STREAM = 0x5253_4E41

# Kaggle's patient ids are 5-digit numbers at most; image ids fit a signed 32-bit integer.
_PATIENT_ID_RANGE = (10_000, 65_535)
_IMAGE_ID_MAX = 2**31 - 1


def write_synthetic(
    out: Path,
    config: SynthConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int | None = None,
) -> None:
    """Write a synthetic RSNA Screening Mammography copy into ``out`` in the Kaggle layout.

    Args:
        out: Output folder; created when missing. Existing files with the same names are
            overwritten.
        config: Generator settings; None uses ``SynthConfig.for_layout("rsna")`` (about 2 % of
            images with cancer).
        progress: Called as ``progress(done, total)`` after each patient.
        workers: Worker processes; None uses every CPU core. The output does not depend on it.
    """
    config = config or SynthConfig.for_layout(LAYOUT)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    plans = _plan_patients(config)
    records = generate_patients(out, config, plans, progress=progress, workers=workers)
    records = sorted(records, key=lambda record: int(record.plan.patient_id))

    _write_train_csv(out / "train.csv", records)
    splits = _manifest_splits(out)
    write_reports_table(out, records, lambda record: splits.get(record.plan.patient_id, "train"))
    write_synthetic_marker(out, LAYOUT, config)


def _plan_patients(config: SynthConfig) -> list[PatientPlan]:
    """Draw unique integer patient and image ids for every patient."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, _ID_STREAM]))
    low, high = _PATIENT_ID_RANGE
    if config.patients > high - low:
        raise ConfigError(
            f"{config.patients} patients do not fit Kaggle's 5-digit patient ids; use at most {high - low}"
        )
    patient_ids = rng.choice(high - low, size=config.patients, replace=False) + low
    image_ids = rng.choice(_IMAGE_ID_MAX, size=4 * config.patients, replace=False) + 1

    plans = []
    for index, patient_number in enumerate(patient_ids):
        patient_id = str(int(patient_number))
        slots = []
        for position, (laterality, view) in enumerate(SCREENING_IMAGES):
            image_id = str(int(image_ids[4 * index + position]))
            slots.append(
                ImageSlot(
                    laterality=laterality,
                    view=view,
                    image_id=image_id,
                    path=f"{IMAGES_DIR}/{patient_id}/{image_id}.dcm",
                    series_instance_uid=dicom_uid("rsna-series", patient_id, image_id),
                    sop_instance_uid=dicom_uid("rsna-image", image_id),
                )
            )
        plans.append(
            PatientPlan(
                index=index,
                patient_id=patient_id,
                study_id=patient_id,
                study_instance_uid=dicom_uid("rsna-study", patient_id),
                images=tuple(slots),
            )
        )
    return plans


def _write_train_csv(path: Path, records: list[PatientRecord]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TRAIN_COLUMNS)
        for record in records:
            site = record.vendor.site_id
            for image in record.images:
                breast = record.breasts[image.slot.laterality].plan
                writer.writerow(
                    [
                        site,
                        record.plan.patient_id,
                        image.slot.image_id,
                        image.slot.laterality,
                        image.slot.view,
                        f"{float(record.age):.1f}",
                        int(breast.cancer),
                        int(breast.biopsy),
                        int(breast.invasive),
                        "" if site == 2 else _kaggle_birads(breast.birads),
                        0,
                        "" if site == 2 else breast.density,
                        record.vendor.machine_id,
                        str(breast.biopsy and not breast.cancer),
                    ]
                )


def _kaggle_birads(birads: int) -> int:
    """Map a BI-RADS assessment to Kaggle's screening values: 0 recall, 1 negative, 2 benign."""
    if birads >= 3:
        return 0
    return birads


def _manifest_splits(root: Path) -> dict[str, str]:
    """Return each patient's split as the RSNA adapter assigns it, so reports.csv agrees."""
    from mammobench_rsna.adapter import load

    manifest = load(root)
    pairs = manifest.images[["patient_id", "split"]].drop_duplicates()
    return dict(zip(pairs["patient_id"].astype(str), pairs["split"].astype(str)))
