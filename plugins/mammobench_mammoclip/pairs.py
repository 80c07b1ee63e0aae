"""Pretraining pairs: each item is two views of one breast and two text variants of its report.

Breasts come from two kinds of sources:

- image-report pairs, read from a reports CSV (schema in ``docs/mammoclip.md``): one row per
  patient and breast with its CC image, MLO image and report text;
- image-label datasets (a :class:`~mammobench.data.manifest.Manifest`): images are grouped by
  patient and laterality and the report is synthesized from the breast's labels.

Multi-view sampling follows Mammo-CLIP. When a breast has both CC and MLO images, the two views
of an item are one of each, in random order. With one view they are two different images of it,
or two augmentations of its only image. Every random choice is drawn from a generator seeded
with (seed, epoch, item), so any epoch can be reproduced exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from mammobench.api import BreastDescription, DataError, ImageDataset, Manifest
from mammobench_mammoclip.augment import MammogramAugmentation
from mammobench_mammoclip.captions import (
    augment_sentences,
    describe_breast,
    is_missing,
    split_sentences,
    synthesized_sentences,
)
from mammobench_mammoclip.recipe import DataConfig
from mammobench_mammoclip.text import tokenize

logger = logging.getLogger(__name__)

REPORT_COLUMNS = ("patient_id", "laterality", "cc_image", "mlo_image", "report", "split")


@dataclass(frozen=True)
class BreastRecord:
    """One breast: where its images are and what text describes it.

    Attributes:
        key: ``dataset/patient_id/laterality``.
        source: Index of the image source (an :class:`ImageDataset`) holding its images.
        cc: Row indices of CC images in that source.
        mlo: Row indices of MLO images.
        other: Row indices of images of other views, used only without CC and MLO.
        report: Written report text, or None.
        description: Structured description for synthesized reports, or None.
    """

    key: str
    source: int
    cc: tuple[int, ...]
    mlo: tuple[int, ...]
    other: tuple[int, ...]
    report: str | None
    description: BreastDescription | None


@dataclass
class PairSource:
    """Images of one manifest and the breasts built on them."""

    name: str
    manifest: Manifest
    records: list[BreastRecord]


def records_from_manifest(manifest: Manifest, split: str, source: int, name: str) -> list[BreastRecord]:
    """Build one record per breast of ``split`` with a description synthesized from its labels.

    Breasts without any label, density or BI-RADS value are skipped (nothing to write).

    Args:
        manifest: The image-label dataset.
        split: ``train`` or ``val``.
        source: Index of the manifest's :class:`ImageDataset` among the pair sources.
        name: Dataset name that starts every record key.
    """
    images = manifest.images.reset_index(drop=True)
    boxes_by_image = manifest.boxes_by_image()
    empty_boxes = manifest.boxes.iloc[0:0]
    selected = images[images["split"] == split]

    records: list[BreastRecord] = []
    for (patient_id, laterality), group in selected.groupby(["patient_id", "laterality"], sort=True):
        image_ids = list(group["image_id"])
        boxes = [boxes_by_image[i] for i in image_ids if i in boxes_by_image]
        breast_boxes = pd.concat(boxes) if boxes else empty_boxes
        description = describe_breast(group, breast_boxes, manifest.label_columns)
        if description is None:
            continue
        records.append(
            BreastRecord(
                key=f"{name}/{patient_id}/{laterality}",
                source=source,
                cc=_rows_of_view(group, "CC"),
                mlo=_rows_of_view(group, "MLO"),
                other=tuple(int(i) for i in group.index[~group["view"].isin(["CC", "MLO"])]),
                report=None,
                description=description,
            )
        )
    return records


def manifest_from_reports(csv_path: Path, dataset: str) -> tuple[Manifest, pd.DataFrame]:
    """Read a reports CSV into a manifest of its images plus the validated report table.

    Image paths in the CSV are relative to the CSV's folder (or absolute).

    Raises:
        DataError: The file is missing, lacks a column, or has an invalid laterality or split.
    """
    if not csv_path.is_file():
        raise DataError(f"reports CSV '{csv_path}' not found")
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = [column for column in REPORT_COLUMNS if column not in table.columns]
    if missing:
        raise DataError(
            f"reports CSV '{csv_path}' lacks columns {missing}; expected {', '.join(REPORT_COLUMNS)}"
        )
    for column, allowed in (("laterality", {"L", "R"}), ("split", {"train", "val", "test"})):
        bad = table[~table[column].isin(allowed)]
        if not bad.empty:
            raise DataError(
                f"reports CSV '{csv_path}', line {int(bad.index[0]) + 2}: {column} "
                f"'{bad[column].iloc[0]}' is invalid; expected one of {sorted(allowed)}"
            )

    rows: list[dict[str, Any]] = []
    for position, row in table.iterrows():
        for view, column in (("CC", "cc_image"), ("MLO", "mlo_image")):
            if is_missing(row[column]):
                continue
            rows.append(
                {
                    "image_id": f"{position}:{view}",
                    "patient_id": row["patient_id"],
                    "exam_id": row["patient_id"],
                    "laterality": row["laterality"],
                    "view": view,
                    "path": row[column],
                    "split": row["split"],
                    "density": None,
                    "birads": float("nan"),
                    "age": float("nan"),
                    "site": "",
                }
            )
    if not rows:
        raise DataError(f"reports CSV '{csv_path}' names no images in cc_image or mlo_image")
    manifest = Manifest(dataset=dataset, root=csv_path.parent, images=pd.DataFrame(rows))
    return manifest, table


def records_from_reports(
    manifest: Manifest,
    table: pd.DataFrame,
    split: str,
    source: int,
    split_of_patient: dict[str, str] | None = None,
) -> list[BreastRecord]:
    """Build one record per row of ``split`` in a reports table read by :func:`manifest_from_reports`.

    Args:
        manifest: The manifest of the table's images.
        table: The reports table.
        split: ``train`` or ``val``.
        source: Index of the manifest's :class:`ImageDataset` among the pair sources.
        split_of_patient: Splits that override the table's, by patient id. When the reports
            belong to a labelled dataset, its manifest decides the split (e.g. a validation split
            carved out of train), so a patient is never in two splits.
    """
    images = manifest.images.reset_index(drop=True)
    row_of = {image_id: index for index, image_id in enumerate(images["image_id"])}
    splits = table["split"]
    if split_of_patient:
        splits = table["patient_id"].map(split_of_patient).fillna(table["split"])
    records: list[BreastRecord] = []
    for position, row in table[splits == split].iterrows():
        if is_missing(row["report"]):
            logger.warning("reports CSV row %d has an empty report; skipped", int(position) + 2)
            continue
        cc = (row_of[f"{position}:CC"],) if f"{position}:CC" in row_of else ()
        mlo = (row_of[f"{position}:MLO"],) if f"{position}:MLO" in row_of else ()
        if not cc and not mlo:
            continue
        records.append(
            BreastRecord(
                key=f"{manifest.dataset}/{row['patient_id']}/{row['laterality']}",
                source=source,
                cc=cc,
                mlo=mlo,
                other=(),
                report=str(row["report"]),
                description=None,
            )
        )
    return records


def merge_records(report_records: list[BreastRecord], label_records: list[BreastRecord]) -> list[BreastRecord]:
    """Give breasts that have both a written report and labels one record carrying both texts.

    The images of the report record are used; its description comes from the label record.
    Breasts present in only one list are kept as they are.
    """
    by_key = {record.key: record for record in label_records}
    merged: list[BreastRecord] = []
    for record in report_records:
        labelled = by_key.pop(record.key, None)
        if labelled is None:
            merged.append(record)
            continue
        merged.append(
            BreastRecord(
                key=record.key,
                source=record.source,
                cc=record.cc,
                mlo=record.mlo,
                other=record.other,
                report=record.report,
                description=labelled.description,
            )
        )
    merged.extend(by_key.values())
    return merged


class PretrainPairs(Dataset):
    """Items ``{"image", "view", "text", "text2", "key"}`` for the Mammo-CLIP loss.

    ``image`` and ``view`` are float32 ``(1, H, W)`` in ``[0, 1]``. An item whose images all
    failed to load is None; :class:`PairCollator` drops it.

    Args:
        sources: Image datasets indexed by :attr:`BreastRecord.source`.
        records: Breasts to serve.
        config: The recipe's data section (augmentation, sentence dropout and shuffling).
        seed: Base seed of every random choice.
        train: Augment images when True; validation items are unaugmented.
    """

    def __init__(
        self,
        sources: Sequence[ImageDataset],
        records: Sequence[BreastRecord],
        config: DataConfig,
        seed: int,
        train: bool = True,
    ) -> None:
        self.sources = list(sources)
        self.records = list(records)
        self.config = config
        self.seed = seed
        self.train = train
        self.epoch = 0
        self.augmentation = MammogramAugmentation(config.augmentation)

    def set_epoch(self, epoch: int) -> None:
        """Choose which epoch's random draws the next items use."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        record = self.records[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])

        first, second = _choose_views(record, rng)
        image = self._load(record, first)
        view = self._load(record, second) if second != first else image
        if image is None:
            image, view = view, view
        elif view is None:
            view = image
        if image is None or view is None:
            return None
        if self.train:
            image = self.augmentation(image, rng)
            view = self.augmentation(view, rng)

        text = self._text(record, rng)
        text2 = self._text(record, rng)
        return {"image": image, "view": view, "text": text, "text2": text2, "key": record.key}

    def corpus(self, variants: int = 2) -> list[str]:
        """Return texts of every record (``variants`` draws each), for learning a vocabulary."""
        rng = np.random.default_rng([self.seed, 1_000_003])
        return [self._text(record, rng) for record in self.records for _ in range(variants)]

    def _load(self, record: BreastRecord, row: int) -> torch.Tensor | None:
        item = self.sources[record.source][row]
        if item["error"] is not None:
            return None
        return item["image"]

    def _text(self, record: BreastRecord, rng: np.random.Generator) -> str:
        use_report = record.report is not None and (record.description is None or rng.random() < 0.5)
        if use_report:
            sentences = split_sentences(record.report or "")
        else:
            assert record.description is not None
            sentences = synthesized_sentences(
                record.description, rng, include_negatives=self.config.include_negatives
            )
        return augment_sentences(
            sentences,
            rng,
            shuffle=self.config.shuffle_sentences and self.train,
            dropout=self.config.sentence_dropout if self.train else 0.0,
        )


class PairCollator:
    """Stack pretraining items into a batch and tokenise both text variants together.

    The batch contains ``image`` and ``view`` ``(B, 1, H, W)``, ``input_ids`` and
    ``attention_mask`` for ``2B`` texts (all first variants, then all second variants) and
    ``keys``. Items that failed to load are dropped; a batch left with fewer than two breasts is
    None, because a contrastive loss needs negatives.
    """

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def __call__(self, items: list[dict[str, Any] | None]) -> dict[str, Any] | None:
        loaded = [item for item in items if item is not None]
        if len(loaded) < 2:
            return None
        texts = [item["text"] for item in loaded] + [item["text2"] for item in loaded]
        tokens = tokenize(self.tokenizer, texts, self.max_length)
        return {
            "image": torch.stack([item["image"] for item in loaded]),
            "view": torch.stack([item["view"] for item in loaded]),
            "input_ids": tokens["input_ids"],
            "attention_mask": tokens["attention_mask"],
            "keys": [item["key"] for item in loaded],
        }


def _rows_of_view(group: pd.DataFrame, view: str) -> tuple[int, ...]:
    return tuple(int(index) for index in group.index[group["view"] == view])


def _choose_views(record: BreastRecord, rng: np.random.Generator) -> tuple[int, int]:
    if record.cc and record.mlo:
        cc = int(record.cc[rng.integers(len(record.cc))])
        mlo = int(record.mlo[rng.integers(len(record.mlo))])
        return (cc, mlo) if rng.random() < 0.5 else (mlo, cc)
    candidates = record.cc or record.mlo or record.other
    if not candidates:
        raise DataError(f"breast '{record.key}' has no images")
    if len(candidates) >= 2:
        first, second = rng.choice(len(candidates), size=2, replace=False)
        return int(candidates[first]), int(candidates[second])
    only = int(candidates[0])
    return only, only
