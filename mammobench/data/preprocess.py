"""Preprocessing: breast crop, laterality canonicalisation and resize to a resolution profile.

One call turns reader output (float32 in [0, 1], bright = dense tissue) into a model-sized
image and the :class:`~mammobench.data.transforms.BoxTransform` that maps boxes the same way:

1. Crop to the breast found by :func:`~mammobench.data.roi.find_breast_region` (the whole image
   when no breast is found, with a logged warning), and set pixels inside the crop but away
   from the breast, such as a label beside the axilla, to 0.
2. Flip horizontally when needed so that the chest wall faces ``canonical_side``. Which side
   the chest wall faces now is read from the breast's shape when that is clear. Otherwise it
   comes from the laterality: ``L`` puts the chest wall at the image's left edge and ``R`` at
   its right edge, as in the CBIS-DDSM files. When the image clearly contradicts the
   laterality, the image wins and the disagreement is logged.
3. Resize to the profile's height x width by stretching, without padding, as Mammo-CLIP resizes
   its breast crops to 1520 x 912. Bilinear resampling through Pillow, which widens the filter
   when shrinking, so large downscales do not alias.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PIL import Image

from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.data.roi import BreastRegion, find_breast_region
from mammobench.data.transforms import BoxTransform
from mammobench.errors import ConfigError

logger = logging.getLogger(__name__)

# Bump whenever a change here, in roi.py or in the readers changes the pixels that
# preprocessing produces, so cached images are rebuilt.
PREPROCESS_VERSION = 1

CANONICAL_SIDES = ("left", "right")

_SIDE_OF_LATERALITY = {"L": "left", "R": "right"}


def preprocess(
    image: np.ndarray,
    laterality: str | None,
    profile: ResolutionProfile | str,
    *,
    canonical_side: str = "left",
    name: str = "image",
) -> tuple[np.ndarray, BoxTransform]:
    """Crop to the breast, put the chest wall on ``canonical_side`` and resize to ``profile``.

    Args:
        image: 2-D float array in [0, 1], bright = dense tissue (reader output).
        laterality: ``"L"``, ``"R"`` or None when unknown.
        profile: a resolution profile or its name (``"paper"``, ``"medium"``, ``"tiny"``).
        canonical_side: ``"left"`` or ``"right"``, the side the chest wall should face.
        name: how log messages refer to the image, e.g. its id or path.

    Returns:
        The processed ``(profile.height, profile.width)`` float32 image in [0, 1] and the
        transform from source pixels to processed pixels.

    Raises:
        ConfigError: unknown profile or canonical side.
        ValueError: ``image`` is not a 2-D array of finite values.
    """
    if isinstance(profile, str):
        profile = get_profile(profile)
    if canonical_side not in CANONICAL_SIDES:
        raise ConfigError(f"canonical side '{canonical_side}' is invalid; choose 'left' or 'right'")
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D grayscale image; got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"{name}: image contains NaN or infinite values")

    region = find_breast_region(image)
    if not region.found:
        logger.warning("%s: no breast found (%s); using the whole image", name, region.reason)
    side = chest_wall_side(region, laterality, name=name)
    transform = BoxTransform(
        source_size=(int(image.shape[0]), int(image.shape[1])),
        crop=region.box,
        flip=side != canonical_side,
        output_size=profile.size,
    )
    keep = region.keep_mask()
    if keep is not None and not keep.all():
        # Blank labels and markers that sit inside the breast's bounding box, away from the
        # breast. The background of a cropped mammogram is dark, so 0 is the fill value.
        x0, y0, x1, y1 = region.box
        image = image.copy()
        image[y0:y1, x0:x1][~keep] = 0.0
    return apply_transform(image, transform), transform


def chest_wall_side(region: BreastRegion, laterality: str | None, *, name: str = "image") -> str:
    """Decide which image side the chest wall faces, from the image first and laterality second.

    Args:
        region: the breast region found in the image.
        laterality: ``"L"``, ``"R"`` or None (NaN and empty strings count as None).
        name: how log messages refer to the image.

    Returns:
        ``"left"`` or ``"right"``.
    """
    expected = _SIDE_OF_LATERALITY.get(_normalise_laterality(laterality, name))

    if region.chest_wall_side is not None and region.side_confident:
        if expected is not None and expected != region.chest_wall_side:
            logger.info(
                "%s: laterality %s puts the chest wall on the %s, but the image shows it on the "
                "%s; following the image",
                name,
                laterality,
                expected,
                region.chest_wall_side,
            )
        return region.chest_wall_side
    if expected is not None:
        return expected
    if region.chest_wall_side is not None:
        logger.info(
            "%s: laterality unknown and the breast shape is ambiguous; guessing the chest wall "
            "is on the %s",
            name,
            region.chest_wall_side,
        )
        return region.chest_wall_side
    logger.info("%s: laterality unknown and no breast found; leaving the image unflipped", name)
    return "left"


def apply_transform(image: np.ndarray, transform: BoxTransform) -> np.ndarray:
    """Crop, flip and resize ``image`` as ``transform`` records; return float32 in [0, 1].

    Raises:
        ValueError: ``image`` does not have the transform's source size.
    """
    if tuple(image.shape) != tuple(transform.source_size):
        raise ValueError(
            f"image shape {image.shape} does not match the transform's source size "
            f"{transform.source_size}"
        )
    x0, y0, x1, y1 = transform.crop
    crop = image[y0:y1, x0:x1]
    if transform.flip:
        crop = crop[:, ::-1]
    crop = np.ascontiguousarray(crop, dtype=np.float32)

    output_height, output_width = transform.output_size
    if crop.shape == (output_height, output_width):
        resized = crop
    else:
        # Pillow maps output pixel centres (i + 0.5) to input (i + 0.5) / scale, the same
        # continuous-coordinate convention as BoxTransform.
        resized = np.asarray(
            Image.fromarray(crop).resize(
                (output_width, output_height), resample=Image.Resampling.BILINEAR
            )
        )
    return np.clip(resized, 0.0, 1.0).astype(np.float32, copy=False)


def _normalise_laterality(laterality: str | None, name: str) -> str | None:
    if laterality is None or (isinstance(laterality, float) and math.isnan(laterality)):
        return None
    value = str(laterality).strip().upper()
    if value in _SIDE_OF_LATERALITY:
        return value
    if value:
        logger.warning(
            "%s: laterality %r is not 'L' or 'R'; treating it as unknown", name, laterality
        )
    return None
