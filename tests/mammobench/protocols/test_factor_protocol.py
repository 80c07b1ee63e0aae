"""The factor protocol end to end through the runner, on a small synthetic VinDr copy.

The encoder is a real Mammo-CLIP (image and text towers) pretrained for two epochs on the
synthetic copy's reports with a tiny recipe (the ``tiny_mammoclip`` fixture), so the run
exercises the real ``dense`` and ``text`` paths in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mammobench.factor.names import factor_metric_names
from mammobench.protocols.base import RunSettings
from mammobench.results.records import RecordStatus, ResultRecord
from mammobench.results.store import ResultStore
from mammobench.runner import RunRequest, run_benchmark

ATTRIBUTES = ("mass", "calcification")
PROFILE_SIZE = (256, 160)


def factor_request(task, data_root, weights, results, **settings) -> RunRequest:
    values = {"profile": "tiny", "batch_size": 16, "num_workers": 0, "n_bootstrap": 200, "epochs": 3}
    values.update(settings)
    return RunRequest(
        model="mammoclip",
        task=task,
        data_root=data_root,
        weights=weights,
        results=results,
        settings=RunSettings(**values),
    )


@pytest.fixture(scope="module")
def classification_run(synthetic_vindr, tiny_mammoclip, tmp_path_factory):
    results = tmp_path_factory.mktemp("factor-classification")
    return run_benchmark(factor_request("vindr-factor", synthetic_vindr, tiny_mammoclip, results)), results


@pytest.fixture(scope="module")
def localization_run(synthetic_vindr, tiny_mammoclip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("factor-localization")
    results, overlays = folder / "results", folder / "overlays"
    request = factor_request("vindr-factor-loc", synthetic_vindr, tiny_mammoclip, results, save_overlays=overlays)
    return run_benchmark(request), results, overlays


def test_classification_cell_ok(classification_run):
    summary, _ = classification_run

    assert [cell.status for cell in summary.cells] == ["ok"], [cell.message for cell in summary.cells]
    assert summary.synthetic


def test_classification_metric_records(classification_run):
    summary, _ = classification_run

    test_records = [record for record in summary.records if record.split == "test"]
    assert [record.metric for record in test_records] == factor_metric_names(ATTRIBUTES, localize=False)
    for record in test_records:
        assert record.status is RecordStatus.OK
        assert record.protocol == "factor"
        assert record.n_eval and record.n_eval_patients
        assert record.subset_hash and record.cache_key
        assert 0.0 <= record.value <= 1.0, record.metric


def test_classification_records_read_back(classification_run):
    summary, results = classification_run

    stored = list(ResultStore(results, create=False).iter_records())

    assert all(isinstance(record, ResultRecord) for record in stored)
    assert sorted(record.metric for record in stored) == sorted(record.metric for record in summary.records)


def test_classification_predictions_stored(classification_run):
    summary, results = classification_run
    store = ResultStore(results, create=False)

    predictions = store.load_predictions(summary.records[0].cell_id)

    columns = set(predictions.columns)
    assert {"image_id", "patient_id", "target_mass", "score_mass", "score_calcification"} <= columns
    auc_record = next(r for r in summary.records if r.metric == "auc/mass" and r.split == "test")
    assert len(predictions) == auc_record.n_eval


def test_validation_record_is_mean_auc(classification_run):
    summary, results = classification_run
    cell = ResultStore(results, create=False).read_cell(summary.records[0].cell_id)

    validation = [record for record in summary.records if record.split == "val"]
    heads = cell.details["heads"]
    expected = np.mean([heads[attribute]["best_validation_auc"] for attribute in ATTRIBUTES])
    assert [record.metric for record in validation] == ["auc"]
    assert validation[0].value == pytest.approx(expected)


def test_mlp_input_follows_profile(classification_run):
    summary, results = classification_run
    cell = ResultStore(results, create=False).read_cell(summary.records[0].cell_id)

    features = cell.details["features"]
    assert features["stride"] == 32
    assert features["grid"] == [PROFILE_SIZE[0] // 32, PROFILE_SIZE[1] // 32]
    assert features["mlp_input_size"] == (PROFILE_SIZE[0] // 32) * (PROFILE_SIZE[1] // 32)


def test_localization_cell_ok(localization_run):
    summary, _, _ = localization_run

    assert [cell.status for cell in summary.cells] == ["ok"], [cell.message for cell in summary.cells]
    names = [record.metric for record in summary.records if record.split == "test"]
    assert names == factor_metric_names(ATTRIBUTES, localize=True)


def test_localization_values_in_range(localization_run):
    summary, _, _ = localization_run

    for record in summary.records:
        if record.split == "test" and record.value is not None:
            assert 0.0 <= record.value <= 1.0, record.metric
            assert record.ci_low <= record.value <= record.ci_high, record.metric


def test_localization_boxes_in_image_frame(localization_run):
    summary, results, _ = localization_run
    predictions = ResultStore(results, create=False).load_predictions(summary.records[0].cell_id)

    assert not predictions.empty
    assert set(predictions["category"]) <= set(ATTRIBUTES)
    height, width = PROFILE_SIZE
    assert (predictions["xmin"] >= 0).all()
    assert (predictions["xmax"] <= width).all()
    assert (predictions["ymin"] >= 0).all()
    assert (predictions["ymax"] <= height).all()
    assert (predictions["source_xmax"] > predictions["source_xmin"]).all()


def test_localization_overlays_written(localization_run):
    _, _, overlays = localization_run

    files = sorted(overlays.rglob("*.png"))

    assert files
    with Image.open(files[0]) as picture:
        assert picture.mode == "RGB"
        assert picture.height >= 640
