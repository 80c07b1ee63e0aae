"""Load a recipe's data sources into pretraining breasts for the train and validation splits.

Each source is a dataset known to mammobench (``vindr``, ...), read from its data root or, when no
root is configured, from the default synthetic copy. A source contributes image-report pairs
from its reports CSV (``reports = true``) and synthesized reports from its labels
(``synthesize = true``). A breast found in both gets one record that draws its text from either.
The test split is never read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mammobench.api import ConfigError, DataError, ImageDataset, Manifest, carve_validation, load_dataset
from mammobench_mammoclip.pairs import (
    BreastRecord,
    manifest_from_reports,
    merge_records,
    records_from_manifest,
    records_from_reports,
)
from mammobench_mammoclip.recipe import Recipe, SourceConfig

logger = logging.getLogger(__name__)

# File name of a dataset's reports CSV in its root folder.
REPORTS_CSV_NAME = "reports.csv"


@dataclass
class SourceSummary:
    """Origin and size of one source's pretraining data, for the model card."""

    dataset: str
    root: str
    synthetic: bool
    reports_csv: str | None
    train_breasts: int
    val_breasts: int
    train_images: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PretrainingData:
    """Image datasets and breast records of both splits."""

    train_sources: list[ImageDataset] = field(default_factory=list)
    train_records: list[BreastRecord] = field(default_factory=list)
    val_sources: list[ImageDataset] = field(default_factory=list)
    val_records: list[BreastRecord] = field(default_factory=list)
    summaries: list[SourceSummary] = field(default_factory=list)

    @property
    def dataset_names(self) -> list[str]:
        return sorted({summary.dataset for summary in self.summaries})


def load_pretraining_data(recipe: Recipe, data_root: Path | None = None) -> PretrainingData:
    """Read every source of ``recipe`` into breast records of the train and validation splits.

    Args:
        recipe: The recipe.
        data_root: Root for the recipe's only source (``--data-root``).

    Raises:
        ConfigError: ``data_root`` is given for a recipe with several sources.
        DataError: A source yields no training breast.
    """
    sources = recipe.data.sources
    if data_root is not None and len(sources) > 1:
        raise ConfigError(
            f"--data-root is ambiguous for recipe '{recipe.name}', which has {len(sources)} data "
            "sources; set 'root' for each source in the recipe instead"
        )

    data = PretrainingData()
    for source in sources:
        root = Path(source.root).expanduser() if source.root else data_root
        # A reports CSV alone (an in-house image-report set) needs no registered dataset.
        manifest = None
        if not _reports_only(source):
            manifest = with_validation(
                load_dataset(source.dataset, data_root=root), recipe.data.validation_fraction, recipe.train.seed
            )
        for split, datasets, records in (
            ("train", data.train_sources, data.train_records),
            ("val", data.val_sources, data.val_records),
        ):
            records.extend(_source_records(source, manifest, split, datasets, recipe.data.profile))
        summary = _summarise(source, manifest, data)
        data.summaries.append(summary)
        logger.info(
            "pretraining source '%s': %d training and %d validation breasts%s",
            source.dataset,
            summary.train_breasts,
            summary.val_breasts,
            " (synthetic)" if summary.synthetic else "",
        )

    if recipe.data.max_breasts is not None:
        data.train_records = _subsample(data.train_records, recipe.data.max_breasts, recipe.train.seed)
        data.val_records = _subsample(data.val_records, recipe.data.max_breasts, recipe.train.seed + 1)
    if not data.train_records:
        raise DataError(f"recipe '{recipe.name}': the data sources hold no training breasts")
    return data


def with_validation(manifest: Manifest, fraction: float, seed: int) -> Manifest:
    """Return ``manifest`` with a validation split, carved out of train by patient when it has none."""
    if (manifest.images["split"] == "val").any():
        return manifest
    return carve_validation(manifest, fraction, seed)


def find_reports_csv(manifest: Manifest) -> Path | None:
    """Return the reports CSV that sits in a dataset's root folder, or None."""
    candidate = Path(manifest.root) / REPORTS_CSV_NAME
    return candidate if candidate.is_file() else None


def _source_records(
    source: SourceConfig, manifest: Manifest | None, split: str, datasets: list[ImageDataset], profile: str
) -> list[BreastRecord]:
    report_records: list[BreastRecord] = []
    if source.reports:
        csv_path = _reports_csv(source, manifest)
        reports_manifest, table = manifest_from_reports(csv_path, source.dataset)
        datasets.append(ImageDataset(reports_manifest, profile))
        split_of_patient = None
        if manifest is not None:
            patients = manifest.images.drop_duplicates("patient_id")
            split_of_patient = dict(zip(patients["patient_id"].astype(str), patients["split"]))
        report_records = records_from_reports(
            reports_manifest, table, split, len(datasets) - 1, split_of_patient
        )

    label_records: list[BreastRecord] = []
    if source.synthesize and manifest is not None:
        datasets.append(ImageDataset(manifest, profile))
        label_records = records_from_manifest(manifest, split, len(datasets) - 1, source.dataset)
    return merge_records(report_records, label_records)


def _reports_only(source: SourceConfig) -> bool:
    return source.reports and not source.synthesize and source.reports_csv is not None


def _reports_csv(source: SourceConfig, manifest: Manifest | None) -> Path:
    if source.reports_csv:
        return Path(source.reports_csv).expanduser()
    found = find_reports_csv(manifest) if manifest is not None else None
    if found is None:
        where = f" at '{manifest.root}'" if manifest is not None else ""
        raise DataError(
            f"dataset '{source.dataset}'{where} has no {REPORTS_CSV_NAME}; set reports_csv for this "
            "source, or reports = false to use its labels only"
        )
    return found


def _summarise(source: SourceConfig, manifest: Manifest | None, data: PretrainingData) -> SourceSummary:
    prefix = f"{source.dataset}/"
    train = [record for record in data.train_records if record.key.startswith(prefix)]
    val = [record for record in data.val_records if record.key.startswith(prefix)]
    return SourceSummary(
        dataset=source.dataset,
        root=str(manifest.root) if manifest is not None else "",
        synthetic=bool(manifest is not None and manifest.synthetic),
        reports_csv=str(_reports_csv(source, manifest)) if source.reports else None,
        train_breasts=len(train),
        val_breasts=len(val),
        train_images=sum(len(r.cc) + len(r.mlo) + len(r.other) for r in train),
    )


def _subsample(records: list[BreastRecord], limit: int, seed: int) -> list[BreastRecord]:
    if len(records) <= limit:
        return records
    chosen = np.random.default_rng(seed).choice(len(records), size=limit, replace=False)
    return [records[index] for index in sorted(chosen)]
