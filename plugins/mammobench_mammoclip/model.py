"""The Mammo-CLIP network: an EfficientNet image tower, a BERT-style text tower, two projections.

Both towers are projected linearly into one joint space (512-d in Mammo-CLIP) and L2-normalised;
a learnable logit scale, initialised to ``1 / temperature`` with temperature 0.07, sharpens the
similarities. The image tower's pooled feature (before projection) is what linear probes see.
"""

from __future__ import annotations

import math

import timm
import torch
import torch.nn.functional as F
from torch import nn

from mammobench.api import ConfigError, FeatureInfo

# CLIP caps the logit scale at 100 so a runaway temperature cannot make the softmax one-hot.
MAX_LOGIT_SCALE = 100.0

# Dense maps finer than this stride (the stride-2 stem) are left out, as in the timm baselines.
MIN_DENSE_STRIDE = 4


class ImageTower(nn.Module):
    """A headless timm EfficientNet: global-average-pooled vector plus multi-scale feature maps."""

    def __init__(self, architecture: str, in_chans: int = 3) -> None:
        super().__init__()
        try:
            self.net = timm.create_model(architecture, pretrained=False, num_classes=0, in_chans=in_chans)
        except RuntimeError as error:
            raise ConfigError(f"image tower '{architecture}' is not a timm model: {error}") from error
        if not hasattr(self.net, "forward_intermediates") or not hasattr(self.net, "conv_head"):
            raise ConfigError(
                f"image tower '{architecture}' is not an EfficientNet-family timm model; use e.g. "
                "'tf_efficientnet_b5', 'tf_efficientnet_b2' or 'test_efficientnet'"
            )
        self.architecture = architecture
        self.in_chans = in_chans
        self.num_features = int(self.net.num_features)

        strides = [int(entry["reduction"]) for entry in self.net.feature_info]
        last_of_stride: dict[int, int] = {}
        for index, stride in enumerate(strides):
            if stride >= MIN_DENSE_STRIDE:
                last_of_stride[stride] = index
        self.dense_indices = sorted(last_of_stride.values())
        self.feature_info = [
            FeatureInfo(
                stride=strides[index],
                channels=int(self.net.feature_info[index]["num_chs"]),
                name=str(self.net.feature_info[index]["module"]),
            )
            for index in self.dense_indices
        ]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return pooled features ``(B, num_features)`` of normalised inputs."""
        return self.net(inputs).flatten(1)

    def forward_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return one map per :attr:`feature_info` entry, finest first."""
        return list(self.net.forward_intermediates(inputs, indices=self.dense_indices, intermediates_only=True))


class TextTower(nn.Module):
    """A transformers encoder pooled to one vector per text.

    ``eos`` pooling takes the hidden state at ``attention_mask.sum() - 1``, the last non-padding
    token, which is ``[SEP]`` for BERT tokenizers. Mammo-CLIP's reference code pools this way.
    """

    def __init__(self, encoder: nn.Module, pooling: str = "eos") -> None:
        super().__init__()
        if pooling not in {"eos", "bos", "mean"}:
            raise ConfigError(f"text pooling '{pooling}' is invalid; expected eos, bos or mean")
        self.encoder = encoder
        self.pooling = pooling
        self.hidden_size = int(encoder.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Return pooled text features ``(N, hidden_size)``."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "bos":
            return hidden[:, 0]
        if self.pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        last = attention_mask.sum(dim=1).long() - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last.clamp_min(0)]


class MammoClipModel(nn.Module):
    """Image tower, optional text tower, linear projections and the learnable logit scale."""

    def __init__(
        self,
        image: ImageTower,
        text: TextTower | None,
        embed_dim: int = 512,
        temperature: float = 0.07,
    ) -> None:
        super().__init__()
        self.image = image
        self.text = text
        self.embed_dim = embed_dim
        self.image_projection = nn.Linear(image.num_features, embed_dim)
        self.text_projection = nn.Linear(text.hidden_size, embed_dim) if text is not None else None
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def embed_images(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return L2-normalised joint-space embeddings of normalised image inputs."""
        return self.project_image(self.image(inputs))

    def project_image(self, features: torch.Tensor) -> torch.Tensor:
        """Map pooled image features into the joint space and L2-normalise them."""
        return F.normalize(self.image_projection(features), dim=-1)

    def embed_texts(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Return L2-normalised joint-space embeddings of tokenised texts."""
        if self.text is None or self.text_projection is None:
            raise ConfigError("this Mammo-CLIP model has no text tower")
        return F.normalize(self.text_projection(self.text(input_ids, attention_mask)), dim=-1)

    def scale(self) -> torch.Tensor:
        """Return the multiplier applied to cosine similarities, capped at :data:`MAX_LOGIT_SCALE`."""
        return self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def forward(
        self,
        images: torch.Tensor,
        views: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Embed both views of each breast and both text variants for the Mammo-CLIP loss.

        Args:
            images: First views ``(B, C, H, W)``, normalised.
            views: Second views of the same breasts, in the same order.
            input_ids: Tokens of ``2B`` texts: the first variant of every breast, then the second.
            attention_mask: Mask of ``input_ids``.

        Both views go through the image tower as one batch, so batch normalisation sees every
        image of the step together.
        """
        both = self.embed_images(torch.cat([images, views], dim=0))
        image_embeddings, view_embeddings = both.split(images.shape[0], dim=0)

        texts = self.embed_texts(input_ids, attention_mask)
        text_embeddings, text2_embeddings = texts.split(images.shape[0], dim=0)
        return {
            "image": image_embeddings,
            "view": view_embeddings,
            "text": text_embeddings,
            "text2": text2_embeddings,
            "logit_scale": self.scale(),
        }
