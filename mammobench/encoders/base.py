"""The encoder contract every encoder plugin implements.

The harness hands an encoder batches of preprocessed mammograms as float32 tensors of shape
``(B, 1, H, W)`` with values in ``[0, 1]`` (bright = dense tissue). The encoder's
:class:`InputContract` turns them into what its network expects (channel replication,
normalisation) in :meth:`Encoder.prepare`. What the encoder can then produce is declared by its
capabilities:

- ``global``: :meth:`Encoder.encode_image` returns one embedding vector per image.
- ``dense``: :meth:`Encoder.forward_features` returns multi-scale feature maps described by
  :attr:`Encoder.feature_info` (stride and channels of each map).
- ``text``: :meth:`Encoder.encode_text` returns L2-normalised text embeddings in the joint
  image-text space, and :meth:`Encoder.project_image` maps ``encode_image`` outputs into it.

Encoders are ``torch.nn.Module`` objects. :attr:`Encoder.backbone` is the trainable image
network that fine-tuning and detection protocols update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from mammobench.errors import IncompatibleError
from mammobench.specs import Capability

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputContract:
    """What the encoder's network expects, and how to get there from ``[0, 1]`` grayscale.

    Attributes:
        channels: Input channels of the network; grayscale is replicated to this many.
        mean: Per-channel mean subtracted after replication.
        std: Per-channel standard deviation divided after subtracting the mean.
        size: Preferred ``(height, width)``, or None when any size divisible by the largest
            stride works. Informational: the resolution profile decides the actual size.
        value_range: Range of the harness's input before normalisation. The harness warns once
            when a first batch falls far outside it.
    """

    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    size: tuple[int, int] | None = None
    value_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(
                f"input contract has {self.channels} channels but {len(self.mean)} means and "
                f"{len(self.std)} standard deviations"
            )
        if any(s <= 0 for s in self.std):
            raise ValueError(f"input contract standard deviations must be positive, got {self.std}")

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Turn ``(B, 1, H, W)`` images in ``[0, 1]`` into normalised ``(B, C, H, W)`` input."""
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"expected images of shape (B, 1, H, W), got {tuple(images.shape)}")
        expanded = images.expand(-1, self.channels, -1, -1)
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
        return (expanded - mean) / std


@dataclass(frozen=True)
class FeatureInfo:
    """One dense feature map: its stride relative to the input and its channel count."""

    stride: int
    channels: int
    name: str = ""


@dataclass
class EncoderInfo:
    """Provenance of a built encoder, copied into every result record."""

    name: str
    revision: str  # weights checksum (SHA-256 prefix), or 'random-init' plus the init seed
    weights_path: str | None = None
    pretraining_datasets: list[str] = field(default_factory=list)


class Encoder(nn.Module):
    """Base class of all encoders. Subclasses override the methods of their capabilities."""

    def __init__(
        self,
        info: EncoderInfo,
        capabilities: Sequence[Capability],
        contract: InputContract,
        embed_dim: int | None = None,
        feature_info: Sequence[FeatureInfo] = (),
    ) -> None:
        super().__init__()
        self.info = info
        self.capabilities = frozenset(Capability(c) for c in capabilities)
        self.contract = contract
        self.embed_dim = embed_dim
        self.feature_info = list(feature_info)
        if Capability.GLOBAL in self.capabilities and not embed_dim:
            raise ValueError(f"encoder '{info.name}' declares 'global' but no embed_dim")
        if Capability.DENSE in self.capabilities and not self.feature_info:
            raise ValueError(f"encoder '{info.name}' declares 'dense' but no feature_info")

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def backbone(self) -> nn.Module:
        """The trainable image network. Subclasses return their image tower."""
        raise NotImplementedError(f"encoder '{self.name}' does not expose a backbone")

    def require(self, *needed: Capability) -> None:
        """Raise :class:`IncompatibleError` unless the encoder has every capability in ``needed``."""
        missing = [c.value for c in needed if c not in self.capabilities]
        if missing:
            have = ", ".join(sorted(c.value for c in self.capabilities))
            raise IncompatibleError(
                f"encoder '{self.name}' lacks capability {', '.join(missing)} (it has: {have})"
            )

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Map harness images ``(B, 1, H, W)`` in ``[0, 1]`` to the network's input."""
        return self.contract.prepare(images)

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return global embeddings ``(B, embed_dim)`` for prepared inputs (capability ``global``)."""
        raise NotImplementedError(f"encoder '{self.name}' has no 'global' capability")

    def forward_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return feature maps for prepared inputs, one per :attr:`feature_info` entry (``dense``)."""
        raise NotImplementedError(f"encoder '{self.name}' has no 'dense' capability")

    def project_image(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Map ``encode_image`` outputs into the joint space, L2-normalised (``text``)."""
        raise NotImplementedError(f"encoder '{self.name}' has no 'text' capability")

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Return L2-normalised text embeddings ``(N, D)`` in the joint space (``text``)."""
        raise NotImplementedError(f"encoder '{self.name}' has no 'text' capability")

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.encode_image(inputs)
