"""Epoch composition and epoch selection of detector training."""

from __future__ import annotations

import math

from mammobench.detection.training import _improves, epoch_images

IMAGES = [f"image{index}" for index in range(20)]
WITH_BOXES = {"image2", "image5", "image11"}


def has_boxes(image_id: str) -> bool:
    return image_id in WITH_BOXES


def test_all_images_without_sampling():
    assert epoch_images(IMAGES, has_boxes, None, seed=0) == IMAGES


def test_sampling_keeps_every_boxed_image():
    chosen = epoch_images(IMAGES, has_boxes, 2.0, seed=0)

    assert WITH_BOXES <= set(chosen)
    assert len(chosen) == 3 + 6
    assert chosen == [image_id for image_id in IMAGES if image_id in chosen]  # input order kept


def test_sampling_varies_with_seed():
    first = epoch_images(IMAGES, has_boxes, 1.0, seed=1)
    again = epoch_images(IMAGES, has_boxes, 1.0, seed=1)
    other = epoch_images(IMAGES, has_boxes, 1.0, seed=2)

    assert first == again
    assert first != other


def test_sampling_caps_at_available_negatives():
    chosen = epoch_images(IMAGES, has_boxes, 100.0, seed=0)

    assert chosen == IMAGES


def test_better_or_equal_score_wins():
    assert _improves(0.3, 0.2)
    assert _improves(0.2, 0.2)
    assert not _improves(0.1, 0.2)


def test_undefined_scores_keep_latest_until_defined():
    assert _improves(math.nan, math.nan)
    assert _improves(0.0, math.nan)
    assert not _improves(math.nan, 0.0)
