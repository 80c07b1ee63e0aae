"""Recipe schema, shipped recipes and the TOML round trip."""

from __future__ import annotations

import pytest

from mammobench.api import ConfigError
from mammobench_mammoclip.recipe import load_recipe, parse_recipe, shipped_recipes


def test_shipped_recipes_listed():
    assert {"mammoclip-demo", "mammoclip-b5", "mammoclip-b2"} <= set(shipped_recipes())


@pytest.mark.parametrize("name", ["mammoclip-b5", "mammoclip-b2"])
def test_paper_recipes_use_paper_settings(name):
    recipe = load_recipe(name)

    assert recipe.model.image_architecture == f"tf_efficientnet_{name[-2:]}"
    assert recipe.data.profile == "paper"
    assert recipe.model.embed_dim == 512
    assert recipe.model.temperature == 0.07
    assert recipe.model.text.pooling == "eos"
    assert recipe.model.text.require_pretrained
    assert recipe.train.learning_rate == 5e-5
    assert recipe.train.weight_decay == 1e-4
    assert recipe.train.warmup_epochs == 1.0
    assert recipe.train.epochs == 15
    assert recipe.train.amp
    assert recipe.loss.image_image_weight == 1.0
    assert recipe.loss.text_text_weight == 0.5


def test_demo_recipe_runs_quality_check():
    recipe = load_recipe("mammoclip-demo")

    assert recipe.quality.enabled
    assert recipe.quality.label_fraction == 0.1
    assert recipe.data.profile == "tiny"


def test_recipe_toml_round_trip():
    recipe = load_recipe("mammoclip-demo")

    assert parse_recipe(recipe.to_toml(), source="round trip") == recipe


def test_recipe_rejects_unknown_key():
    text = load_recipe("mammoclip-demo").to_toml().replace("[train]\n", "[train]\nlearning_rat = 0.1\n")

    with pytest.raises(ConfigError, match="learning_rat"):
        parse_recipe(text, source="typo")


def test_recipe_unknown_name():
    with pytest.raises(ConfigError, match="mammoclip-demo"):
        load_recipe("mammoclip-dmeo")


def test_recipe_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "absent.toml")


def test_recipe_requires_text_source():
    text = load_recipe("mammoclip-demo").to_toml().replace("synthesize = true", "synthesize = false")
    text = text.replace("reports = true", "reports = false")

    with pytest.raises(ConfigError, match="enable one"):
        parse_recipe(text, source="no text")
