"""Zero-shot prompts: defaults per label and class, and overrides."""

from __future__ import annotations

import pytest

from mammobench.api import ConfigError
from mammobench_mammoclip.prompts import default_prompts, load_prompts, merged_prompts


def test_default_prompts_cover_labels():
    prompts = default_prompts()

    assert set(prompts) == {"mass", "calcification", "cancer", "density", "abnormal", "malignant"}
    for label in ("mass", "calcification", "cancer", "abnormal", "malignant"):
        assert set(prompts[label]) == {"0", "1"}, label
    assert set(prompts["density"]) == {"A", "B", "C", "D"}


def test_default_prompts_start_with_reference():
    prompts = default_prompts()

    assert prompts["mass"]["0"][0] == "no mass"
    assert prompts["mass"]["1"][0] == "mass"
    assert prompts["calcification"]["1"][0] == "suspicious calcification"
    assert prompts["cancer"]["1"][0] == "malignancy"


def test_prompt_override_file(tmp_path):
    path = tmp_path / "prompts.toml"
    path.write_text('[mass]\n"0" = ["clear"]\n"1" = ["lump"]\n', encoding="utf-8")

    merged = merged_prompts(load_prompts(path))

    assert merged["mass"] == {"0": ["clear"], "1": ["lump"]}
    assert merged["calcification"] == default_prompts()["calcification"]


def test_prompt_override_rejects_empty_class(tmp_path):
    path = tmp_path / "prompts.toml"
    path.write_text('[mass]\n"0" = []\n"1" = ["lump"]\n', encoding="utf-8")

    with pytest.raises(ConfigError, match="class '0'"):
        load_prompts(path)
