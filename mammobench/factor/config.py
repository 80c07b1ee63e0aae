"""Settings of the ``factor`` protocol, with run overrides from ``RunSettings``.

Every field can be overridden through ``RunSettings.options`` by its name (for example
``{"heatmap_percentile": 90}``); ``--epochs`` and ``--lr`` set ``epochs`` and ``learning_rate``.
Option keys that are not fields here belong to other protocols and are ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mammobench.errors import ConfigError
from mammobench.protocols.base import setting_overrides

HeatmapWeighting = Literal["softmax", "max"]


@dataclass(frozen=True)
class FactorConfig:
    """Settings of the attribute heads, their training and the heatmaps.

    The attributes themselves come from the task, never from options: result records are keyed
    by (encoder, task, protocol, fraction, seed), so a cell must always score the same attributes.

    Attributes:
        feature_level: Index into the encoder's dense levels whose channels are the region
            descriptors; -1 is the final (coarsest) map, as Mammo-FActOR uses.
        hidden_dim: Hidden width of each attribute's two-layer MLP; None uses the number of
            map positions ``h * w``, as the reference notebook does.
        temperature: Divides cosine similarities in the image score and the loss.
        epochs: Training epochs per attribute head; the epoch is chosen on validation AUC.
        learning_rate: AdamW learning rate.
        weight_decay: AdamW weight decay.
        train_batch_size: Images per training step. The loss contrasts the positives of a
            batch with its negatives, so a batch should hold several of each.
        heatmap_percentile: Heatmap pixels strictly above this percentile of the image's
            heatmap values become boxes (one per connected region).
        heatmap_weighting: How channel maps are combined into a heatmap. ``softmax`` weights
            every channel by the softmax of its similarity divided by the temperature, and
            ``max`` takes the map of the most similar channel alone.
        max_overlays: Overlay PNGs written per cell and attribute when overlays are requested.
    """

    feature_level: int = -1
    hidden_dim: int | None = None
    temperature: float = 0.07
    epochs: int = 30
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    train_batch_size: int = 64
    heatmap_percentile: float = 95.0
    heatmap_weighting: HeatmapWeighting = "softmax"
    max_overlays: int = 40

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"FActOR temperature {self.temperature} is invalid; use a positive number such as 0.07")
        if self.epochs < 1:
            raise ConfigError(f"FActOR epochs {self.epochs} is invalid; use at least 1")
        if not self.learning_rate > 0:
            raise ConfigError(f"FActOR learning rate {self.learning_rate} is invalid; use a positive number")
        if self.weight_decay < 0:
            raise ConfigError(f"FActOR weight decay {self.weight_decay} is invalid; use 0 or more")
        if self.train_batch_size < 2:
            raise ConfigError(
                f"FActOR train_batch_size {self.train_batch_size} is invalid; the contrastive loss "
                "needs at least 2 images per batch"
            )
        if self.hidden_dim is not None and self.hidden_dim < 1:
            raise ConfigError(f"FActOR hidden_dim {self.hidden_dim} is invalid; use a positive width or omit it")
        if not 0.0 <= self.heatmap_percentile < 100.0:
            raise ConfigError(
                f"heatmap percentile {self.heatmap_percentile} is invalid; use a value in [0, 100), e.g. 95"
            )
        if self.heatmap_weighting not in ("softmax", "max"):
            raise ConfigError(
                f"heatmap weighting '{self.heatmap_weighting}' is invalid; choose 'softmax' or 'max'"
            )
        if self.max_overlays < 0:
            raise ConfigError(f"max_overlays {self.max_overlays} is invalid; use 0 or more")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-compatible dictionary, for result details."""
        return dataclasses.asdict(self)


def factor_config(
    *,
    epochs: int | None = None,
    learning_rate: float | None = None,
    options: Mapping[str, Any] | None = None,
) -> FactorConfig:
    """Return the FActOR settings with the run's overrides applied.

    Args:
        epochs: ``--epochs`` of the run, or None for the default.
        learning_rate: ``--lr`` of the run, or None for the default.
        options: ``RunSettings.options``; keys that name a :class:`FactorConfig` field override
            it, other keys are ignored.

    Raises:
        ConfigError: An override has an invalid value or type.
    """
    overrides = setting_overrides(FactorConfig, options, epochs, learning_rate)
    _check_types(overrides)
    return FactorConfig(**overrides)


def _check_types(overrides: dict[str, Any]) -> None:
    numbers = ("temperature", "learning_rate", "weight_decay", "heatmap_percentile")
    integers = ("feature_level", "epochs", "train_batch_size", "max_overlays")
    for name, value in overrides.items():
        if name in numbers and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"FActOR option '{name}' must be a number; got {value!r}")
        if name in integers and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"FActOR option '{name}' must be an integer; got {value!r}")
        if name == "hidden_dim" and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"FActOR option 'hidden_dim' must be an integer; got {value!r}")
