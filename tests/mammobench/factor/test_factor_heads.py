"""Attribute heads: the contrastive loss, and heads that stay separate per attribute."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mammobench.factor.config import FactorConfig
from mammobench.factor.features import ChannelFeatures
from mammobench.factor.heads import AttributeHead, contrastive_loss, image_scores
from mammobench.factor.training import score_images, train_head

TEXT_DIM = 8


def _features(n_images: int = 24, channels: int = 6, grid: tuple[int, int] = (4, 3)) -> ChannelFeatures:
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(n_images, channels, *grid)).astype(np.float16)
    return ChannelFeatures(maps=maps, ids=[f"img{i:02d}" for i in range(n_images)], stride=8, key="test")


def _text(seed: int) -> torch.Tensor:
    vector = torch.randn(TEXT_DIM, generator=torch.Generator().manual_seed(seed))
    return vector / vector.norm()


def _train(attribute: str, features: ChannelFeatures, labels: np.ndarray, seed: int = 0):
    ids = features.ids
    config = FactorConfig(epochs=3, train_batch_size=8)
    return train_head(
        attribute, _text(len(attribute)), features, ids[:16], labels[:16], ids[16:], labels[16:], config, seed=seed
    )


def test_loss_without_positives_is_zero():
    scores = torch.tensor([0.3, -1.2, 4.0], requires_grad=True)

    loss = contrastive_loss(scores, torch.zeros(3))
    loss.backward()

    assert math.isfinite(loss.item())
    assert loss.item() == 0.0
    assert torch.equal(scores.grad, torch.zeros(3))


def test_loss_without_negatives_is_zero():
    loss = contrastive_loss(torch.tensor([1.0, 2.0]), torch.ones(2))

    assert float(loss) == pytest.approx(0.0)


def test_loss_matches_formula():
    scores = torch.tensor([2.0, 0.5, -1.0, 1.0])
    labels = torch.tensor([1.0, 0.0, 0.0, 1.0])

    loss = contrastive_loss(scores, labels)

    negatives = math.exp(0.5) + math.exp(-1.0)
    expected = np.mean([-math.log(math.exp(s) / (math.exp(s) + negatives)) for s in (2.0, 1.0)])
    assert float(loss) == pytest.approx(expected)


def test_loss_finite_for_large_scores():
    loss = contrastive_loss(torch.tensor([1000.0, -1000.0, 900.0]), torch.tensor([1.0, 0.0, 0.0]))

    assert math.isfinite(float(loss))


def test_image_score_is_max_over_temperature():
    similarities = torch.tensor([[0.1, 0.7, -0.2], [0.0, 0.2, 0.3]])

    scores = image_scores(similarities, 0.5)

    assert torch.allclose(scores, torch.tensor([1.4, 0.6]))


def test_head_rejects_wrong_map_size():
    head = AttributeHead("mass", _text(0), positions=12)

    with pytest.raises(ValueError, match="resolution profile"):
        head.scores(torch.zeros(2, 5, 20))


def test_heads_stay_separate_per_attribute():
    features = _features()
    labels = np.tile([1, 0, 0, 1], 6).astype(float)

    alone = score_images(_train("mass", features, labels).head, features, features.ids)
    _train("calcification", features, labels[::-1].copy())
    torch.manual_seed(1234)  # other global random state must not matter either
    after_other = score_images(_train("mass", features, labels).head, features, features.ids)

    assert np.array_equal(alone, after_other)


def test_training_one_head_leaves_another():
    features = _features()
    labels = np.tile([1, 0, 0, 1], 6).astype(float)
    mass = _train("mass", features, labels)
    before = score_images(mass.head, features, features.ids)

    _train("calcification", features, 1.0 - labels)

    assert np.array_equal(score_images(mass.head, features, features.ids), before)


def test_training_selects_best_validation_epoch():
    features = _features()
    labels = np.tile([1, 0, 0, 1], 6).astype(float)

    trained = _train("mass", features, labels)

    aucs = [entry["validation_auc"] for entry in trained.history]
    assert len(aucs) == 3
    assert trained.best_validation_auc == max(aucs)
    assert trained.history[trained.best_epoch - 1]["validation_auc"] == trained.best_validation_auc
