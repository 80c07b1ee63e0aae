"""Preprocessing: profiles, chest-wall side decisions and blanking of labels beside the breast."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mammobench.data.preprocess import PREPROCESS_VERSION, preprocess
from mammobench.data.profiles import PROFILES
from mammobench.errors import ConfigError


def synthetic_breast(height: int = 600, width: int = 400, chest_wall: str = "left") -> np.ndarray:
    """A half-ellipse breast against the chest wall, brighter towards the chest wall."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0.0, 0.02, size=(height, width)).astype(np.float32)
    rows, columns = np.mgrid[0:height, 0:width]
    distance = columns if chest_wall == "left" else width - 1 - columns
    inside = ((distance / (0.6 * width)) ** 2 + ((rows - height / 2) / (0.4 * height)) ** 2) <= 1.0
    image[inside] = 0.8 - 0.4 * distance[inside] / width
    return image


def centred_blob(height: int = 600, width: int = 400) -> np.ndarray:
    """A full ellipse in the middle: no side of it looks like a chest wall."""
    image = np.zeros((height, width), dtype=np.float32)
    rows, columns = np.mgrid[0:height, 0:width]
    inside = (((columns - width / 2) / (0.3 * width)) ** 2 + ((rows - height / 2) / (0.3 * height)) ** 2) <= 1.0
    image[inside] = 0.6
    return image


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_output_matches_profile(profile: str) -> None:
    processed, transform = preprocess(synthetic_breast(), "L", profile)
    assert processed.shape == PROFILES[profile].size
    assert processed.dtype == np.float32
    assert processed.min() >= 0.0
    assert processed.max() <= 1.0
    assert transform.output_size == PROFILES[profile].size


def test_left_breast_stays_unflipped() -> None:
    processed, transform = preprocess(synthetic_breast(), "L", "tiny")
    assert not transform.flip
    assert processed[:, :40].mean() > processed[:, -40:].mean()


def test_canonical_right_flips_left_breast() -> None:
    processed, transform = preprocess(synthetic_breast(), "L", "tiny", canonical_side="right")
    assert transform.flip
    assert processed[:, -40:].mean() > processed[:, :40].mean()


def test_image_overrules_laterality(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mammobench.data.preprocess"):
        _, transform = preprocess(synthetic_breast(chest_wall="right"), "L", "tiny", name="case-7")
    assert transform.flip
    assert "case-7: laterality L puts the chest wall on the left" in caplog.text


def test_laterality_decides_ambiguous_image() -> None:
    _, right = preprocess(centred_blob(), "R", "tiny")
    _, left = preprocess(centred_blob(), "L", "tiny")
    assert right.flip
    assert not left.flip


def test_unknown_laterality_uses_image() -> None:
    _, transform = preprocess(synthetic_breast(chest_wall="right"), None, "tiny")
    assert transform.flip


def test_nan_laterality_counts_as_unknown() -> None:
    _, transform = preprocess(synthetic_breast(chest_wall="right"), float("nan"), "tiny")
    assert transform.flip


def test_label_beside_breast_blanked() -> None:
    image = synthetic_breast()
    image[65:85, 200:230] = 1.0  # inside the breast's bounding box, far from the breast
    processed, transform = preprocess(image, "L", "medium")

    box = transform.forward(np.array([[200.0, 65.0, 230.0, 85.0]]))[0]
    x0, y0, x1, y1 = (int(v) for v in np.round(box))
    assert processed[y0:y1, x0:x1].max() < 0.05


def test_breast_pixels_kept_at_edges() -> None:
    image = synthetic_breast()
    processed, transform = preprocess(image, "L", "medium")
    # The breast's outermost point at (239, 300) is tissue in the source and in the output.
    box = transform.forward(np.array([[236.0, 298.0, 238.0, 302.0]]))[0]
    x0, y0, x1, y1 = (int(v) for v in np.round(box))
    assert processed[y0:y1, x0:x1].min() > 0.3


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ConfigError, match="unknown resolution profile 'huge'"):
        preprocess(synthetic_breast(), "L", "huge")
    with pytest.raises(ConfigError, match="canonical side 'up'"):
        preprocess(synthetic_breast(), "L", "tiny", canonical_side="up")
    with pytest.raises(ValueError, match="NaN"):
        preprocess(np.full((10, 10), np.nan, dtype=np.float32), "L", "tiny")
    with pytest.raises(ValueError, match="2-D"):
        preprocess(np.zeros((2, 10, 10), dtype=np.float32), "L", "tiny")


def test_preprocess_version_is_integer() -> None:
    assert isinstance(PREPROCESS_VERSION, int)
    assert PREPROCESS_VERSION >= 1
