"""VinDr-Mammo as published on PhysioNet (version 1.0.0): DICOM images and two CSV files.

::

    <root>/breast-level_annotations.csv   one row per image: BI-RADS, density, official split
    <root>/finding_annotations.csv        one row per finding box (or 'No Finding') per image
    <root>/images/<study_id>/<image_id>.dicom

Boxes (``xmin, ymin, xmax, ymax``) are in original DICOM pixels and kept as published, even
where they reach slightly outside the image. The official split is ``training`` / ``test``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mammobench.api import (
    DataError,
    Manifest,
    check_values,
    drop_missing_files,
    line_of,
    read_csv_table,
    strip_prefix,
    to_numbers,
    vocab,
)
from mammobench_vindr.findings import LABEL_COLUMNS, findings_to_labels_and_boxes

logger = logging.getLogger(__name__)

LAYOUT = "physionet-dicom"
BREAST_LEVEL_CSV = "breast-level_annotations.csv"
FINDING_CSV = "finding_annotations.csv"
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
    *BREAST_LEVEL_COLUMNS,
    "finding_categories",
    "finding_birads",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
)
BOX_COORDINATES = ("xmin", "ymin", "xmax", "ymax")

# Sizes of the full 1.0.0 release; a different count is logged, not rejected, so partial and
# synthetic copies still load.
PUBLISHED_IMAGES = 20_000
PUBLISHED_STUDIES = 5_000

SPLIT_NAMES = {"training": "train", "test": "test"}
BIRADS_VALUES = tuple(str(value) for value in vocab.BIRADS)
FIX = (
    "point the data root at the VinDr-Mammo 1.0.0 folder from PhysioNet "
    "(https://physionet.org/content/vindr-mammo/1.0.0/), which contains both annotation CSV "
    "files and the 'images' folder"
)


def load_dicom_layout(root: Path) -> Manifest:
    """Read the PhysioNet release at ``root`` into a validated manifest.

    Raises:
        DataError: Naming the file and column of the first problem found.
    """
    breast_path = root / BREAST_LEVEL_CSV
    breast = read_csv_table(breast_path, BREAST_LEVEL_COLUMNS, FIX)
    images = breast_level_images(breast, breast_path)

    finding_path = root / FINDING_CSV
    findings = read_csv_table(finding_path, FINDING_COLUMNS, FIX)
    for column in BOX_COORDINATES:
        findings[column] = to_numbers(findings, column, finding_path)
    labels, boxes = findings_to_labels_and_boxes(
        findings, finding_path, images["image_id"], BOX_COORDINATES
    )
    images = pd.concat([images, labels], axis=1)

    if not (root / IMAGES_DIR).is_dir():
        raise DataError(f"folder '{root / IMAGES_DIR}' not found; {FIX}")
    _log_release_size(images, root)
    images = drop_missing_files(images, root, "vindr")

    manifest = Manifest(
        dataset="vindr",
        root=root,
        images=images,
        boxes=boxes,
        label_columns=LABEL_COLUMNS,
        layout=LAYOUT,
        source=str(root),
    )
    return manifest.with_images(manifest.images).validate()


def breast_level_images(
    breast: pd.DataFrame,
    path: Path,
    study_column: str = "study_id",
    view_column: str = "view_position",
) -> pd.DataFrame:
    """Build the manifest image table from ``breast-level_annotations.csv`` or a derived table.

    VinDr-Mammo has no patient id, and each study is one exam of one patient, so the study id
    serves as both ``patient_id`` and ``exam_id``.

    Args:
        breast (pd.DataFrame): One row per image, as read by ``read_csv_table``.
        path (Path): File the rows came from, for messages.
        study_column (str): Column with the study id (``patient_id`` in Mammo-CLIP's CSV).
        view_column (str): Column with the view (``view`` in Mammo-CLIP's CSV).
    """
    duplicated = breast["image_id"].duplicated()
    if duplicated.any():
        label = duplicated.idxmax()
        raise DataError(
            f"file '{path}', column 'image_id', line {line_of(breast, label)}: image "
            f"'{breast['image_id'][label]}' is listed twice; each image must have one row"
        )
    check_values(breast, "laterality", vocab.LATERALITIES, path)
    check_values(breast, view_column, vocab.VIEWS, path)
    check_values(breast, "split", SPLIT_NAMES, path)
    density = strip_prefix(
        breast, "breast_density", "DENSITY ", vocab.DENSITIES, path, allow_missing=True
    )
    birads = strip_prefix(
        breast, "breast_birads", "BI-RADS ", BIRADS_VALUES, path, allow_missing=True
    )

    study_ids = breast[study_column].astype(str)
    image_ids = breast["image_id"].astype(str)
    return pd.DataFrame(
        {
            "image_id": image_ids,
            "patient_id": study_ids,
            "exam_id": study_ids,
            "laterality": breast["laterality"],
            "view": breast[view_column],
            "path": IMAGES_DIR + "/" + study_ids + "/" + image_ids + ".dicom",
            "split": breast["split"].map(SPLIT_NAMES),
            "density": density,
            "birads": birads.astype(float),
            "age": float("nan"),
            # TODO: read age and vendor from the release's metadata.csv; its column names are
            # not checked against a real copy here, so they are left unknown.
            "site": "",
            "series_id": breast["series_id"].astype(str),
            "height": to_numbers(breast, "height", path),
            "width": to_numbers(breast, "width", path),
        },
        index=breast.index,
    )


def _log_release_size(images: pd.DataFrame, root: Path) -> None:
    n_images = len(images)
    n_studies = images["patient_id"].nunique()
    if n_images != PUBLISHED_IMAGES or n_studies != PUBLISHED_STUDIES:
        logger.info(
            "VinDr-Mammo at '%s' lists %d images in %d studies; the full 1.0.0 release has %d "
            "in %d, so results are not comparable with published full-dataset numbers",
            root,
            n_images,
            n_studies,
            PUBLISHED_IMAGES,
            PUBLISHED_STUDIES,
        )
