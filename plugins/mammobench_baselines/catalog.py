"""The baseline architectures and the ImageNet checkpoints they use. Imports no torch or timm.

Tags pin the timm pretrained configuration (and so the Hugging Face repository) that
``imagenet/<architecture>`` reads. They are timm's default tags as of timm 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

# Seed of the random initialisation of 'random/...' and 'timm:...' encoders. Fixed, so the same
# timm and torch versions always build the same weights and the revision checksum is stable.
INIT_SEED = 0


@dataclass(frozen=True)
class Baseline:
    """One timm architecture offered with random and ImageNet weights."""

    architecture: str
    imagenet_tag: str
    pretraining_datasets: tuple[str, ...]
    parameters_millions: float  # without the classifier head

    @property
    def pretrained_name(self) -> str:
        """The timm name of the ImageNet checkpoint, e.g. 'efficientnet_b0.ra_in1k'."""
        return f"{self.architecture}.{self.imagenet_tag}"


BASELINES: tuple[Baseline, ...] = (
    Baseline("efficientnet_b0", "ra_in1k", ("imagenet-1k",), 4.0),
    Baseline("efficientnet_b1", "ra4_e3600_r240_in1k", ("imagenet-1k",), 6.5),
    Baseline("efficientnet_b2", "ra_in1k", ("imagenet-1k",), 7.7),
    Baseline("efficientnet_b3", "ra2_in1k", ("imagenet-1k",), 10.7),
    Baseline("efficientnet_b4", "ra2_in1k", ("imagenet-1k",), 17.5),
    Baseline("efficientnet_b5", "sw_in12k_ft_in1k", ("imagenet-12k", "imagenet-1k"), 28.3),
    Baseline("resnet18", "a1_in1k", ("imagenet-1k",), 11.2),
    Baseline("resnet50", "a1_in1k", ("imagenet-1k",), 23.5),
)

BASELINES_BY_ARCHITECTURE = {baseline.architecture: baseline for baseline in BASELINES}
