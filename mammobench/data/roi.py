"""Breast region of interest: find the breast and ignore burned-in labels, markers and film edges.

The search runs on a block-averaged copy whose longer side is at most 512 pixels:

1. Threshold just above the background: 10 % of the way from the background level to the
   tissue level, both measured on either side of Otsu's threshold. Otsu's threshold alone cuts
   off the thin, faint skin line.
2. A morphological opening with a disk of radius 1 % of the longer side detaches thin bright
   film edges, rulers and lines that touch the breast.
3. Connected components are rejected when they are small (text, markers), thin and long
   (film edges), or nearly rectangular and not large (label plates). The largest remaining one
   is the breast.
4. The bounding box is refined on the thresholded image near that component, so the opening
   does not shave off the skin line or the nipple.
5. Rows (columns) at the ends of the region whose pixels all lie in a narrow band along the
   left or right (top or bottom) image edge are trimmed: that is a film edge glow joined to the
   breast, which the opening cannot detach when it is wider than the disk. The trimming stops
   where a row reaches further in than the band's typical width, so the breast's tip stays.
6. Pixels inside the box but farther than three opening radii from the breast (a label next to
   the nipple or the axilla) are marked for blanking, see :meth:`BreastRegion.keep_mask`.

An image without a dark background (its darker Otsu class at least a quarter as bright as the
brighter one, or 90 % of it above the threshold) is already a breast crop and is kept whole. When no component qualifies, the region is the whole image with ``found`` False and the reason,
so a crop is never empty and never only a label. The caller logs the warning, naming the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

# Longer side of the block-averaged copy the search runs on.
_SEARCH_SIZE = 512
# Threshold position between the background and tissue levels.
_THRESHOLD_FRACTION = 0.10
# The image has no dark background, and is kept whole, when its darker Otsu class is at least
# this bright relative to the brighter one, or when this fraction of it is foreground.
_DARK_BACKGROUND_RATIO = 0.25
_FULL_FRAME_FRACTION = 0.9
# Opening disk radius as a fraction of the longer side of the search copy.
_OPENING_FRACTION = 0.01
# Components below this fraction of the image area are text, markers or noise.
_MIN_COMPONENT_FRACTION = 0.02
# A chosen breast below this fraction of the image area is treated as not found.
_MIN_BREAST_FRACTION = 0.04
# Strip test: thinner than this fraction of the image side and elongated by this factor.
_STRIP_THICKNESS_FRACTION = 0.06
_STRIP_ELONGATION = 4.0
# Label plate test: fills this much of its bounding box and covers less than this area fraction.
_PLATE_EXTENT = 0.9
_PLATE_MAX_FRACTION = 0.15
# The refined box takes thresholded pixels up to this many opening radii from the opened breast,
# which brings back the skin line, the nipple and the thin tips along the chest wall.
_REFINE_MARGIN_FACTOR = 4
# Pixels farther from the breast than this many opening radii are background inside the crop.
_KEEP_MARGIN_FACTOR = 3
# Film edge bands joined to the breast lie within this fraction of the image side from its edge.
_BORDER_BAND_FRACTION = 0.08
# Chest-wall test: band width as a fraction of the breast's width, and the coverage difference
# between the two bands that counts as a clear result.
_SIDE_BAND_FRACTION = 0.05
_SIDE_MIN_DIFFERENCE = 0.15


@dataclass(frozen=True)
class BreastRegion:
    """Location of the breast in an image, in that image's pixel coordinates.

    Attributes:
        box: ``(x0, y0, x1, y1)`` integer crop, ``x1``/``y1`` exclusive; the whole image when
            ``found`` is False.
        found: False when no breast-like component was found and ``box`` is the whole image.
        chest_wall_side: ``"left"`` or ``"right"``, the image side the chest wall faces as read
            from the breast's shape, or None when no breast was found.
        side_confident: True when the two sides of the breast differ clearly enough for
            ``chest_wall_side`` to overrule a laterality tag.
        reason: why the region fell back to the whole image; empty when found.
        keep: the breast and its surroundings on the search copy, or None to keep every pixel.
            :meth:`keep_mask` scales it to image pixels.
        factor: image pixels per search-copy pixel along each axis.
    """

    box: tuple[int, int, int, int]
    found: bool
    chest_wall_side: str | None
    side_confident: bool
    reason: str = ""
    keep: np.ndarray | None = field(default=None, compare=False, repr=False)
    factor: int = 1

    def keep_mask(self) -> np.ndarray | None:
        """Return which pixels of the crop ``box`` belong to the breast's surroundings.

        Pixels outside it (labels or markers inside the breast's bounding box but away from
        the breast) can be set to the background. None means keep every pixel.
        """
        if self.keep is None:
            return None
        x0, y0, x1, y1 = self.box
        f = self.factor
        small = self.keep[y0 // f : (y1 - 1) // f + 1, x0 // f : (x1 - 1) // f + 1]
        full = np.repeat(np.repeat(small, f, axis=0), f, axis=1)
        return full[y0 - (y0 // f) * f : y1 - (y0 // f) * f, x0 - (x0 // f) * f : x1 - (x0 // f) * f]


def find_breast_region(image: np.ndarray) -> BreastRegion:
    """Locate the breast in a float image in [0, 1] with bright = dense tissue.

    Args:
        image: 2-D float array, background dark.

    Returns:
        The breast's bounding box and chest-wall side; the whole image when nothing qualifies.
    """
    height, width = image.shape
    factor = max(1, math.ceil(max(height, width) / _SEARCH_SIZE))
    small = _block_mean(image, factor)

    threshold, background, tissue = _intensity_levels(small)
    mask = small > threshold
    if background >= _DARK_BACKGROUND_RATIO * tissue or mask.mean() >= _FULL_FRAME_FRACTION:
        # No dark background to speak of: the image is already a breast crop.
        side, confident = _chest_wall_side(mask, (0, 0, mask.shape[1], mask.shape[0]))
        return BreastRegion((0, 0, width, height), True, side, confident)

    radius = max(1, round(_OPENING_FRACTION * max(small.shape)))
    disk = _disk(radius)
    opened = ndimage.binary_opening(mask, structure=disk)

    component, reason = _pick_breast_component(opened)
    if component is None:
        return BreastRegion((0, 0, width, height), False, None, False, reason)

    near = ndimage.distance_transform_edt(~component) <= _REFINE_MARGIN_FACTOR * radius
    region = _trim_border_bands((mask & near) | component)
    small_box = _bounding_box(region)
    box = _to_full_resolution(small_box, factor, small.shape, (height, width))
    side, confident = _chest_wall_side(region, small_box)
    keep = ndimage.distance_transform_edt(~region) <= _KEEP_MARGIN_FACTOR * radius
    return BreastRegion(box, True, side, confident, keep=keep, factor=factor)


# -------------------------------------------------------------------------------------------------
# Steps
# -------------------------------------------------------------------------------------------------


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks; the last partial blocks are averaged too."""
    if factor == 1:
        return image.astype(np.float32, copy=False)
    height, width = image.shape
    padded_height = math.ceil(height / factor) * factor
    padded_width = math.ceil(width / factor) * factor
    padded = np.pad(
        image.astype(np.float32, copy=False),
        ((0, padded_height - height), (0, padded_width - width)),
        mode="edge",
    )
    blocks = padded.reshape(padded_height // factor, factor, padded_width // factor, factor)
    return blocks.mean(axis=(1, 3))


def _intensity_levels(small: np.ndarray) -> tuple[float, float, float]:
    """Return (threshold, background level, tissue level) around Otsu's threshold."""
    otsu = _otsu_threshold(small)
    below = small[small <= otsu]
    above = small[small > otsu]
    background = float(np.median(below)) if below.size else 0.0
    tissue = float(np.median(above)) if above.size else otsu
    return background + _THRESHOLD_FRACTION * (tissue - background), background, tissue


def _otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    histogram, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centers = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(histogram).astype(np.float64)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(histogram * centers)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between_variance = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centers[int(np.argmax(between_variance))])


def _pick_breast_component(opened: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Return the largest component that is not small, strip-like or plate-like."""
    labels, count = ndimage.label(opened)
    if count == 0:
        return None, "nothing brighter than the background"

    height, width = opened.shape
    total = float(height * width)
    areas = ndimage.sum_labels(opened, labels, index=np.arange(1, count + 1))
    slices = ndimage.find_objects(labels)

    best_label, best_area = 0, 0.0
    rejected: list[str] = []
    for label, (area, bounds) in enumerate(zip(areas, slices), start=1):
        box_height = bounds[0].stop - bounds[0].start
        box_width = bounds[1].stop - bounds[1].start
        fraction = area / total
        extent = area / float(box_height * box_width)
        kind = _rejected_kind(fraction, extent, box_height, box_width, height, width)
        if kind:
            rejected.append(kind)
            continue
        if area > best_area:
            best_label, best_area = label, float(area)

    if best_label == 0:
        return None, f"every bright component looks like a {' or '.join(sorted(set(rejected)))}"
    if best_area / total < _MIN_BREAST_FRACTION:
        return (
            None,
            f"the largest bright component covers only {best_area / total:.1%} of the image",
        )
    return labels == best_label, ""


def _rejected_kind(
    fraction: float, extent: float, box_height: int, box_width: int, height: int, width: int
) -> str:
    if fraction < _MIN_COMPONENT_FRACTION:
        return "small mark or text"
    thin_vertical = (
        box_width < _STRIP_THICKNESS_FRACTION * width and box_height > _STRIP_ELONGATION * box_width
    )
    thin_horizontal = (
        box_height < _STRIP_THICKNESS_FRACTION * height
        and box_width > _STRIP_ELONGATION * box_height
    )
    if thin_vertical or thin_horizontal:
        return "film edge or strip"
    if extent > _PLATE_EXTENT and fraction < _PLATE_MAX_FRACTION:
        return "label plate"
    return ""


def _trim_border_bands(region: np.ndarray) -> np.ndarray:
    """Trim film edge bands that run along the image edges past the ends of the breast."""
    band_width = max(1, round(_BORDER_BAND_FRACTION * region.shape[1]))
    band_height = max(1, round(_BORDER_BAND_FRACTION * region.shape[0]))
    region = _trim_end_rows(region, band_width)
    return _trim_end_rows(region.T, band_height).T


def _trim_end_rows(region: np.ndarray, band: int) -> np.ndarray:
    """Clear the first and last rows that hold only a band along the left or right edge.

    A row is trimmed while its pixels all lie within ``band`` columns of an edge and reach no
    further in than the band's typical width (the median over such rows, plus a tolerance).
    The thin tip of a breast that meets the chest wall edge reaches further in, so it is kept.
    """
    width = region.shape[1]
    occupied = region.any(axis=1)
    rows = np.flatnonzero(occupied)
    if rows.size == 0 or width <= 2 * band:
        return region

    band_only = occupied & ~region[:, band : width - band].any(axis=1)
    left_reach = np.where(
        region[:, :band].any(axis=1), band - np.argmax(region[:, band - 1 :: -1], axis=1), 0
    )
    right_reach = np.where(
        region[:, -band:].any(axis=1), band - np.argmax(region[:, -band:], axis=1), 0
    )
    reach = np.maximum(left_reach, right_reach)

    trimmed = region.copy()
    for ordered in (rows, rows[::-1]):
        leading = _leading_true(band_only[ordered])
        if leading == 0:
            continue
        typical = float(np.median(reach[ordered[:leading]]))
        limit = typical + max(2.0, 0.25 * typical)
        for row in ordered[:leading]:
            if reach[row] > limit:
                break
            trimmed[row] = False
    if not trimmed.any():
        return region  # a narrow breast against the edge: nothing to tell the band from
    return trimmed


def _leading_true(flags: np.ndarray) -> int:
    """Return how many values at the start of ``flags`` are True."""
    false_positions = np.flatnonzero(~flags)
    return int(false_positions[0]) if false_positions.size else int(flags.size)


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def _to_full_resolution(
    small_box: tuple[int, int, int, int],
    factor: int,
    small_shape: tuple[int, int],
    full_shape: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Scale a search-copy box to the image; a box touching the copy's edge reaches the image's."""
    x0, y0, x1, y1 = small_box
    small_height, small_width = small_shape
    height, width = full_shape
    full_x1 = width if x1 >= small_width else min(width, x1 * factor)
    full_y1 = height if y1 >= small_height else min(height, y1 * factor)
    return x0 * factor, y0 * factor, full_x1, full_y1


def _chest_wall_side(
    component: np.ndarray, small_box: tuple[int, int, int, int]
) -> tuple[str, bool]:
    """Compare how much of the breast's height its leftmost and rightmost columns cover.

    The chest wall side of a CC or MLO breast spans most of the breast's height; the nipple side
    is narrow.
    """
    x0, y0, x1, y1 = small_box
    breast = component[y0:y1, x0:x1]
    band = max(1, round(_SIDE_BAND_FRACTION * breast.shape[1]))
    left = float(breast[:, :band].mean())
    right = float(breast[:, -band:].mean())
    side = "left" if left >= right else "right"
    return side, abs(left - right) >= _SIDE_MIN_DIFFERENCE


def _disk(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2
