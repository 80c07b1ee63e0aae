"""Global embeddings of a dataset, computed once and cached on disk.

:func:`compute_embeddings` returns one embedding per image from the encoder's ``global``
output. The result is stored in the content-addressed cache of
:mod:`mammobench.encoders.embedding_cache`: a second call with the same encoder, weights, data,
profile, split and dtype reads the cached array without building batches or running the
encoder. Dense feature maps use the same mechanics, see :mod:`mammobench.encoders.feature_maps`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile
from mammobench.encoders.base import Encoder
from mammobench.encoders.embedding_cache import EmbeddingCache, drop_if_failed_images_changed
from mammobench.encoders.extraction import (
    ProgressCallback,
    cache_key,
    extract,
    report_total,
    resolve_profile,
    row_indices,
    select_split,
)
from mammobench.specs import Capability

logger = logging.getLogger(__name__)

EMBEDDINGS_ARRAY = "embeddings"
EMBEDDINGS_KIND = "embeddings"


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
        return self.array[row_indices(self.ids, self.failed, image_ids)]


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
    resolved = resolve_profile(profile)
    selected = select_split(manifest, split)
    cache = cache or EmbeddingCache()
    key = cache_key(
        EMBEDDINGS_KIND,
        encoder,
        manifest,
        resolved,
        split,
        "float32",
        precision,
        canonical_side,
        (),
    )

    entry = cache.lookup(key)
    if entry is not None and drop_if_failed_images_changed(cache, entry, selected):
        entry = None
    if entry is None:
        with cache.writer(key) as writer:
            writer.declare(EMBEDDINGS_ARRAY, np.float32, (encoder.embed_dim or 0,))

            def write(images: torch.Tensor) -> None:
                embeddings = encoder.encode_image(encoder.prepare(images))
                writer.append(EMBEDDINGS_ARRAY, embeddings.float().cpu().numpy())

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
            entry = writer.commit(ids, failed, {"embed_dim": encoder.embed_dim})
        from_cache = False
        logger.info("embedded %d images (%d failed) into %s", len(ids), len(failed), entry.path)
    else:
        from_cache = True
        logger.info("read %d cached embeddings from %s", len(entry.ids), entry.path)
        report_total(progress, entry)

    return EmbeddingSet(
        key=entry.digest,
        ids=entry.ids,
        array=entry.open_array(EMBEDDINGS_ARRAY),
        failed=entry.failed,
        path=entry.path,
        from_cache=from_cache,
        fields=entry.key,
    )
