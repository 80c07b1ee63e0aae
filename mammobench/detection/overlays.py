"""PNG overlays of ground-truth and predicted boxes on preprocessed test images.

Each image is drawn as the detector saw it (cropped, laterality-flipped, resized), enlarged by
a whole factor so that small profiles stay readable. Ground-truth boxes are green; the
:data:`TOP_PREDICTIONS` highest-scoring predictions are drawn in a colour per category with
their score. A legend line is at the top.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from mammobench.data.image_cache import ImageCache
from mammobench.data.loading import load_cached_image
from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile
from mammobench.errors import ImageReadError

logger = logging.getLogger(__name__)

# Each image shows its best few predictions at any score: detector scores are
# calibrated per dataset, so a fixed threshold hid every box of a weak model.
TOP_PREDICTIONS = 3
# Images are enlarged until their longer side reaches at least this many pixels.
MIN_LONG_SIDE = 640

GROUND_TRUTH_COLOUR = (0, 220, 0)
PREDICTION_COLOURS = ((255, 64, 64), (255, 170, 0), (80, 160, 255), (230, 80, 230))

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_overlays(
    folder: Path,
    manifest: Manifest,
    image_ids: Sequence[str],
    ground_truth: pd.DataFrame,
    predictions: pd.DataFrame,
    categories: Sequence[str],
    profile: ResolutionProfile,
    *,
    canonical_side: str = "left",
) -> list[Path]:
    """Write one PNG per image of ``image_ids`` into ``folder``.

    Args:
        folder: Output folder; created when missing.
        manifest: Manifest holding the images' paths and lateralities.
        image_ids: Images to draw.
        ground_truth: Box table in processed pixels.
        predictions: Box table with ``score``, in processed pixels.
        categories: Category names, for the colours and the legend.
        profile: Resolution profile the boxes are in.
        canonical_side: Side the chest wall faces after preprocessing.

    Returns:
        The written files. An image that cannot be read is skipped with a warning.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cache = ImageCache(profile, canonical_side=canonical_side)
    rows = manifest.images.set_index(manifest.images["image_id"].astype(str))
    truth_by_image = {key: group for key, group in ground_truth.groupby("image_id", sort=False)}
    predicted_by_image = {key: group for key, group in predictions.groupby("image_id", sort=False)}
    colours = {category: PREDICTION_COLOURS[index % len(PREDICTION_COLOURS)] for index, category in enumerate(categories)}
    font = ImageFont.load_default()

    written = []
    for image_id in image_ids:
        row = rows.loc[image_id]
        try:
            pixels, _ = load_cached_image(cache, manifest, row)
        except ImageReadError as error:
            logger.warning("overlay of image '%s' skipped: %s", image_id, error)
            continue
        picture = _draw(
            pixels,
            truth_by_image.get(image_id),
            predicted_by_image.get(image_id),
            colours,
            font,
        )
        path = folder / f"{_UNSAFE.sub('_', image_id)}.png"
        picture.save(path)
        written.append(path)
    logger.info("wrote %d overlay PNGs to '%s'", len(written), folder)
    return written


def _draw(
    pixels: np.ndarray,
    truth: pd.DataFrame | None,
    predicted: pd.DataFrame | None,
    colours: dict[str, tuple[int, int, int]],
    font: ImageFont.ImageFont,
) -> Image.Image:
    height, width = pixels.shape
    factor = max(1, int(np.ceil(MIN_LONG_SIDE / max(height, width))))
    grey = Image.fromarray(np.clip(pixels * 255.0, 0, 255).astype(np.uint8))
    picture = grey.resize((width * factor, height * factor), Image.Resampling.NEAREST).convert("RGB")
    draw = ImageDraw.Draw(picture)

    if truth is not None:
        for box in truth[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float):
            draw.rectangle(_scaled(box, factor), outline=GROUND_TRUTH_COLOUR, width=2)

    if predicted is not None:
        for _, prediction in predicted.nlargest(TOP_PREDICTIONS, "score").iterrows():
            colour = colours.get(str(prediction["category"]), PREDICTION_COLOURS[0])
            corners = _scaled(prediction[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float), factor)
            draw.rectangle(corners, outline=colour, width=2)
            draw.text((corners[0] + 2, max(corners[1] - 12, 0)), f"{prediction['score']:.2f}", fill=colour, font=font)

    draw.rectangle((0, 0, picture.width, 14), fill=(0, 0, 0))
    draw.text((4, 1), "green: ground truth", fill=GROUND_TRUTH_COLOUR, font=font)
    offset = 4 + int(draw.textlength("green: ground truth   ", font=font))
    for name, colour in colours.items():
        draw.text((offset, 1), name, fill=colour, font=font)
        offset += int(draw.textlength(f"{name}   ", font=font))
    draw.text((offset, 1), f"(best {TOP_PREDICTIONS} predictions, with score)", fill=(200, 200, 200), font=font)
    return picture


def _scaled(box: np.ndarray, factor: int) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(value) * factor for value in box)
    return (xmin, ymin, max(xmax - 1, xmin), max(ymax - 1, ymin))
