"""Fixtures for core tests: fake plugin distributions on a temporary path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

FAKE_PLUGIN_DIR = Path(__file__).parent


def write_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """Write a minimal installed-distribution record with ``mammobench`` entry points."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "\n".join(f"{ep} = {target}" for ep, target in entry_points.items())
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(f"[mammobench]\n{lines}\n"), encoding="utf-8"
    )


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path holding fake plugin distributions, each with one entry point."""
    site = tmp_path / "site"
    write_distribution(site, "fake-good", "1.0", {"fake_good": "fake_plugins.good"})
    write_distribution(site, "fake-broken", "0.3", {"fake_broken": "fake_plugins.broken_import"})
    write_distribution(site, "fake-duplicate", "2.1", {"fake_other": "fake_plugins.duplicate"})
    write_distribution(site, "fake-bad-return", "0.1", {"fake_bad_return": "fake_plugins.bad_return"})
    write_distribution(site, "fake-orphan", "0.1", {"fake_orphan": "fake_plugins.orphan_task"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
    for module in [m for m in sys.modules if m.startswith("fake_plugins")]:
        monkeypatch.delitem(sys.modules, module)
    return site



