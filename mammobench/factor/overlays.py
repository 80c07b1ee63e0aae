"""PNG overlays of attribute heatmaps with ground-truth and predicted boxes.

Each overlay shows two panels of the image as the encoder saw it (cropped, laterality-flipped,
resized), enlarged by a whole factor so that small profiles stay readable. The left panel is the
mammogram alone and the right one has the heatmap, scaled to its own range, blended over it in
matplotlib's ``inferno`` colours. Both panels draw the ground-truth boxes in green, the best
predicted boxes in cyan with their rank and score, and the heatmap maximum (the pointing-game
location) as a white cross. A header contains the title and a legend with a colour bar.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

# Each panel is enlarged until its longer side reaches at least this many pixels.
MIN_LONG_SIDE = 640
HEATMAP_ALPHA = 0.5
GROUND_TRUTH_COLOUR = (0, 220, 0)
PREDICTION_COLOUR = (0, 220, 255)
PEAK_COLOUR = (255, 255, 255)
TEXT_COLOUR = (235, 235, 235)
BACKGROUND = (0, 0, 0)
MAX_PREDICTIONS = 5
FONT_SIZE = 15
LABEL_FONT_SIZE = 13
# Header rows: the title, then the legend.
HEADER_HEIGHT = 2 * (FONT_SIZE + 8) + 4
PANEL_GAP = 8
COLOUR_BAR_WIDTH = 120

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_COORDINATES = ["xmin", "ymin", "xmax", "ymax"]


def write_overlay(
    path: Path,
    pixels: np.ndarray,
    heatmap: np.ndarray,
    ground_truth: pd.DataFrame | None,
    predictions: pd.DataFrame | None,
    title: str,
) -> Path:
    """Write one overlay PNG.

    Args:
        path: Output file; its folder is created when missing.
        pixels: ``(H, W)`` processed image in [0, 1].
        heatmap: ``(H, W)`` heatmap in the same frame.
        ground_truth: Boxes (``xmin, ymin, xmax, ymax``) in processed pixels, or None.
        predictions: Boxes with ``score`` in processed pixels, or None. The
            :data:`MAX_PREDICTIONS` best are drawn.
        title: First header line, e.g. the attribute, the image id and the image score.

    Returns:
        The written path.
    """
    if pixels.shape != heatmap.shape:
        raise ValueError(f"image {pixels.shape} and heatmap {heatmap.shape} must have the same shape")
    height, width = pixels.shape
    factor = max(1, int(np.ceil(MIN_LONG_SIDE / max(height, width))))
    panel_size = (width * factor, height * factor)

    grey = np.repeat(np.clip(pixels, 0.0, 1.0)[..., None], 3, axis=2)
    blended = (1.0 - HEATMAP_ALPHA) * grey + HEATMAP_ALPHA * _colours(heatmap)
    peak_row, peak_column = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    peak = ((peak_column + 0.5) * factor, (peak_row + 0.5) * factor)
    best = _best_predictions(predictions)
    font = ImageFont.load_default(size=FONT_SIZE)
    label_font = ImageFont.load_default(size=LABEL_FONT_SIZE)

    canvas = Image.new("RGB", (2 * panel_size[0] + PANEL_GAP, HEADER_HEIGHT + panel_size[1]), BACKGROUND)
    for index, (values, name) in enumerate(((grey, "image"), (blended, "heatmap"))):
        panel = Image.fromarray((values * 255.0).round().astype(np.uint8)).resize(panel_size, Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(panel)
        _draw_boxes(draw, ground_truth, best, factor, label_font)
        _draw_cross(draw, peak)
        _draw_label(draw, (4, 4), name, label_font, TEXT_COLOUR)
        canvas.paste(panel, (index * (panel_size[0] + PANEL_GAP), HEADER_HEIGHT))

    _draw_header(ImageDraw.Draw(canvas), title, font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def overlay_name(image_id: str, attribute: str) -> str:
    """Return a file name for an image's overlay that is safe on every file system."""
    return f"{_UNSAFE.sub('_', attribute)}-{_UNSAFE.sub('_', image_id)}.png"


def _colours(heatmap: np.ndarray) -> np.ndarray:
    """Map a heatmap, scaled to its own range, to ``inferno`` RGB values in [0, 1]."""
    span = float(heatmap.max() - heatmap.min())
    scaled = (heatmap - heatmap.min()) / span if span > 0 else np.zeros_like(heatmap)
    return matplotlib.colormaps["inferno"](scaled)[..., :3]


def _best_predictions(predictions: pd.DataFrame | None) -> pd.DataFrame:
    if predictions is None or predictions.empty:
        return pd.DataFrame(columns=[*_COORDINATES, "score"])
    return predictions.nlargest(MAX_PREDICTIONS, "score")


def _draw_boxes(
    draw: ImageDraw.ImageDraw,
    ground_truth: pd.DataFrame | None,
    predictions: pd.DataFrame,
    factor: int,
    font: ImageFont.FreeTypeFont,
) -> None:
    if ground_truth is not None:
        for box in ground_truth[_COORDINATES].to_numpy(dtype=float):
            draw.rectangle(_scaled(box, factor), outline=GROUND_TRUTH_COLOUR, width=3)
    for rank, (_, row) in enumerate(predictions.iterrows(), start=1):
        corners = _scaled(row[_COORDINATES].to_numpy(dtype=float), factor)
        draw.rectangle(corners, outline=PREDICTION_COLOUR, width=2)
        # The label sits above the box, or inside it when the box touches the top edge.
        top = corners[1] - LABEL_FONT_SIZE - 4 if corners[1] >= LABEL_FONT_SIZE + 4 else corners[1] + 2
        _draw_label(draw, (corners[0] + 2, top), f"{rank}: {float(row['score']):.2f}", font, PREDICTION_COLOUR)


def _draw_cross(draw: ImageDraw.ImageDraw, centre: tuple[float, float], arm: int = 7) -> None:
    x, y = centre
    for colour, width in ((BACKGROUND, 4), (PEAK_COLOUR, 2)):
        draw.line((x - arm, y - arm, x + arm, y + arm), fill=colour, width=width)
        draw.line((x - arm, y + arm, x + arm, y - arm), fill=colour, width=width)


def _draw_label(
    draw: ImageDraw.ImageDraw,
    position: tuple[float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    colour: tuple[int, int, int],
) -> None:
    """Draw text on a dark box, so that it stays readable over bright tissue and heatmap."""
    left, top, right, bottom = draw.textbbox(position, text, font=font)
    draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=BACKGROUND)
    draw.text(position, text, fill=colour, font=font)


def _draw_header(draw: ImageDraw.ImageDraw, title: str, font: ImageFont.FreeTypeFont) -> None:
    draw.text((6, 4), title, fill=TEXT_COLOUR, font=font)

    row = FONT_SIZE + 12
    x = 6
    for colour, text in (
        (GROUND_TRUTH_COLOUR, "ground truth"),
        (PREDICTION_COLOUR, "heatmap boxes (rank: score)"),
    ):
        draw.rectangle((x, row + 2, x + 22, row + FONT_SIZE - 2), outline=colour, width=3)
        draw.text((x + 28, row), text, fill=TEXT_COLOUR, font=font)
        x = int(draw.textbbox((x + 28, row), text, font=font)[2]) + 18

    _draw_cross(draw, (x + 7, row + FONT_SIZE / 2 + 1), arm=5)
    text = "heatmap maximum"
    draw.text((x + 18, row), text, fill=TEXT_COLOUR, font=font)
    x = int(draw.textbbox((x + 18, row), text, font=font)[2]) + 18

    draw.text((x, row), "heatmap low", fill=TEXT_COLOUR, font=font)
    x = int(draw.textbbox((x, row), "heatmap low", font=font)[2]) + 6
    ramp = matplotlib.colormaps["inferno"](np.linspace(0.0, 1.0, COLOUR_BAR_WIDTH))[:, :3]
    for offset, colour in enumerate((ramp * 255).round().astype(int)):
        draw.line((x + offset, row + 2, x + offset, row + FONT_SIZE), fill=tuple(int(c) for c in colour))
    draw.text((x + COLOUR_BAR_WIDTH + 6, row), "high", fill=TEXT_COLOUR, font=font)


def _scaled(box: np.ndarray, factor: int) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(value) * factor for value in box)
    return (xmin, ymin, max(xmax - 1, xmin), max(ymax - 1, ymin))
