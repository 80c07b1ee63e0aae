"""Detector settings per resolution profile.

``paper`` follows the RetinaNet detector of the Mammo-CLIP reference code
(``src/codebase/Detectors`` and the detection command in the README of batmanlab/Mammo-CLIP).
It has an FPN with 256 channels and the four-layer RetinaNet subnets, pyramid levels from
stride 8 and focal loss with alpha 0.25 and gamma 2. It trains with Adam at a constant 5e-5
over every trained parameter for 120 epochs, with the gradient norm clipped to 0.1, and keeps
at most 100 detections per image after non-maximum suppression at IoU 0.5. Unlike the reference, which discards detections scoring below 0.05
(0.2 in its README command), detections down to 0.001 are kept. ``tiny`` shrinks the head so
that the CPU demo trains in seconds, adds stride-4 anchors because lesions of a 256 x 160
image are only 5-40 pixels wide, and draws a fresh set of normal images for each epoch.
Differences from the reference are listed in docs/protocols.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mammobench.errors import ConfigError
from mammobench.protocols.base import setting_overrides


@dataclass(frozen=True)
class DetectorConfig:
    """Architecture and training settings of the RetinaNet detector.

    Attributes:
        fpn_channels: Channels of every FPN level and of the head's convolutions.
        head_depth: 3x3 convolutions in each of the classification and regression subnets
            before their output layer (torchvision's RetinaNet head has 4).
        min_stride: Finest pyramid level that may carry anchors, as a stride in input pixels.
        epochs: Training epochs; the epoch with the best validation main metric is kept.
        negatives_per_positive: When set, each epoch trains on every image with a box plus this
            many images without one per image with a box, drawn afresh each epoch; None trains
            on every image in every epoch.
        learning_rate: Adam learning rate of the FPN and head, constant over training.
        backbone_lr_factor: Encoder learning rate relative to ``learning_rate`` when the
            backbone is trained.
        weight_decay: AdamW weight decay (0 is plain Adam, as in the reference).
        grad_clip_norm: Maximum gradient norm over all trained parameters.
        score_threshold: Detections scoring below this are discarded before NMS.
        nms_threshold: IoU above which non-maximum suppression removes the lower-scoring box.
        detections_per_image: Detections kept per image after NMS; also the ``maxDets`` of
            the AP evaluation.
        topk_candidates: Highest-scoring anchors per level considered before NMS.
    """

    fpn_channels: int = 256
    head_depth: int = 4
    min_stride: int = 8
    epochs: int = 120
    negatives_per_positive: float | None = None
    learning_rate: float = 5e-5
    backbone_lr_factor: float = 1.0
    weight_decay: float = 0.0
    grad_clip_norm: float = 0.1
    # AP and FROC can only rise when detections are added below the lowest kept score, so
    # nearly every candidate is kept. detections_per_image bounds the output instead.
    score_threshold: float = 0.001
    nms_threshold: float = 0.5
    detections_per_image: int = 100
    topk_candidates: int = 1000

    def __post_init__(self) -> None:
        positive = ("fpn_channels", "head_depth", "min_stride", "epochs", "detections_per_image", "topk_candidates")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"detector setting {name}={getattr(self, name)} must be at least 1")
        if self.head_depth > 4:
            raise ConfigError(f"detector setting head_depth={self.head_depth} must be at most 4")
        if self.negatives_per_positive is not None and self.negatives_per_positive < 0:
            raise ConfigError(f"detector setting negatives_per_positive={self.negatives_per_positive} must be >= 0")
        if self.learning_rate <= 0 or self.grad_clip_norm <= 0:
            raise ConfigError("detector learning_rate and grad_clip_norm must be positive")
        for name in ("score_threshold", "nms_threshold"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"detector setting {name}={getattr(self, name)} must lie in [0, 1)")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-compatible dictionary."""
        return dataclasses.asdict(self)


PROFILE_CONFIGS: dict[str, DetectorConfig] = {
    "paper": DetectorConfig(),
    "medium": DetectorConfig(fpn_channels=128, epochs=30, learning_rate=1e-4),
    # Sized so that the default synthetic VinDr run trains in well under a minute on 2 CPU cores.
    "tiny": DetectorConfig(
        fpn_channels=32,
        head_depth=2,
        min_stride=4,
        epochs=10,
        negatives_per_positive=1.0,
        learning_rate=1e-3,
        backbone_lr_factor=0.1,
        weight_decay=1e-4,
        grad_clip_norm=1.0,
    ),
}


def detector_config(
    profile: str,
    *,
    epochs: int | None = None,
    learning_rate: float | None = None,
    options: dict[str, Any] | None = None,
) -> DetectorConfig:
    """Return the detector settings of a profile with the run's overrides applied.

    Args:
        profile: Resolution profile name; unknown profiles get the ``paper`` settings.
        epochs: ``--epochs`` of the run, or None for the profile's default.
        learning_rate: ``--lr`` of the run, or None for the profile's default.
        options: Further overrides by field name (``RunSettings.options``); other keys are
            ignored because they belong to other protocols.

    Raises:
        ConfigError: An override has an invalid value.
    """
    config = PROFILE_CONFIGS.get(profile, PROFILE_CONFIGS["paper"])
    overrides = setting_overrides(DetectorConfig, options, epochs, learning_rate)
    try:
        return dataclasses.replace(config, **overrides)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid detector settings {overrides}: {error}") from error
