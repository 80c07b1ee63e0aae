"""Task objects: how a dataset's manifest becomes a task's training and evaluation sets.

A :class:`~mammobench.specs.TaskSpec` names a factory that builds one of the classes below.
Tasks decide which images take part, which label is predicted, how the splits are made and how
predictions are scored. Protocols decide how a model is trained, and they produce predictions.

Splits are always patient-level. A dataset's official ``train``/``test`` split is kept unless
the task ships its own patient folds (``fold_salt``), and a validation split is carved out of
``train`` by patient for model selection, so the test split is only touched once per cell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from mammobench.data.manifest import Manifest
from mammobench.data.splits import (
    assign_split_from_folds,
    carve_validation,
    check_patient_disjoint,
    stratified_patient_folds,
)
from mammobench.errors import DataError
from mammobench.specs import TaskSpec

logger = logging.getLogger(__name__)

RowFilter = Callable[[pd.DataFrame], pd.Series]

# Seed of the validation carve-out. Fixed per task, not per cell, so every cell of a sweep
# selects models on the same validation patients.
VALIDATION_SEED = 0


@dataclass
class Task:
    """Fields and split logic shared by every task kind.

    Attributes:
        stratify: Image-level label columns used to stratify splits and label fractions.
        validation_fraction: Share of training patients moved to ``val`` when the dataset has
            no validation split.
        fold_salt: When set, the task ignores the dataset's split and assigns patients to
            ``n_folds`` folds from this salt (see
            :func:`mammobench.data.splits.stratified_patient_folds`); ``test_folds`` become the
            test split. Changing the salt changes the task's version.
        n_folds: Number of patient folds when ``fold_salt`` is set.
        test_folds: Folds that form the test split when ``fold_salt`` is set.
        row_filter: Keeps only the image rows for which it returns True (e.g. abnormal images
            only); applied before splitting.
    """

    stratify: tuple[str, ...] = ()
    validation_fraction: float = 0.15
    fold_salt: str | None = None
    n_folds: int = 5
    test_folds: tuple[int, ...] = (0,)
    row_filter: RowFilter | None = None
    spec: TaskSpec | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else type(self).__name__

    def prepare(self, manifest: Manifest) -> Manifest:
        """Select the task's images and give every image a patient-level split.

        Returns:
            A manifest whose ``split`` column contains ``train``, ``val`` and ``test``.

        Raises:
            DataError: When a split ends up empty or a patient lands in two splits.
        """
        images = self.select_rows(manifest.images)
        manifest = manifest.with_images(images)
        if self.fold_salt is not None:
            folds = stratified_patient_folds(
                manifest.images, self.n_folds, self.fold_salt, self.stratify
            )
            manifest = manifest.with_images(
                assign_split_from_folds(manifest.images, folds, self.test_folds)
            )
        if not (manifest.images["split"] == "val").any():
            stratify_column = self.stratify[0] if self.stratify else None
            manifest = carve_validation(
                manifest, self.validation_fraction, VALIDATION_SEED, stratify_column
            )
        check_patient_disjoint(manifest)
        for split in ("train", "val", "test"):
            if not (manifest.images["split"] == split).any():
                raise DataError(
                    f"task '{self.name}' on dataset '{manifest.dataset}': the {split} split is "
                    "empty; the dataset is too small for this task"
                )
        return manifest

    def select_rows(self, images: pd.DataFrame) -> pd.DataFrame:
        """Return the image rows that take part in the task."""
        if self.row_filter is None:
            return images
        keep = self.row_filter(images).astype(bool)
        return images[keep.to_numpy()]


@dataclass
class ClassificationTask(Task):
    """Predict one image-level (or breast-level) label.

    Attributes:
        label: Manifest label column, e.g. ``mass`` or ``density``.
        classes: Class names. For a binary label the first is the negative class and the
            second the positive one, and the label column contains 0/1. Otherwise the label column
            contains the class names themselves (density ``A``-``D``).
        unit: ``image``, or ``breast``: an image's prediction is averaged over the images of
            its breast (patient and laterality) before scoring, as the Mammo-CLIP reference does
            for RSNA cancer.
        metrics: Metric names; the first is the main metric.
        prompts: Zero-shot prompts per class name.
    """

    label: str = ""
    classes: tuple[str, ...] = ("absent", "present")
    unit: Literal["image", "breast"] = "image"
    metrics: tuple[str, ...] = ("auc",)
    prompts: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("a classification task needs a label column")
        if len(self.classes) < 2:
            raise ValueError(f"task label '{self.label}' needs at least two classes")
        if not self.stratify:
            self.stratify = (self.label,)

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def select_rows(self, images: pd.DataFrame) -> pd.DataFrame:
        """Keep rows with a known label that pass the task's row filter."""
        if self.label not in images.columns:
            raise DataError(
                f"task '{self.name}' needs label column '{self.label}', which the dataset "
                f"does not provide (it has: {', '.join(sorted(images.columns))})"
            )
        images = super().select_rows(images)
        known = images[self.label].notna()
        if not self.binary:
            known &= images[self.label].isin(self.classes)
        dropped = int((~known).sum())
        if dropped:
            logger.info("task '%s': dropped %d images without a '%s' label", self.name, dropped, self.label)
        return images[known.to_numpy()]

    def targets(self, images: pd.DataFrame) -> np.ndarray:
        """Return integer class indices for ``images`` (0/1 for a binary label)."""
        values = images[self.label]
        if self.binary:
            return values.astype(float).astype(int).to_numpy()
        lookup = {name: index for index, name in enumerate(self.classes)}
        return values.map(lookup).astype(int).to_numpy()


@dataclass
class DetectionTask(Task):
    """Detect boxes of the given finding categories.

    Images without any box of these categories stay in training and evaluation, so false
    positives on normal mammograms count.

    Attributes:
        categories: Box categories (finding names from :mod:`mammobench.vocab`).
        metrics: Metric names; the first is the main metric.
    """

    categories: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ("ap50",)

    def __post_init__(self) -> None:
        if not self.categories:
            raise ValueError("a detection task needs at least one box category")
        if not self.stratify:
            self.stratify = tuple(self.categories)

    def select_rows(self, images: pd.DataFrame) -> pd.DataFrame:
        images = super().select_rows(images)
        missing = [c for c in self.stratify if c not in images.columns]
        if missing:
            raise DataError(
                f"task '{self.name}' needs label columns {missing}, which the dataset does not provide"
            )
        known = images[list(self.stratify)].notna().all(axis=1)
        return images[known.to_numpy()]

    def boxes(self, manifest: Manifest) -> pd.DataFrame:
        """Return the manifest's boxes of this task's categories."""
        return manifest.boxes[manifest.boxes["category"].isin(self.categories)].copy()


@dataclass
class FactorTask(Task):
    """Align named attributes with dense features (Mammo-FActOR) and score or localise them.

    Attributes:
        attributes: Finding names whose presence is scored (label columns of the manifest).
        localize: False for attribute classification (AUC per attribute), True for weakly
            supervised localization against the attribute's boxes.
        box_categories: For each attribute, the box categories that count as its ground truth
            (defaults to the attribute name itself).
        sentences: For each attribute, sentences describing it as present that replace the
            built-in sentence family of its text embedding
            (:func:`mammobench.text.reports.finding_sentences`).
        metrics: Metric names; the first is the main metric.
    """

    attributes: tuple[str, ...] = ()
    localize: bool = False
    box_categories: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sentences: Mapping[str, Sequence[str]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ("auc",)

    def __post_init__(self) -> None:
        if not self.attributes:
            raise ValueError("a FActOR task needs at least one attribute")
        if not self.stratify:
            self.stratify = tuple(self.attributes)

    def select_rows(self, images: pd.DataFrame) -> pd.DataFrame:
        images = super().select_rows(images)
        missing = [a for a in self.attributes if a not in images.columns]
        if missing:
            raise DataError(
                f"task '{self.name}' needs attribute label columns {missing}, which the dataset "
                "does not provide"
            )
        known = images[list(self.attributes)].notna().all(axis=1)
        return images[known.to_numpy()]

    def categories_for(self, attribute: str) -> tuple[str, ...]:
        return tuple(self.box_categories.get(attribute, (attribute,)))


def build_task(spec: TaskSpec) -> Task:
    """Build the task object a spec describes and attach the spec to it."""
    factory = spec.load()
    task = factory()
    if not isinstance(task, Task):
        raise TypeError(
            f"task '{spec.name}': loader '{spec.loader}' returned {type(task).__name__}; "
            "expected a mammobench Task"
        )
    task.spec = spec
    return task
