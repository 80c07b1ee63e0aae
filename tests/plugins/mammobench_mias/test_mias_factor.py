"""mias-factor and mias-factor-loc: their registration, and runs on the real mini-MIAS images.

The runs use a tiny Mammo-CLIP. The localization task runs through the CLI as a user would,
``--heatmap-percentile`` and ``--save-overlays`` included. The classification task then reuses
the cached feature maps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mammobench.cli.app import main
from mammobench.factor.names import factor_metric_names
from mammobench.plugin_host import get_host
from mammobench.protocols.base import RunSettings
from mammobench.results.store import ResultStore
from mammobench.runner import RunRequest, run_benchmark
from mammobench.tasks.base import FactorTask, build_task

ATTRIBUTES = ("mass", "calcification")


@pytest.mark.parametrize(("name", "localize"), [("mias-factor", False), ("mias-factor-loc", True)])
def test_factor_task_registered(name, localize):
    spec = get_host().task(name)
    task = build_task(spec)

    assert spec.protocols == ["factor"]
    assert spec.dataset == "mias"
    assert spec.metrics == factor_metric_names(ATTRIBUTES, localize=localize)
    assert isinstance(task, FactorTask)
    assert task.attributes == ATTRIBUTES
    assert task.localize is localize


@pytest.fixture(scope="module")
def mias_dir(realdata_dir: Path) -> Path:
    path = realdata_dir / "mini-mias"
    if not (path / "Info.txt").is_file():
        pytest.skip(f"'{path}' has no Info.txt")
    return path


@pytest.fixture(scope="module")
def localization_run(mias_dir, tiny_mammoclip, tmp_path_factory):
    """Exit status and output folder of 'mammobench run --task mias-factor-loc'."""
    folder = tmp_path_factory.mktemp("mias-factor-loc")
    arguments = [
        "run",
        "--model", "mammoclip",
        "--task", "mias-factor-loc",
        "--weights", str(tiny_mammoclip),
        "--data-root", str(mias_dir),
        "--results", str(folder / "results"),
        "--epochs", "2",
        "--workers", "0",
        "--heatmap-percentile", "99",
        "--save-overlays", str(folder / "overlays"),
    ]  # fmt: skip
    return main(arguments), folder


def _test_records(folder: Path) -> list:
    records = ResultStore(folder / "results", create=False).iter_records()
    return [record for record in records if record.split == "test"]


@pytest.mark.realdata
def test_localization_cli_succeeds(localization_run):
    status, folder = localization_run

    assert status == 0
    assert [record.metric for record in _test_records(folder)] == factor_metric_names(ATTRIBUTES, localize=True)


@pytest.mark.realdata
def test_localization_records_real_data(localization_run):
    _, folder = localization_run

    records = _test_records(folder)

    assert {record.status.value for record in records} == {"ok"}
    mass = next(record for record in records if record.metric == "hit_rate@0.25/mass")
    assert mass.n_eval > 0
    assert 0.0 <= mass.value <= 1.0


@pytest.mark.realdata
def test_percentile_option_reaches_cell(localization_run):
    _, folder = localization_run
    store = ResultStore(folder / "results", create=False)

    cell = store.read_cell(_test_records(folder)[0].cell_id)

    assert cell.details["config"]["heatmap_percentile"] == 99.0
    assert cell.details["evaluation"]["box_threshold_percentile"] == 99.0


@pytest.mark.realdata
def test_overlays_show_both_attributes(localization_run):
    _, folder = localization_run

    files = sorted((folder / "overlays").rglob("*.png"))

    assert {path.name.split("-")[0] for path in files} == set(ATTRIBUTES)
    with Image.open(files[0]) as picture:
        assert picture.mode == "RGB"
        assert picture.width > picture.height  # image and heatmap panels side by side


@pytest.mark.realdata
def test_classification_on_real_images(localization_run, mias_dir, tiny_mammoclip, tmp_path):
    settings = RunSettings(profile="tiny", batch_size=16, num_workers=0, n_bootstrap=200, epochs=2)
    request = RunRequest(
        model="mammoclip",
        task="mias-factor",
        data_root=mias_dir,
        weights=tiny_mammoclip,
        results=tmp_path / "results",
        settings=settings,
    )

    summary = run_benchmark(request)

    assert [cell.status for cell in summary.cells] == ["ok"], [cell.message for cell in summary.cells]
    assert summary.synthetic is False
    names = [record.metric for record in summary.records if record.split == "test"]
    assert names == factor_metric_names(ATTRIBUTES, localize=False)
