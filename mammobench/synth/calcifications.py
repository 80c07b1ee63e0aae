"""Drawing of calcifications: suspicious clusters and typically benign forms.

Calcium attenuates far more than soft tissue, so calcifications are drawn as small bright
specks added on top of whatever tissue they lie in. Specks are one to three pixels wide at the
default size. Clusters carry enough of them to still brighten their area after the image is
downscaled for a small model.
"""

from __future__ import annotations

import numpy as np

from mammobench.synth.canvas import Box, Canvas, add_points, polyline_points

# Peak brightness of a typical speck at contrast 1, in presentation units.
SPECK_LEVEL = 1.0

# Speck count range, sigma range (pixels) and relative brightness range per morphology.
_SPECKS = {
    "amorphous": ((35, 70), (0.55, 0.9), (0.45, 0.7)),
    "fine pleomorphic": ((30, 60), (0.55, 1.2), (0.6, 1.0)),
    "fine linear branching": ((14, 26), (0.65, 0.8), (0.6, 0.9)),  # count is segments
    "coarse heterogeneous": ((18, 35), (0.8, 1.5), (0.7, 1.1)),
    "round": ((8, 22), (0.8, 1.3), (0.6, 0.9)),
}


def draw_cluster(
    canvas: Canvas,
    center: tuple[float, float],
    extent: float,
    morphology: str,
    distribution: str,
    shape_rng: np.random.Generator,
    view_rng: np.random.Generator,
    strength: float = 1.0,
) -> Box | None:
    """Draw a cluster of calcifications and return the box around it.

    Args:
        canvas: The view to draw into.
        center: (y, x) of the cluster centre in canonical pixels.
        extent: Largest dimension of the cluster in pixels.
        morphology: A suspicious morphology (amorphous, fine pleomorphic, fine linear
            branching, coarse heterogeneous) or ``round`` for punctate specks.
        distribution: ``grouped``, ``linear``, ``segmental`` or ``regional``.
        shape_rng: Generator seeded per lesion (count and orientation shared by both views).
        view_rng: Generator for speck positions in this view.
        strength: Extra factor on the speck brightness.
    """
    (low, high), (sigma_low, sigma_high), (bright_low, bright_high) = _SPECKS[morphology]
    count = int(shape_rng.integers(low, high + 1))
    toward_nipple = _angle_to_nipple(canvas, center) + shape_rng.normal(0.0, 0.3)
    offsets_y, offsets_x = _positions(distribution, count, extent, toward_nipple, view_rng)

    if morphology == "fine linear branching":
        points_y, points_x, sigmas, brightness = _segments(offsets_y, offsets_x, toward_nipple, view_rng)
    else:
        points_y, points_x = offsets_y, offsets_x
        sigmas = view_rng.uniform(sigma_low, sigma_high, size=count)
        brightness = view_rng.uniform(bright_low, bright_high, size=count)
        if morphology == "fine pleomorphic":
            points_y, points_x, sigmas, brightness = _elongate_some(points_y, points_x, sigmas, brightness, view_rng)

    points_y = points_y + center[0]
    points_x = points_x + center[1]
    inside = _inside_breast(canvas, points_y, points_x)
    points_y, points_x, sigmas, brightness = points_y[inside], points_x[inside], sigmas[inside], brightness[inside]
    if points_y.size == 0:
        return None

    amplitude = canvas.contrast * strength * SPECK_LEVEL * brightness * _thickness_at(canvas, points_y, points_x)
    add_points(canvas.image, points_y, points_x, sigmas, amplitude)

    pad = 2.0 * float(sigmas.max()) + 1.5
    return (
        float(points_x.min() - pad),
        float(points_y.min() - pad),
        float(points_x.max() + pad),
        float(points_y.max() + pad),
    )


def draw_benign_calcifications(
    canvas: Canvas,
    center: tuple[float, float],
    size: float,
    morphology: str,
    view_rng: np.random.Generator,
) -> None:
    """Draw typically benign calcifications: round, coarse, popcorn, vascular or rim."""
    if morphology == "round":
        spread = max(size, 0.25 * canvas.geometry.nipple[1])
        draw_cluster(canvas, center, spread, "round", "regional", view_rng, view_rng)
    elif morphology == "coarse":
        count = int(view_rng.integers(1, 4))
        points_y = center[0] + view_rng.normal(0.0, size / 3, size=count)
        points_x = center[1] + view_rng.normal(0.0, size / 3, size=count)
        _add_bright(canvas, points_y, points_x, view_rng.uniform(1.2, 2.2, size=count), 2.0)
    elif morphology == "popcorn":
        count = int(view_rng.integers(6, 14))
        points_y = center[0] + view_rng.normal(0.0, size / 5, size=count)
        points_x = center[1] + view_rng.normal(0.0, size / 5, size=count)
        _add_bright(canvas, points_y, points_x, view_rng.uniform(0.9, 1.6, size=count), 1.8)
    elif morphology == "rim":
        radius = max(2.5, size / 2)
        angles = np.linspace(0.0, 2.0 * np.pi, int(6 * radius), endpoint=False)
        wobble = 1.0 + 0.12 * np.sin(3 * angles + view_rng.uniform(0, 2 * np.pi))
        points_y = center[0] + radius * wobble * np.sin(angles)
        points_x = center[1] + radius * wobble * np.cos(angles)
        brightness = view_rng.uniform(0.15, 0.45, size=angles.size)
        _add_bright(canvas, points_y, points_x, brightness, 0.8)
    elif morphology == "vascular":
        _draw_vascular(canvas, center, size, view_rng)
    else:
        raise ValueError(f"morphology '{morphology}' is not a benign calcification form")


def _positions(
    distribution: str, count: int, extent: float, direction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return speck offsets from the cluster centre for one distribution."""
    half = extent / 2.0
    if distribution == "linear":
        along = rng.uniform(-half, half, size=count)
        across = rng.normal(0.0, 0.6, size=count) + 0.15 * half * np.sin(along / max(half, 1.0) * 2.0)
    elif distribution == "segmental":
        along = rng.uniform(-half, half, size=count)
        width = 0.15 + 0.55 * (along + half) / (2.0 * half)  # the wedge opens away from the nipple
        across = rng.uniform(-1.0, 1.0, size=count) * width * half
        along = -along
    elif distribution == "regional":
        radius = half * np.sqrt(rng.uniform(0.0, 1.0, size=count))
        angle = rng.uniform(0.0, 2.0 * np.pi, size=count)
        along, across = radius * np.cos(angle), 0.7 * radius * np.sin(angle)
    else:  # grouped
        radius = half * np.sqrt(rng.uniform(0.0, 1.0, size=count)) ** 1.3
        angle = rng.uniform(0.0, 2.0 * np.pi, size=count)
        along, across = radius * np.cos(angle), 0.8 * radius * np.sin(angle)
    offsets_y = along * np.sin(direction) + across * np.cos(direction)
    offsets_x = along * np.cos(direction) - across * np.sin(direction)
    return offsets_y, offsets_x


def _segments(
    starts_y: np.ndarray, starts_x: np.ndarray, direction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn segment start points into short thin lines roughly along ``direction``."""
    all_y, all_x = [], []
    for start_y, start_x in zip(starts_y, starts_x):
        angle = direction + rng.normal(0.0, 0.5)
        length = rng.uniform(2.0, 6.0)
        points_y, points_x = polyline_points((start_y, start_x), angle, length, rng.normal(0.0, 0.4))
        all_y.append(points_y)
        all_x.append(points_x)
    points_y = np.concatenate(all_y)
    points_x = np.concatenate(all_x)
    sigmas = np.full(points_y.size, 0.8)
    brightness = rng.uniform(0.35, 0.55, size=points_y.size)
    return points_y, points_x, sigmas, brightness


def _elongate_some(
    points_y: np.ndarray,
    points_x: np.ndarray,
    sigmas: np.ndarray,
    brightness: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Add a neighbouring speck to a third of the specks, giving irregular, varied shapes."""
    chosen = rng.random(points_y.size) < 0.35
    angle = rng.uniform(0.0, 2.0 * np.pi, size=int(chosen.sum()))
    step = sigmas[chosen] * 1.4
    extra_y = points_y[chosen] + step * np.sin(angle)
    extra_x = points_x[chosen] + step * np.cos(angle)
    return (
        np.concatenate([points_y, extra_y]),
        np.concatenate([points_x, extra_x]),
        np.concatenate([sigmas, sigmas[chosen] * 0.8]),
        np.concatenate([brightness, brightness[chosen] * 0.8]),
    )


def _draw_vascular(canvas: Canvas, center: tuple[float, float], size: float, rng: np.random.Generator) -> None:
    """Draw dashed parallel lines along a vessel (tram-track vascular calcification)."""
    length = max(size, 20.0)
    angle = _angle_to_nipple(canvas, center) + rng.normal(0.0, 0.4)
    start = (center[0] - 0.5 * length * np.sin(angle), center[1] - 0.5 * length * np.cos(angle))
    points_y, points_x = polyline_points(start, angle, length, rng.normal(0.0, 0.6))
    dashes = (np.sin(np.arange(points_y.size) / rng.uniform(2.0, 4.0)) > -0.2).astype(float)
    gap = rng.uniform(1.0, 1.6)
    normal = angle + np.pi / 2
    for side in (-1.0, 1.0):
        wall_y = points_y + side * gap * np.sin(normal)
        wall_x = points_x + side * gap * np.cos(normal)
        keep = (dashes > 0) & _inside_breast(canvas, wall_y, wall_x)
        amplitude = canvas.contrast * SPECK_LEVEL * 0.45 * np.ones(int(keep.sum()))
        add_points(canvas.image, wall_y[keep], wall_x[keep], np.full(int(keep.sum()), 0.55), amplitude)


def _add_bright(
    canvas: Canvas, points_y: np.ndarray, points_x: np.ndarray, brightness: np.ndarray, sigma: float
) -> None:
    inside = _inside_breast(canvas, points_y, points_x)
    if not inside.any():
        return
    sigmas = np.full(int(inside.sum()), sigma)
    amplitude = canvas.contrast * SPECK_LEVEL * brightness[inside]
    add_points(canvas.image, points_y[inside], points_x[inside], sigmas, amplitude)


def _angle_to_nipple(canvas: Canvas, center: tuple[float, float]) -> float:
    nipple_y, nipple_x = canvas.geometry.nipple
    return float(np.arctan2(nipple_y - center[0], nipple_x - center[1]))


def _inside_breast(canvas: Canvas, points_y: np.ndarray, points_x: np.ndarray) -> np.ndarray:
    height, width = canvas.image.shape
    rows = np.clip(points_y.astype(int), 0, height - 1)
    columns = np.clip(points_x.astype(int), 0, width - 1)
    within = (points_y >= 0) & (points_y < height) & (points_x >= 0) & (points_x < width)
    return within & (canvas.geometry.skin_distance[rows, columns] > 1.5)


def _thickness_at(canvas: Canvas, points_y: np.ndarray, points_x: np.ndarray) -> np.ndarray:
    height, width = canvas.image.shape
    rows = np.clip(points_y.astype(int), 0, height - 1)
    columns = np.clip(points_x.astype(int), 0, width - 1)
    return 0.6 + 0.4 * canvas.geometry.thickness[rows, columns]
