"""Attribute heatmaps from channel maps, mapped to the processed image frame, and their boxes.

A heatmap combines an image's channel maps, each weighted by how similar the head finds that
channel to the attribute. It lives on the feature grid, where cell ``(r, c)`` of a level with
stride ``s`` covers processed pixels ``[c*s, (c+1)*s) x [r*s, (r+1)*s)``. Bilinear upsampling by
``s`` puts each cell's value at its centre, and the result is cropped to the profile's size. So
the heatmap and the ground-truth boxes (which :class:`mammobench.data.loading.ImageDataset` and
the detection targets give in processed pixels) share one frame.

Boxes are the connected regions above a high percentile of the heatmap
(:func:`mammobench.metrics.localization.heatmap_to_boxes`). A box's score, used only to rank
boxes for AP, is the image's attribute confidence times the region's peak relative to the
heatmap's range, so the top region of a confident image ranks first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mammobench.metrics.localization import heatmap_to_boxes

BOX_COLUMNS = ["xmin", "ymin", "xmax", "ymax", "score", "n_pixels"]


def attribute_heatmap(
    channel_maps: np.ndarray,
    similarities: np.ndarray,
    temperature: float,
    weighting: str = "softmax",
) -> np.ndarray:
    """Combine one image's channel maps into a heatmap on the feature grid.

    Args:
        channel_maps: ``(C, h, w)`` maps of one image.
        similarities: ``(C,)`` cosine similarity of each channel to the attribute.
        temperature: Divides the similarities before the softmax.
        weighting: ``softmax`` (every channel weighted by the softmax of its similarity over the
            temperature) or ``max`` (the most similar channel's map alone).

    Returns:
        ``(h, w)`` float64 heatmap.
    """
    maps = np.asarray(channel_maps, dtype=np.float64)
    scores = np.asarray(similarities, dtype=np.float64)
    if maps.ndim != 3 or scores.shape != (maps.shape[0],):
        raise ValueError(
            f"expected channel maps (C, h, w) and one similarity per channel; got {maps.shape} and {scores.shape}"
        )
    if weighting == "max":
        return maps[int(np.argmax(scores))].copy()
    if weighting != "softmax":
        raise ValueError(f"heatmap weighting '{weighting}' is invalid; choose 'softmax' or 'max'")
    logits = scores / temperature
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    return np.tensordot(weights, maps, axes=1)


def to_image_frame(heatmap: np.ndarray, stride: int, image_size: tuple[int, int]) -> np.ndarray:
    """Upsample a feature-grid heatmap by ``stride`` and crop it to ``image_size`` (height, width).

    Returns:
        ``(height, width)`` float64 heatmap in processed pixels.

    Raises:
        ValueError: The grid does not cover the image (it is too small for the stride).
    """
    grid = np.asarray(heatmap, dtype=np.float64)
    height, width = image_size
    covered = (grid.shape[0] * stride, grid.shape[1] * stride)
    if covered[0] < height or covered[1] < width:
        raise ValueError(
            f"a {grid.shape[0]}x{grid.shape[1]} grid at stride {stride} covers {covered[0]}x{covered[1]} "
            f"pixels, less than the {height}x{width} image"
        )
    tensor = torch.from_numpy(grid)[None, None]
    upsampled = F.interpolate(tensor, size=covered, mode="bilinear", align_corners=False)
    return upsampled[0, 0, :height, :width].numpy()


def heatmap_boxes(heatmap: np.ndarray, percentile: float, confidence: float) -> pd.DataFrame:
    """Turn the regions of a heatmap above ``percentile`` into scored boxes.

    Args:
        heatmap: ``(H, W)`` heatmap in processed pixels.
        percentile: Threshold percentile of the heatmap's values.
        confidence: The image's attribute confidence in [0, 1]; scales every box score.

    Returns:
        Columns ``xmin, ymin, xmax, ymax, score, n_pixels`` in processed pixels, highest score
        first; empty for a constant heatmap.
    """
    boxes = heatmap_to_boxes(heatmap, percentile, score="max")
    if boxes.empty:
        return pd.DataFrame(columns=BOX_COLUMNS)
    low, high = float(np.min(heatmap)), float(np.max(heatmap))
    relative = (boxes["score"].to_numpy(dtype=float) - low) / (high - low)
    boxes["score"] = float(confidence) * relative
    return boxes[BOX_COLUMNS].reset_index(drop=True)


def similarity_confidence(max_similarity: float) -> float:
    """Map a maximum cosine similarity in [-1, 1] to a confidence in [0, 1]."""
    return float(np.clip((max_similarity + 1.0) / 2.0, 0.0, 1.0))
