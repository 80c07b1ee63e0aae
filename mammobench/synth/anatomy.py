"""Breast outline, nipple, pectoral muscle and compressed thickness for CC and MLO views.

Everything is computed in a canonical frame with the chest wall on the left image edge and the
nipple pointing right. Right breasts are mirrored after rendering. Lesion positions are given
in breast coordinates that mean the same thing in both views:

- ``depth`` from 0 (nipple) to 1 (chest wall), along the nipple axis;
- ``transverse`` from -1 to 1 across the breast, positive toward the top of the image. On CC
  views the top is lateral (outer); on MLO views it is superior (upper).

So a lesion keeps its distance from the nipple in both views, its CC transverse coordinate
gives the inner/outer half and its MLO transverse coordinate the upper/lower half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

CC = "CC"
MLO = "MLO"


@dataclass(frozen=True)
class BreastShape:
    """Shape parameters of one breast, shared by its CC and MLO views.

    Lengths are fractions of the image width (horizontal) or height (vertical).
    """

    depth: float  # nipple to chest wall on CC, fraction of width
    cc_nipple_y: float
    cc_upper: float  # half-height above the nipple at the chest wall, fraction of height
    cc_lower: float
    cc_exponent: float  # superellipse exponent of the CC outline; larger is boxier
    cc_pectoral_width: float  # 0 when no pectoral muscle shows on CC
    cc_tilt: float  # radians; nipple axis slope
    mlo_depth: float
    mlo_nipple_y: float
    mlo_top_width: float  # breast width at the top edge (axillary tail), fraction of mlo_depth
    mlo_upper_exponent: float
    mlo_lower: float  # extent below the nipple, fraction of height
    mlo_lower_exponent: float
    mlo_tilt: float
    pectoral_width: float  # pectoral muscle width at the top edge, fraction of width
    pectoral_length: float  # pectoral muscle length along the chest wall, fraction of height
    pectoral_curve: float  # exponent of the pectoral edge; > 1 concave, < 1 convex
    nipple_height: float  # nipple protrusion, fraction of width
    nipple_width: float  # fraction of height
    skin_mm: float


@dataclass(frozen=True)
class OutlineChanges:
    """Changes to the breast outline caused by findings."""

    nipple_retracted: bool = False
    # (transverse coordinate, indentation as a fraction of width) for each skin retraction.
    skin_retractions: tuple[tuple[float, float], ...] = ()
    # (transverse start, transverse end, width factor) for each skin thickening.
    skin_thickenings: tuple[tuple[float, float, float], ...] = ()


@dataclass
class ViewGeometry:
    """The breast region of one view in the canonical frame, with its coordinate system."""

    view: str
    height: int
    width: int
    mask: np.ndarray  # bool, breast including pectoral muscle
    soft_mask: np.ndarray  # float in [0, 1], anti-aliased mask
    pectoral: np.ndarray  # float in [0, 1], pectoral muscle
    edge: np.ndarray  # x of the skin line on each row, 0 where the row has no breast
    nipple: tuple[float, float]  # (y, x)
    tilt: float
    skin_distance: np.ndarray  # distance to the skin line in pixels (0 outside)
    thickness: np.ndarray  # relative compressed thickness, 1 inside, falling to 0 at the skin
    skin_width: np.ndarray  # skin line width in pixels per row

    def axis_y(self, x: float) -> float:
        """Return the row of the nipple axis at column ``x``."""
        return self.nipple[0] - (self.nipple[1] - x) * np.tan(self.tilt)

    def place(self, depth: float, transverse: float, margin: float = 0.0) -> tuple[float, float]:
        """Return the (y, x) pixel position of breast coordinates (depth, transverse).

        The position is moved toward the nipple axis until it lies at least ``margin`` pixels
        inside the skin line and outside the pectoral muscle, when such a point exists.
        """
        x = float(np.clip(self.nipple[1] * (1.0 - depth), 1.0, self.width - 2.0))
        column = int(x)
        tissue = self.mask[:, column] & (self.pectoral[:, column] < 0.5)
        rows = np.flatnonzero(tissue)
        if rows.size == 0:
            return self.nipple[0], max(1.0, self.nipple[1] - 2.0)
        top, bottom = float(rows[0]), float(rows[-1])
        center = float(np.clip(self.axis_y(x), top, bottom))

        for shrink in np.linspace(1.0, 0.0, 11):
            w = transverse * shrink
            if w >= 0:
                y = center - w * 0.9 * (center - top)
            else:
                y = center - w * 0.9 * (bottom - center)
            yi, xi = int(np.clip(y, 0, self.height - 1)), column
            inside = self.skin_distance[yi, xi] >= margin and self.pectoral[yi, xi] < 0.5
            if inside:
                return float(y), x
        return center, x


def sample_breast_shape(rng: np.random.Generator) -> BreastShape:
    """Draw the shape of one breast."""
    depth = rng.uniform(0.55, 0.86)
    mlo_nipple_y = rng.uniform(0.50, 0.62)
    pectoral_length = rng.uniform(0.35, min(0.75, mlo_nipple_y + 0.1))
    return BreastShape(
        depth=depth,
        cc_nipple_y=rng.uniform(0.45, 0.55),
        cc_upper=rng.uniform(0.33, 0.45),
        cc_lower=rng.uniform(0.32, 0.44),
        cc_exponent=rng.uniform(1.8, 2.8),
        cc_pectoral_width=rng.uniform(0.015, 0.03) if rng.random() < 0.2 else 0.0,
        cc_tilt=rng.normal(0.0, 0.05),
        mlo_depth=min(0.93, depth * rng.uniform(1.0, 1.12)),
        mlo_nipple_y=mlo_nipple_y,
        mlo_top_width=rng.uniform(0.35, 0.6),
        mlo_upper_exponent=rng.uniform(1.05, 1.5),
        mlo_lower=rng.uniform(0.22, min(0.36, 0.96 - mlo_nipple_y)),
        mlo_lower_exponent=rng.uniform(1.8, 2.6),
        mlo_tilt=rng.uniform(0.12, 0.32),
        pectoral_width=rng.uniform(0.17, 0.36),
        pectoral_length=pectoral_length,
        pectoral_curve=rng.uniform(0.8, 1.3),
        nipple_height=rng.uniform(0.008, 0.02),
        nipple_width=rng.uniform(0.015, 0.03),
        skin_mm=rng.uniform(1.5, 2.5),
    )


def sibling_shape(shape: BreastShape, rng: np.random.Generator) -> BreastShape:
    """Return the shape of the other breast of the same patient: similar, not identical."""
    values = {name: getattr(shape, name) for name in shape.__dataclass_fields__}
    for name in ("depth", "cc_upper", "cc_lower", "mlo_top_width", "mlo_lower", "pectoral_width", "pectoral_length"):
        values[name] *= rng.uniform(0.95, 1.05)
    values["mlo_depth"] = min(0.93, values["mlo_depth"])
    values["depth"] = min(0.9, values["depth"])
    values["mlo_lower"] = min(values["mlo_lower"], 0.96 - values["mlo_nipple_y"])
    return BreastShape(**values)


def build_view_geometry(
    shape: BreastShape,
    view: str,
    size: tuple[int, int],
    pixel_spacing_mm: float,
    changes: OutlineChanges = OutlineChanges(),
    wobble: np.ndarray | None = None,
) -> ViewGeometry:
    """Build the mask, thickness map and coordinate system of one view.

    Args:
        shape: The breast's shape parameters.
        view: ``"CC"`` or ``"MLO"``.
        size: Image (height, width).
        pixel_spacing_mm: Pixel spacing, for the skin thickness.
        changes: Outline changes caused by findings.
        wobble: Optional per-row relative perturbation of the outline (small values).
    """
    height, width = size
    rows = np.arange(height) + 0.5

    if view == CC:
        nipple_x = shape.depth * width
        nipple_y = shape.cc_nipple_y * height
        edge = _cc_outline(rows, nipple_x, nipple_y, shape, height)
        tilt = shape.cc_tilt
    else:
        nipple_x = shape.mlo_depth * width
        nipple_y = shape.mlo_nipple_y * height
        edge = _mlo_outline(rows, nipple_x, nipple_y, shape, height)
        tilt = shape.mlo_tilt

    if wobble is not None:
        edge = edge * (1.0 + wobble)

    nipple_profile = np.exp(-(((rows - nipple_y) / (shape.nipple_width * height)) ** 2))
    if changes.nipple_retracted:
        edge = edge - 1.5 * shape.nipple_height * width * nipple_profile
    else:
        edge = edge + shape.nipple_height * width * nipple_profile * (edge > 0)

    transverse = _row_transverse(rows, nipple_y, edge)
    for where, indentation in changes.skin_retractions:
        dent = np.exp(-(((transverse - where) / 0.08) ** 2))
        edge = edge - indentation * width * dent * (edge > 0)
    edge = np.clip(edge, 0.0, width - 1.0)

    columns = np.arange(width) + 0.5
    mask = columns[None, :] < edge[:, None]
    soft_mask = np.clip(edge[:, None] - columns[None, :] + 0.5, 0.0, 1.0)
    soft_mask = ndimage.gaussian_filter(soft_mask, 0.6)

    pectoral = _pectoral(view, shape, rows, columns, height, width) * mask

    skin_distance = _skin_distance(mask, view)
    edge_width = 0.12 * nipple_x
    relative = np.clip(skin_distance / max(edge_width, 1.0), 0.0, 1.0)
    thickness = np.sqrt(1.0 - (1.0 - relative) ** 2)

    skin_width = np.full(height, shape.skin_mm / pixel_spacing_mm)
    for start, end, factor in changes.skin_thickenings:
        low, high = min(start, end), max(start, end)
        # Smooth ramps at both ends, so the thickened skin has no visible step.
        inside = _ramp((transverse - low) / 0.06) * _ramp((high - transverse) / 0.06)
        skin_width = skin_width * (1.0 + (factor - 1.0) * inside)

    return ViewGeometry(
        view=view,
        height=height,
        width=width,
        mask=mask,
        soft_mask=soft_mask,
        pectoral=pectoral,
        edge=edge,
        nipple=(nipple_y, float(edge[int(np.clip(nipple_y, 0, height - 1))])),
        tilt=tilt,
        skin_distance=skin_distance,
        thickness=thickness,
        skin_width=skin_width,
    )


def _ramp(value: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-value))


def _cc_outline(rows: np.ndarray, nipple_x: float, nipple_y: float, shape: BreastShape, height: int) -> np.ndarray:
    half = np.where(rows < nipple_y, shape.cc_upper * height, shape.cc_lower * height)
    relative = np.abs(rows - nipple_y) / half
    inside = np.clip(1.0 - relative**shape.cc_exponent, 0.0, None)
    return nipple_x * inside ** (1.0 / shape.cc_exponent)


def _mlo_outline(rows: np.ndarray, nipple_x: float, nipple_y: float, shape: BreastShape, height: int) -> np.ndarray:
    top_width = shape.mlo_top_width * nipple_x
    above = np.clip((nipple_y - rows) / nipple_y, 0.0, 1.0)
    upper = top_width + (nipple_x - top_width) * np.clip(1.0 - above**shape.mlo_upper_exponent, 0.0, None) ** (
        1.0 / shape.mlo_upper_exponent
    )
    below = np.clip((rows - nipple_y) / (shape.mlo_lower * height), 0.0, None)
    lower = nipple_x * np.clip(1.0 - below**shape.mlo_lower_exponent, 0.0, None) ** (1.0 / shape.mlo_lower_exponent)
    return np.where(rows < nipple_y, upper, lower)


def _row_transverse(rows: np.ndarray, nipple_y: float, edge: np.ndarray) -> np.ndarray:
    """Return a transverse coordinate per row: +1 at the top of the breast, -1 at the bottom."""
    inside = np.flatnonzero(edge > 0)
    if inside.size == 0:
        return np.zeros_like(rows)
    top, bottom = rows[inside[0]], rows[inside[-1]]
    upper = (nipple_y - rows) / max(nipple_y - top, 1.0)
    lower = (nipple_y - rows) / max(bottom - nipple_y, 1.0)
    return np.where(rows < nipple_y, upper, lower)


def _pectoral(
    view: str, shape: BreastShape, rows: np.ndarray, columns: np.ndarray, height: int, width: int
) -> np.ndarray:
    if view == MLO:
        length = shape.pectoral_length * height
        along = np.clip(1.0 - rows / length, 0.0, 1.0)
        boundary = shape.pectoral_width * width * along**shape.pectoral_curve
    elif shape.cc_pectoral_width > 0:
        center = shape.cc_nipple_y * height
        half = 0.2 * height
        along = np.clip(1.0 - ((rows - center) / half) ** 2, 0.0, 1.0)
        boundary = shape.cc_pectoral_width * width * along
    else:
        return np.zeros((height, width))
    return np.clip(boundary[:, None] - columns[None, :] + 1.0, 0.0, 2.0) / 2.0


def _skin_distance(mask: np.ndarray, view: str) -> np.ndarray:
    """Distance in pixels to the skin line, treating the chest-wall edge (and, on MLO, the top
    edge where the breast continues into the axilla) as inside the body."""
    pad = 64
    padded = np.pad(mask, ((pad if view == MLO else 0, 0), (pad, 0)), mode="edge")
    distance = ndimage.distance_transform_edt(padded)
    top = pad if view == MLO else 0
    return distance[top:, pad:]
