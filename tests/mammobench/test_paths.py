from __future__ import annotations

import pytest

from mammobench import paths
from mammobench.errors import ConfigError


def test_home_that_is_file_rejected(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("MAMMOBENCH_HOME", str(home))

    with pytest.raises(ConfigError, match="set MAMMOBENCH_HOME to a writable folder"):
        paths.results_dir()


def test_home_subfolders_created(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path / "home"))

    assert paths.results_dir() == tmp_path / "home" / "results"
    assert paths.results_dir().is_dir()
