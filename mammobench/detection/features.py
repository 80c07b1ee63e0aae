"""Batches for the detector: cached feature maps, or images that the encoder runs on.

With a frozen backbone the encoder's maps of every image are computed once
(:func:`mammobench.encoders.embed.compute_feature_maps`) and every epoch of every cell reads them
from the cache, as :class:`CachedMaps` does. Cached training uses no augmentation, because the
encoder never ran on a flipped or jittered image. When the maps
do not fit on disk, or the backbone is trained, :class:`ImageBatches` loads preprocessed images
and the encoder runs in the training step. Training batches of images get a random vertical
flip (which keeps the chest wall on its side) with the boxes flipped along, plus contrast and
brightness jitter.

Ground-truth boxes always come from the :class:`~mammobench.detection.targets.TargetTable`, so
both paths train and evaluate on the same boxes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import DataLoader

from mammobench.data.loading import ImageDataset, make_loader
from mammobench.data.manifest import Manifest, empty_boxes
from mammobench.data.profiles import ResolutionProfile
from mammobench.detection.targets import TargetTable
from mammobench.encoders.feature_maps import FeatureMapSet

# Contrast and brightness jitter of training images: factors in 1 +- 0.1 and offsets in +- 0.05.
CONTRAST_JITTER = 0.2
BRIGHTNESS_JITTER = 0.1


@dataclass
class Batch:
    """One batch: either cached encoder maps or images, and the boxes of each image.

    Attributes:
        image_ids: Ids of the images, in batch order.
        targets: Per image, ``boxes`` (processed pixels) and ``labels`` on the device.
        maps: Encoder maps ``(B, C, h, w)`` per encoder level, float32 on the device, or None.
        images: Preprocessed images ``(B, 1, H, W)`` on the device, or None.
    """

    image_ids: list[str]
    targets: list[dict[str, torch.Tensor]]
    maps: list[torch.Tensor] | None = None
    images: torch.Tensor | None = None


class CachedMaps:
    """Batches of cached feature maps of a frozen encoder."""

    def __init__(self, feature_maps: FeatureMapSet, targets: TargetTable, device: torch.device) -> None:
        self.feature_maps = feature_maps
        self.targets = targets
        self.device = device
        self.available = set(feature_maps.ids)

    def count(self, image_ids: Sequence[str], batch_size: int) -> int:
        """Return the number of batches :meth:`batches` yields."""
        return math.ceil(len(self._usable(image_ids)) / batch_size)

    def batches(
        self, image_ids: Sequence[str], batch_size: int, *, shuffle: bool = False, seed: int = 0
    ) -> Iterator[Batch]:
        """Yield batches of ``image_ids`` (in a seeded random order when ``shuffle``)."""
        ids = self._usable(image_ids)
        if shuffle:
            order = np.random.default_rng(seed).permutation(len(ids))
            ids = [ids[index] for index in order]
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            arrays = self.feature_maps.rows(chunk)
            maps = [torch.from_numpy(np.asarray(array, dtype=np.float32)).to(self.device) for array in arrays]
            yield Batch(chunk, self.targets.torch_targets(chunk, self.device), maps=maps)

    def _usable(self, image_ids: Sequence[str]) -> list[str]:
        return [image_id for image_id in image_ids if image_id in self.available and image_id in self.targets.images]


class ImageBatches:
    """Batches of preprocessed images, read through the image cache in worker processes.

    Args:
        manifest: The task's images (boxes are ignored; they come from ``targets``).
        targets: Ground truth in processed pixels.
        profile: Resolution profile.
        device: Device the images are moved to.
        num_workers: DataLoader worker processes; None uses the data layer's default.
    """

    def __init__(
        self,
        manifest: Manifest,
        targets: TargetTable,
        profile: ResolutionProfile,
        device: torch.device,
        num_workers: int | None = None,
    ) -> None:
        self.manifest = manifest
        self.targets = targets
        self.profile = profile
        self.device = device
        self.num_workers = num_workers
        self._loaders: dict[tuple[tuple[str, ...], int], DataLoader] = {}

    def count(self, image_ids: Sequence[str], batch_size: int) -> int:
        """Return the number of batches :meth:`batches` yields."""
        return math.ceil(len(self.targets.readable(image_ids)) / batch_size)

    def batches(
        self,
        image_ids: Sequence[str],
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        augment: bool = False,
    ) -> Iterator[Batch]:
        """Yield batches of ``image_ids``; ``augment`` flips and jitters them (training only)."""
        loader = self._loader(self.targets.readable(image_ids), batch_size, shuffle, seed)
        generator = torch.Generator().manual_seed(seed) if augment else None
        for batch in loader:
            keep = [index for index, error in enumerate(batch["error"]) if error is None]
            if not keep:
                continue
            ids = [batch["image_id"][index] for index in keep]
            images = batch["image"][keep]
            targets = self.targets.torch_targets(ids, torch.device("cpu"))
            if generator is not None:
                images, targets = augment_batch(images, targets, generator)
            targets = [{name: value.to(self.device) for name, value in target.items()} for target in targets]
            yield Batch(ids, targets, images=images.to(self.device, non_blocking=True))

    def _loader(self, image_ids: list[str], batch_size: int, shuffle: bool, seed: int) -> DataLoader:
        selected = replace(self.manifest.select(image_ids), boxes=empty_boxes())
        if shuffle:
            # Training images change from epoch to epoch (negatives are drawn afresh), so each
            # epoch gets its own loader, whose workers end with it.
            dataset = ImageDataset(selected, self.profile)
            return make_loader(dataset, batch_size, shuffle=True, num_workers=self.num_workers, seed=seed)

        # Validation and test images are the same in every epoch, so their loaders and
        # persistent workers are kept for the whole cell.
        key = (tuple(image_ids), batch_size)
        if key not in self._loaders:
            dataset = ImageDataset(selected, self.profile)
            self._loaders[key] = make_loader(dataset, batch_size, shuffle=False, num_workers=self.num_workers)
        return self._loaders[key]

    def close(self) -> None:
        """Release the kept loaders and their worker processes."""
        self._loaders.clear()


def augment_batch(
    images: torch.Tensor, targets: list[dict[str, torch.Tensor]], generator: torch.Generator
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Flip each image upside down with probability 0.5 (moving its boxes) and jitter its intensity.

    Args:
        images: ``(B, 1, H, W)`` in [0, 1].
        targets: Per image, ``boxes`` ``(N, 4)`` in pixels and ``labels``.
        generator: Source of the random draws.

    Returns:
        The augmented images (clipped to [0, 1]) and targets with flipped boxes.
    """
    images = images.clone()
    height = images.shape[-2]
    augmented = []
    for index, target in enumerate(targets):
        boxes = target["boxes"]
        if torch.rand((), generator=generator).item() < 0.5:
            images[index] = torch.flip(images[index], dims=[-2])
            flipped = boxes.clone()
            flipped[:, 1] = height - boxes[:, 3]
            flipped[:, 3] = height - boxes[:, 1]
            boxes = flipped
        contrast = 1.0 + CONTRAST_JITTER * (torch.rand((), generator=generator).item() - 0.5)
        brightness = BRIGHTNESS_JITTER * (torch.rand((), generator=generator).item() - 0.5)
        mean = images[index].mean()
        images[index] = ((images[index] - mean) * contrast + mean + brightness).clamp(0.0, 1.0)
        augmented.append({"boxes": boxes, "labels": target["labels"]})
    return images, augmented
