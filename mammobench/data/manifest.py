"""The harmonised manifest: one row per image, plus one row per box, for every dataset.

Dataset adapters translate their own layout into this schema, so tasks, splits and protocols
never see dataset-specific column names.

Image columns (``Manifest.images``):

=============  ==================================================================================
``image_id``   unique string id of the image within the dataset
``patient_id`` string id of the patient; all splits are made by patient
``exam_id``    string id of the screening exam (study)
``laterality`` ``L`` or ``R``
``view``       ``CC``, ``MLO`` or another DICOM ViewPosition value
``path``       image file, relative to ``Manifest.root`` (POSIX separators)
``split``      ``train``, ``val`` or ``test`` as the dataset defines them
``density``    BI-RADS density ``A``-``D`` or missing
``birads``     BI-RADS assessment 0-6 (float, NaN when unknown)
``age``        patient age in years (float, NaN when unknown)
``site``       acquisition site or vendor, free text, may be empty
=============  ==================================================================================

Image-level labels are further float columns named in ``label_columns`` (1.0 present, 0.0
absent, NaN unknown), e.g. ``cancer``, ``mass``, ``calcification``.

Box columns (``Manifest.boxes``): ``image_id, category, xmin, ymin, xmax, ymax`` in original
image pixels (continuous coordinates: pixel ``i`` covers ``[i, i + 1)``). ``category`` uses the
finding names of :mod:`mammobench.vocab`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mammobench import vocab
from mammobench.errors import DataError

IMAGE_COLUMNS = (
    "image_id",
    "patient_id",
    "exam_id",
    "laterality",
    "view",
    "path",
    "split",
    "density",
    "birads",
    "age",
    "site",
)
BOX_COLUMNS = ("image_id", "category", "xmin", "ymin", "xmax", "ymax")

# Bump when the manifest schema or its hashing changes, so cache keys change with it.
MANIFEST_SCHEMA_VERSION = 1


@dataclass
class Manifest:
    """Images, boxes and labels of one dataset in the harmonised schema."""

    dataset: str
    root: Path
    images: pd.DataFrame
    boxes: pd.DataFrame = field(default_factory=lambda: empty_boxes())
    label_columns: tuple[str, ...] = ()
    synthetic: bool = False
    layout: str = ""
    source: str = ""  # where the files came from, for result provenance; e.g. a data root

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.images = self.images.reset_index(drop=True)
        self.boxes = self.boxes.reset_index(drop=True)

    # ---------------------------------------------------------------------------------------------
    # Validation
    # ---------------------------------------------------------------------------------------------

    def validate(self) -> Manifest:
        """Check the schema and value ranges; raise :class:`DataError` naming the problem."""
        where = f"dataset '{self.dataset}' at '{self.root}'"
        missing = [c for c in IMAGE_COLUMNS if c not in self.images.columns]
        if missing:
            raise DataError(f"{where}: manifest is missing image columns {missing}")
        missing_labels = [c for c in self.label_columns if c not in self.images.columns]
        if missing_labels:
            raise DataError(f"{where}: manifest is missing label columns {missing_labels}")
        if self.images.empty:
            raise DataError(f"{where}: no images found; check the data root and its layout")

        duplicated = self.images["image_id"][self.images["image_id"].duplicated()]
        if not duplicated.empty:
            raise DataError(f"{where}: image_id '{duplicated.iloc[0]}' appears more than once")

        _check_values(self.images, "laterality", vocab.LATERALITIES, where)
        _check_values(self.images, "split", vocab.SPLITS, where)
        _check_values(self.images, "density", vocab.DENSITIES, where, allow_missing=True)
        for column in self.label_columns:
            values = self.images[column].dropna().unique()
            bad = [v for v in values if v not in (0.0, 1.0)]
            if bad and column != "density":
                raise DataError(
                    f"{where}: label column '{column}' has value {bad[0]!r}; expected 0, 1 or NaN"
                )

        box_missing = [c for c in BOX_COLUMNS if c not in self.boxes.columns]
        if box_missing:
            raise DataError(f"{where}: box table is missing columns {box_missing}")
        if not self.boxes.empty:
            unknown = set(self.boxes["image_id"]) - set(self.images["image_id"])
            if unknown:
                raise DataError(
                    f"{where}: boxes refer to image_id '{sorted(unknown)[0]}', which is not in "
                    "the image table"
                )
            coordinates = self.boxes[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float)
            if not np.isfinite(coordinates).all():
                raise DataError(f"{where}: box coordinates contain NaN or infinite values")
            _check_values(self.boxes, "category", vocab.FINDINGS, where)
        return self

    # ---------------------------------------------------------------------------------------------
    # Derived views
    # ---------------------------------------------------------------------------------------------

    @property
    def breast_ids(self) -> pd.Series:
        """One id per (patient, laterality): the unit of breast-level labels and reports."""
        return self.images["patient_id"].astype(str) + "/" + self.images["laterality"].astype(str)

    def absolute_path(self, relative: str) -> Path:
        return self.root / relative

    def split(self, name: str) -> Manifest:
        """Return the images of one split (``train``, ``val`` or ``test``) with their boxes."""
        return self.select(self.images.loc[self.images["split"] == name, "image_id"])

    def select(self, image_ids: Iterable[str]) -> Manifest:
        """Return a manifest restricted to ``image_ids``, keeping this manifest's row order."""
        wanted = set(image_ids)
        images = self.images[self.images["image_id"].isin(wanted)]
        boxes = self.boxes[self.boxes["image_id"].isin(wanted)]
        return replace(self, images=images.copy(), boxes=boxes.copy())

    def with_images(self, images: pd.DataFrame, label_columns: tuple[str, ...] | None = None) -> Manifest:
        """Return a copy with a new image table (boxes of dropped images are dropped too)."""
        boxes = self.boxes[self.boxes["image_id"].isin(set(images["image_id"]))]
        labels = self.label_columns if label_columns is None else label_columns
        return replace(self, images=images.copy(), boxes=boxes.copy(), label_columns=labels)

    def boxes_by_image(self) -> dict[str, pd.DataFrame]:
        return {image_id: group for image_id, group in self.boxes.groupby("image_id", sort=False)}

    # ---------------------------------------------------------------------------------------------
    # Hashing
    # ---------------------------------------------------------------------------------------------

    def content_hash(self) -> str:
        """Return a SHA-256 of the image and box tables and labels, independent of the root path.

        Two manifests with the same rows (in any order) have the same hash; any change to an id,
        label, split, path or box gives a new one.
        """
        digest = hashlib.sha256()
        digest.update(f"manifest-v{MANIFEST_SCHEMA_VERSION}|{self.dataset}|".encode())
        digest.update(",".join(self.label_columns).encode())
        image_columns = list(IMAGE_COLUMNS) + [c for c in self.label_columns if c not in IMAGE_COLUMNS]
        digest.update(_canonical_csv(self.images[image_columns], "image_id"))
        digest.update(_canonical_csv(self.boxes[list(BOX_COLUMNS)], list(BOX_COLUMNS)))
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Counts for logs and result provenance."""
        counts = self.images["split"].value_counts().to_dict()
        return {
            "dataset": self.dataset,
            "images": int(len(self.images)),
            "patients": int(self.images["patient_id"].nunique()),
            "boxes": int(len(self.boxes)),
            "splits": {str(k): int(v) for k, v in counts.items()},
            "synthetic": self.synthetic,
        }


def empty_boxes() -> pd.DataFrame:
    """Return an empty box table with the right columns and dtypes."""
    return pd.DataFrame(
        {
            "image_id": pd.Series(dtype=str),
            "category": pd.Series(dtype=str),
            "xmin": pd.Series(dtype=float),
            "ymin": pd.Series(dtype=float),
            "xmax": pd.Series(dtype=float),
            "ymax": pd.Series(dtype=float),
        }
    )


def _check_values(
    frame: pd.DataFrame, column: str, allowed: Iterable[str], where: str, allow_missing: bool = False
) -> None:
    values = frame[column]
    if allow_missing:
        values = values.dropna()
    allowed_set = set(allowed)
    bad = values[~values.isin(allowed_set)]
    if not bad.empty:
        raise DataError(
            f"{where}: column '{column}' has value {bad.iloc[0]!r}; expected one of "
            f"{sorted(allowed_set)}"
        )


def _canonical_csv(frame: pd.DataFrame, sort_by: str | list[str]) -> bytes:
    ordered = frame.sort_values(sort_by, kind="mergesort").reset_index(drop=True)
    buffer = io.StringIO()
    ordered.to_csv(buffer, index=False, float_format="%.6g", lineterminator="\n")
    return buffer.getvalue().encode()
