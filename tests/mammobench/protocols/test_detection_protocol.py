"""The detection protocol end to end through the runner, on a small synthetic VinDr copy."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mammobench.data.manifest import Manifest
from mammobench.detection.names import detection_metric_names
from mammobench.protocols.base import RunSettings
from mammobench.protocols.detection import drop_unlocalized_positives
from mammobench.results.store import ResultStore
from mammobench.runner import RunRequest, run_benchmark

ENCODER = "timm:test_efficientnet"
CATEGORIES = ("mass", "calcification")
PROFILE_SIZE = (256, 160)


def detection_request(data_root, results, **settings) -> RunRequest:
    values = dict(profile="tiny", batch_size=16, num_workers=0, n_bootstrap=200, epochs=1)
    values.update(settings)
    return RunRequest(
        model=ENCODER, task="vindr-loc", data_root=data_root, results=results, settings=RunSettings(**values)
    )


@pytest.fixture(scope="module")
def detection_run(synthetic_vindr, tmp_path_factory):
    """One frozen-backbone cell of vindr-loc with overlays, and where it wrote them."""
    folder = tmp_path_factory.mktemp("detection-run")
    results, overlays = folder / "results", folder / "overlays"
    summary = run_benchmark(detection_request(synthetic_vindr, results, save_overlays=overlays))
    return summary, results, overlays


def stored_cell(detection_run):
    summary, results, _ = detection_run
    store = ResultStore(results, create=False)
    cell_id = summary.records[0].cell_id
    return store, store.read_cell(cell_id), cell_id


def test_cell_is_ok(detection_run):
    summary, _, _ = detection_run

    assert [cell.status for cell in summary.cells] == ["ok"], [cell.message for cell in summary.cells]
    assert summary.main_metric == "ap@0.25"
    assert summary.synthetic is True


def test_records_cover_every_metric(detection_run):
    summary, _, _ = detection_run

    test_names = [record.metric for record in summary.records if record.split == "test"]
    val_names = [record.metric for record in summary.records if record.split == "val"]
    assert test_names == detection_metric_names(CATEGORIES)
    assert val_names == ["ap@0.25"]


def test_defined_records_have_intervals(detection_run):
    summary, _, _ = detection_run

    for record in summary.records:
        if record.split != "test" or record.value is None or np.isnan(record.value):
            continue
        assert record.n_bootstrap is not None and record.n_bootstrap > 0, record.metric
        assert record.ci_low <= record.value <= record.ci_high, record.metric
        assert record.n_eval_patients is not None


def test_predictions_have_one_row_per_box(detection_run):
    store, _, cell_id = stored_cell(detection_run)

    predictions = store.load_predictions(cell_id)

    expected = ["image_id", "patient_id", "category", "score", "xmin", "ymin", "xmax", "ymax"]
    assert list(predictions.columns[: len(expected)]) == expected
    assert {"source_xmin", "source_ymin", "source_xmax", "source_ymax"} <= set(predictions.columns)
    assert len(predictions) > 0
    assert set(predictions["category"]) <= set(CATEGORIES)
    assert (predictions["xmax"] > predictions["xmin"]).all()
    assert (predictions["xmax"] <= PROFILE_SIZE[1]).all()
    assert (predictions["ymax"] <= PROFILE_SIZE[0]).all()


def test_details_record_anchors_and_caps(detection_run):
    _, cell, _ = stored_cell(detection_run)
    details = cell.details

    coverage = details["anchors"]["coverage"]
    assert 0.0 <= coverage["train"] <= 1.0
    assert coverage["iou_threshold"] == 0.5
    assert details["max_detections"] == 100
    assert details["features"] == "frozen encoder, cached feature maps"
    assert details["best_epoch"] == 1
    assert len(details["history"]) == 1
    assert "processed pixels" in details["box_coordinates"]


def test_overlays_are_written(detection_run):
    summary, _, overlays = detection_run
    _, cell, _ = stored_cell(detection_run)

    files = sorted((overlays / "vindr-loc-fraction1-seed0").glob("*.png"))

    assert len(files) == cell.details["n_images"]["test"]
    with Image.open(files[0]) as picture:
        assert picture.mode == "RGB"
        assert picture.height >= PROFILE_SIZE[0]


def test_second_run_reuses_cell(detection_run, synthetic_vindr):
    _, results, _ = detection_run
    started = time.perf_counter()

    again = run_benchmark(detection_request(synthetic_vindr, results))

    assert [cell.reused for cell in again.cells] == [True]
    assert again.cells[0].status == "ok"
    assert time.perf_counter() - started < 60


def test_trained_backbone_cell_is_ok(synthetic_vindr, tmp_path):
    summary = run_benchmark(detection_request(synthetic_vindr, tmp_path, freeze_backbone=False))

    assert [cell.status for cell in summary.cells] == ["ok"], [cell.message for cell in summary.cells]
    cell = ResultStore(tmp_path, create=False).read_cell(summary.records[0].cell_id)
    assert cell.details["features"] == "encoder trained with the detector"


def test_unlocalized_positives_are_removed():
    images = pd.DataFrame(
        {
            "image_id": ["boxed", "unboxed", "normal"],
            "patient_id": ["p1", "p2", "p3"],
            "exam_id": ["e1", "e2", "e3"],
            "laterality": ["L", "R", "L"],
            "view": ["CC", "CC", "CC"],
            "path": ["a.png", "b.png", "c.png"],
            "split": ["train", "train", "test"],
            "density": [None, None, None],
            "birads": [np.nan] * 3,
            "age": [np.nan] * 3,
            "site": [""] * 3,
            "mass": [1.0, 1.0, 0.0],
        }
    )
    boxes = pd.DataFrame(
        {"image_id": ["boxed"], "category": ["mass"], "xmin": [1.0], "ymin": [1.0], "xmax": [5.0], "ymax": [5.0]}
    )
    manifest = Manifest("test", ".", images, boxes, label_columns=("mass",))

    kept, removed = drop_unlocalized_positives(manifest, ["mass", "calcification"])

    assert removed == 1
    assert kept.images["image_id"].tolist() == ["boxed", "normal"]
