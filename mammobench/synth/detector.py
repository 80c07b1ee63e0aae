"""Detector model: blur, noise and the mapping from presentation values to stored pixel values.

"For presentation" mammograms are stored after vendor processing, in 12- to 16-bit integers
with a window that shows the breast. The mapping here keeps that shape: air near the bottom
of the range, dense tissue in the upper part, metal and burned-in labels at the top. MONOCHROME1
images store the inverted values, so they display the same after the viewer inverts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage


@dataclass(frozen=True)
class Vendor:
    """A made-up detector vendor: what it writes into DICOM headers and how it processes."""

    manufacturer: str
    model: str
    machine_id: int  # RSNA-style machine id
    site_id: int  # RSNA-style site id (1 or 2)
    gamma: float  # tone curve applied to presentation values
    voi_function: str  # VOILUTFunction written to the header
    window_count: int  # number of WindowCenter/WindowWidth pairs


# Fictional vendors, so nothing suggests the images come from a real device.
VENDORS = (
    Vendor("Synthetic Imaging Systems", "SIS Mammo 3000", 21, 1, 1.00, "LINEAR", 1),
    Vendor("Synthetic Imaging Systems", "SIS Mammo 3000 Plus", 29, 2, 0.92, "LINEAR", 1),
    Vendor("Imaginary Radiology", "IR Breast DR", 48, 1, 1.08, "SIGMOID", 1),
    Vendor("Imaginary Radiology", "IR Breast DR2", 49, 2, 1.00, "LINEAR", 2),
    Vendor("Placeholder Medical", "PM FFDM", 93, 1, 0.95, "LINEAR", 3),
    Vendor("Placeholder Medical", "PM FFDM Lite", 170, 2, 1.05, "LINEAR", 1),
)


@dataclass(frozen=True)
class StoredImage:
    """Pixel values as written to DICOM, with the display window."""

    pixels: np.ndarray  # uint16, as stored (already inverted for MONOCHROME1)
    bits_stored: int
    photometric: str  # MONOCHROME1 or MONOCHROME2
    window_centers: tuple[float, ...]
    window_widths: tuple[float, ...]
    voi_function: str


def finish_exposure(image: np.ndarray, rng: np.random.Generator, millimetre: float) -> np.ndarray:
    """Apply detector blur and quantum noise to a presentation image (copy returned)."""
    blurred = ndimage.gaussian_filter(image, 0.5)
    signal = np.clip(blurred, 0.0, None)
    quantum = rng.standard_normal(image.shape) * (0.010 * np.sqrt(signal + 0.05))
    correlated = ndimage.gaussian_filter(rng.standard_normal(image.shape), 0.8 + 0.1 * millimetre) * 0.006
    return blurred + quantum + correlated * (signal > 0.05)


def to_stored(
    image: np.ndarray,
    breast: np.ndarray,
    bits_stored: int,
    photometric: str,
    vendor: Vendor,
    rng: np.random.Generator,
    window_sample: np.ndarray | None = None,
) -> StoredImage:
    """Map presentation values to stored integers and compute the display window.

    Args:
        image: Presentation values (0 air, about 0.3 fat, 0.72 dense tissue, 1.6 metal).
        breast: Boolean breast mask, for the window.
        bits_stored: 12 to 16.
        photometric: ``MONOCHROME1`` or ``MONOCHROME2``.
        vendor: Tone curve and header conventions.
        rng: Random source for the vendor's range choices.
        window_sample: Presentation values the window is computed from, or None for the
            pixels of ``image`` inside ``breast``. The generator passes the breast before
            lesions are drawn. Otherwise bright specks in the top percentile would widen the
            window and darken the whole image, a global cue that gives the label away.
    """
    max_value = 2**bits_stored - 1
    offset = rng.uniform(0.0, 0.04) * max_value
    gain = rng.uniform(0.45, 0.75) * max_value

    def store(presentation: np.ndarray) -> np.ndarray:
        toned = np.sign(presentation) * np.abs(presentation) ** vendor.gamma
        return np.clip(np.round(offset + gain * toned), 0, max_value)

    values = store(image)
    if window_sample is not None and window_sample.size:
        tissue = store(window_sample)
    else:
        tissue = values[breast] if breast.any() else values.ravel()
    low, high = np.percentile(tissue, [0.5, 99.8])
    center = (low + high) / 2.0
    width = max((high - low) * 1.15, 16.0)
    centers = [center]
    widths = [width]
    for index in range(1, vendor.window_count):
        centers.append(center + index * 0.08 * width)
        widths.append(width * (1.0 - 0.2 * index))

    if photometric == "MONOCHROME1":
        values = max_value - values
        centers = [max_value - c for c in centers]
    return StoredImage(
        pixels=values.astype(np.uint16),
        bits_stored=bits_stored,
        photometric=photometric,
        window_centers=tuple(round(c, 1) for c in centers),
        window_widths=tuple(round(w, 1) for w in widths),
        voi_function=vendor.voi_function,
    )


def burn_in_label(image: np.ndarray, text: str, chest_wall_left: bool, rng: np.random.Generator) -> None:
    """Burn a view label such as ``"L CC"`` into the corner away from the chest wall, in place.

    The label takes the brightest value, like burned-in annotations of real exports.
    """
    height, width = image.shape
    text_height = max(8, int(height * rng.uniform(0.025, 0.04)))
    mask = _text_mask(text, text_height)
    if mask.shape[0] >= height or mask.shape[1] >= width:
        return
    top = int(height * rng.uniform(0.02, 0.08))
    margin = int(width * rng.uniform(0.03, 0.08))
    left = width - margin - mask.shape[1] if chest_wall_left else margin
    region = image[top : top + mask.shape[0], left : left + mask.shape[1]]
    image[top : top + mask.shape[0], left : left + mask.shape[1]] = np.maximum(region, 1.8 * mask)


def _text_mask(text: str, text_height: int) -> np.ndarray:
    """Render ``text`` with Pillow's built-in font into a float mask about ``text_height`` tall."""
    font = ImageFont.load_default(size=text_height)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(canvas).text((1 - left, 1 - top), text, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float64) / 255.0
