"""PNG and PGM readers: bit depths, mini-MIAS files and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mammobench.data.readers import detect_format, read_image
from mammobench.errors import ImageReadError


def test_png_16bit_scaled_by_65535(tmp_path: Path) -> None:
    pixels = np.array([[0, 1000], [30000, 65535]], dtype=np.uint16)
    path = tmp_path / "sixteen.png"
    Image.fromarray(pixels).save(path)

    image = read_image(path)

    assert image.dtype == np.float32
    assert np.allclose(image, pixels / 65535.0)


def test_png_8bit_scaled_by_255(tmp_path: Path) -> None:
    pixels = np.array([[0, 10], [128, 250]], dtype=np.uint8)
    path = tmp_path / "eight.png"
    Image.fromarray(pixels).save(path)

    image = read_image(path)

    assert np.allclose(image, pixels / 255.0)


def test_png_gray_saved_as_rgb(tmp_path: Path) -> None:
    gray = np.array([[0, 10], [128, 250]], dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(path)

    assert np.allclose(read_image(path), gray / 255.0)


def test_png_color_raises(tmp_path: Path) -> None:
    color = np.zeros((2, 2, 3), dtype=np.uint8)
    color[0, 0] = (255, 0, 0)
    path = tmp_path / "color.png"
    Image.fromarray(color).save(path)

    with pytest.raises(ImageReadError, match="color"):
        read_image(path)


def test_png_constant_raises(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((4, 4), 7, dtype=np.uint8)).save(path)

    with pytest.raises(ImageReadError, match="blank"):
        read_image(path)


def test_png_truncated_raises(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    Image.fromarray(np.arange(4096, dtype=np.uint16).reshape(64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:60])

    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(path)


def test_pgm_16bit_maxval(tmp_path: Path) -> None:
    pixels = np.array([[0, 1000], [2000, 4095]], dtype=">u2")
    path = tmp_path / "twelve.pgm"
    path.write_bytes(b"P5\n2 2\n4095\n" + pixels.tobytes())

    image = read_image(path)

    assert np.allclose(image, pixels.astype(np.float64) / 4095.0, atol=1e-4)


def test_unknown_format_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an image")

    with pytest.raises(ImageReadError, match="unsupported image format"):
        detect_format(path)


def test_png_suffix_without_signature(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"GIF89a" + bytes(200))

    with pytest.raises(ImageReadError, match="mislabelled"):
        read_image(path)


@pytest.mark.realdata
def test_mini_mias_pgm_reads(realdata_dir: Path) -> None:
    path = realdata_dir / "mini-mias" / "mdb001.pgm"

    image = read_image(path)

    assert detect_format(path) == "pgm"
    assert image.shape == (1024, 1024)
    assert image.dtype == np.float32
    assert image.min() == 0.0
    assert 0.5 < image.max() <= 1.0
    # The breast is brighter than the film background: a dark majority, a bright minority.
    assert np.median(image) < 0.05
    assert np.percentile(image, 90) > 0.3
