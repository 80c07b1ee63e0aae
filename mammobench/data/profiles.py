"""Named resolution profiles: the size every image is resized to after cropping.

Sizes are (height, width) in pixels for a breast with its chest wall on the left. Preprocessing
stretches the breast crop to this size without padding, as Mammo-CLIP does, so a crop's aspect
ratio is not kept. ``paper`` matches Mammo-CLIP (1520 x 912). ``tiny`` keeps tests and the CPU
demo fast. ``medium`` and ``tiny`` are multiples of 32, so every stride of common CNN backbones
divides them; ``paper`` is a multiple of 16 only, as in the reference code.
"""

from __future__ import annotations

from dataclasses import dataclass

from mammobench.errors import ConfigError


@dataclass(frozen=True)
class ResolutionProfile:
    """Output size of preprocessing."""

    name: str
    height: int
    width: int

    @property
    def size(self) -> tuple[int, int]:
        return (self.height, self.width)


PROFILES: dict[str, ResolutionProfile] = {
    "paper": ResolutionProfile("paper", 1520, 912),
    "medium": ResolutionProfile("medium", 1024, 608),
    "tiny": ResolutionProfile("tiny", 256, 160),
}

DEFAULT_PROFILE = "tiny"


def get_profile(name: str) -> ResolutionProfile:
    """Return the profile called ``name`` or raise :class:`ConfigError` listing the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        choices = ", ".join(PROFILES)
        raise ConfigError(f"unknown resolution profile '{name}'; choose one of: {choices}") from None
