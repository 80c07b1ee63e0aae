"""Torch dataset and data loader over a manifest: preprocessed images with their boxes.

Every protocol reads images through :class:`ImageDataset`. Items are dictionaries:

=============  ==================================================================================
``image``      float32 tensor ``(1, H, W)`` in [0, 1], the profile's size
``image_id``   the manifest's ``image_id``
``index``      row position in ``manifest.images``, to look up labels
``boxes``      float32 tensor ``(N, 4)``, ``xmin, ymin, xmax, ymax`` in processed pixels
``categories`` list of N finding names, one per box
``error``      None, or the message of the :class:`~mammobench.errors.ImageReadError` that
               made this item a zero image
=============  ==================================================================================

A file that cannot be read yields a zero image with ``error`` set instead of raising, so one
bad image fails only itself; callers decide whether to skip it or record it as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from mammobench.data.image_cache import ImageCache
from mammobench.data.manifest import Manifest
from mammobench.data.preprocess import preprocess
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.data.readers import read_image
from mammobench.data.transforms import BoxTransform, clip_boxes, nondegenerate
from mammobench.data.workers import default_num_workers
from mammobench.errors import ConfigError, ImageReadError
from mammobench.plural import counted

logger = logging.getLogger(__name__)

# A geometric augmentation takes the image (1, H, W) and its boxes (N, 4) in pixels and returns
# both transformed. Boxes that leave the frame are clipped and dropped afterwards.
Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class ImageDataset(Dataset):
    """Preprocessed images of a manifest with their boxes, read through the image cache.

    Args:
        manifest: images (and boxes in original pixels) to serve, in row order.
        profile: resolution profile or its name.
        canonical_side: ``"left"`` or ``"right"``, the side the chest wall faces.
        augment: optional training augmentation, see :data:`Augment`.
        cache: image cache to use; by default one for this profile and side under
            ``MAMMOBENCH_HOME``.
        use_cache: False decodes and preprocesses on every access and writes nothing.
    """

    def __init__(
        self,
        manifest: Manifest,
        profile: ResolutionProfile | str,
        *,
        canonical_side: str = "left",
        augment: Augment | None = None,
        cache: ImageCache | None = None,
        use_cache: bool = True,
    ) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.canonical_side = canonical_side
        self.augment = augment
        if use_cache and cache is None:
            cache = ImageCache(self.profile, canonical_side=canonical_side)
        self.cache = cache if use_cache else None

        images = manifest.images
        self.image_ids = [str(value) for value in images["image_id"]]
        self.paths = [str(manifest.absolute_path(str(value))) for value in images["path"]]
        self.lateralities = [_laterality_or_none(value) for value in images["laterality"]]

        groups = manifest.boxes_by_image()
        self._boxes: list[np.ndarray] = []
        self._categories: list[list[str]] = []
        for image_id in self.image_ids:
            group = groups.get(image_id)
            if group is None:
                self._boxes.append(np.zeros((0, 4), dtype=np.float64))
                self._categories.append([])
                continue
            self._boxes.append(group[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64))
            self._categories.append([str(value) for value in group["category"]])

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self.image_ids[index]
        try:
            pixels, transform = self._load(index)
        except ImageReadError as error:
            logger.warning("%s (image_id '%s')", error, image_id)
            height, width = self.profile.size
            return {
                "image": torch.zeros((1, height, width), dtype=torch.float32),
                "image_id": image_id,
                "index": index,
                "boxes": torch.zeros((0, 4), dtype=torch.float32),
                "categories": [],
                "error": str(error),
            }

        boxes = transform.forward(self._boxes[index])
        categories = list(self._categories[index])
        image = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).unsqueeze(0)
        box_tensor = torch.from_numpy(boxes.astype(np.float32))
        if self.augment is not None:
            image, box_tensor = self.augment(image, box_tensor)
            height, width = image.shape[-2:]
            box_tensor = torch.from_numpy(
                clip_boxes(box_tensor.numpy(), height, width).astype(np.float32)
            )

        keep = nondegenerate(box_tensor.numpy())
        if not keep.all():
            logger.debug(
                "image '%s': dropped %s outside the frame", image_id, counted(int((~keep).sum()), "box", "boxes")
            )
        return {
            "image": image,
            "image_id": image_id,
            "index": index,
            "boxes": box_tensor[torch.from_numpy(keep)],
            "categories": [category for category, kept in zip(categories, keep) if kept],
            "error": None,
        }

    def _load(self, index: int) -> tuple[np.ndarray, BoxTransform]:
        path, laterality = self.paths[index], self.lateralities[index]
        if self.cache is not None:
            return self.cache.load(path, laterality)
        image = read_image(path)
        return preprocess(
            image,
            laterality,
            self.profile,
            canonical_side=self.canonical_side,
            name=self.image_ids[index],
        )


class RandomVerticalFlip:
    """Flip the image upside down with probability ``p`` and move its boxes with it.

    Vertical flips keep the chest wall on its canonical side, unlike horizontal flips.

    Args:
        p: flip probability.
        seed: seed of the flip decisions; None draws from torch's global generator, which the
            DataLoader seeds differently in every worker. With a seed, each worker process
            draws from ``seed + worker id``, so workers do not repeat each other's decisions.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"flip probability {p} must lie in [0, 1]")
        self.p = p
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._generator_worker: int | None = None

    def __call__(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if torch.rand((), generator=self._worker_generator()).item() >= self.p:
            return image, boxes
        height = image.shape[-2]
        flipped = boxes.clone()
        flipped[:, 1] = height - boxes[:, 3]
        flipped[:, 3] = height - boxes[:, 1]
        return torch.flip(image, dims=[-2]), flipped

    def _worker_generator(self) -> torch.Generator | None:
        if self.seed is None:
            return None
        worker = get_worker_info()
        worker_id = worker.id if worker is not None else -1
        if self._generator is None or self._generator_worker != worker_id:
            self._generator = torch.Generator().manual_seed(self.seed + max(worker_id, 0))
            self._generator_worker = worker_id
        return self._generator


def collate_images(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack images into ``(B, 1, H, W)``; keep boxes, categories, ids and errors as lists.

    ``index`` becomes a ``(B,)`` int64 tensor.
    """
    return {
        "image": torch.stack([item["image"] for item in batch]),
        "image_id": [item["image_id"] for item in batch],
        "index": torch.tensor([item["index"] for item in batch], dtype=torch.int64),
        "boxes": [item["boxes"] for item in batch],
        "categories": [item["categories"] for item in batch],
        "error": [item["error"] for item in batch],
    }


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int | None = None,
    *,
    seed: int | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """Build a DataLoader with worker processes, persistent workers and prefetching.

    Args:
        dataset: usually an :class:`ImageDataset`.
        batch_size: images per batch.
        shuffle: reshuffle every epoch (training).
        num_workers: worker processes; None reads ``MAMMOBENCH_NUM_WORKERS``, else uses
            ``min(4, CPU count)``. 0 loads in the main process.
        seed: seed of the shuffling order, for reproducible epochs.
        drop_last: drop the last incomplete batch.

    Raises:
        ConfigError: ``MAMMOBENCH_NUM_WORKERS`` or ``num_workers`` is not a non-negative integer.
    """
    workers = default_num_workers() if num_workers is None else num_workers
    if workers < 0:
        raise ConfigError(f"num_workers {workers} must be >= 0")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        collate_fn=collate_images,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        pin_memory=torch.cuda.is_available(),
        generator=generator,
        drop_last=drop_last,
    )


def load_cached_image(
    cache: ImageCache, manifest: Manifest, row: Any
) -> tuple[np.ndarray, BoxTransform]:
    """Return the processed image of one manifest row and its transform, through ``cache``.

    Args:
        cache: Image cache of the run's resolution profile and canonical side.
        manifest: The manifest ``row`` comes from; its root resolves the row's path.
        row: A row of ``manifest.images`` (``path`` and ``laterality`` are read).

    Raises:
        ImageReadError: The source file cannot be read.
    """
    path = manifest.absolute_path(str(row["path"]))
    return cache.load(path, _laterality_or_none(row["laterality"]))


def _laterality_or_none(value: object) -> str | None:
    if isinstance(value, str) and value.strip().upper() in ("L", "R"):
        return value.strip().upper()
    return None
