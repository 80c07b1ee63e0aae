"""Sweep files: validation, command-line overrides, paths and the configuration hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mammobench.errors import ConfigError
from mammobench.sweep.config import load_sweep_config
from mammobench.sweep.run import save_resolved_config

BASIC = """
name = "basic"
encoders = ["timm:test_efficientnet"]
tasks = ["vindr-mass"]
fractions = [1.0, 0.5]
seeds = [1, 0]
results = "out"

[data_roots]
vindr = "data/vindr"

[settings]
profile = "tiny"
"""


def write(tmp_path: Path, text: str = BASIC, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_file_values_loaded(tmp_path):
    config = load_sweep_config(write(tmp_path))

    assert config.encoders == ["timm:test_efficientnet"]
    assert config.fractions == [0.5, 1.0]
    assert config.seeds == [0, 1]
    assert config.protocols == ["default"]
    assert config.settings.bootstrap == 1000


def test_unknown_key_rejected(tmp_path):
    path = write(tmp_path, BASIC + "\n[executor]\nkind = \"local\"\nworkers = 3\n")

    with pytest.raises(ConfigError, match=r"executor\.workers: Extra inputs are not permitted"):
        load_sweep_config(path)


def test_unknown_top_level_key_rejected(tmp_path):
    path = write(tmp_path, "seed = 3\n" + BASIC)

    with pytest.raises(ConfigError, match=r"seed: Extra inputs are not permitted"):
        load_sweep_config(path)


def test_invalid_fraction_named(tmp_path):
    path = write(tmp_path, BASIC.replace("[1.0, 0.5]", "[1.5]"))

    with pytest.raises(ConfigError, match=r"label fraction 1\.5 is invalid"):
        load_sweep_config(path)


def test_negative_seed_named(tmp_path):
    path = write(tmp_path, BASIC.replace("[1, 0]", "[0, -1]"))

    with pytest.raises(ConfigError, match="seed -1 is invalid"):
        load_sweep_config(path)


def test_too_few_bootstrap_rejected(tmp_path):
    with pytest.raises(ConfigError, match="bootstrap"):
        load_sweep_config(write(tmp_path), {"settings": {"bootstrap": 100}})


def test_missing_file_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_sweep_config(tmp_path / "absent.toml")


def test_overrides_replace_file_values(tmp_path):
    config = load_sweep_config(
        write(tmp_path),
        {"seeds": [7], "encoders": None, "settings": {"profile": "medium", "device": None}, "executor": {"jobs": 2}},
    )

    assert config.seeds == [7]
    assert config.encoders == ["timm:test_efficientnet"]
    assert config.settings.profile == "medium"
    assert config.settings.device == "auto"
    assert config.executor.jobs == 2


def test_relative_paths_follow_file(tmp_path, monkeypatch):
    path = write(tmp_path)
    monkeypatch.chdir(tmp_path.parent)

    config = load_sweep_config(path)

    assert config.resolve(config.results) == tmp_path / "out"
    assert config.resolve(config.data_roots["vindr"]) == tmp_path / "data" / "vindr"


def test_hash_ignores_executor_and_results(tmp_path):
    base = load_sweep_config(write(tmp_path)).sha256()

    moved = load_sweep_config(write(tmp_path), {"results": "/elsewhere", "executor": {"kind": "ray"}})
    changed = load_sweep_config(write(tmp_path), {"seeds": [0, 1, 2]})

    assert moved.sha256() == base
    assert changed.sha256() != base


def test_hash_independent_of_location(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()

    first = load_sweep_config(write(tmp_path / "a"))
    second = load_sweep_config(write(tmp_path / "b"))

    assert first.sha256() == second.sha256()


def test_resolved_config_saved(tmp_path):
    config = load_sweep_config(write(tmp_path))

    path = save_resolved_config(config, tmp_path / "out")
    saved = json.loads(path.read_text(encoding="utf-8"))

    assert path.name == f"basic-{config.sha256()[:12]}.json"
    assert saved["config_sha256"] == config.sha256()
    assert saved["experiment"]["seeds"] == [0, 1]
    assert saved["experiment"]["settings"]["bootstrap"] == 1000
    assert "results" not in saved["experiment"]
