"""RSNA Screening Mammography adapter: the Kaggle DICOM layout and the Mammo-CLIP PNG layout.

::

    <root>/train.csv + <root>/train_images/<patient_id>/<image_id>.dcm            (Kaggle)
    <root>/train_folds.csv + <root>/train_images_png/<patient_id>/<image_id>.png  (Mammo-CLIP)

Both CSV files have the columns of Kaggle's ``train.csv``; Mammo-CLIP's adds ``fold``, kept as
``mammoclip_fold``. The Kaggle test labels are not public, so the split comes from fixed
patient-level folds: :data:`N_FOLDS` folds stratified by patient-level ``cancer`` with salt
:data:`FOLD_SALT`, fold :data:`TEST_FOLD` is ``test`` and the rest is ``train``. The folds are
computed from every row of the CSV before missing image files are dropped, so a patient's split
does not depend on which files are present, and both layouts give the same split.

A breast is (``patient_id``, ``laterality``); the Kaggle competition scored cancer per breast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mammobench.api import (
    DataError,
    Manifest,
    assign_split_from_folds,
    check_values,
    drop_missing_files,
    first_existing,
    invalid_value,
    line_of,
    read_csv_table,
    stratified_patient_folds,
    to_numbers,
    vocab,
)

logger = logging.getLogger(__name__)

KAGGLE_LAYOUT = "kaggle-dicom"
PNG_LAYOUT = "mammoclip-png"
LAYOUTS = (KAGGLE_LAYOUT, PNG_LAYOUT)
KAGGLE_CSV = "train.csv"
KAGGLE_IMAGES_DIR = "train_images"
PNG_CSV = "train_folds.csv"
PNG_IMAGE_DIR_CANDIDATES = ("train_images_png", "mammo_clip/train_images_png")

REQUIRED_COLUMNS = (
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
BINARY_LABELS = ("cancer", "biopsy", "invasive")
LABEL_COLUMNS: tuple[str, ...] = (*BINARY_LABELS, "density")

# Fixed folds: changing any of these changes every RSNA task's test split.
N_FOLDS = 5
TEST_FOLD = 0
FOLD_SALT = "mammobench-rsna-v1"

# Size of Kaggle's train.csv; a different count is logged, not rejected.
PUBLISHED_IMAGES = 54_706
PUBLISHED_PATIENTS = 11_913

FIX = (
    "point the data root at the Kaggle 'rsna-breast-cancer-detection' folder with 'train.csv' and "
    "'train_images/', or at a folder with Mammo-CLIP's 'train_folds.csv' and 'train_images_png/'"
)


def load(root: Path | str, layout: str | None = None) -> Manifest:
    """Read RSNA Screening Mammography at ``root`` into a validated manifest.

    Args:
        root (Path | str): The data root.
        layout (str | None): ``'kaggle-dicom'`` or ``'mammoclip-png'`` to skip detection; by
            default the Kaggle layout wins when ``train.csv`` and ``train_images/`` exist.

    Returns:
        Manifest: Images with ``train``/``test`` from the fixed folds (column ``fold``), labels
        ``cancer``, ``biopsy``, ``invasive`` and ``density``, BI-RADS and age.

    Raises:
        DataError: When no known layout is found at the root or a file fails validation.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"RSNA data root '{root}' not found; set MAMMOBENCH_RSNA_ROOT or pass --data-root"
        )

    chosen = layout or detect_layout(root)
    if chosen == KAGGLE_LAYOUT:
        path = root / KAGGLE_CSV
        image_dir = root / KAGGLE_IMAGES_DIR
        suffix = ".dcm"
    elif chosen == PNG_LAYOUT:
        path = root / PNG_CSV
        found = first_existing(root, PNG_IMAGE_DIR_CANDIDATES)
        if found is None:
            expected = " or ".join(
                f"'{root / candidate}'" for candidate in PNG_IMAGE_DIR_CANDIDATES
            )
            raise DataError(f"folder {expected} not found; {FIX}")
        image_dir = found
        suffix = ".png"
    else:
        raise DataError(f"RSNA layout '{chosen}' is unknown; choose one of {list(LAYOUTS)}")

    rows = read_csv_table(path, REQUIRED_COLUMNS, FIX)
    images = images_from_rows(rows, path, image_dir.relative_to(root).as_posix(), suffix)
    if "fold" in rows.columns:
        images["mammoclip_fold"] = to_numbers(rows, "fold", path)

    folds = stratified_patient_folds(images, N_FOLDS, FOLD_SALT, stratify_columns=["cancer"])
    images = assign_split_from_folds(images, folds, test_folds=[TEST_FOLD])

    if not image_dir.is_dir():
        raise DataError(f"folder '{image_dir}' not found; {FIX}")
    _log_release_size(images, root)
    images = drop_missing_files(images, root, "rsna")

    return Manifest(
        dataset="rsna",
        root=root,
        images=images,
        label_columns=LABEL_COLUMNS,
        layout=chosen,
        source=str(root),
    ).validate()


def detect_layout(root: Path) -> str:
    """Return the name of the layout found at ``root`` or raise :class:`DataError`."""
    has_kaggle_csv = (root / KAGGLE_CSV).is_file()
    has_kaggle_images = (root / KAGGLE_IMAGES_DIR).is_dir()
    has_png_csv = (root / PNG_CSV).is_file()

    if has_kaggle_csv and (has_kaggle_images or not has_png_csv):
        return KAGGLE_LAYOUT
    if has_png_csv:
        return PNG_LAYOUT
    raise DataError(f"no RSNA Screening Mammography layout found at '{root}'; {FIX}")


def images_from_rows(rows: pd.DataFrame, path: Path, image_dir: str, suffix: str) -> pd.DataFrame:
    """Build the manifest image table from the rows of ``train.csv`` or ``train_folds.csv``.

    The Kaggle data has no exam id, so the patient id is also the ``exam_id``. NOTE: a patient
    with images from two exams would count as one exam.
    """
    duplicated = rows["image_id"].duplicated()
    if duplicated.any():
        label = duplicated.idxmax()
        raise DataError(
            f"file '{path}', column 'image_id', line {line_of(rows, label)}: image "
            f"'{rows['image_id'][label]}' is listed twice; each image must have one row"
        )
    check_values(rows, "laterality", vocab.LATERALITIES, path)
    check_values(rows, "view", vocab.VIEWS, path)
    check_values(rows, "density", vocab.DENSITIES, path, allow_missing=True)

    labels = {}
    for column in (*BINARY_LABELS, "implant"):
        labels[column] = to_numbers(rows, column, path, allow_missing=False)
        _check_numbers(labels[column], rows, column, path, (0.0, 1.0))
    birads = to_numbers(rows, "BIRADS", path)
    # Kaggle's BIRADS column takes only the values 0, 1 and 2 (or is empty).
    _check_numbers(birads, rows, "BIRADS", path, (0.0, 1.0, 2.0))

    patient_ids = rows["patient_id"].astype(str)
    image_ids = rows["image_id"].astype(str)
    return pd.DataFrame(
        {
            "image_id": image_ids,
            "patient_id": patient_ids,
            "exam_id": patient_ids,
            "laterality": rows["laterality"],
            "view": rows["view"],
            "path": image_dir + "/" + patient_ids + "/" + image_ids + suffix,
            "split": "train",
            "density": rows["density"],
            "birads": birads,
            "age": to_numbers(rows, "age", path),
            "site": rows["site_id"].astype(str),
            "machine_id": rows["machine_id"].astype(str),
            "implant": labels["implant"],
            **{column: labels[column] for column in BINARY_LABELS},
        },
        index=rows.index,
    )


def _check_numbers(
    values: pd.Series, rows: pd.DataFrame, column: str, path: Path, allowed: tuple[float, ...]
) -> None:
    bad = values.notna() & ~values.isin(allowed)
    if bad.any():
        label = bad.idxmax()
        expected = "one of " + ", ".join(f"{value:g}" for value in allowed)
        raise invalid_value(path, column, line_of(rows, label), rows[column][label], expected)


def _log_release_size(images: pd.DataFrame, root: Path) -> None:
    n_images = len(images)
    n_patients = images["patient_id"].nunique()
    if n_images != PUBLISHED_IMAGES or n_patients != PUBLISHED_PATIENTS:
        logger.info(
            "RSNA at '%s' lists %d images of %d patients; Kaggle's train.csv has %d of %d, so "
            "results are not comparable with full-dataset numbers",
            root,
            n_images,
            n_patients,
            PUBLISHED_IMAGES,
            PUBLISHED_PATIENTS,
        )
