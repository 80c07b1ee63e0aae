"""Drawing of masses, lymph nodes, architectural distortion and asymmetries.

Each function draws one lesion into a :class:`~mammobench.synth.canvas.Canvas` in place and
returns its box in canonical pixels, or None when nothing visible was drawn. Shape parameters
come from a generator seeded per lesion, so the CC and MLO views of one lesion share its shape
(each view adds a little jitter of its own).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from mammobench.synth.canvas import FAT_LEVEL, GLAND_LEVEL, MASS_EXCESS, Box, Canvas, add_points, polyline_points

# Edge width of the mass boundary per margin, in pixels (fixed) or radii (relative).
_FIXED_EDGE_PX = {"circumscribed": 0.6, "obscured": 1.0, "microlobulated": 0.8}
_RELATIVE_EDGE = {"indistinct": 0.22, "spiculated": 0.12}


def draw_mass(
    canvas: Canvas,
    center: tuple[float, float],
    radius: float,
    shape: str,
    margin: str,
    shape_rng: np.random.Generator,
    view_rng: np.random.Generator,
    hilum: bool = False,
    strength: float = 1.0,
) -> Box | None:
    """Draw a mass (or a lymph node) and return its box.

    Args:
        canvas: The view to draw into.
        center: (y, x) in canonical pixels.
        radius: Mean radius in pixels.
        shape: ``round``, ``oval`` or ``irregular``.
        margin: A BI-RADS mass margin; spiculated masses get radiating spicules.
        shape_rng: Generator seeded per lesion; gives the same outline in both views.
        view_rng: Generator for per-view variation.
        hilum: Cut a fatty notch into one side, as in a benign lymph node.
        strength: Extra factor on the mass contrast.
    """
    outline = _outline_terms(shape, margin, shape_rng)
    rotation = outline["rotation"] + view_rng.normal(0.0, 0.25)
    radius = radius * view_rng.uniform(0.92, 1.08)
    reach = radius * (3.2 if margin == "spiculated" else 1.8) + 4
    window = canvas.window(center[0], center[1], reach)
    angle = window.angle - rotation
    distance = window.radius

    boundary = radius * (1.0 + outline["elongation"] * np.cos(2.0 * angle))
    for order, amplitude, phase in outline["harmonics"]:
        boundary = boundary * (1.0 + amplitude * np.cos(order * angle + phase))
    boundary = np.maximum(boundary, 0.3 * radius)

    if margin in _FIXED_EDGE_PX:
        edge = _FIXED_EDGE_PX[margin]
    else:
        edge = _RELATIVE_EDGE[margin] * radius
    weight = 1.0 / (1.0 + np.exp(-(boundary - distance) / max(edge, 0.3)))
    dome = np.sqrt(np.clip(1.0 - (distance / boundary) ** 2, 0.0, 1.0))
    profile = weight * (0.55 + 0.45 * dome)

    if margin == "obscured":
        hidden = 0.5 * (1.0 + np.cos(angle - outline["hidden_side"]))
        profile = profile * (1.0 - 0.55 * hidden * np.clip(distance / boundary, 0.0, 1.0) ** 2)
    if hilum:
        notch_y = center[0] + 0.7 * radius * np.sin(rotation)
        notch_x = center[1] + 0.7 * radius * np.cos(rotation)
        notch = np.exp(-(((window.dy + center[0] - notch_y) ** 2 + (window.dx + center[1] - notch_x) ** 2) / (0.35 * radius) ** 2))
        profile = profile * (1.0 - 0.8 * notch)

    texture = 1.0 + 0.08 * ndimage.gaussian_filter(view_rng.standard_normal(profile.shape), 1.0)
    amount = canvas.contrast * strength * canvas.tissue_contrast(*center)
    canvas.image[window.rows, window.columns] += amount * profile * texture
    canvas.gland[window.rows, window.columns] = np.maximum(canvas.gland[window.rows, window.columns], weight)

    box = window.box_of(weight, 0.5)
    if margin == "spiculated":
        box = _draw_spicules(canvas, center, radius, amount, view_rng, box)
    return box


def draw_distortion(
    canvas: Canvas,
    center: tuple[float, float],
    radius: float,
    view_rng: np.random.Generator,
) -> Box:
    """Draw architectural distortion: tissue pulled toward a point, with radiating lines."""
    window = canvas.window(center[0], center[1], radius * 1.3)
    pull = 0.45 * np.exp(-((window.radius / radius) ** 2))
    source_y = window.dy * (1.0 + pull) + center[0] - 0.5
    source_x = window.dx * (1.0 + pull) + center[1] - 0.5
    original = canvas.image.copy()
    warped = ndimage.map_coordinates(original, [source_y, source_x], order=1, mode="nearest")
    canvas.image[window.rows, window.columns] = warped

    amount = canvas.contrast * 0.45 * canvas.tissue_contrast(*center)
    line_count = int(view_rng.integers(12, 24))
    for angle in view_rng.uniform(0.0, 2.0 * np.pi, size=line_count):
        length = radius * view_rng.uniform(0.7, 1.3)
        start = (center[0] + 0.15 * radius * np.sin(angle), center[1] + 0.15 * radius * np.cos(angle))
        points_y, points_x = polyline_points(start, angle, length, view_rng.normal(0.0, 0.3))
        taper = np.linspace(1.0, 0.2, points_y.size)
        add_points(canvas.image, points_y, points_x, np.full(points_y.size, 0.6), amount * 0.35 * taper)

    half = 0.85 * radius
    return (center[1] - half, center[0] - half, center[1] + half, center[0] + half)


def draw_asymmetry(
    canvas: Canvas,
    center: tuple[float, float],
    radius: float,
    shape_rng: np.random.Generator,
    view_rng: np.random.Generator,
    strength: float = 1.0,
) -> Box | None:
    """Draw extra fibroglandular-like density with concave, fat-interspersed borders.

    The added density fills fat more than existing glandular tissue, so the region looks like
    more of the same tissue rather than a separate object.
    """
    window = canvas.window(center[0], center[1], radius * 1.6)
    shape_noise = ndimage.gaussian_filter(view_rng.standard_normal(window.dy.shape), radius * 0.25)
    shape_noise /= shape_noise.std() + 1e-9
    elongation = shape_rng.uniform(0.0, 0.4)
    rotation = shape_rng.uniform(0.0, np.pi)
    angle = window.angle - rotation
    boundary = radius * (1.0 + elongation * np.cos(2.0 * angle))
    field = 1.0 - window.radius / boundary + 0.3 * shape_noise
    weight = 1.0 / (1.0 + np.exp(-field / 0.15))

    lobules = ndimage.gaussian_filter(view_rng.standard_normal(window.dy.shape), max(1.5, 0.08 * radius))
    lobules /= lobules.std() + 1e-9
    interspersed = np.clip(0.7 + 0.3 * lobules, 0.2, 1.0)
    rows, columns = window.rows, window.columns
    fat = 1.0 - canvas.gland[rows, columns]
    thickness = canvas.geometry.thickness[rows, columns]
    fill = (GLAND_LEVEL - FAT_LEVEL) * fat + MASS_EXCESS * (1.0 - fat)
    amount = canvas.contrast * strength * 0.6
    canvas.image[rows, columns] += amount * fill * weight * interspersed * thickness * canvas.geometry.mask[rows, columns]
    canvas.gland[rows, columns] = np.maximum(canvas.gland[rows, columns], weight * interspersed)
    return window.box_of(weight, 0.5)


def draw_skin_marker(canvas: Canvas, center: tuple[float, float], radius: float) -> None:
    """Draw a metal skin marker (BB): a small disc brighter than any tissue."""
    window = canvas.window(center[0], center[1], radius + 2)
    disc = np.clip(radius - window.radius + 0.5, 0.0, 1.0)
    region = canvas.image[window.rows, window.columns]
    canvas.image[window.rows, window.columns] = np.maximum(region, 1.6 * disc)


def skin_box(canvas: Canvas, low: float, high: float) -> Box | None:
    """Return the box around the skin line between two transverse coordinates."""
    geometry = canvas.geometry
    rows = np.arange(geometry.height)
    inside = np.flatnonzero(geometry.edge > 1)
    if inside.size == 0:
        return None
    top, bottom = inside[0], inside[-1]
    nipple_y = geometry.nipple[0]
    transverse = np.where(
        rows < nipple_y,
        (nipple_y - rows) / max(nipple_y - top, 1.0),
        (nipple_y - rows) / max(bottom - nipple_y, 1.0),
    )
    selected = np.flatnonzero((transverse >= low) & (transverse <= high) & (geometry.edge > 1))
    if selected.size == 0:
        return None
    depth = 4.0 * float(geometry.skin_width.max()) + 3.0
    left = float(max(0.0, geometry.edge[selected].min() - depth))
    right = float(min(geometry.width, geometry.edge[selected].max() + 2.0))
    return left, float(selected[0]), right, float(selected[-1] + 1)


def point_box(center: tuple[float, float], half: float, height: int, width: int) -> Box:
    """Return a square box around a point, clipped to the image."""
    return (
        float(max(0.0, center[1] - half)),
        float(max(0.0, center[0] - half)),
        float(min(width, center[1] + half)),
        float(min(height, center[0] + half)),
    )


def _outline_terms(shape: str, margin: str, rng: np.random.Generator) -> dict:
    if shape == "round":
        elongation = rng.uniform(0.0, 0.06)
    elif shape == "oval":
        elongation = rng.uniform(0.15, 0.32)
    else:
        elongation = rng.uniform(0.05, 0.25)

    harmonics = []
    if shape == "irregular":
        for order in range(2, 8):
            harmonics.append((order, rng.uniform(0.04, 0.16) / np.sqrt(order - 1), rng.uniform(0, 2 * np.pi)))
    if margin == "microlobulated":
        for order in rng.integers(9, 17, size=2):
            harmonics.append((int(order), rng.uniform(0.03, 0.06), rng.uniform(0, 2 * np.pi)))
    return {
        "elongation": elongation,
        "harmonics": harmonics,
        "rotation": rng.uniform(0.0, np.pi),
        "hidden_side": rng.uniform(0.0, 2 * np.pi),
    }


def _draw_spicules(
    canvas: Canvas,
    center: tuple[float, float],
    radius: float,
    amount: float,
    rng: np.random.Generator,
    box: Box | None,
) -> Box | None:
    count = int(rng.integers(8, 20))
    tips_y, tips_x = [], []
    for angle in rng.uniform(0.0, 2.0 * np.pi, size=count):
        length = radius * rng.uniform(0.6, 2.0)
        start = (center[0] + 0.8 * radius * np.sin(angle), center[1] + 0.8 * radius * np.cos(angle))
        points_y, points_x = polyline_points(start, angle, length, rng.normal(0.0, 0.25))
        taper = np.linspace(1.0, 0.15, points_y.size)
        sigmas = np.linspace(0.9, 0.5, points_y.size)
        add_points(canvas.image, points_y, points_x, sigmas, amount * 0.22 * taper)
        tips_y.append(points_y[points_y.size // 2])
        tips_x.append(points_x[points_x.size // 2])

    if box is None:
        return None
    # Boxes cover the mass and the inner half of its spicules, as readers draw them.
    xmin = min(box[0], float(np.min(tips_x)))
    ymin = min(box[1], float(np.min(tips_y)))
    xmax = max(box[2], float(np.max(tips_x)))
    ymax = max(box[3], float(np.max(tips_y)))
    return xmin, ymin, xmax, ymax
