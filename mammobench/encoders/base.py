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

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from mammobench.errors import IncompatibleError
from mammobench.specs import Capability

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# An image whose values span less than this is treated as constant by the input range check.
_CONSTANT_SPAN = 1e-3


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

    def check_range(self, images: torch.Tensor) -> str | None:
        """Describe why a batch of harness images looks wrong, or return None when it looks fine.

        The check catches the classic cause of "every image gives the same output": images
        scaled twice (all values near 0), left in 8- or 16-bit units (values far above 1),
        normalised twice (negative values), or constant images.

        Args:
            images: A batch ``(B, 1, H, W)`` before :meth:`prepare`.

        Returns:
            A sentence naming the observed range and the likely cause, or None.
        """
        low, high = self.value_range
        tolerance = 0.01 * (high - low)
        values = images.detach().float()
        if values.numel() == 0:
            return None
        if not torch.isfinite(values).all():
            return "input images contain NaN or infinite values"

        minimum = float(values.min())
        maximum = float(values.max())
        observed = f"observed range [{minimum:.4g}, {maximum:.4g}], expected [{low:g}, {high:g}]"
        if maximum > high + tolerance:
            return f"{observed}; images may still be in 8- or 16-bit units (divide by 255 or 65535)"
        if minimum < low - tolerance:
            return f"{observed}; images may already be normalised (normalisation is applied twice)"

        spans = values.flatten(1).amax(dim=1) - values.flatten(1).amin(dim=1)
        if bool((spans < _CONSTANT_SPAN * (high - low)).all()):
            return (
                f"{observed}; every image in the batch is constant, so every output will be the "
                "same (check the reader's windowing or a scale applied twice)"
            )
        if maximum - low < 0.05 * (high - low):
            return f"{observed}; all values are near {low:g}, the images may be scaled twice"
        return None


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
    # Datasets of pretraining_datasets that the encoder saw only as synthetic copies. Results on
    # the real dataset are then still held-out evaluations.
    synthetic_pretraining: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EncoderOptions:
    """What the user chose when building an encoder; passed to every encoder factory.

    Attributes:
        weights: A weights file given on the command line (``--weights``), or None for the
            encoder's default source.
        trust_pickle: Allow pickled checkpoints to run arbitrary code when loaded
            (``--trust-pickle``). Without it, pickles load with ``torch.load(weights_only=True)``.
        device: Torch device the built encoder is moved to, e.g. ``'cpu'`` or ``'cuda:0'``.
    """

    weights: Path | None = None
    trust_pickle: bool = False
    device: str = "cpu"


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
        self._input_checked = False

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

    def check_input(self, images: torch.Tensor) -> str | None:
        """Check a batch against the input contract and log a warning the first time only.

        :meth:`prepare` calls this on its first batch, so every protocol gets the check.

        Returns:
            The problem found (see :meth:`InputContract.check_range`), or None.
        """
        problem = self.contract.check_range(images)
        if problem is not None and not self._input_checked:
            logger.warning("encoder '%s': %s", self.name, problem)
        self._input_checked = True
        return problem

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Map harness images ``(B, 1, H, W)`` in ``[0, 1]`` to the network's input."""
        if not self._input_checked:
            self.check_input(images)
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
