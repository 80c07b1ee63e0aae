"""Anchor sizes derived from the training boxes, and how well the anchors cover ground truth.

RetinaNet's COCO anchors (32 to 813 pixels, one octave per pyramid level from stride 8) miss
most lesions of a downsized mammogram: at the ``tiny`` profile a calcification cluster is 5-20
pixels wide. :func:`plan_anchors` therefore derives the anchors from the training boxes of a
cell, in processed pixels:

1. Each box goes to the coarsest pyramid level whose stride is at most a quarter of the box's
   size (the square root of its area), RetinaNet's ratio of smallest anchor to stride (32
   pixels at stride 8). Boxes smaller than that go to the finest allowed level.
2. The levels from the finest to the coarsest one that received a box carry anchors.
3. A level's three anchor sizes are the 1/6, 1/2 and 5/6 quantiles of its boxes' sizes, or
   RetinaNet's ``4s``, ``4s * 2^(1/3)`` and ``4s * 2^(2/3)`` at stride ``s`` when fewer than
   three boxes fell on it.
4. The three aspect ratios (height / width), shared by all levels, are the 10 %, 50 % and
   90 % quantiles of the boxes' ratios, clipped to [1/4, 4]. With fewer than three boxes they
   are RetinaNet's 0.5, 1 and 2.

:func:`anchor_coverage` reports the share of ground-truth boxes that some anchor overlaps with
IoU >= 0.5, the foreground threshold of RetinaNet's matcher. A box below it is still matched to
its best anchor, because torchvision keeps low-quality matches, but it trains and scores worse.
A coverage below :data:`LOW_COVERAGE` is logged as a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import box_iou

from mammobench.errors import ConfigError

logger = logging.getLogger(__name__)

# RetinaNet's smallest anchor of a level is this many times the level's stride (32 px at stride 8).
ANCHOR_STRIDE_RATIO = 4.0
DEFAULT_SCALES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
DEFAULT_ASPECT_RATIOS = (0.5, 1.0, 2.0)
SIZE_QUANTILES = (1 / 6, 1 / 2, 5 / 6)
RATIO_QUANTILES = (0.1, 0.5, 0.9)
RATIO_LIMITS = (0.25, 4.0)

COVERAGE_IOU = 0.5
LOW_COVERAGE = 0.8

# Box-anchor IoU entries computed at once when measuring coverage (4M float32 are 16 MiB).
_MAX_IOU_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class AnchorPlan:
    """Pyramid levels that carry anchors, and the anchors of each.

    Attributes:
        strides: Stride of each level in processed pixels, finest first.
        sizes: Anchor sizes (square root of the area, in pixels) per level.
        aspect_ratios: Anchor aspect ratios (height / width), the same on every level.
        n_boxes: Training boxes the plan was derived from (0 means RetinaNet's defaults).
    """

    strides: tuple[int, ...]
    sizes: tuple[tuple[float, ...], ...]
    aspect_ratios: tuple[float, ...]
    n_boxes: int

    @property
    def anchors_per_location(self) -> int:
        return len(self.sizes[0]) * len(self.aspect_ratios)

    def generator(self) -> CenteredAnchorGenerator:
        """Return the anchor generator of this plan."""
        return CenteredAnchorGenerator(self.sizes, self.aspect_ratios, self.strides)

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as a JSON-compatible dictionary."""
        return {
            "strides": list(self.strides),
            "sizes": [list(level) for level in self.sizes],
            "aspect_ratios": list(self.aspect_ratios),
            "derived_from_boxes": self.n_boxes,
        }


class CenteredAnchorGenerator(AnchorGenerator):
    """torchvision's anchor generator, with exact sizes and anchors centred in their cell.

    torchvision rounds anchor corners to whole pixels and centres anchors on the top-left
    corner of each feature cell. Both are harmless for COCO-sized objects but not for 5-pixel
    lesions, so here the corners keep their fractional values and a level of stride ``s``
    centres its anchors at ``(i + 0.5) * s``. Strides are given instead of being inferred from
    the image size, which is not a multiple of every stride at the ``paper`` profile.
    """

    def __init__(
        self, sizes: Sequence[Sequence[float]], aspect_ratios: Sequence[float], strides: Sequence[int]
    ) -> None:
        super().__init__(tuple(tuple(level) for level in sizes), (tuple(aspect_ratios),) * len(sizes))
        self.strides = tuple(int(stride) for stride in strides)
        self.cell_anchors = [
            _cell_anchors(level, aspect_ratios, stride) for level, stride in zip(sizes, self.strides, strict=True)
        ]

    def anchors_for(self, grid_sizes: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
        """Return the ``(A, 4)`` float32 anchors of one image whose levels have ``grid_sizes``."""
        if len(grid_sizes) != len(self.strides):
            raise ValueError(f"expected {len(self.strides)} feature levels, got {len(grid_sizes)}")
        self.set_cell_anchors(torch.float32, device)
        strides = [
            [torch.tensor(stride, dtype=torch.int64, device=device)] * 2 for stride in self.strides
        ]
        grids = [[int(size[0]), int(size[1])] for size in grid_sizes]
        return torch.cat(self.grid_anchors(grids, strides))

    def anchors_for_image(self, image_size: Sequence[int], device: torch.device | None = None) -> torch.Tensor:
        """Return the anchors of an image of ``(height, width)`` pixels, one grid cell per stride."""
        height, width = image_size
        grids = [(math.ceil(height / stride), math.ceil(width / stride)) for stride in self.strides]
        return self.anchors_for(grids, device or torch.device("cpu"))


def plan_anchors(boxes: np.ndarray, available_strides: Sequence[int], *, min_stride: int) -> AnchorPlan:
    """Derive pyramid levels, anchor sizes and aspect ratios from training boxes.

    Args:
        boxes: ``(N, 4)`` training boxes in processed pixels.
        available_strides: Strides of the pyramid levels the detector can build (the encoder's
            levels plus the extra levels above its coarsest one).
        min_stride: Finest stride allowed to carry anchors.

    Returns:
        The plan; see the module docstring for the rules.

    Raises:
        ConfigError: No available level has a stride of at least ``min_stride``.
    """
    strides = sorted({int(stride) for stride in available_strides if stride >= min_stride})
    if not strides:
        raise ConfigError(
            f"no pyramid level has a stride of at least {min_stride}; the encoder's levels have "
            f"strides {sorted(set(available_strides))}"
        )
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    usable = (widths > 0) & (heights > 0)
    widths, heights = widths[usable], heights[usable]
    if widths.size == 0:
        return _default_plan(strides[:3])

    sizes = np.sqrt(widths * heights)
    levels = np.array([_level_of(size, strides) for size in sizes])
    used = strides[: int(levels.max()) + 1]

    level_sizes = []
    for index, stride in enumerate(used):
        members = sizes[levels == index]
        if members.size >= len(SIZE_QUANTILES):
            quantiles = np.quantile(members, SIZE_QUANTILES)
            level_sizes.append(tuple(round(float(value), 2) for value in quantiles))
        else:
            level_sizes.append(tuple(round(ANCHOR_STRIDE_RATIO * stride * scale, 2) for scale in DEFAULT_SCALES))

    if sizes.size >= len(RATIO_QUANTILES):
        ratios = np.clip(np.quantile(heights / widths, RATIO_QUANTILES), *RATIO_LIMITS)
        aspect_ratios = tuple(round(float(value), 3) for value in ratios)
    else:
        aspect_ratios = DEFAULT_ASPECT_RATIOS
    return AnchorPlan(tuple(used), tuple(level_sizes), aspect_ratios, int(sizes.size))


def anchor_coverage(
    plan: AnchorPlan, boxes: np.ndarray, image_size: Sequence[int], iou_threshold: float = COVERAGE_IOU
) -> float | None:
    """Return the share of ``boxes`` that some anchor overlaps with IoU >= ``iou_threshold``.

    Every image of a profile has the same size, so one set of anchors serves all boxes.

    Returns:
        The share in [0, 1], or None when there are no boxes.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return None
    anchors = plan.generator().anchors_for_image(image_size)
    best = _best_iou(torch.from_numpy(boxes), anchors)
    return round(float((best >= iou_threshold).float().mean()), 4)


def coverage_report(
    plan: AnchorPlan,
    boxes_by_split: dict[str, tuple[np.ndarray, np.ndarray]],
    categories: Sequence[str],
    image_size: Sequence[int],
) -> dict[str, Any]:
    """Measure anchor coverage per split and category, and warn when it is low.

    Args:
        plan: The anchors.
        boxes_by_split: Split name to ``(boxes, labels)`` with labels indexing ``categories``.
        categories: The task's categories.
        image_size: ``(height, width)`` of the processed images.

    Returns:
        ``{"iou_threshold", "<split>": share or None, "<split>/<category>": share or None}``.
    """
    report: dict[str, Any] = {"iou_threshold": COVERAGE_IOU}
    for split, (boxes, labels) in boxes_by_split.items():
        report[split] = anchor_coverage(plan, boxes, image_size)
        for index, category in enumerate(categories):
            report[f"{split}/{category}"] = anchor_coverage(plan, boxes[labels == index], image_size)

    train = report.get("train")
    if train is not None and train < LOW_COVERAGE:
        logger.warning(
            "anchors cover only %.0f%% of the training boxes at IoU >= %.1f (strides %s, sizes %s); "
            "small lesions at this resolution profile will be detected poorly, a larger profile helps",
            100 * train,
            COVERAGE_IOU,
            list(plan.strides),
            [list(level) for level in plan.sizes],
        )
    return report


def _level_of(size: float, strides: Sequence[int]) -> int:
    level = 0
    for index, stride in enumerate(strides):
        if ANCHOR_STRIDE_RATIO * stride <= size:
            level = index
    return level


def _default_plan(strides: Sequence[int]) -> AnchorPlan:
    sizes = tuple(
        tuple(round(ANCHOR_STRIDE_RATIO * stride * scale, 2) for scale in DEFAULT_SCALES) for stride in strides
    )
    return AnchorPlan(tuple(strides), sizes, DEFAULT_ASPECT_RATIOS, 0)


def _cell_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float], stride: int) -> torch.Tensor:
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    ratios = torch.as_tensor(aspect_ratios, dtype=torch.float32)
    height_factor = torch.sqrt(ratios)
    widths = (scales[None, :] / height_factor[:, None]).reshape(-1)
    heights = (scales[None, :] * height_factor[:, None]).reshape(-1)
    centre = stride / 2.0
    return torch.stack([centre - widths / 2, centre - heights / 2, centre + widths / 2, centre + heights / 2], dim=1)


def _best_iou(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    rows = max(1, _MAX_IOU_ELEMENTS // max(1, anchors.shape[0]))
    best = [box_iou(boxes[start : start + rows], anchors).amax(dim=1) for start in range(0, len(boxes), rows)]
    return torch.cat(best)
