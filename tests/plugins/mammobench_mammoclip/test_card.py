"""Model card facts that feed result provenance."""

from __future__ import annotations

from mammobench_mammoclip.card import synthetic_only_datasets


def test_synthetic_source_is_synthetic_only() -> None:
    card = {"data": [{"dataset": "vindr", "synthetic": True}]}
    assert synthetic_only_datasets(card) == ["vindr"]


def test_real_source_of_same_dataset_wins() -> None:
    card = {"data": [{"dataset": "vindr", "synthetic": True}, {"dataset": "vindr", "synthetic": False}]}
    assert synthetic_only_datasets(card) == []


def test_card_without_sources_has_none() -> None:
    assert synthetic_only_datasets({}) == []
