"""Embedding extraction: run an encoder over a dataset once and cache the result on disk.

:func:`compute_embeddings` returns one global embedding per image; :func:`compute_feature_maps`
returns the encoder's dense feature maps per image, for protocols that train heads on a frozen
backbone. Both share the extraction loop and the content-addressed cache of
:mod:`mammobench.encoders.embedding_cache`: a second call with the same encoder, weights, data,
profile, split and dtype reads the cached arrays without building batches or running the encoder.

Images are read and preprocessed in DataLoader worker processes while the main process runs
the forward pass, in ``torch.inference_mode`` with the encoder in eval mode. An image that
cannot be read fails on its own and is listed in ``failed``; the others are embedded.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.encoders.base import Encoder, FeatureInfo
from mammobench.encoders.embedding_cache import (
    CacheEntry,
    CacheKey,
    CacheSpaceError,
    CacheWriter,
    EmbeddingCache,
    key_options,
)
from mammobench.errors import ConfigError, DataError
from mammobench.specs import Capability

logger = logging.getLogger(__name__)

EMBEDDINGS_ARRAY = "embeddings"
EMBEDDINGS_KIND = "embeddings"
FEATURE_MAPS_KIND = "feature-maps"

# Compute precisions accepted by the forward pass. Anything but float32 runs under autocast.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# Share of the cache folder's free space that one feature-map entry may take.
_FREE_SPACE_SHARE = 0.9

ProgressCallback = Callable[[int, int], None]
"""Called after each batch with (images done, images in total)."""


@dataclass
class EmbeddingSet:
    """Global embeddings of a dataset split, one row per successfully embedded image.

    Attributes:
        key: Cache key digest of the entry.
        ids: Image ids, in row order.
        array: ``(N, D)`` float32 embeddings, memory-mapped from the cache.
        failed: Image id to reason, for images that could not be read.
        path: The cache entry folder.
        from_cache: True when the entry existed and the encoder did not run.
        fields: The cache key fields (encoder, revision, manifest hash, profile, ...).
    """

    key: str
    ids: list[str]
    array: np.ndarray
    failed: dict[str, str]
    path: Path
    from_cache: bool
    fields: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, image_ids: Sequence[str]) -> np.ndarray:
        """Return the embeddings of ``image_ids`` in that order, as an in-memory array.

        Raises:
            DataError: An id has no embedding. For a failed image the message gives the reason.
        """
        return self.array[_row_indices(self.ids, self.failed, image_ids)]


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
        indices = _row_indices(self.ids, self.failed, image_ids)
        return [level[indices] for level in self.arrays]


def compute_embeddings(
    encoder: Encoder,
    manifest: Manifest,
    profile: ResolutionProfile | str,
    *,
    split: str | None = None,
    batch_size: int = 32,
    num_workers: int | None = None,
    progress: ProgressCallback | None = None,
    precision: str = "float32",
    canonical_side: str = "left",
    cache: EmbeddingCache | None = None,
) -> EmbeddingSet:
    """Embed every image of ``manifest`` (or of one split) with the encoder's ``global`` output.

    Args:
        encoder: A built encoder with the ``global`` capability.
        manifest: The dataset; the cache key uses its content hash.
        profile: Resolution profile (or its name) the images are preprocessed to.
        split: Embed only this split (``train``, ``val``, ``test``); all images when None.
        batch_size: Images per forward pass.
        num_workers: DataLoader worker processes; None uses the data layer's default.
        progress: Called after each batch with (images done, total).
        precision: Forward-pass precision, ``float32``, ``bfloat16`` or ``float16``. Embeddings
            are stored as float32 either way.
        canonical_side: Side the chest wall faces after preprocessing, ``left`` or ``right``.
        cache: Cache folder to use; ``MAMMOBENCH_HOME/embeddings`` by default.

    Returns:
        The embeddings, read from the cache when an entry with the same key exists.

    Raises:
        IncompatibleError: The encoder has no ``global`` capability.
        DataError: The split has no images.
    """
    encoder.require(Capability.GLOBAL)
    resolved = _resolve_profile(profile)
    selected = _select_split(manifest, split)
    cache = cache or EmbeddingCache()
    key = _cache_key(
        EMBEDDINGS_KIND, encoder, manifest, resolved, split, "float32", precision, canonical_side, ()
    )

    entry = cache.lookup(key)
    if entry is None:
        with cache.writer(key) as writer:
            writer.declare(EMBEDDINGS_ARRAY, np.float32, (encoder.embed_dim or 0,))

            def write(images: torch.Tensor) -> None:
                embeddings = encoder.encode_image(encoder.prepare(images))
                writer.append(EMBEDDINGS_ARRAY, embeddings.float().cpu().numpy())

            ids, failed = _extract(
                encoder, selected, resolved, canonical_side, write, batch_size, num_workers, progress, precision
            )
            entry = writer.commit(ids, failed, {"embed_dim": encoder.embed_dim})
        from_cache = False
        logger.info("embedded %d images (%d failed) into %s", len(ids), len(failed), entry.path)
    else:
        from_cache = True
        logger.info("read %d cached embeddings from %s", len(entry.ids), entry.path)
        _report_total(progress, entry)

    return EmbeddingSet(
        key=entry.digest,
        ids=entry.ids,
        array=entry.open_array(EMBEDDINGS_ARRAY),
        failed=entry.failed,
        path=entry.path,
        from_cache=from_cache,
        fields=entry.key,
    )


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
    resolved = _resolve_profile(profile)
    selected = _select_split(manifest, split)
    cache = cache or EmbeddingCache()
    options = key_options(levels=",".join(str(level) for level in chosen))
    key = _cache_key(
        FEATURE_MAPS_KIND, encoder, manifest, resolved, split, dtype, precision, canonical_side, options
    )
    feature_info = [encoder.feature_info[level] for level in chosen]

    entry = cache.lookup(key)
    if entry is None:
        estimate = estimate_feature_map_bytes(feature_info, resolved, len(selected.images), dtype)
        _check_space(cache, estimate, max_bytes)
        with cache.writer(key) as writer:

            def write(images: torch.Tensor) -> None:
                maps = encoder.forward_features(encoder.prepare(images))
                for position, level in enumerate(chosen):
                    writer.append(_level_name(position), maps[level].to(storage).cpu().numpy())

            ids, failed = _extract(
                encoder, selected, resolved, canonical_side, write, batch_size, num_workers, progress, precision
            )
            if not ids:
                _declare_levels(writer, feature_info, resolved, storage)
            metadata = {"feature_info": [vars(info) for info in feature_info], "levels": chosen}
            entry = writer.commit(ids, failed, metadata)
        from_cache = False
    else:
        from_cache = True
        _report_total(progress, entry)

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
        info.channels * math.ceil(profile.height / info.stride) * math.ceil(profile.width / info.stride)
        for info in feature_info
    )
    return per_image * itemsize * n_images


def preprocessing_id(canonical_side: str) -> str:
    """Return the preprocessing version and canonical side, as recorded in every cache key."""
    from mammobench.data.preprocess import PREPROCESS_VERSION

    return f"v{PREPROCESS_VERSION}-{canonical_side}"


# -------------------------------------------------------------------------------------------------
# The extraction loop
# -------------------------------------------------------------------------------------------------


def _extract(
    encoder: Encoder,
    manifest: Manifest,
    profile: ResolutionProfile,
    canonical_side: str,
    write: Callable[[torch.Tensor], None],
    batch_size: int,
    num_workers: int | None,
    progress: ProgressCallback | None,
    precision: str,
) -> tuple[list[str], dict[str, str]]:
    from mammobench.data.loading import ImageDataset, make_loader

    dataset = ImageDataset(manifest, profile, canonical_side=canonical_side)
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    return run_batches(encoder, loader, write, total=len(dataset), progress=progress, precision=precision)


def run_batches(
    encoder: Encoder,
    batches: Iterable[dict[str, Any]],
    write: Callable[[torch.Tensor], None],
    *,
    total: int,
    progress: ProgressCallback | None = None,
    precision: str = "float32",
) -> tuple[list[str], dict[str, str]]:
    """Run ``write`` on the readable images of each batch and collect ids and failures.

    Args:
        encoder: Used for its device and eval mode.
        batches: Batches as ``collate_images`` builds them: ``image`` ``(B, 1, H, W)``,
            ``image_id`` and ``error`` (None, or why that image could not be read).
        write: Runs the encoder on a ``(b, 1, H, W)`` tensor on the encoder's device and stores
            the outputs.
        total: Number of images, for ``progress``.
        progress: Called after each batch with (images done, total).
        precision: Forward-pass precision, see :data:`PRECISIONS`.

    Returns:
        The ids written, in order, and the failed ids with their reasons.
    """
    device = _device_of(encoder)
    encoder.eval()
    ids: list[str] = []
    failed: dict[str, str] = {}
    done = 0

    with torch.inference_mode(), _autocast(device, precision):
        for batch in batches:
            batch_ids = [str(image_id) for image_id in batch["image_id"]]
            errors = list(batch.get("error") or [None] * len(batch_ids))
            readable = [index for index, error in enumerate(errors) if error is None]
            for index, error in enumerate(errors):
                if error is not None:
                    failed[batch_ids[index]] = str(error)
                    logger.debug("image '%s' skipped: %s", batch_ids[index], error)

            if readable:
                images = batch["image"]
                if len(readable) < len(batch_ids):
                    images = images[readable]
                write(images.to(device, non_blocking=True))
                ids.extend(batch_ids[index] for index in readable)

            done += len(batch_ids)
            if progress is not None:
                progress(done, total)
    return ids, failed


# -------------------------------------------------------------------------------------------------
# Helpers
# -------------------------------------------------------------------------------------------------


def _cache_key(
    kind: str,
    encoder: Encoder,
    manifest: Manifest,
    profile: ResolutionProfile,
    split: str | None,
    dtype: str,
    precision: str,
    canonical_side: str,
    options: tuple[str, ...],
) -> CacheKey:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision '{precision}' is invalid; choose one of: {', '.join(PRECISIONS)}")
    return CacheKey(
        kind=kind,
        encoder=encoder.name,
        encoder_revision=encoder.info.revision,
        dataset=manifest.dataset,
        manifest_hash=manifest.content_hash(),
        split=split or "all",
        profile=f"{profile.name}-{profile.height}x{profile.width}",
        preprocessing_version=preprocessing_id(canonical_side),
        dtype=dtype,
        precision=precision,
        options=options,
    )


def _resolve_profile(profile: ResolutionProfile | str) -> ResolutionProfile:
    return get_profile(profile) if isinstance(profile, str) else profile


def _select_split(manifest: Manifest, split: str | None) -> Manifest:
    if split is None:
        selected = manifest
    else:
        selected = manifest.split(split)
    if selected.images.empty:
        where = f"split '{split}' of " if split else ""
        raise DataError(f"{where}dataset '{manifest.dataset}' has no images to embed")
    return selected


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
    writer: CacheWriter, feature_info: Sequence[FeatureInfo], profile: ResolutionProfile, dtype: torch.dtype
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


def _device_of(encoder: Encoder) -> torch.device:
    parameter = next(encoder.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=PRECISIONS[precision])


def _report_total(progress: ProgressCallback | None, entry: CacheEntry) -> None:
    if progress is not None:
        total = len(entry.ids) + len(entry.failed)
        progress(total, total)


def _row_indices(ids: Sequence[str], failed: dict[str, str], image_ids: Sequence[str]) -> np.ndarray:
    position = {image_id: row for row, image_id in enumerate(ids)}
    indices: list[int] = []
    for image_id in image_ids:
        if image_id not in position:
            reason = f"it failed: {failed[image_id]}" if image_id in failed else "it is not in this set"
            raise DataError(f"image '{image_id}' has no cached output because {reason}")
        indices.append(position[image_id])
    return np.asarray(indices, dtype=np.int64)
