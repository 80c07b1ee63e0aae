"""Ground-truth boxes of a detection task in processed pixels, and the checks they pass.

Manifest boxes are in original image pixels. :func:`build_targets` maps them through each
image's preprocessing transform (crop, laterality flip, resize) into the pixels of the
resolution profile, in which the detector is trained and evaluated. Because IoU of
axis-aligned boxes does not change when each axis is scaled, AP and FROC computed there equal
those in original pixels except where a box was clipped to the breast crop.

Boxes that are degenerate never crash training or evaluation:

- a box with zero or negative width or height in the manifest, or one that lies outside the
  breast crop so that clipping collapses it, is dropped;
- a box narrower or shorter than :data:`MIN_BOX_SIZE` processed pixels after resizing is grown
  to that size around its centre (and kept inside the image).

Both counts are logged and stored with every cell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from mammobench.data.image_cache import ImageCache
from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile
from mammobench.data.transforms import BoxTransform
from mammobench.data.workers import default_num_workers
from mammobench.errors import ImageReadError

logger = logging.getLogger(__name__)

# Smallest box side in processed pixels. A lesion a fraction of a pixel wide after resizing
# still marks a location, so it is grown to this size instead of being dropped.
MIN_BOX_SIZE = 1.0

COORDINATES = ("xmin", "ymin", "xmax", "ymax")


@dataclass
class BoxCounts:
    """How many boxes were kept, grown to the minimum size, or dropped."""

    kept: int = 0
    clamped: int = 0
    dropped: int = 0

    def add(self, other: BoxCounts) -> None:
        self.kept += other.kept
        self.clamped += other.clamped
        self.dropped += other.dropped


@dataclass
class ImageTargets:
    """Ground truth of one image in processed pixels.

    Attributes:
        boxes: ``(N, 4)`` float32 ``xmin, ymin, xmax, ymax``.
        labels: ``(N,)`` int64 category indices into the task's categories.
        transform: The preprocessing transform from original to processed pixels.
    """

    boxes: np.ndarray
    labels: np.ndarray
    transform: BoxTransform


@dataclass
class TargetTable:
    """Ground truth of every readable image of a task, in processed pixels.

    Attributes:
        categories: The task's box categories; labels index into this tuple.
        image_size: ``(height, width)`` of the resolution profile.
        images: Image id to its targets.
        failed: Image id to the reason it could not be read.
        counts: Boxes kept, grown to the minimum size and dropped.
    """

    categories: tuple[str, ...]
    image_size: tuple[int, int]
    images: dict[str, ImageTargets] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    counts: BoxCounts = field(default_factory=BoxCounts)

    def readable(self, image_ids: Sequence[str]) -> list[str]:
        """Return the ids in ``image_ids`` that were read, in order."""
        return [image_id for image_id in image_ids if image_id in self.images]

    def box_array(self, image_ids: Sequence[str]) -> np.ndarray:
        """Return every box of ``image_ids`` as one ``(N, 4)`` array."""
        arrays = [self.images[image_id].boxes for image_id in image_ids if image_id in self.images]
        return np.concatenate(arrays) if arrays else np.zeros((0, 4), dtype=np.float32)

    def label_array(self, image_ids: Sequence[str]) -> np.ndarray:
        """Return the labels of :meth:`box_array`, in the same order."""
        arrays = [self.images[image_id].labels for image_id in image_ids if image_id in self.images]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)

    def frame(self, image_ids: Sequence[str]) -> pd.DataFrame:
        """Return the boxes of ``image_ids`` as a box table (``image_id``, ``category``, coordinates)."""
        rows = []
        for image_id in image_ids:
            targets = self.images.get(image_id)
            if targets is None:
                continue
            for box, label in zip(targets.boxes, targets.labels, strict=True):
                rows.append((image_id, self.categories[int(label)], *(float(v) for v in box)))
        return pd.DataFrame(rows, columns=["image_id", "category", *COORDINATES])

    def torch_targets(self, image_ids: Sequence[str], device: torch.device) -> list[dict[str, torch.Tensor]]:
        """Return torchvision detection targets (``boxes``, ``labels``) for ``image_ids``."""
        return [
            {
                "boxes": torch.as_tensor(self.images[image_id].boxes, dtype=torch.float32, device=device),
                "labels": torch.as_tensor(self.images[image_id].labels, dtype=torch.int64, device=device),
            }
            for image_id in image_ids
        ]


def build_targets(
    manifest: Manifest,
    categories: Sequence[str],
    profile: ResolutionProfile,
    *,
    canonical_side: str = "left",
    num_workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TargetTable:
    """Preprocess every image of ``manifest`` (through the image cache) and map its boxes.

    Reading the images here also fills the preprocessed-image cache, so later passes (feature
    extraction, training on images) no longer decode the original files.

    Args:
        manifest: The task's images; boxes of other categories are ignored.
        categories: The task's box categories.
        profile: Resolution profile the detector works in.
        canonical_side: Side the chest wall faces after preprocessing.
        num_workers: DataLoader worker processes; None uses the data layer's default.
        progress: Called as ``progress(done, total)`` after each batch of images.

    Returns:
        The targets of every readable image; unreadable images are listed in ``failed``.
    """
    categories = tuple(categories)
    index_of = {category: index for index, category in enumerate(categories)}
    boxes = manifest.boxes[manifest.boxes["category"].isin(index_of)]
    boxes_by_image = {image_id: group for image_id, group in boxes.groupby("image_id", sort=False)}

    table = TargetTable(categories=categories, image_size=profile.size)
    reader = _TransformReader(manifest, profile, canonical_side)
    workers = default_num_workers() if num_workers is None else num_workers
    loader = DataLoader(reader, batch_size=16, shuffle=False, num_workers=workers, collate_fn=list)

    done = 0
    for batch in loader:
        for image_id, transform, error in batch:
            if error is not None:
                table.failed[image_id] = error
                logger.warning("image '%s' skipped: %s", image_id, error)
                continue
            group = boxes_by_image.get(image_id)
            if group is None:
                source = np.zeros((0, 4))
                labels = np.zeros(0, dtype=np.int64)
            else:
                source = group[list(COORDINATES)].to_numpy(dtype=np.float64)
                labels = group["category"].map(index_of).to_numpy(dtype=np.int64)
            processed, keep, counts = to_processed_boxes(source, transform)
            table.counts.add(counts)
            table.images[image_id] = ImageTargets(processed, labels[keep], transform)
        done += len(batch)
        if progress is not None:
            progress(done, len(reader))

    _log_counts(table, manifest.dataset)
    return table


def to_processed_boxes(source: np.ndarray, transform: BoxTransform) -> tuple[np.ndarray, np.ndarray, BoxCounts]:
    """Map original-pixel boxes into processed pixels, dropping or growing degenerate ones.

    Args:
        source: ``(N, 4)`` boxes in original pixels.
        transform: The image's preprocessing transform.

    Returns:
        The kept boxes ``(M, 4)`` float32 in processed pixels, the boolean mask of kept input
        rows, and the counts.
    """
    source = np.asarray(source, dtype=np.float64).reshape(-1, 4)
    counts = BoxCounts()
    valid = np.isfinite(source).all(axis=1)
    valid &= (source[:, 2] > source[:, 0]) & (source[:, 3] > source[:, 1])

    processed = np.zeros((len(source), 4))
    if valid.any():
        processed[valid] = transform.forward(source[valid], clip=True)
    height, width = transform.output_size
    keep = valid & (processed[:, 2] > processed[:, 0]) & (processed[:, 3] > processed[:, 1])
    counts.dropped = int((~keep).sum())

    kept, clamped = clamp_small_boxes(processed[keep], height, width)
    counts.clamped = clamped
    counts.kept = int(keep.sum())
    return kept.astype(np.float32), keep, counts


def clamp_small_boxes(boxes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, int]:
    """Grow boxes narrower or shorter than :data:`MIN_BOX_SIZE` around their centre.

    Returns:
        The boxes, still inside ``[0, width] x [0, height]``, and how many were grown.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    small = ((boxes[:, 2] - boxes[:, 0]) < MIN_BOX_SIZE) | ((boxes[:, 3] - boxes[:, 1]) < MIN_BOX_SIZE)
    for axis, limit in ((0, float(width)), (1, float(height))):
        low, high = boxes[:, axis], boxes[:, axis + 2]
        narrow = (high - low) < MIN_BOX_SIZE
        centre = (low + high) / 2.0
        new_low = np.clip(centre - MIN_BOX_SIZE / 2.0, 0.0, max(limit - MIN_BOX_SIZE, 0.0))
        boxes[narrow, axis] = new_low[narrow]
        boxes[narrow, axis + 2] = np.minimum(new_low[narrow] + MIN_BOX_SIZE, limit)
    return boxes, int(small.sum())


class _TransformReader(Dataset):
    """Returns ``(image_id, transform, error)`` per image, filling the image cache."""

    def __init__(self, manifest: Manifest, profile: ResolutionProfile, canonical_side: str) -> None:
        images = manifest.images
        self.image_ids = [str(value) for value in images["image_id"]]
        self.paths = [str(manifest.absolute_path(str(value))) for value in images["path"]]
        self.lateralities = [_laterality_or_none(value) for value in images["laterality"]]
        self.profile = profile
        self.canonical_side = canonical_side
        self._cache: ImageCache | None = None

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> tuple[str, BoxTransform | None, str | None]:
        if self._cache is None:  # built lazily so that each worker process has its own
            self._cache = ImageCache(self.profile, canonical_side=self.canonical_side)
        try:
            _, transform = self._cache.load(self.paths[index], self.lateralities[index])
        except ImageReadError as error:
            return self.image_ids[index], None, str(error)
        return self.image_ids[index], transform, None


def _laterality_or_none(value: object) -> str | None:
    if isinstance(value, str) and value.strip().upper() in ("L", "R"):
        return value.strip().upper()
    return None


def _log_counts(table: TargetTable, dataset: str) -> None:
    counts = table.counts
    if counts.dropped:
        logger.warning(
            "dataset '%s': dropped %d box(es) of %s with zero or negative width or height "
            "(in the annotations, or after clipping to the breast crop)",
            dataset,
            counts.dropped,
            ", ".join(table.categories),
        )
    if counts.clamped:
        logger.info(
            "dataset '%s': grew %d box(es) smaller than %.0f processed pixel(s) to that size",
            dataset,
            counts.clamped,
            MIN_BOX_SIZE,
        )
