"""The Mammo-CLIP loss: image-text InfoNCE over two views and two texts, plus two self terms.

For a batch of breasts with views ``I1, I2`` and text variants ``T1, T2`` (all L2-normalised):

- image-text: symmetric InfoNCE for each of the four pairs (I1,T1), (I2,T1), (I1,T2), (I2,T2),
  image-to-text and text-to-image each averaged over the four, then averaged together;
- image-image: symmetric InfoNCE between I1 and I2;
- text-text: symmetric InfoNCE between T1 and T2.

``total = image_text + image_image_weight * image_image + text_text_weight * text_text``. The
Mammo-CLIP reference (``breastclip/loss/breast_clip.py`` with ``configs/loss/breast_clip.yaml``)
weighs image-image by 1.0 and text-text by 0.5, the defaults here.

Under DistributedDataParallel every rank contrasts its own embeddings against the embeddings of
all ranks (gathered with gradients), so negatives come from the global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class MammoClipLoss(nn.Module):
    """Weighted sum of the image-text, image-image and text-text InfoNCE terms."""

    def __init__(
        self,
        image_image_weight: float = 1.0,
        text_text_weight: float = 0.5,
        label_smoothing: float = 0.0,
        gather: bool = True,
    ) -> None:
        """Set the term weights; ``gather=False`` contrasts within the local batch only."""
        super().__init__()
        self.image_image_weight = image_image_weight
        self.text_text_weight = text_text_weight
        self.label_smoothing = label_smoothing
        self.gather = gather

    def forward(
        self,
        image: torch.Tensor,
        view: torch.Tensor,
        text: torch.Tensor,
        text2: torch.Tensor,
        logit_scale: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Return ``total`` and the unweighted ``image_text``, ``image_image`` and ``text_text`` terms.

        Args:
            image: First-view embeddings ``(B, D)``, L2-normalised.
            view: Second-view embeddings of the same breasts.
            text: First text variant embeddings.
            text2: Second text variant embeddings.
            logit_scale: Multiplier of the cosine similarities (``1 / temperature``).
        """
        image, view, text, text2 = (tensor.float() for tensor in (image, view, text, text2))
        logit_scale = logit_scale.float()
        if self.gather:
            labels = _global_labels(image.shape[0], image.device)
            all_image, all_view, all_text, all_text2 = (gather_with_grad(t) for t in (image, view, text, text2))
        else:
            labels = torch.arange(image.shape[0], device=image.device)
            all_image, all_view, all_text, all_text2 = image, view, text, text2
        smoothing = self.label_smoothing if self.training else 0.0

        image_to_text = 0.0
        text_to_image = 0.0
        for images, all_images in ((image, all_image), (view, all_view)):
            for texts, all_texts in ((text, all_text), (text2, all_text2)):
                image_to_text = image_to_text + _info_nce(images, all_texts, labels, logit_scale, smoothing)
                text_to_image = text_to_image + _info_nce(texts, all_images, labels, logit_scale, smoothing)
        image_text = (image_to_text / 4.0 + text_to_image / 4.0) / 2.0

        # The self terms use no label smoothing, as in the reference.
        image_image = (
            _info_nce(image, all_view, labels, logit_scale) + _info_nce(view, all_image, labels, logit_scale)
        ) / 2.0
        text_text = (
            _info_nce(text2, all_text, labels, logit_scale) + _info_nce(text, all_text2, labels, logit_scale)
        ) / 2.0

        total = image_text + self.image_image_weight * image_image + self.text_text_weight * text_text
        return {"total": total, "image_text": image_text, "image_image": image_image, "text_text": text_text}


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0, keeping gradients; identity when single."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor), dim=0)


def _global_labels(batch_size: int, device: torch.device) -> torch.Tensor:
    # Row i of this rank matches column rank * batch_size + i of the gathered embeddings.
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    return torch.arange(batch_size, device=device) + rank * batch_size


def _info_nce(
    queries: torch.Tensor,
    keys: torch.Tensor,
    labels: torch.Tensor,
    logit_scale: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    logits = logit_scale * queries @ keys.T
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
