"""Normal breast tissue of one view: fat, fibroglandular tissue, ligaments, vessels, skin, muscle.

The share of the breast covered by fibroglandular tissue follows the BI-RADS density category
(A almost entirely fatty ... D extremely dense). Its layout follows anatomy: a cone behind the
nipple that widens toward the chest wall, leaning to the upper outer quadrant, with a fat layer
under the skin and in front of the chest wall.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mammobench.synth import texture
from mammobench.synth.anatomy import MLO, ViewGeometry
from mammobench.synth.canvas import FAT_LEVEL, GLAND_LEVEL, Canvas, add_points, polyline_points

# Range of the fibroglandular share of the breast area per density category.
DENSITY_FRACTIONS = {"A": (0.04, 0.12), "B": (0.16, 0.34), "C": (0.40, 0.60), "D": (0.65, 0.82)}

PECTORAL_LEVEL = 0.80


def render_tissue(
    geometry: ViewGeometry,
    density: str,
    rng: np.random.Generator,
    pixel_spacing_mm: float,
    contrast: float,
) -> Canvas:
    """Draw the normal tissue of one view and return it as a canvas for lesions.

    Args:
        geometry: The view's breast region.
        density: BI-RADS density ``A``-``D``.
        rng: Random source for this view.
        pixel_spacing_mm: Pixel spacing; texture scales are set in millimetres.
        contrast: Lesion contrast multiplier, stored on the canvas for the lesion drawers.
    """
    shape = (geometry.height, geometry.width)
    millimetre = 1.0 / pixel_spacing_mm
    region = geometry.mask & (geometry.pectoral < 0.5)

    envelope = _gland_envelope(geometry, rng, millimetre)
    blobs = texture.power_law_noise(shape, rng.uniform(2.7, 3.2), rng)
    streaks = texture.radial_field(
        shape, geometry.nipple, rng, radial_sigma=14 * millimetre, angular_sigma=0.035, tilt=rng.uniform(0, 6.3)
    )
    # Streaks converge at the nipple, where they would crowd into a starburst, so fade them in.
    from_nipple = np.clip(np.hypot(*_offsets(geometry)) / (60 * millimetre), 0.0, 1.0)
    field = 2.0 * envelope + 0.6 * blobs + 0.25 * streaks * from_nipple
    low, high = DENSITY_FRACTIONS[density]
    gland = texture.soft_threshold_fraction(field, region, rng.uniform(low, high), softness=0.28)

    # Fat lobules and fibrous strands break up the glandular tissue at every scale.
    fine = texture.power_law_noise(shape, 2.3, rng)
    lobules = texture.line_network(texture.smooth_noise(shape, 2.5 * millimetre, rng), width=1.2)
    gland = gland * np.clip(0.80 + 0.18 * fine - 0.25 * (1.0 - lobules) * (1.0 - gland), 0.0, 1.0)
    gland = gland * geometry.mask

    ligaments = texture.line_network(texture.smooth_noise(shape, (9 * millimetre, 5 * millimetre), rng), width=0.6)
    strands = texture.radial_field(shape, geometry.nipple, rng, radial_sigma=18 * millimetre, angular_sigma=0.012)
    ducts = texture.line_network(strands, width=0.7)
    near_nipple = np.clip(np.hypot(*_offsets(geometry)) / (45 * millimetre), 0.0, 1.0) ** 2

    thickness = 0.45 + 0.55 * geometry.thickness**0.8
    image = thickness * (FAT_LEVEL + (GLAND_LEVEL - FAT_LEVEL) * gland)
    image += 0.025 * fine * thickness
    image += 0.025 * ligaments * (1.0 - gland) * geometry.thickness
    image += 0.02 * ducts * geometry.thickness * gland * near_nipple
    image += _vessels(geometry, rng, millimetre)
    image = _add_pectoral(image, geometry, rng, millimetre)
    image += _skin_line(geometry, millimetre)
    image *= geometry.soft_mask

    return Canvas(image=image, gland=gland, geometry=geometry, contrast=contrast)


def _offsets(geometry: ViewGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Return each pixel's (dy, dx) from the nipple."""
    rows = (np.arange(geometry.height) + 0.5)[:, None] - geometry.nipple[0]
    columns = (np.arange(geometry.width) + 0.5)[None, :] - geometry.nipple[1]
    return np.broadcast_arrays(rows, columns)


def _gland_envelope(geometry: ViewGeometry, rng: np.random.Generator, millimetre: float) -> np.ndarray:
    """Return where fibroglandular tissue tends to be, 0 to 1."""
    height, width = geometry.height, geometry.width
    rows = (np.arange(height) + 0.5)[:, None]
    columns = (np.arange(width) + 0.5)[None, :]
    nipple_y, nipple_x = geometry.nipple

    depth = np.clip(1.0 - columns / max(nipple_x, 1.0), 0.0, 1.2)
    axis = nipple_y - (nipple_x - columns) * np.tan(geometry.tilt)
    top, bottom = _column_extent(geometry.mask)
    upper = np.maximum(axis - top[None, :], 1.0)
    lower = np.maximum(bottom[None, :] - axis, 1.0)
    offset = rows - axis
    across = np.where(offset < 0, offset / upper, offset / lower)

    # The cone leans toward the top of the image (lateral on CC, upper on MLO).
    lean = rng.uniform(0.05, 0.3)
    spread = rng.uniform(0.55, 0.85)
    cone = np.exp(-(((across + lean) / spread) ** 2))
    peak = rng.uniform(0.35, 0.6)
    along = np.exp(-(((depth - peak) / 0.42) ** 2)) * np.clip(depth / 0.08, 0.0, 1.0)
    subcutaneous = np.clip(geometry.skin_distance / (rng.uniform(5.0, 10.0) * millimetre), 0.0, 1.0)
    retromammary = np.clip((1.05 - depth) / 0.2, 0.0, 1.0)
    return cone * along * subcutaneous * retromammary * (1.0 - geometry.pectoral)


def _column_extent(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and last breast row of every column (the centre row where empty)."""
    height = mask.shape[0]
    any_inside = mask.any(axis=0)
    top = np.where(any_inside, mask.argmax(axis=0), height / 2).astype(float)
    bottom = np.where(any_inside, height - 1 - mask[::-1].argmax(axis=0), height / 2).astype(float)
    return top, bottom


def _vessels(geometry: ViewGeometry, rng: np.random.Generator, millimetre: float) -> np.ndarray:
    """Return a few meandering blood vessels running from the chest wall toward the nipple."""
    image = np.zeros((geometry.height, geometry.width))
    nipple_y, nipple_x = geometry.nipple
    for _ in range(int(rng.integers(1, 4))):
        start_y = nipple_y + rng.uniform(-0.35, 0.35) * geometry.height
        start_x = rng.uniform(0.0, 0.15) * nipple_x
        angle = np.arctan2(nipple_y - start_y, nipple_x - start_x) + rng.normal(0.0, 0.2)
        length = rng.uniform(0.4, 0.9) * nipple_x
        points_y, points_x = polyline_points((start_y, start_x), angle, length, rng.normal(0.0, 0.8))
        points_y = points_y + 1.5 * millimetre * np.sin(np.arange(points_y.size) / rng.uniform(15, 40))
        rows = np.clip(points_y.astype(int), 0, geometry.height - 1)
        columns = np.clip(points_x.astype(int), 0, geometry.width - 1)
        keep = geometry.skin_distance[rows, columns] > 2
        sigma = rng.uniform(0.6, 1.0) * millimetre
        add_points(image, points_y[keep], points_x[keep], np.full(int(keep.sum()), sigma), np.full(int(keep.sum()), 0.012))
    return image * geometry.thickness


def _add_pectoral(image: np.ndarray, geometry: ViewGeometry, rng: np.random.Generator, millimetre: float) -> np.ndarray:
    """Blend in the pectoral muscle: bright, smooth, with fibres along its length."""
    if not geometry.pectoral.any():
        return image
    shape = image.shape
    # Muscle fibres run along the muscle: down the chest wall on CC, diagonally on MLO.
    fibre_angle = 1.1 if geometry.view == MLO else 0.5 * np.pi
    fibres = texture.smooth_noise(shape, (3 * millimetre, 0.8 * millimetre), rng, angle=fibre_angle)
    shading = texture.smooth_noise(shape, 20 * millimetre, rng)
    level = PECTORAL_LEVEL if geometry.view == MLO else 0.5 * (PECTORAL_LEVEL + GLAND_LEVEL)
    muscle = level + 0.04 * shading + 0.015 * fibres
    blend = ndimage.gaussian_filter(geometry.pectoral, 1.5 * millimetre)
    if geometry.view != MLO:
        blend = 0.6 * blend
    return image * (1.0 - blend) + muscle * blend * (0.6 + 0.4 * geometry.thickness)


def _skin_line(geometry: ViewGeometry, millimetre: float) -> np.ndarray:
    """Return the thin bright band of the skin along the breast outline.

    Thickened skin is wider and brighter, because the X-ray path through it is longer.
    """
    width = np.maximum(geometry.skin_width[:, None], 0.5)
    band = np.exp(-((geometry.skin_distance / width) ** 2))
    brightness = 0.16 * np.sqrt(width / (2.0 * millimetre))
    return np.clip(brightness, 0.12, 0.4) * band * geometry.mask
