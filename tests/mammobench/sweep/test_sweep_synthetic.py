"""Synthetic copies with a sweep's generator settings: named by their settings, made once."""

from __future__ import annotations

import json

from mammobench.plugin_host import get_host
from mammobench.sweep.synthetic import ensure_synthetic, synthetic_root

SETTINGS = {"patients": 3, "size": [96, 64], "cancer_prevalence": 0.5}


def test_root_named_by_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path))

    first = synthetic_root("rsna", SETTINGS)
    same = synthetic_root("rsna", dict(SETTINGS))
    other = synthetic_root("rsna", {**SETTINGS, "patients": 4})

    assert first == same
    assert first != other
    assert first.parent == tmp_path / "datasets"
    assert first.name.startswith("rsna-synthetic-v")


def test_copy_generated_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path))

    root = ensure_synthetic("rsna", SETTINGS, get_host())
    marker = root / "SYNTHETIC.json"
    written = marker.stat().st_mtime_ns
    again = ensure_synthetic("rsna", SETTINGS, get_host())

    assert again == root
    assert marker.stat().st_mtime_ns == written
    assert json.loads(marker.read_text(encoding="utf-8"))["config"]["patients"] == 3
    assert [path.name for path in (tmp_path / "datasets").iterdir()] == [root.name]
