"""The RetinaNet detector on encoder feature maps: losses, detections and pyramid levels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mammobench.detection.anchors import AnchorPlan, plan_anchors
from mammobench.detection.config import PROFILE_CONFIGS, DetectorConfig, detector_config
from mammobench.detection.model import PyramidNeck, RetinaNetDetector, available_strides
from mammobench.encoders.base import FeatureInfo
from mammobench.errors import ConfigError

FEATURE_INFO = [FeatureInfo(stride=4, channels=8), FeatureInfo(stride=8, channels=12), FeatureInfo(stride=16, channels=16)]
IMAGE_SIZE = (64, 32)


def feature_maps(batch: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randn(batch, info.channels, IMAGE_SIZE[0] // info.stride, IMAGE_SIZE[1] // info.stride, generator=generator)
        for info in FEATURE_INFO
    ]


def make_detector(plan: AnchorPlan, config: DetectorConfig = PROFILE_CONFIGS["tiny"]) -> RetinaNetDetector:
    torch.manual_seed(0)
    return RetinaNetDetector(FEATURE_INFO, plan, num_classes=2, config=config, image_size=IMAGE_SIZE)


@pytest.fixture
def plan() -> AnchorPlan:
    boxes = np.array([[4, 4, 14, 16], [20, 30, 30, 42], [2, 40, 12, 50]], dtype=float)
    return plan_anchors(boxes, available_strides(FEATURE_INFO), min_stride=4)


def test_losses_are_finite_with_and_without_boxes(plan):
    detector = make_detector(plan).train()
    targets = [
        {"boxes": torch.tensor([[4.0, 4.0, 14.0, 16.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64)},
    ]

    levels, outputs = detector(feature_maps(2))
    losses = detector.loss(levels, outputs, targets)

    assert set(losses) == {"classification", "bbox_regression"}
    assert all(torch.isfinite(value) for value in losses.values())


def test_detections_lie_inside_image(plan):
    detector = make_detector(plan).eval()

    with torch.inference_mode():
        levels, outputs = detector(feature_maps(2))
        detections = detector.detect(levels, outputs)

    assert len(detections) == 2
    for image in detections:
        boxes = image["boxes"]
        assert len(boxes) <= PROFILE_CONFIGS["tiny"].detections_per_image
        assert bool((boxes[:, :2] >= 0).all())
        assert bool((boxes[:, 2] <= IMAGE_SIZE[1]).all())
        assert bool((boxes[:, 3] <= IMAGE_SIZE[0]).all())
        assert set(image["labels"].tolist()) <= {0, 1}


def test_training_fits_one_box(plan):
    config = PROFILE_CONFIGS["tiny"]
    detector = make_detector(plan).train()
    maps = feature_maps(1)
    target = [{"boxes": torch.tensor([[20.0, 30.0, 30.0, 42.0]]), "labels": torch.tensor([0])}]
    optimizer = torch.optim.Adam(detector.parameters(), lr=config.learning_rate)

    for _ in range(60):
        levels, outputs = detector(maps)
        losses = detector.loss(levels, outputs, target)
        optimizer.zero_grad()
        (losses["classification"] + losses["bbox_regression"]).backward()
        optimizer.step()

    detector.eval()
    with torch.inference_mode():
        best = detector.detect(*detector(maps))[0]
    top = best["boxes"][best["scores"].argmax()]
    assert best["labels"][best["scores"].argmax()] == 0
    assert top.tolist() == pytest.approx([20.0, 30.0, 30.0, 42.0], abs=3.0)


def test_extra_levels_beyond_encoder():
    plan = AnchorPlan(strides=(16, 32, 64), sizes=((64.0,) * 3, (128.0,) * 3, (256.0,) * 3), aspect_ratios=(1.0,), n_boxes=0)

    neck = PyramidNeck(FEATURE_INFO, plan, out_channels=8)
    levels = neck([torch.randn(1, info.channels, 256 // info.stride, 256 // info.stride) for info in FEATURE_INFO])

    assert list(levels) == ["p16", "p32", "p64"]
    assert [tuple(level.shape[-2:]) for level in levels.values()] == [(16, 16), (8, 8), (4, 4)]


def test_unknown_anchor_stride_is_rejected():
    plan = AnchorPlan(strides=(4, 12), sizes=((16.0,) * 3, (48.0,) * 3), aspect_ratios=(1.0,), n_boxes=0)

    with pytest.raises(ConfigError, match="anchor strides \\[12\\]"):
        PyramidNeck(FEATURE_INFO, plan, out_channels=8)


def test_run_options_override_profile():
    config = detector_config("tiny", epochs=3, learning_rate=0.01, options={"fpn_channels": 16, "other": 1})

    assert (config.epochs, config.learning_rate, config.fpn_channels) == (3, 0.01, 16)
    assert config.head_depth == PROFILE_CONFIGS["tiny"].head_depth


def test_invalid_override_is_rejected():
    with pytest.raises(ConfigError, match="head_depth"):
        detector_config("paper", options={"head_depth": 7})
