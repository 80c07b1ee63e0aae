"""PNG and PGM readers (Mammo-CLIP preprocessed PNGs, mini-MIAS PGMs).

Values are divided by the maximum of the stored bit depth (255 for 8-bit, 65535 for 16-bit),
so an image keeps the contrast it was saved with. Pillow already scales a PGM whose maxval is
not 255 or 65535 onto the full 8- or 16-bit range. Both formats store bright = dense tissue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mammobench.errors import ImageReadError

# Pillow mode -> the largest value of its bit depth.
_GRAY_MODES = {"L": 255.0, "I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0}
_COLOR_MODES = ("RGB", "RGBA", "LA")


def read_png(path: str | Path) -> np.ndarray:
    """Read an 8- or 16-bit grayscale PNG as float32 in [0, 1].

    An RGB(A) PNG is accepted when its three color channels are identical (grayscale saved as
    color); the alpha channel is ignored.

    Raises:
        ImageReadError: the file is not a decodable grayscale PNG, or is constant.
    """
    return _read_with_pillow(Path(path), "PNG")


def read_pgm(path: str | Path) -> np.ndarray:
    """Read an 8- or 16-bit PGM (binary P5 or ASCII P2) as float32 in [0, 1].

    Raises:
        ImageReadError: the file is not a decodable PGM, or is constant.
    """
    return _read_with_pillow(Path(path), "PPM")


def _read_with_pillow(path: Path, expected_format: str) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            image_format, mode = image.format, image.mode
            pixels = np.asarray(image)
    except FileNotFoundError:
        raise ImageReadError(
            path, "file not found; check the data root and the manifest path"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        detail = str(error).replace(f" '{path}'", "")
        raise ImageReadError(
            path, f"could not be decoded ({detail}); the file is truncated or corrupt"
        ) from None

    if image_format != expected_format:
        raise ImageReadError(path, f"Pillow read it as {image_format}; expected {expected_format}")

    if mode in _COLOR_MODES:
        pixels, mode = _gray_from_color(pixels, mode, path)
    if mode not in _GRAY_MODES:
        raise ImageReadError(
            path, f"image mode '{mode}' is not supported; expected 8- or 16-bit grayscale"
        )

    values = pixels.astype(np.float32) / np.float32(_GRAY_MODES[mode])
    if values.ndim != 2:
        raise ImageReadError(path, f"decoded array has shape {values.shape}; expected 2-D")
    low, high = float(values.min()), float(values.max())
    if high <= low:
        raise ImageReadError(path, f"every pixel has the value {low:.4g}; the image is blank")
    if high > 1.0:
        raise ImageReadError(
            path, f"values reach {high:.4g} of the bit depth's maximum; expected <= 1"
        )
    return np.ascontiguousarray(values)


def _gray_from_color(pixels: np.ndarray, mode: str, path: Path) -> tuple[np.ndarray, str]:
    if mode == "LA":
        return pixels[..., 0], "L"
    color = pixels[..., :3]
    if not (
        np.array_equal(color[..., 0], color[..., 1])
        and np.array_equal(color[..., 0], color[..., 2])
    ):
        raise ImageReadError(path, f"is a color ({mode}) image; expected a grayscale mammogram")
    return color[..., 0], "L"
