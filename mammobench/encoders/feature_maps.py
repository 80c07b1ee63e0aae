"""Dense feature maps of a dataset, cached on disk, for heads trained on a frozen backbone.

:func:`compute_feature_maps` runs the encoder's ``dense`` output over every image once and stores
one ``.npy`` array per feature level in the embedding cache, under a key that also covers the
chosen levels and storage dtype. Maps are large, so the entry's size is estimated first and an
entry that would not fit raises :class:`~mammobench.encoders.embedding_cache.CacheSpaceError`;
the caller can then compute features on the fly instead.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile
from mammobench.encoders.base import Encoder, FeatureInfo
from mammobench.encoders.embedding_cache import (
    CacheSpaceError,
    CacheWriter,
    EmbeddingCache,
    drop_if_failed_images_changed,
    key_options,
)
from mammobench.encoders.extraction import (
    ProgressCallback,
    cache_key,
    extract,
    report_total,
    resolve_profile,
    row_indices,
    select_split,
)
from mammobench.errors import ConfigError
from mammobench.specs import Capability

FEATURE_MAPS_KIND = "feature-maps"

# Share of the cache folder's free space that one feature-map entry may take.
_FREE_SPACE_SHARE = 0.9


@dataclass
class FeatureMapSet:
    """Dense feature maps of a dataset split, one array per level, rows as in ``ids``.

    Attributes:
        key: Cache key digest of the entry.
        ids: Image ids, in row order.
        arrays: Per level, ``(N, C, h, w)`` maps memory-mapped from the cache.
        feature_info: Stride and channels of each level, matching ``arrays``.
        failed: Image id to reason, for images that could not be read.
        path: The cache entry folder.
        from_cache: True when the entry existed and the encoder did not run.
        fields: The cache key fields.
    """

    key: str
    ids: list[str]
    arrays: list[np.ndarray]
    feature_info: list[FeatureInfo]
    failed: dict[str, str]
    path: Path
    from_cache: bool
    fields: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, image_ids: Sequence[str]) -> list[np.ndarray]:
        """Return each level's maps for ``image_ids`` in that order, as in-memory arrays."""
        indices = row_indices(self.ids, self.failed, image_ids)
        return [level[indices] for level in self.arrays]


def compute_feature_maps(
    encoder: Encoder,
    manifest: Manifest,
    profile: ResolutionProfile | str,
    *,
    split: str | None = None,
    levels: Sequence[int] | None = None,
    dtype: str = "float16",
    batch_size: int = 8,
    num_workers: int | None = None,
    progress: ProgressCallback | None = None,
    precision: str = "float32",
    canonical_side: str = "left",
    max_bytes: int | None = None,
    cache: EmbeddingCache | None = None,
) -> FeatureMapSet:
    """Compute and cache the encoder's ``dense`` feature maps for every image of a split.

    Args:
        encoder: A built encoder with the ``dense`` capability.
        manifest: The dataset; the cache key uses its content hash.
        profile: Resolution profile (or its name) the images are preprocessed to.
        split: Only this split; all images when None.
        levels: Indices into ``encoder.feature_info`` to keep; all levels when None.
        dtype: Storage dtype, ``float16`` (default, half the disk space) or ``float32``.
        batch_size: Images per forward pass.
        num_workers: DataLoader worker processes; None uses the data layer's default.
        progress: Called after each batch with (images done, total).
        precision: Forward-pass precision, as for :func:`compute_embeddings`.
        canonical_side: Side the chest wall faces after preprocessing, ``left`` or ``right``.
        max_bytes: Refuse to write an entry estimated larger than this.
        cache: Cache folder to use; ``MAMMOBENCH_HOME/embeddings`` by default.

    Raises:
        IncompatibleError: The encoder has no ``dense`` capability.
        CacheSpaceError: The maps would not fit ``max_bytes`` or the free disk space; the caller
            can compute features on the fly instead (see :func:`estimate_feature_map_bytes`).
    """
    encoder.require(Capability.DENSE)
    chosen = _check_levels(encoder, levels)
    storage = _storage_dtype(dtype)
    resolved = resolve_profile(profile)
    selected = select_split(manifest, split)
    cache = cache or EmbeddingCache()
    options = key_options(levels=",".join(str(level) for level in chosen))
    key = cache_key(
        FEATURE_MAPS_KIND,
        encoder,
        manifest,
        resolved,
        split,
        dtype,
        precision,
        canonical_side,
        options,
    )
    feature_info = [encoder.feature_info[level] for level in chosen]

    entry = cache.lookup(key)
    if entry is not None and drop_if_failed_images_changed(cache, entry, selected):
        entry = None
    if entry is None:
        estimate = estimate_feature_map_bytes(feature_info, resolved, len(selected.images), dtype)
        _check_space(cache, estimate, max_bytes)
        with cache.writer(key) as writer:

            def write(images: torch.Tensor) -> None:
                maps = encoder.forward_features(encoder.prepare(images))
                for position, level in enumerate(chosen):
                    writer.append(_level_name(position), maps[level].to(storage).cpu().numpy())

            ids, failed = extract(
                encoder,
                selected,
                resolved,
                canonical_side,
                write,
                batch_size,
                num_workers,
                progress,
                precision,
            )
            if not ids:
                _declare_levels(writer, feature_info, resolved, storage)
            metadata = {"feature_info": [vars(info) for info in feature_info], "levels": chosen}
            entry = writer.commit(ids, failed, metadata)
        from_cache = False
    else:
        from_cache = True
        report_total(progress, entry)

    return FeatureMapSet(
        key=entry.digest,
        ids=entry.ids,
        arrays=[entry.open_array(_level_name(position)) for position in range(len(chosen))],
        feature_info=feature_info,
        failed=entry.failed,
        path=entry.path,
        from_cache=from_cache,
        fields=entry.key,
    )


def estimate_feature_map_bytes(
    feature_info: Sequence[FeatureInfo], profile: ResolutionProfile, n_images: int, dtype: str
) -> int:
    """Estimate the disk bytes of the feature maps of ``n_images`` images at ``profile``."""
    itemsize = np.dtype(dtype).itemsize
    per_image = sum(
        info.channels
        * math.ceil(profile.height / info.stride)
        * math.ceil(profile.width / info.stride)
        for info in feature_info
    )
    return per_image * itemsize * n_images


def _check_levels(encoder: Encoder, levels: Sequence[int] | None) -> list[int]:
    available = len(encoder.feature_info)
    chosen = list(range(available)) if levels is None else [int(level) for level in levels]
    bad = [level for level in chosen if not 0 <= level < available]
    if bad or not chosen:
        raise ConfigError(
            f"encoder '{encoder.name}' has feature levels 0-{available - 1}; level(s) {bad or chosen} "
            "are invalid"
        )
    return chosen


def _storage_dtype(dtype: str) -> torch.dtype:
    if dtype == "float16":
        return torch.float16
    if dtype == "float32":
        return torch.float32
    raise ConfigError(f"feature map dtype '{dtype}' is invalid; choose float16 or float32")


def _declare_levels(
    writer: CacheWriter,
    feature_info: Sequence[FeatureInfo],
    profile: ResolutionProfile,
    dtype: torch.dtype,
) -> None:
    # Only for entries without rows (every image failed), so the estimated map size replaces
    # the size the encoder would have produced.
    numpy_dtype = np.float16 if dtype == torch.float16 else np.float32
    for position, info in enumerate(feature_info):
        height = math.ceil(profile.height / info.stride)
        width = math.ceil(profile.width / info.stride)
        writer.declare(_level_name(position), numpy_dtype, (info.channels, height, width))


def _check_space(cache: EmbeddingCache, estimate: int, max_bytes: int | None) -> None:
    if max_bytes is not None and estimate > max_bytes:
        raise CacheSpaceError(
            f"feature maps need about {_gib(estimate)}, more than the limit of {_gib(max_bytes)}; "
            "raise the limit, keep fewer levels, or compute features on the fly"
        )
    free = shutil.disk_usage(cache.root).free
    if estimate > _FREE_SPACE_SHARE * free:
        raise CacheSpaceError(
            f"feature maps need about {_gib(estimate)} but '{cache.root}' has {_gib(free)} free; "
            "free disk space, point MAMMOBENCH_HOME elsewhere, or compute features on the fly"
        )


def _level_name(position: int) -> str:
    return f"level{position}"


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"
