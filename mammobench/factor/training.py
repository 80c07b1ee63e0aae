"""Training of one attribute head on cached channel descriptors, epoch chosen on validation AUC.

Heads are trained one after another and independently: each has its own parameters, optimiser,
initialisation and batch order, all seeded from the cell's seed and the attribute's name. So a
head's result does not depend on which other attributes are trained, or in which order.

Selection uses image-level labels only (the validation AUC of the head's image scores), never
boxes, so localization stays weakly supervised.
"""

from __future__ import annotations

import copy
import logging
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mammobench.factor.config import FactorConfig
from mammobench.factor.features import ChannelFeatures
from mammobench.factor.heads import AttributeHead, contrastive_loss
from mammobench.metrics.classification import auc

logger = logging.getLogger(__name__)

# Images scored at once at validation and test time.
SCORING_BATCH = 256


@dataclass
class TrainedHead:
    """An attribute head at its selected epoch, with its training history.

    Attributes:
        head: The head, with the parameters of the selected epoch, in eval mode.
        best_epoch: Selected epoch (1-based).
        best_validation_auc: Validation AUC at that epoch; None when it is undefined (the
            validation split lacks positives or negatives), in which case the last epoch is kept.
        history: Per epoch: mean training loss and validation AUC.
    """

    head: AttributeHead
    best_epoch: int
    best_validation_auc: float | None
    history: list[dict[str, Any]] = field(default_factory=list)


def attribute_seed(seed: int, attribute: str) -> int:
    """Return the seed of one attribute's head: stable across runs and independent of other heads."""
    return zlib.crc32(f"{int(seed)}:{attribute}".encode()) & 0x7FFFFFFF


def build_head(
    attribute: str,
    text_embedding: torch.Tensor,
    positions: int,
    config: FactorConfig,
    seed: int,
) -> AttributeHead:
    """Create an untrained head whose initial weights depend only on ``seed`` and ``attribute``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(attribute_seed(seed, attribute))
        return AttributeHead(attribute, text_embedding, positions, config.hidden_dim, config.temperature)


def train_head(
    attribute: str,
    text_embedding: torch.Tensor,
    features: ChannelFeatures,
    train_ids: Sequence[str],
    train_labels: np.ndarray,
    validation_ids: Sequence[str],
    validation_labels: np.ndarray,
    config: FactorConfig,
    *,
    seed: int,
    device: torch.device | str = "cpu",
) -> TrainedHead:
    """Train one attribute's head with the contrastive loss and keep its best validation epoch.

    Args:
        attribute: Attribute name.
        text_embedding: The attribute's unit text vector ``(D,)``.
        features: Channel descriptors of every image.
        train_ids: Training images (the label fraction of the train split).
        train_labels: 1 where a training image has the attribute, else 0.
        validation_ids: Validation images for epoch selection.
        validation_labels: 1 where a validation image has the attribute, else 0.
        config: Epochs, learning rate, batch size and the head's shape.
        seed: The cell's seed.
        device: Torch device to train on.

    Returns:
        The head at its selected epoch.
    """
    device = torch.device(device)
    head = build_head(attribute, text_embedding, features.positions, config, seed).to(device)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    rng = np.random.default_rng(attribute_seed(seed, attribute))
    train_ids = list(train_ids)
    labels = torch.as_tensor(np.asarray(train_labels, dtype=np.float32))
    n_batches = max(1, math.ceil(len(train_ids) / config.train_batch_size))

    best_state, best_epoch, best_auc = None, config.epochs, -math.inf
    history: list[dict[str, Any]] = []
    for epoch in range(1, config.epochs + 1):
        head.train()
        losses = []
        for batch in np.array_split(rng.permutation(len(train_ids)), n_batches):
            descriptors = features.descriptors([train_ids[i] for i in batch], device)
            loss = contrastive_loss(head.scores(descriptors), labels[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))

        validation_scores = score_images(head, features, validation_ids, device)
        validation_auc = auc(validation_labels, validation_scores)
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "validation_auc": validation_auc.value if validation_auc.defined else None,
            }
        )
        if validation_auc.defined and validation_auc.value > best_auc:
            best_state, best_epoch, best_auc = copy.deepcopy(head.state_dict()), epoch, validation_auc.value

    if best_state is None:
        logger.warning(
            "attribute '%s': the validation AUC is undefined (the validation split lacks positives "
            "or negatives); keeping the last epoch",
            attribute,
        )
    else:
        head.load_state_dict(best_state)
    head.eval()
    return TrainedHead(
        head=head,
        best_epoch=best_epoch,
        best_validation_auc=best_auc if best_state is not None else None,
        history=history,
    )


def score_images(
    head: AttributeHead,
    features: ChannelFeatures,
    image_ids: Sequence[str],
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Return the head's image scores (maximum channel similarity over the temperature)."""
    similarities = channel_similarities(head, features, image_ids, device)
    if similarities.size == 0:
        return np.zeros(0)
    return similarities.max(axis=1) / head.temperature


def channel_similarities(
    head: AttributeHead,
    features: ChannelFeatures,
    image_ids: Sequence[str],
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Return the cosine similarity of every channel of every image to the attribute, ``(N, C)``."""
    image_ids = list(image_ids)
    was_training = head.training
    head.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(image_ids), SCORING_BATCH):
            descriptors = features.descriptors(image_ids[start : start + SCORING_BATCH], device)
            chunks.append(head.similarities(descriptors).float().cpu().numpy())
    head.train(was_training)
    if not chunks:
        return np.zeros((0, features.channels))
    return np.concatenate(chunks)
