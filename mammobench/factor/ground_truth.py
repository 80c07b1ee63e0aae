"""Ground-truth boxes of attributes in processed pixels, the frame the heatmaps live in.

Manifest boxes are in original image pixels. Each image's preprocessing transform (breast crop,
laterality flip, resize) maps them into the pixels of the resolution profile. The transforms are
read from the image cache, which the feature pass has filled. A box that clipping to the breast crop collapses is
dropped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mammobench.data.image_cache import ImageCache
from mammobench.data.loading import load_cached_image
from mammobench.data.manifest import Manifest
from mammobench.data.transforms import BoxTransform, nondegenerate
from mammobench.errors import ImageReadError

logger = logging.getLogger(__name__)

COORDINATES = ["xmin", "ymin", "xmax", "ymax"]


@dataclass
class ProcessedBoxes:
    """Attribute boxes of some images in processed pixels, with each image's transform.

    Attributes:
        boxes: Box table (``image_id``, ``category`` = the attribute, coordinates).
        transforms: Image id to its preprocessing transform.
        failed: Image id to the reason it could not be read.
        dropped: Boxes dropped because clipping to the breast crop collapsed them.
    """

    boxes: pd.DataFrame
    transforms: dict[str, BoxTransform] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    dropped: int = 0

    def of(self, image_id: str, attribute: str) -> pd.DataFrame:
        """Return the boxes of one image and attribute."""
        rows = (self.boxes["image_id"] == image_id) & (self.boxes["category"] == attribute)
        return self.boxes[rows.to_numpy()]


def processed_boxes(
    manifest: Manifest,
    image_ids: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    cache: ImageCache,
) -> ProcessedBoxes:
    """Map the boxes of ``image_ids`` into processed pixels, one category per attribute.

    Args:
        manifest: The images and their boxes in original pixels.
        image_ids: Images whose boxes to map.
        categories: For each attribute, the box categories that count as its ground truth.
        cache: Image cache of the run's resolution profile and canonical side.

    Returns:
        The boxes, relabelled with the attribute name, and each image's transform.
    """
    images = manifest.images.set_index(manifest.images["image_id"].astype(str))
    boxes = manifest.boxes
    grouped = {str(image_id): group for image_id, group in boxes.groupby("image_id", sort=False)}
    result = ProcessedBoxes(boxes=pd.DataFrame(columns=["image_id", "category", *COORDINATES]))
    rows = []
    for image_id in image_ids:
        row = images.loc[image_id]
        try:
            _, transform = load_cached_image(cache, manifest, row)
        except ImageReadError as error:
            result.failed[image_id] = str(error)
            logger.warning("image '%s' skipped: %s", image_id, error)
            continue
        result.transforms[image_id] = transform

        group = grouped.get(image_id)
        if group is None:
            continue
        for attribute, names in categories.items():
            source = group.loc[group["category"].isin(list(names)), COORDINATES].to_numpy(dtype=np.float64)
            source = source[nondegenerate(source)]
            if source.size == 0:
                continue
            mapped = transform.forward(source, clip=True)
            keep = nondegenerate(mapped)
            result.dropped += int((~keep).sum())
            rows.extend((image_id, attribute, *(float(v) for v in box)) for box in mapped[keep])

    if rows:
        result.boxes = pd.DataFrame(rows, columns=["image_id", "category", *COORDINATES])
    if result.dropped:
        logger.warning(
            "dataset '%s': dropped %d box(es) that lie outside the breast crop", manifest.dataset, result.dropped
        )
    return result
