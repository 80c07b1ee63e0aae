"""Random fields that make up breast tissue: power-law noise, radial streaks and line networks.

Normal mammographic backgrounds have roughly isotropic power spectra ``K / f**beta`` with
``beta`` from 1.5 to 3.5, about 2.8 on average (Burgess, Proc. SPIE 5034, 2003), so the
fibroglandular pattern is built from power-law noise. Ducts and Cooper's ligaments are thin
bright lines. They are drawn as the zero level set of smooth random fields, which forms a
network of curved lines.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


# (radius, angle) resolution of the grid that radial_field samples from.
_POLAR_GRID = (256, 1024)


def power_law_noise(shape: tuple[int, int], beta: float, rng: np.random.Generator) -> np.ndarray:
    """Return zero-mean, unit-variance noise with power spectrum ``1 / f**beta``.

    Args:
        shape: Output (height, width).
        beta: Spectral exponent; larger values give smoother, blobbier fields.
        rng: Random source.
    """
    height, width = shape
    white = rng.standard_normal(shape)
    spectrum = np.fft.rfft2(white)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(fx**2 + fy**2)
    frequency[0, 0] = 1.0  # the mean is removed below, so its weight does not matter
    spectrum *= frequency ** (-beta / 2.0)
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=shape)
    return _standardize(field)


def smooth_noise(
    shape: tuple[int, int],
    sigma: float | tuple[float, float],
    rng: np.random.Generator,
    angle: float = 0.0,
) -> np.ndarray:
    """Return zero-mean, unit-variance Gaussian-smoothed white noise.

    Smoothing is done in the Fourier domain (periodic boundaries), which costs the same for any
    sigma.

    Args:
        shape: Output (height, width).
        sigma: Gaussian sigma in pixels, or (sigma along ``angle``, sigma across it).
        rng: Random source.
        angle: Direction of the first sigma in radians, measured from the x axis toward +y.
    """
    along, across = (sigma, sigma) if np.isscalar(sigma) else sigma
    height, width = shape
    spectrum = np.fft.rfft2(rng.standard_normal(shape))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f_along = fx * np.cos(angle) + fy * np.sin(angle)
    f_across = -fx * np.sin(angle) + fy * np.cos(angle)
    spectrum *= np.exp(-2.0 * np.pi**2 * ((along * f_along) ** 2 + (across * f_across) ** 2))
    return _standardize(np.fft.irfft2(spectrum, s=shape))


def line_network(field: np.ndarray, width: float) -> np.ndarray:
    """Return thin bright lines along the zero level set of a smooth field, peak value 1.

    Dividing by the gradient magnitude makes ``width`` a width in pixels, so lines keep their
    thickness where the field is steep or flat.
    """
    gradient_y, gradient_x = np.gradient(field)
    slope = np.sqrt(gradient_x**2 + gradient_y**2) + 1e-6
    distance = np.abs(field) / slope
    return np.exp(-((distance / width) ** 2))


def radial_field(
    shape: tuple[int, int],
    center: tuple[float, float],
    rng: np.random.Generator,
    radial_sigma: float,
    angular_sigma: float,
    tilt: float = 0.0,
) -> np.ndarray:
    """Return smooth noise stretched along rays from ``center``, so patterns converge there.

    Ducts and fibrous strands run from the chest wall toward the nipple. Noise is made on a
    (radius, angle) grid with a long correlation along the radius and sampled back at each
    pixel's polar coordinates. The grid has a fixed resolution, so the cost does not grow with
    the image size.

    Args:
        shape: Output (height, width).
        center: (y, x) of the point the rays meet, usually the nipple.
        rng: Random source.
        radial_sigma: Correlation length along rays, in image pixels.
        angular_sigma: Correlation length across rays, in radians.
        tilt: Rotation in radians added to every angle, so two fields differ in orientation.
    """
    height, width = shape
    diagonal = float(np.hypot(height, width))
    radius_steps, angle_steps = _POLAR_GRID
    radius_scale = radius_steps / diagonal
    radial_grid_sigma = radial_sigma * radius_scale
    # Pad the radius axis so the periodic smoothing does not join the largest and smallest radii.
    pad = int(3 * radial_grid_sigma) + 2
    grid = smooth_noise(
        (angle_steps, radius_steps + 2 + pad),
        (radial_grid_sigma, angular_sigma / (2 * np.pi) * angle_steps),
        rng,
    )
    grid = grid[:, : radius_steps + 2].T
    grid = np.concatenate([grid, grid[:, :1]], axis=1)  # repeat angle 0 after 2 pi, for interpolation

    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    dy = rows + 0.5 - center[0]
    dx = columns + 0.5 - center[1]
    radius = np.sqrt(dx**2 + dy**2) * radius_scale
    angle = (np.arctan2(dy, dx) + tilt) % (2 * np.pi)
    angle_index = angle / (2 * np.pi) * angle_steps
    sampled = ndimage.map_coordinates(grid, [radius, angle_index], order=1, mode="nearest")
    return sampled.astype(np.float64)


def soft_threshold_fraction(
    field: np.ndarray, region: np.ndarray, fraction: float, softness: float
) -> np.ndarray:
    """Map ``field`` to [0, 1] so that about ``fraction`` of ``region`` is above one half.

    The threshold is the ``1 - fraction`` quantile of the field inside the region, and a logistic
    of width ``softness`` (in units of the field's spread) blurs the boundary, giving the cloudy
    edges of fibroglandular tissue.
    """
    values = field[region]
    if values.size == 0:
        return np.zeros_like(field)
    fraction = float(np.clip(fraction, 0.001, 0.999))
    threshold = np.quantile(values, 1.0 - fraction)
    spread = np.std(values) + 1e-9
    return 1.0 / (1.0 + np.exp(-(field - threshold) / (softness * spread)))


def _standardize(field: np.ndarray) -> np.ndarray:
    field = field - field.mean()
    return field / (field.std() + 1e-12)
