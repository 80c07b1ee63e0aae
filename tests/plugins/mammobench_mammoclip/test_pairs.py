"""Pretraining pairs: multi-view sampling, text variants, reproducibility and the reports CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from mammobench.api import DataError, ImageDataset
from mammobench_mammoclip.pairs import (
    BreastRecord,
    PairCollator,
    PretrainPairs,
    manifest_from_reports,
    records_from_reports,
)
from mammobench_mammoclip.recipe import DataConfig, SourceConfig
from mammobench_mammoclip.text import train_wordpiece_tokenizer

CONFIG = DataConfig(sources=[SourceConfig(dataset="tiny-reports", synthesize=False)], sentence_dropout=0.3)


@pytest.fixture(scope="module")
def pairs(reports_csv: Path) -> tuple[ImageDataset, list[BreastRecord]]:
    manifest, table = manifest_from_reports(reports_csv, "tiny-reports")
    return ImageDataset(manifest, "tiny"), records_from_reports(manifest, table, "train", 0)


def test_records_read_both_views(pairs):
    _, records = pairs

    assert len(records) == 8
    assert all(len(record.cc) == 1 and len(record.mlo) == 1 for record in records)
    assert all(record.report and record.report.startswith("FINDINGS") for record in records)


def test_pairs_take_cc_and_mlo(pairs):
    images, records = pairs
    dataset = PretrainPairs([images], records, CONFIG, seed=0, train=False)
    cc = images[records[0].cc[0]]["image"]
    mlo = images[records[0].mlo[0]]["image"]

    item = dataset[0]

    assert {_fingerprint(item["image"]), _fingerprint(item["view"])} == {_fingerprint(cc), _fingerprint(mlo)}


def test_pairs_single_view_two_augmentations(pairs):
    images, records = pairs
    single = [BreastRecord(key="one", source=0, cc=records[0].cc, mlo=(), other=(), report=records[0].report, description=None)]
    dataset = PretrainPairs([images], single, CONFIG, seed=0, train=True)

    item = dataset[0]

    assert item["image"].shape == item["view"].shape
    assert not torch.equal(item["image"], item["view"])


def test_pairs_text_variants_differ(pairs):
    images, records = pairs
    dataset = PretrainPairs([images], records, CONFIG, seed=0, train=True)

    differing = sum(dataset[index]["text"] != dataset[index]["text2"] for index in range(len(records)))

    assert differing > 0


def test_pairs_reproducible_per_epoch(pairs):
    images, records = pairs
    dataset = PretrainPairs([images], records, CONFIG, seed=5, train=True)

    first = dataset[1]
    again = dataset[1]
    dataset.set_epoch(1)
    next_epoch = dataset[1]

    assert torch.equal(first["image"], again["image"])
    assert first["text"] == again["text"]
    assert not torch.equal(first["image"], next_epoch["image"])


def test_collator_drops_failed_items(pairs):
    images, records = pairs
    dataset = PretrainPairs([images], records, CONFIG, seed=0, train=False)
    tokenizer = train_wordpiece_tokenizer([record.report for record in records], vocab_size=80)
    collate = PairCollator(tokenizer, max_length=32)

    batch = collate([dataset[0], None, dataset[1]])

    assert batch["image"].shape[0] == 2
    assert batch["input_ids"].shape[0] == 4
    assert collate([dataset[0], None]) is None


def test_reports_csv_missing_column(tmp_path):
    path = tmp_path / "reports.csv"
    pd.DataFrame({"patient_id": ["p"], "laterality": ["L"], "cc_image": ["a.png"], "split": ["train"]}).to_csv(path, index=False)

    with pytest.raises(DataError, match="mlo_image"):
        manifest_from_reports(path, "bad")


def test_reports_csv_invalid_laterality(tmp_path):
    path = tmp_path / "reports.csv"
    pd.DataFrame(
        {"patient_id": ["p"], "laterality": ["left"], "cc_image": ["a.png"], "mlo_image": [""], "report": ["x"], "split": ["train"]}
    ).to_csv(path, index=False)

    with pytest.raises(DataError, match="line 2: laterality 'left'"):
        manifest_from_reports(path, "bad")


def _fingerprint(image: torch.Tensor) -> float:
    return round(float(image.sum()), 3)
