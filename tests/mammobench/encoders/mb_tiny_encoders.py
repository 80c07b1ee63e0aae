"""Tiny real encoders for core tests, and a plugin module that registers them with a tiny dataset.

Core tests must not depend on first-party plugins, so they build these instead of timm models.
"""

from __future__ import annotations

import torch
from torch import nn

from mammobench.api import (
    Capability,
    DatasetSpec,
    Encoder,
    EncoderInfo,
    EncoderSpec,
    FeatureInfo,
    InputContract,
    hookimpl,
    revision_from_sha256,
    state_dict_sha256,
)


class TinyEncoder(Encoder):
    """Two strided convolutions: dense maps at strides 4 and 8, global = mean of the last map."""

    def __init__(
        self, name: str = "tiny/ok", capabilities=(Capability.GLOBAL, Capability.DENSE)
    ) -> None:
        torch.manual_seed(0)
        network = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, stride=4, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1),
        )
        info = EncoderInfo(name=name, revision=revision_from_sha256(state_dict_sha256(network)))
        feature_info = [FeatureInfo(stride=4, channels=8), FeatureInfo(stride=8, channels=16)]
        super().__init__(
            info,
            capabilities,
            InputContract(),
            embed_dim=16,
            feature_info=feature_info if Capability.DENSE in capabilities else (),
        )
        self.network = network
        self.calls = 0

    @property
    def backbone(self) -> nn.Module:
        return self.network

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.network(inputs).mean(dim=(2, 3))

    def forward_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        self.calls += 1
        first = self.network[1](self.network[0](inputs))
        return [first, self.network[2](first)]


class ConstantEncoder(TinyEncoder):
    """Ignores its input, like an encoder fed images scaled twice: every output is the same."""

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(inputs.shape[0], 16)


def build_ok(spec, argument, options) -> TinyEncoder:
    return TinyEncoder(spec.name)


def build_constant(spec, argument, options) -> ConstantEncoder:
    return ConstantEncoder(spec.name, capabilities=(Capability.GLOBAL,))


def build_not_an_encoder(spec, argument, options) -> object:
    return object()


@hookimpl
def mammobench_register_datasets():
    return [
        DatasetSpec(
            name="tiny-test", loader="mb_tiny_data:read_tiny", description="Tiny test images."
        )
    ]


@hookimpl
def mammobench_register_encoders():
    common = {"architecture": "tiny", "description": "Tiny test encoder."}
    return [
        EncoderSpec(
            name="tiny/ok",
            loader=f"{__name__}:build_ok",
            capabilities=[Capability.GLOBAL, Capability.DENSE],
            **common,
        ),
        EncoderSpec(
            name="tiny/constant",
            loader=f"{__name__}:build_constant",
            capabilities=[Capability.GLOBAL],
            **common,
        ),
        EncoderSpec(
            name="tiny/broken",
            loader=f"{__name__}:build_not_an_encoder",
            capabilities=[Capability.GLOBAL],
            **common,
        ),
    ]
