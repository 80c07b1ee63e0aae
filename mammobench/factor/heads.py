"""The per-attribute head: channels as region descriptors mapped into the text space.

Each channel of the frozen final feature map, flattened over its ``h x w`` positions, is one
region descriptor. An attribute's head is a two-layer MLP that maps every descriptor into the
joint text space. The cosine similarity of a channel's mapped vector to the attribute's text
embedding measures how strongly that channel expresses the attribute. An image's score is the maximum over
its channels, divided by a temperature.

Every attribute has its own head with its own parameters, so training one attribute never
changes another attribute's scores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelMapper(nn.Module):
    """Two-layer MLP from one channel's flattened map to an L2-normalised text-space vector.

    Args:
        positions: Input size: ``h * w`` of the feature map.
        text_dim: Output size: the text embedding dimension.
        hidden_dim: Hidden width; ``positions`` when None.
    """

    def __init__(self, positions: int, text_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden = hidden_dim or positions
        self.positions = positions
        self.net = nn.Sequential(nn.Linear(positions, hidden), nn.ReLU(), nn.Linear(hidden, text_dim))

    def forward(self, channels: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C, positions)`` channel descriptors to unit vectors ``(B, C, text_dim)``."""
        if channels.shape[-1] != self.positions:
            raise ValueError(
                f"channel descriptors have {channels.shape[-1]} positions but the head was built for "
                f"{self.positions}; the feature map size depends on the resolution profile"
            )
        return F.normalize(self.net(channels), dim=-1)


class AttributeHead(nn.Module):
    """One attribute's channel mapper together with its fixed text embedding.

    Args:
        attribute: Attribute name, e.g. ``mass``.
        text_embedding: The attribute's unit text vector ``(D,)``; stored, never trained.
        positions: ``h * w`` of the feature map.
        hidden_dim: Hidden width of the mapper; ``positions`` when None.
        temperature: Divides cosine similarities in :meth:`scores`.
    """

    def __init__(
        self,
        attribute: str,
        text_embedding: torch.Tensor,
        positions: int,
        hidden_dim: int | None = None,
        temperature: float = 0.07,
    ) -> None:
        super().__init__()
        if text_embedding.ndim != 1:
            raise ValueError(f"text embedding of '{attribute}' must be one vector; got shape {tuple(text_embedding.shape)}")
        self.attribute = attribute
        self.temperature = float(temperature)
        self.mapper = ChannelMapper(positions, int(text_embedding.shape[0]), hidden_dim)
        self.register_buffer("text_embedding", text_embedding.detach().float().clone())

    def similarities(self, channels: torch.Tensor) -> torch.Tensor:
        """Return the cosine similarity of every channel to the attribute, ``(B, C)``."""
        return self.mapper(channels) @ self.text_embedding

    def scores(self, channels: torch.Tensor) -> torch.Tensor:
        """Return each image's score: the maximum channel similarity over the temperature, ``(B,)``."""
        return image_scores(self.similarities(channels), self.temperature)


def image_scores(similarities: torch.Tensor, temperature: float) -> torch.Tensor:
    """Return the maximum similarity over channels divided by ``temperature``, one per image."""
    return similarities.max(dim=1).values / temperature


def contrastive_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Pull images with the attribute towards its text against the batch's images without it.

    For each positive image i with score s_i and the batch's negatives N, the term is
    ``-log(exp(s_i) / (exp(s_i) + sum_{j in N} exp(s_j)))``; the loss is the mean over positives.
    A batch without positives gives a zero loss (with a gradient of zero), and a batch without
    negatives gives zero too, because there is nothing to contrast.

    Args:
        scores: Image scores ``(B,)`` (similarities already divided by the temperature).
        labels: ``(B,)`` with 1 for images that have the attribute and 0 otherwise.

    Returns:
        A finite scalar tensor.
    """
    positive = labels.reshape(-1) > 0.5
    scores = scores.reshape(-1)
    if not bool(positive.any()):
        return scores.sum() * 0.0

    positives = scores[positive]
    negatives = scores[~positive]
    # Row i contains s_i followed by every negative score; logsumexp keeps large scores stable.
    candidates = torch.cat([positives[:, None], negatives[None, :].expand(positives.shape[0], -1)], dim=1)
    return (torch.logsumexp(candidates, dim=1) - positives).mean()
