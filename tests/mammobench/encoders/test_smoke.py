from __future__ import annotations

import torch

from mammobench.encoders.smoke import run_checks, synthetic_images


def results_by_name(results):
    return {result.name: result for result in results}


def test_tiny_encoder_passes_every_check(tiny_encoder):
    results = run_checks(tiny_encoder, size=(64, 48))

    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert failed == []
    assert "dense: shapes match feature_info" in results_by_name(results)


def test_constant_output_fails_response_check(tiny_encoders):
    encoder = tiny_encoders.ConstantEncoder()

    results = results_by_name(run_checks(encoder, size=(64, 48)))

    assert not results["global: responds to input"].passed
    assert "scaled or normalised twice" in results["global: responds to input"].detail
    assert not results["global: distinguishes images"].passed
    assert results["global: shape and dtype"].passed


def test_nan_output_fails_finite_check(tiny_encoder):
    with torch.no_grad():
        tiny_encoder.network[2].bias.fill_(float("nan"))

    results = results_by_name(run_checks(tiny_encoder, size=(64, 48)))

    assert not results["global: finite values"].passed
    assert not results["dense: finite and deterministic"].passed


def test_dropout_in_train_mode_is_caught(tiny_encoder):
    tiny_encoder.network.append(torch.nn.Dropout(0.5))
    tiny_encoder.network.train()
    original = tiny_encoder.encode_image

    def noisy(inputs):
        tiny_encoder.network.train()
        return original(inputs)

    tiny_encoder.encode_image = noisy

    results = results_by_name(run_checks(tiny_encoder, size=(64, 48)))

    assert not results["global: deterministic in eval mode"].passed


def test_crash_fails_only_that_check(tiny_encoder):
    def crash(inputs):
        raise RuntimeError("shape mismatch in layer 3")

    tiny_encoder.forward_features = crash

    results = results_by_name(run_checks(tiny_encoder, size=(64, 48)))

    assert (
        results["dense: shapes match feature_info"].detail
        == "RuntimeError: shape mismatch in layer 3"
    )
    assert results["global: shape and dtype"].passed


def test_synthetic_images_differ_and_fit_range():
    images = synthetic_images(3, 32, 16, seed=1)

    assert images.shape == (3, 1, 32, 16)
    assert float(images.min()) >= 0.0
    assert float(images.max()) <= 1.0
    assert not torch.equal(images[0], images[1])
