from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from mammobench.data import roots
from mammobench.errors import DataError
from mammobench.plugin_host import PluginHost, get_host, module_info, set_host
from mammobench.synth import GENERATOR_VERSION, SynthConfig


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Install the small synthetic test plugin on a fresh host with its own MAMMOBENCH_HOME."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MAMMOBENCH_TEST_SMALL_VINDR_ROOT", raising=False)
    import small_synthetic_plugin

    small_synthetic_plugin.calls = 0
    host = PluginHost(autoload=False)
    host.register_plugin(small_synthetic_plugin, module_info(small_synthetic_plugin))
    previous = get_host()
    set_host(host)
    roots._ANNOUNCED.clear()
    yield small_synthetic_plugin
    set_host(previous)
    sys.modules.pop("small_synthetic_plugin", None)


def _write_copy(root: Path) -> Path:
    from mammobench_vindr.synth import write_synthetic

    write_synthetic(root, SynthConfig.for_layout("vindr", patients=2, size=(128, 96), seed=2), workers=1)
    return root


def test_default_generated_once(plugin, tmp_path: Path) -> None:
    first = roots.load_dataset("small-vindr")
    second = roots.load_dataset("small-vindr")

    expected = tmp_path / "home" / "datasets" / f"small-vindr-synthetic-v{GENERATOR_VERSION}"
    assert first.root == expected
    assert first.synthetic and second.synthetic
    assert plugin.calls == 1
    assert len(first.images) == 8
    leftovers = [entry.name for entry in expected.parent.iterdir() if entry.name.startswith(".")]
    assert leftovers == []


def test_default_logs_synthetic_notice(plugin, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mammobench.data.roots"):
        roots.load_dataset("small-vindr")
    text = caplog.text
    assert "SYNTHETIC" in text
    assert "small-vindr-synthetic-v" in text
    assert "--data-root" in text and "MAMMOBENCH_TEST_SMALL_VINDR_ROOT" in text


def test_argument_root_wins(plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = _write_copy(tmp_path / "given")
    monkeypatch.setenv("MAMMOBENCH_TEST_SMALL_VINDR_ROOT", str(tmp_path / "elsewhere"))
    manifest = roots.load_dataset("small-vindr", given)
    assert manifest.root == given
    assert plugin.calls == 0


def test_environment_root_used(plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = _write_copy(tmp_path / "configured")
    monkeypatch.setenv("MAMMOBENCH_TEST_SMALL_VINDR_ROOT", str(configured))
    manifest = roots.load_dataset("small-vindr")
    assert manifest.root == configured
    assert plugin.calls == 0


def test_real_data_not_marked_synthetic(plugin, tmp_path: Path) -> None:
    root = _write_copy(tmp_path / "copy")
    (root / "SYNTHETIC.json").unlink()
    assert not roots.load_dataset("small-vindr", root).synthetic


def test_missing_root_rejected(plugin, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        roots.load_dataset("small-vindr", tmp_path / "nowhere")


def test_missing_environment_root_rejected(plugin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMMOBENCH_TEST_SMALL_VINDR_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="MAMMOBENCH_TEST_SMALL_VINDR_ROOT"):
        roots.load_dataset("small-vindr")


def test_no_synthesizer_needs_root(plugin) -> None:
    with pytest.raises(DataError, match="no data root configured for dataset 'no-synthesizer'"):
        roots.load_dataset("no-synthesizer")


def test_abandoned_partial_removed(plugin, tmp_path: Path) -> None:
    datasets = tmp_path / "home" / "datasets"
    datasets.mkdir(parents=True)
    dead_pid = _dead_pid()
    abandoned = datasets / f".small-vindr-synthetic-v{GENERATOR_VERSION}.partial-{dead_pid}"
    (abandoned / "images").mkdir(parents=True)

    roots.load_dataset("small-vindr")
    assert not abandoned.exists()


def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
