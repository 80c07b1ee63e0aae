"""prepare_images and 'mammobench data prepare': parallel filling, failures, exit status."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mammobench.cli.app import main
from mammobench.data.image_cache import ImageCache
from mammobench.data.manifest import Manifest
from mammobench.data.prepare import prepare_images
from mammobench.plugin_host import PluginHost, module_info, set_host

# A dataset plugin whose adapter lists every PNG under the root as one image.
_PLUGIN_SOURCE = '''
from pathlib import Path

import numpy as np
import pandas as pd

from mammobench.api import DatasetSpec, hookimpl
from mammobench.data.manifest import Manifest


def load(root):
    rows = []
    for path in sorted(Path(root).glob("*.png")):
        rows.append({
            "image_id": path.stem, "patient_id": path.stem, "exam_id": path.stem,
            "laterality": "L", "view": "CC", "path": path.name, "split": "train",
            "density": None, "birads": np.nan, "age": np.nan, "site": "",
        })
    return Manifest(dataset="toy-pngs", root=Path(root), images=pd.DataFrame(rows))


@hookimpl
def mammobench_register_datasets():
    return [DatasetSpec(name="toy-pngs", description="PNG files in one folder.", loader=f"{__name__}:load")]
'''


def write_breast_png(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:300, 0:200]
    inside = ((columns / 120.0) ** 2 + ((rows - 150) / 120.0) ** 2) <= 1.0
    image = rng.uniform(0.0, 0.02, size=(300, 200))
    image[inside] = 0.5
    Image.fromarray((image * 255).astype(np.uint8)).save(path)


def make_folder(root: Path, good: int, broken: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index in range(good):
        write_breast_png(root / f"good{index}.png", seed=index)
    for index in range(broken):
        (root / f"broken{index}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    return root


def folder_manifest(root: Path) -> Manifest:
    rows = [
        {
            "image_id": path.stem, "patient_id": path.stem, "exam_id": path.stem,
            "laterality": "L", "view": "CC", "path": path.name, "split": "train",
            "density": None, "birads": np.nan, "age": np.nan, "site": "",
        }
        for path in sorted(root.glob("*.png"))
    ]
    return Manifest(dataset="toy", root=root, images=pd.DataFrame(rows))


@pytest.fixture
def toy_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MAMMOBENCH_STRICT_PLUGINS", raising=False)
    monkeypatch.setenv("MAMMOBENCH_HOME", str(tmp_path / "home"))
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "mammobench_toy_pngs.py").write_text(textwrap.dedent(_PLUGIN_SOURCE))
    monkeypatch.syspath_prepend(str(plugin_dir))
    sys.modules.pop("mammobench_toy_pngs", None)
    module = importlib.import_module("mammobench_toy_pngs")

    host = PluginHost(allow=[]).load()
    host.register_plugin(module, module_info(module))
    set_host(host)
    yield host
    set_host(None)
    sys.modules.pop("mammobench_toy_pngs", None)


def test_prepare_reports_failures_and_goes_on(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", good=3, broken=1)
    outcomes: list[str] = []

    report = prepare_images(
        folder_manifest(root), "tiny", workers=0, cache_root=tmp_path / "cache", on_progress=outcomes.append
    )

    assert report.total == 4
    assert report.prepared == 3
    assert [failure.image_id for failure in report.failures] == ["broken0"]
    assert "broken0.png" in report.failures[0].message
    assert sorted(outcomes) == ["failed", "prepared", "prepared", "prepared"]


def test_prepare_second_run_all_cached(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", good=2, broken=0)
    prepare_images(folder_manifest(root), "tiny", workers=0, cache_root=tmp_path / "cache")

    report = prepare_images(folder_manifest(root), "tiny", workers=0, cache_root=tmp_path / "cache")

    assert report.cached == 2
    assert report.prepared == 0


def test_prepare_in_worker_processes(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", good=5, broken=1)

    report = prepare_images(folder_manifest(root), "tiny", workers=2, cache_root=tmp_path / "cache")

    assert report.prepared == 5
    assert len(report.failures) == 1
    cache = ImageCache("tiny", root=tmp_path / "cache")
    assert all(cache.contains(root / f"good{index}.png", "L") for index in range(5))


def test_cli_prepare_fills_cache(toy_host, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_folder(tmp_path / "data", good=2, broken=1)
    arguments = ["data", "prepare", "--dataset", "toy-pngs", "--root", str(root), "--profile", "tiny", "--workers", "0"]

    assert main(arguments) == 0
    first = capsys.readouterr().out
    assert main(arguments) == 0
    second = capsys.readouterr().out

    assert "2 prepared, 0 already cached, 1 failed, of 3 images" in first
    assert "broken0" in first
    assert "0 prepared, 2 already cached, 1 failed, of 3 images" in second


def test_cli_prepare_all_failed_exits_one(toy_host, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = make_folder(tmp_path / "data", good=0, broken=2)

    status = main(["data", "prepare", "--dataset", "toy-pngs", "--data-root", str(root), "--workers", "0"])

    assert status == 1
    assert "every one of the 2 images of 'toy-pngs' failed" in capsys.readouterr().err


def test_cli_prepare_unknown_dataset(toy_host, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["data", "prepare", "--dataset", "toy-png", "--root", str(tmp_path)])
    assert status == 1
    assert "unknown dataset 'toy-png'; did you mean 'toy-pngs'?" in capsys.readouterr().err


def test_cli_prepare_missing_root(toy_host, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["data", "prepare", "--dataset", "toy-pngs", "--root", str(tmp_path / "nowhere")])
    assert status == 1
    assert "is not a folder" in capsys.readouterr().err


def test_data_group_accepts_more_commands(toy_host, capsys: pytest.CaptureFixture) -> None:
    from mammobench.cli.data import add_data_command, data_app

    def hello_command() -> None:
        """Print a greeting."""
        print("hello from data")

    add_data_command("hello", hello_command)
    add_data_command("hello", hello_command)  # adding again replaces, never duplicates
    try:
        assert main(["data", "hello"]) == 0
        assert "hello from data" in capsys.readouterr().out
        assert [command.name for command in data_app.registered_commands].count("hello") == 1
    finally:
        data_app.registered_commands = [c for c in data_app.registered_commands if c.name != "hello"]
