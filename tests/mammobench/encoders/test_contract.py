from __future__ import annotations

import logging

import pytest
import torch

from mammobench.encoders.base import InputContract


def varied_batch() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(2, 1, 32, 24)


def test_valid_images_pass_range_check():
    assert InputContract().check_range(varied_batch()) is None


@pytest.mark.parametrize(
    ("scale", "offset", "expected"),
    [
        (255.0, 0.0, "8- or 16-bit units"),
        (1.0, -0.5, "already be normalised"),
        (1.0 / 255.0, 0.0, "scaled twice"),
    ],
    ids=["8-bit", "normalised", "scaled-twice"],
)
def test_range_check_names_cause(scale, offset, expected):
    problem = InputContract().check_range(varied_batch() * scale + offset)

    assert problem is not None
    assert expected in problem


def test_constant_batch_is_flagged():
    problem = InputContract().check_range(torch.full((2, 1, 8, 8), 0.4))

    assert problem is not None
    assert "constant" in problem


def test_nan_input_is_flagged():
    images = varied_batch()
    images[0, 0, 0, 0] = float("nan")

    assert InputContract().check_range(images) == "input images contain NaN or infinite values"


def test_prepare_warns_once(tiny_encoder, caplog):
    bad = varied_batch() * 255.0

    with caplog.at_level(logging.WARNING, logger="mammobench.encoders.base"):
        tiny_encoder.prepare(bad)
        tiny_encoder.prepare(bad)

    warnings = [r for r in caplog.records if "8- or 16-bit" in r.getMessage()]
    assert len(warnings) == 1
    assert "tiny/ok" in warnings[0].getMessage()


def test_prepare_replicates_and_normalises():
    contract = InputContract(channels=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))

    prepared = contract.prepare(torch.full((1, 1, 4, 4), 0.75))

    assert prepared.shape == (1, 3, 4, 4)
    assert torch.allclose(prepared, torch.ones_like(prepared))
