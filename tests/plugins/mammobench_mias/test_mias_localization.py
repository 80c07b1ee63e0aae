"""mias-loc on the real mini-MIAS images: circles as boxes, one detector epoch, every metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mammobench.detection.names import detection_metric_names
from mammobench.protocols.base import RunSettings
from mammobench.results.store import ResultStore
from mammobench.runner import RunRequest, run_benchmark

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def mias_dir(realdata_dir: Path) -> Path:
    path = realdata_dir / "mini-mias"
    if not (path / "Info.txt").is_file():
        pytest.skip(f"'{path}' has no Info.txt")
    return path


@pytest.fixture(scope="module")
def mias_run(mias_dir, tmp_path_factory):
    results = tmp_path_factory.mktemp("mias-loc") / "results"
    settings = RunSettings(profile="tiny", batch_size=16, num_workers=0, n_bootstrap=200, epochs=1)
    request = RunRequest(
        model="timm:test_efficientnet", task="mias-loc", data_root=mias_dir, results=results, settings=settings
    )
    return run_benchmark(request), results


def test_cell_runs_on_real_images(mias_run):
    summary, _ = mias_run

    assert [cell.status for cell in summary.cells] == ["ok"], [cell.message for cell in summary.cells]
    assert summary.synthetic is False
    assert summary.dataset == "mias"


def test_every_metric_is_recorded(mias_run):
    summary, _ = mias_run

    names = [record.metric for record in summary.records if record.split == "test"]
    assert names == detection_metric_names(("mass", "calcification"))


def test_circles_become_test_boxes(mias_run):
    summary, results = mias_run
    cell = ResultStore(results, create=False).read_cell(summary.records[0].cell_id)

    assert cell.details["n_boxes"]["test"] > 0
    assert cell.details["boxes"]["dropped_degenerate"] == 0
    assert 0.0 <= cell.details["anchors"]["coverage"]["test"] <= 1.0


def test_main_metric_is_defined(mias_run):
    summary, _ = mias_run

    main = next(r for r in summary.records if r.split == "test" and r.metric == "ap@0.25")
    assert main.value is not None
    assert not np.isnan(main.value)
    assert main.n_eval_patients > 0
