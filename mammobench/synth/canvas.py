"""The image being drawn, in presentation units, and helpers for drawing into part of it.

Presentation units: 0 is air, about 0.3 fat, about 0.72 fibroglandular tissue, higher values
are denser; calcifications and metal reach 1 and more. The detector model maps these values
to stored pixel values at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mammobench.synth.anatomy import ViewGeometry

FAT_LEVEL = 0.30
GLAND_LEVEL = 0.72

# How much denser a mass is than fibroglandular tissue, in presentation units, at contrast 1.
MASS_EXCESS = 0.25

# Fraction of the compressed thickness that a mass occupies along the X-ray path.
MASS_PATH_FRACTION = 0.7

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in canonical pixels


@dataclass
class Canvas:
    """One view being drawn, with the tissue maps lesions need."""

    image: np.ndarray  # presentation values
    gland: np.ndarray  # fibroglandular fraction in [0, 1]
    geometry: ViewGeometry
    contrast: float  # lesion contrast multiplier from the config

    def tissue_contrast(self, y: float, x: float) -> float:
        """Return how much a mass at (y, x) adds to the image, at contrast 1 and full profile.

        A mass replaces the tissue it displaces. Where that tissue is fat it adds the full
        fat-to-mass difference, where it is glandular only the small excess, which is why
        dense breasts hide masses.
        """
        row, column = self.clip_point(y, x)
        gland = float(self.gland[row, column])
        thickness = float(self.geometry.thickness[row, column])
        fat_part = (GLAND_LEVEL - FAT_LEVEL + MASS_EXCESS) * (1.0 - gland)
        gland_part = MASS_EXCESS * gland
        return MASS_PATH_FRACTION * (fat_part + gland_part) * max(thickness, 0.3)

    def clip_point(self, y: float, x: float) -> tuple[int, int]:
        height, width = self.image.shape
        return int(np.clip(y, 0, height - 1)), int(np.clip(x, 0, width - 1))

    def window(self, y: float, x: float, half: float) -> Window:
        """Return the part of the image within ``half`` pixels of (y, x), clipped to the image."""
        height, width = self.image.shape
        top = int(max(0, np.floor(y - half)))
        bottom = int(min(height, np.ceil(y + half) + 1))
        left = int(max(0, np.floor(x - half)))
        right = int(min(width, np.ceil(x + half) + 1))
        rows = np.arange(top, bottom) + 0.5 - y
        columns = np.arange(left, right) + 0.5 - x
        return Window(
            rows=slice(top, bottom),
            columns=slice(left, right),
            dy=np.broadcast_to(rows[:, None], (rows.size, columns.size)),
            dx=np.broadcast_to(columns[None, :], (rows.size, columns.size)),
        )


@dataclass
class Window:
    """A rectangular part of the canvas with pixel-centre offsets from a lesion centre."""

    rows: slice
    columns: slice
    dy: np.ndarray
    dx: np.ndarray

    @property
    def radius(self) -> np.ndarray:
        return np.sqrt(self.dx**2 + self.dy**2)

    @property
    def angle(self) -> np.ndarray:
        return np.arctan2(self.dy, self.dx)

    def box_of(self, weights: np.ndarray, threshold: float) -> Box | None:
        """Return the box around pixels whose weight reaches ``threshold``, in image pixels."""
        rows, columns = np.nonzero(weights >= threshold)
        if rows.size == 0:
            return None
        top = self.rows.start + rows.min()
        bottom = self.rows.start + rows.max() + 1
        left = self.columns.start + columns.min()
        right = self.columns.start + columns.max() + 1
        return float(left), float(top), float(right), float(bottom)


def add_points(
    image: np.ndarray,
    points_y: np.ndarray,
    points_x: np.ndarray,
    sigmas: np.ndarray,
    amplitudes: np.ndarray,
) -> None:
    """Add a small Gaussian spot at each point, in place, with sub-pixel centres.

    Used for calcification specks, spicules and vessel walls. Spots are cut at three sigma.
    """
    if points_y.size == 0:
        return
    height, width = image.shape
    reach = int(np.ceil(3.0 * float(sigmas.max()))) + 1
    offsets = np.arange(-reach, reach + 1)
    base_y = np.floor(points_y).astype(int)
    base_x = np.floor(points_x).astype(int)
    rows = base_y[:, None, None] + offsets[None, :, None]
    columns = base_x[:, None, None] + offsets[None, None, :]
    distance_y = rows + 0.5 - points_y[:, None, None]
    distance_x = columns + 0.5 - points_x[:, None, None]
    values = amplitudes[:, None, None] * np.exp(
        -(distance_y**2 + distance_x**2) / (2.0 * sigmas[:, None, None] ** 2)
    )
    rows, columns = np.broadcast_arrays(rows, columns)
    inside = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
    np.add.at(image, (rows[inside], columns[inside]), values[inside])


def polyline_points(
    start: tuple[float, float], angle: float, length: float, curvature: float, step: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Return points every ``step`` pixels along a gently curved line from ``start``.

    ``curvature`` is the change of direction in radians over the whole length.
    """
    count = max(2, int(length / step))
    distance = np.linspace(0.0, length, count)
    direction = angle + curvature * distance / max(length, 1e-6)
    dy = np.sin(direction) * step
    dx = np.cos(direction) * step
    points_y = start[0] + np.concatenate([[0.0], np.cumsum(dy[1:])])
    points_x = start[1] + np.concatenate([[0.0], np.cumsum(dx[1:])])
    return points_y, points_x
