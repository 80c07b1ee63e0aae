"""The extraction loop and cache keys shared by embeddings and feature maps.

Images are read and preprocessed in DataLoader worker processes while the main process runs
the forward pass, in ``torch.inference_mode`` with the encoder in eval mode. An image that
cannot be read fails on its own and is listed in ``failed``; the others go through the encoder.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.encoders.base import Encoder
from mammobench.encoders.embedding_cache import CacheEntry, CacheKey
from mammobench.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# Compute precisions accepted by the forward pass. Anything but float32 runs under autocast.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

ProgressCallback = Callable[[int, int], None]
"""Called after each batch with (images done, images in total)."""


def preprocessing_id(canonical_side: str) -> str:
    """Return the preprocessing version and canonical side, as recorded in every cache key."""
    from mammobench.data.preprocess import PREPROCESS_VERSION

    return f"v{PREPROCESS_VERSION}-{canonical_side}"


def extract(
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
    return run_batches(
        encoder, loader, write, total=len(dataset), progress=progress, precision=precision
    )


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


def cache_key(
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
        raise ConfigError(
            f"precision '{precision}' is invalid; choose one of: {', '.join(PRECISIONS)}"
        )
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


def resolve_profile(profile: ResolutionProfile | str) -> ResolutionProfile:
    return get_profile(profile) if isinstance(profile, str) else profile


def select_split(manifest: Manifest, split: str | None) -> Manifest:
    if split is None:
        selected = manifest
    else:
        selected = manifest.split(split)
    if selected.images.empty:
        where = f"split '{split}' of " if split else ""
        raise DataError(f"{where}dataset '{manifest.dataset}' has no images to embed")
    return selected


def report_total(progress: ProgressCallback | None, entry: CacheEntry) -> None:
    if progress is not None:
        total = len(entry.ids) + len(entry.failed)
        progress(total, total)


def row_indices(ids: Sequence[str], failed: dict[str, str], image_ids: Sequence[str]) -> np.ndarray:
    position = {image_id: row for row, image_id in enumerate(ids)}
    indices: list[int] = []
    for image_id in image_ids:
        if image_id not in position:
            reason = (
                f"it failed: {failed[image_id]}" if image_id in failed else "it is not in this set"
            )
            raise DataError(f"image '{image_id}' has no cached output because {reason}")
        indices.append(position[image_id])
    return np.asarray(indices, dtype=np.int64)


def _device_of(encoder: Encoder) -> torch.device:
    parameter = next(encoder.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=PRECISIONS[precision])
