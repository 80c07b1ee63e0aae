"""The 'mammoclip' encoder trains the demo weights on first use, then reuses them."""

from __future__ import annotations

import logging

import pytest

import mammobench_mammoclip.recipe as recipe_module
from mammobench.api import WeightsError
from mammobench.encoders.registry import build_encoder


@pytest.fixture
def fresh_home(tmp_path, monkeypatch, tiny_recipe):
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path / "home"))
    # The real demo recipe trains for minutes, so the tiny recipe replaces it here.
    monkeypatch.setattr(recipe_module, "load_recipe", lambda name: tiny_recipe)
    return tmp_path / "home"


def test_default_weights_trained_once(fresh_home, caplog):
    with caplog.at_level(logging.WARNING, logger="mammobench_mammoclip"):
        first = build_encoder("mammoclip")
    trained_messages = [r for r in caplog.records if "pretraining them now" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mammobench_mammoclip"):
        second = build_encoder("mammoclip")

    assert len(trained_messages) == 1
    assert (fresh_home / "models" / "mammoclip-demo" / "model_card.json").is_file()
    assert not [r for r in caplog.records if "pretraining them now" in r.getMessage()]
    assert first.info.revision == second.info.revision


def test_weights_folder_not_found(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        build_encoder("mammoclip", weights=tmp_path / "absent")


def test_weights_folder_unfinished(tmp_path):
    (tmp_path / "run" / "checkpoint").mkdir(parents=True)

    with pytest.raises(WeightsError, match="--resume"):
        build_encoder("mammoclip", weights=tmp_path / "run")
