from __future__ import annotations

import json
from pathlib import Path

import pytest

from mammobench.errors import ConfigError
from mammobench.synth import GENERATOR_VERSION, SynthConfig, parse_size, write_synthetic_marker


def test_parse_size() -> None:
    assert parse_size("640x384") == (640, 384)
    assert parse_size(" 256 X 160 ") == (256, 160)


@pytest.mark.parametrize("text", ["640", "640x", "axb", "640x384x2"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="expected HEIGHTxWIDTH"):
        parse_size(text)


def test_layout_defaults_differ() -> None:
    vindr = SynthConfig.for_layout("vindr")
    rsna = SynthConfig.for_layout("rsna", patients=5)
    assert rsna.cancer_prevalence == 0.02
    assert vindr.finding_rates.mass > rsna.finding_rates.mass
    assert rsna.patients == 5


def test_unknown_layout_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown synthetic layout 'inbreast'"):
        SynthConfig.for_layout("inbreast")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"size": (40, 30)}, "too small"),
        ({"size": (300, 400)}, "landscape"),
        ({"bits_stored": (8,)}, "bits_stored"),
        ({"encoding_weights": {"rle": 0.0}}, "positive sum"),
    ],
)
def test_invalid_settings_rejected(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SynthConfig.for_layout("vindr", **overrides)


def test_unknown_field_rejected() -> None:
    with pytest.raises(ConfigError, match="lesion_contrasts"):
        SynthConfig.for_layout("vindr", lesion_contrasts=2.0)


def test_marker_records_config(tmp_path: Path) -> None:
    config = SynthConfig(patients=2, seed=5)
    path = write_synthetic_marker(tmp_path, "vindr", config)
    marker = json.loads(path.read_text())
    assert marker["synthetic"] is True
    assert marker["generator_version"] == GENERATOR_VERSION
    assert marker["config"]["seed"] == 5
    assert SynthConfig(**marker["config"]) == config
