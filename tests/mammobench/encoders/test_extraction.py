from __future__ import annotations

import pytest
import torch

from mammobench.encoders.extraction import run_batches, select_split
from mammobench.errors import DataError


def test_batches_skip_unreadable_images(tiny_encoder):
    images = torch.rand(3, 1, 16, 16)
    batches = [
        {"image": images, "image_id": ["a", "b", "c"], "error": [None, "truncated file", None]}
    ]
    written = []

    ids, failed = run_batches(tiny_encoder, batches, lambda x: written.append(x.shape[0]), total=3)

    assert ids == ["a", "c"]
    assert failed == {"b": "truncated file"}
    assert written == [2]


def test_progress_counts_failed_images(tiny_encoder):
    batches = [
        {"image": torch.rand(2, 1, 16, 16), "image_id": ["a", "b"], "error": [None, None]},
        {"image": torch.rand(1, 1, 16, 16), "image_id": ["c"], "error": ["unreadable"]},
    ]
    reports = []

    run_batches(
        tiny_encoder, batches, lambda x: None, total=3, progress=lambda d, t: reports.append((d, t))
    )

    assert reports == [(2, 3), (3, 3)]


def test_empty_split_names_dataset(tiny_manifest):
    with pytest.raises(DataError, match="split 'val' of dataset 'tiny-test' has no images"):
        select_split(tiny_manifest, "val")
