"""Smoke test of an encoder on synthetic images: shapes, dtype, finite values, determinism and
whether the output responds to the input at all.

``mammobench check <encoder>`` runs :func:`run_checks` and prints the results as a table. Each
check runs on its own: an exception fails that check and the others still run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mammobench.data.profiles import DEFAULT_PROFILE, get_profile
from mammobench.encoders.base import Encoder
from mammobench.specs import Capability

# Outputs of repeated eval-mode passes on the same input must agree this closely.
_DETERMINISM_TOLERANCE = 1e-4

# Relative difference below which two outputs count as the same: an encoder whose output for a
# constant image equals its output for a textured one ignores its input.
_SAME_OUTPUT_TOLERANCE = 1e-6

_PROMPTS = ("a mammogram with a spiculated mass", "a mammogram with no findings")


@dataclass(frozen=True)
class CheckResult:
    """One smoke-test check: its name, whether it passed, and what was observed."""

    name: str
    passed: bool
    detail: str


def run_checks(
    encoder: Encoder, *, size: tuple[int, int] | None = None, batch_size: int = 2, seed: int = 0
) -> list[CheckResult]:
    """Run every check that applies to the encoder's capabilities.

    Args:
        encoder: A built encoder; it is put in eval mode.
        size: Image ``(height, width)``; the contract's size, else the default profile's.
        batch_size: Images per synthetic batch (at least 2, so images can be compared).
        seed: Seed of the synthetic images.

    Returns:
        The results in the order they ran.
    """
    encoder.eval()
    height, width = size or encoder.contract.size or get_profile(DEFAULT_PROFILE).size
    device = next(encoder.parameters(), torch.empty(0)).device
    images = synthetic_images(max(batch_size, 2), height, width, seed=seed).to(device)
    checks = _Checks(encoder, images)

    steps: list[tuple[str, Callable[[], str]]] = [
        ("input contract", checks.input_contract),
        ("backbone", checks.backbone),
    ]
    if Capability.GLOBAL in encoder.capabilities:
        steps += [
            ("global: shape and dtype", checks.global_shape),
            ("global: finite values", checks.global_finite),
            ("global: deterministic in eval mode", checks.global_deterministic),
            ("global: responds to input", checks.global_responds),
            ("global: distinguishes images", checks.global_distinguishes),
        ]
    if Capability.DENSE in encoder.capabilities:
        steps += [
            ("dense: shapes match feature_info", checks.dense_shapes),
            ("dense: finite and deterministic", checks.dense_finite_deterministic),
        ]
    if Capability.TEXT in encoder.capabilities:
        steps += [("text: normalised joint embeddings", checks.text_embeddings)]

    results: list[CheckResult] = []
    for name, step in steps:
        try:
            detail = step()
        except _CheckFailed as failure:
            results.append(CheckResult(name, False, str(failure)))
        except Exception as error:  # a crash in the encoder fails this check, not the run
            results.append(CheckResult(name, False, f"{type(error).__name__}: {error}"))
        else:
            results.append(CheckResult(name, True, detail))
    return results


def synthetic_images(count: int, height: int, width: int, *, seed: int = 0) -> torch.Tensor:
    """Return ``(count, 1, height, width)`` smooth random images in ``[0, 1]``, different per image."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 1, max(height // 16, 2), max(width // 16, 2), generator=generator)
    smooth = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    fine = torch.rand(count, 1, height, width, generator=generator)
    images = 0.8 * smooth + 0.2 * fine
    return images.clamp(0.0, 1.0)


class _CheckFailed(Exception):
    pass


class _Checks:
    def __init__(self, encoder: Encoder, images: torch.Tensor) -> None:
        self.encoder = encoder
        self.images = images

    def input_contract(self) -> str:
        problem = self.encoder.contract.check_range(self.images)
        if problem is not None:
            raise _CheckFailed(f"the contract rejects valid [0, 1] images: {problem}")
        flagged = self.encoder.contract.check_range(self.images * 255.0)
        if flagged is None:
            raise _CheckFailed("the contract's range check accepts images in 0-255 units")
        prepared = self.encoder.prepare(self.images)
        expected = (self.images.shape[0], self.encoder.contract.channels, *self.images.shape[2:])
        if tuple(prepared.shape) != expected:
            raise _CheckFailed(f"prepare() returned {tuple(prepared.shape)}, expected {expected}")
        return f"{self.encoder.contract.channels} channels, mean {self.encoder.contract.mean}"

    def backbone(self) -> str:
        module = self.encoder.backbone
        if not isinstance(module, torch.nn.Module):
            raise _CheckFailed(f"backbone is {type(module).__name__}, not a torch.nn.Module")
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        if trainable == 0:
            raise _CheckFailed("backbone has no trainable parameters")
        return f"{trainable / 1e6:.2f} M trainable parameters"

    def global_shape(self) -> str:
        output = self._global(self.images)
        expected = (self.images.shape[0], self.encoder.embed_dim)
        if tuple(output.shape) != expected:
            raise _CheckFailed(f"output shape {tuple(output.shape)}, expected {expected}")
        if output.dtype != torch.float32:
            raise _CheckFailed(f"output dtype {output.dtype}, expected torch.float32")
        return f"{tuple(output.shape)} {output.dtype}"

    def global_finite(self) -> str:
        output = self._global(self.images)
        if not torch.isfinite(output).all():
            raise _CheckFailed("output contains NaN or infinite values")
        return f"values in [{float(output.min()):.3g}, {float(output.max()):.3g}]"

    def global_deterministic(self) -> str:
        first = self._global(self.images)
        second = self._global(self.images)
        difference = float((first - second).abs().max())
        if difference > _DETERMINISM_TOLERANCE * max(1.0, float(first.abs().max())):
            raise _CheckFailed(f"two passes differ by up to {difference:.3g}; is dropout still on?")
        return f"max difference {difference:.3g}"

    def global_responds(self) -> str:
        constant = torch.full_like(self.images[:1], 0.5)
        difference = _relative_difference(self._global(constant), self._global(self.images[:1]))
        if difference < _SAME_OUTPUT_TOLERANCE:
            raise _CheckFailed(
                "a constant image and a textured image give the same output; the input may be "
                "scaled or normalised twice"
            )
        return f"relative difference constant vs textured: {difference:.3g}"

    def global_distinguishes(self) -> str:
        output = self._global(self.images)
        difference = _relative_difference(output[:1], output[1:2])
        if difference < _SAME_OUTPUT_TOLERANCE:
            raise _CheckFailed("two different images give the same output")
        return f"relative difference between two images: {difference:.3g}"

    def dense_shapes(self) -> str:
        maps = self._dense(self.images)
        if len(maps) != len(self.encoder.feature_info):
            raise _CheckFailed(
                f"{len(maps)} maps for {len(self.encoder.feature_info)} feature_info entries"
            )
        height, width = self.images.shape[2:]
        described = []
        for level, (feature_map, info) in enumerate(zip(maps, self.encoder.feature_info)):
            expected_height = math.ceil(height / info.stride)
            expected_width = math.ceil(width / info.stride)
            batch, channels, map_height, map_width = feature_map.shape
            if batch != self.images.shape[0] or channels != info.channels:
                raise _CheckFailed(
                    f"level {level}: shape {tuple(feature_map.shape)}, expected {info.channels} channels"
                )
            if abs(map_height - expected_height) > 1 or abs(map_width - expected_width) > 1:
                raise _CheckFailed(
                    f"level {level}: map {map_height}x{map_width} does not fit stride {info.stride} "
                    f"of a {height}x{width} input (expected about {expected_height}x{expected_width})"
                )
            described.append(f"s{info.stride}:{channels}x{map_height}x{map_width}")
        return ", ".join(described)

    def dense_finite_deterministic(self) -> str:
        first = self._dense(self.images)
        second = self._dense(self.images)
        for level, (a, b) in enumerate(zip(first, second)):
            if not torch.isfinite(a).all():
                raise _CheckFailed(f"level {level} contains NaN or infinite values")
            difference = float((a - b).abs().max())
            if difference > _DETERMINISM_TOLERANCE * max(1.0, float(a.abs().max())):
                raise _CheckFailed(f"level {level}: two passes differ by up to {difference:.3g}")
        return f"{len(first)} levels"

    def text_embeddings(self) -> str:
        with torch.inference_mode():
            texts = self.encoder.encode_text(list(_PROMPTS)).float()
            projected = self.encoder.project_image(self._global(self.images)).float()
        if texts.ndim != 2 or texts.shape[0] != len(_PROMPTS):
            raise _CheckFailed(f"encode_text returned shape {tuple(texts.shape)}")
        if projected.shape[1] != texts.shape[1]:
            raise _CheckFailed(
                f"image projections have {projected.shape[1]} dimensions, texts {texts.shape[1]}"
            )
        for name, values in (("text", texts), ("image", projected)):
            norms = values.norm(dim=1)
            if not torch.allclose(norms, torch.ones_like(norms), atol=1e-3):
                raise _CheckFailed(
                    f"{name} embeddings are not L2-normalised (norms {norms.tolist()})"
                )
        return f"joint space of {texts.shape[1]} dimensions"

    def _global(self, images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.encoder.encode_image(self.encoder.prepare(images))

    def _dense(self, images: torch.Tensor) -> list[torch.Tensor]:
        with torch.inference_mode():
            return self.encoder.forward_features(self.encoder.prepare(images))


def _relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    return float((a - b).abs().max()) / scale
