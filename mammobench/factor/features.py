"""Cached final feature maps read as channel descriptors for the attribute heads.

The maps come from :func:`mammobench.encoders.feature_maps.compute_feature_maps` (one pass of
the frozen encoder, cached on disk as float16). A head's input is one channel's map flattened
over its ``h x w`` positions. That size depends on the resolution profile and the level's
stride, so it is read from the cached array, never assumed.

Descriptors are standardised with one mean and one standard deviation measured on the training
split, so the MLP receives inputs of unit scale whatever the encoder's activation range. A single
scalar pair keeps the differences between channels, which carry which channel responds where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mammobench.encoders.feature_maps import FeatureMapSet
from mammobench.errors import DataError

# Side the chest wall faces after preprocessing, in the feature pass and wherever boxes or
# images are mapped into the same frame.
CANONICAL_SIDE = "left"

# Images whose maps are read at once when measuring the standardisation statistics.
_STATISTICS_CHUNK = 256


@dataclass
class ChannelFeatures:
    """One feature level of every readable image, addressed by image id.

    Attributes:
        maps: ``(N, C, h, w)`` maps, memory-mapped from the cache.
        ids: Image id of each row.
        stride: Stride of the level in processed pixels.
        key: Cache key digest of the entry.
        failed: Image id to the reason it could not be read.
        mean: Subtracted from every value before the values reach a head.
        std: Divides every value after subtracting ``mean``.
    """

    maps: np.ndarray
    ids: list[str]
    stride: int
    key: str
    failed: dict[str, str] = field(default_factory=dict)
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if self.maps.ndim != 4:
            raise DataError(f"feature maps must have shape (N, C, h, w); got {self.maps.shape}")
        self._rows = {image_id: row for row, image_id in enumerate(self.ids)}

    @classmethod
    def from_feature_maps(cls, feature_maps: FeatureMapSet, level: int = -1) -> ChannelFeatures:
        """Take one level of a cached feature-map set (``-1``: the coarsest, final map)."""
        position = level if level >= 0 else len(feature_maps.arrays) + level
        if not 0 <= position < len(feature_maps.arrays):
            raise DataError(
                f"feature level {level} is not cached; the entry has {len(feature_maps.arrays)} level(s)"
            )
        return cls(
            maps=feature_maps.arrays[position],
            ids=list(feature_maps.ids),
            stride=int(feature_maps.feature_info[position].stride),
            key=feature_maps.key,
            failed=dict(feature_maps.failed),
        )

    @property
    def channels(self) -> int:
        return int(self.maps.shape[1])

    @property
    def grid(self) -> tuple[int, int]:
        """``(h, w)`` of the maps."""
        return int(self.maps.shape[2]), int(self.maps.shape[3])

    @property
    def positions(self) -> int:
        """Input size of a head: ``h * w``."""
        height, width = self.grid
        return height * width

    def readable(self, image_ids: Sequence[str]) -> list[str]:
        """Return the ids in ``image_ids`` that have maps, in order."""
        return [image_id for image_id in image_ids if image_id in self._rows]

    def fit_standardization(self, image_ids: Sequence[str]) -> None:
        """Measure :attr:`mean` and :attr:`std` over the maps of ``image_ids`` (the training images)."""
        rows = self._row_indices(image_ids)
        if rows.size == 0:
            raise DataError("no readable training images to measure the feature statistics on")
        total, total_squares, count = 0.0, 0.0, 0
        for start in range(0, rows.size, _STATISTICS_CHUNK):
            chunk = self.maps[np.sort(rows[start : start + _STATISTICS_CHUNK])].astype(np.float64)
            total += float(chunk.sum())
            total_squares += float(np.square(chunk).sum())
            count += chunk.size
        mean = total / count
        variance = max(total_squares / count - mean * mean, 0.0)
        self.mean = mean
        self.std = float(np.sqrt(variance)) if variance > 0 else 1.0

    def raw_maps(self, image_ids: Sequence[str]) -> np.ndarray:
        """Return the unstandardised maps ``(B, C, h, w)`` of ``image_ids`` as float32."""
        return self.maps[self._row_indices(image_ids)].astype(np.float32)

    def descriptors(self, image_ids: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
        """Return standardised channel descriptors ``(B, C, h * w)`` of ``image_ids``."""
        maps = self.raw_maps(image_ids)
        values = (maps.reshape(maps.shape[0], maps.shape[1], -1) - self.mean) / self.std
        return torch.from_numpy(values.astype(np.float32)).to(device)

    def _row_indices(self, image_ids: Sequence[str]) -> np.ndarray:
        missing = [image_id for image_id in image_ids if image_id not in self._rows]
        if missing:
            image_id = missing[0]
            reason = self.failed.get(image_id, "it is not in the feature cache")
            raise DataError(f"image '{image_id}' has no feature maps: {reason}")
        return np.asarray([self._rows[image_id] for image_id in image_ids], dtype=np.int64)
