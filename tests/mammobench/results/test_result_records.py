"""Result record and run header validation."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from mammobench.metrics.bootstrap import bootstrap_metric
from mammobench.metrics.classification import auc
from mammobench.metrics.value import MetricValue
from mammobench.results.records import (
    CellKey,
    RecordStatus,
    ResultRecord,
    RunHeader,
    cell_id,
    config_sha256,
    metric_fields,
    unfinished_cell_records,
)

KEY = CellKey(
    encoder="mammoclip",
    encoder_revision="sha256:abc",
    task="vindr-mass",
    task_version="1",
    protocol="linear-probe",
    fraction=0.1,
    seed=0,
)
DATA = {"dataset": "vindr", "data_source": "synthetic", "synthetic": True}


def make_record(**overrides) -> ResultRecord:
    fields = {
        **KEY.model_dump(),
        "split": "test",
        "metric": "auc",
        "value": 0.8,
        "status": "ok",
        **DATA,
    }
    fields.update(overrides)
    return ResultRecord(**fields)


def test_record_validates():
    record = make_record(ci_low=0.7, ci_high=0.9, ci_level=0.95, n_bootstrap=1000, n_eval=120)
    assert record.status is RecordStatus.OK
    assert record.cell_id == KEY.cell_id
    assert record.key == KEY
    assert record.final


def test_cell_id_is_stable():
    assert KEY.cell_id == cell_id(
        "mammoclip", "sha256:abc", "vindr-mass", "1", "linear-probe", 0.1, 0
    )
    assert len(KEY.cell_id) == 20
    assert KEY.model_copy(update={"seed": 1}).cell_id != KEY.cell_id
    assert cell_id("e", "r", "t", "1", "p", 1, 0) == cell_id("e", "r", "t", "1", "p", 1.0, 0)


def test_record_rejects_unknown_field():
    with pytest.raises(ValidationError, match="extra"):
        make_record(auroc=0.8)


def test_record_rejects_wrong_cell_id():
    with pytest.raises(ValidationError, match="does not match the cell identity"):
        make_record(cell_id="0" * 20)


def test_nan_value_becomes_none():
    record = make_record(value=float("nan"), reason="only one class in the evaluated set")
    assert record.value is None


def test_missing_value_needs_reason():
    with pytest.raises(ValidationError, match="needs a reason"):
        make_record(value=None)


def test_infinite_value_rejected():
    with pytest.raises(ValidationError, match="infinite"):
        make_record(value=float("inf"))


def test_error_status_needs_text():
    with pytest.raises(ValidationError, match="error text"):
        make_record(value=None, status="error")


def test_error_status_rejects_value():
    with pytest.raises(ValidationError, match="must not have a value"):
        make_record(status="error", error="RuntimeError: boom")


def test_invalid_status_needs_reason():
    with pytest.raises(ValidationError, match="needs a reason"):
        make_record(value=None, status="invalid")


def test_ci_bounds_ordered():
    with pytest.raises(ValidationError, match="above ci_high"):
        make_record(ci_low=0.9, ci_high=0.7)


def test_fraction_out_of_range_rejected():
    with pytest.raises(ValidationError, match="fraction"):
        make_record(fraction=1.5)


def test_metric_fields_from_estimate():
    estimate = bootstrap_metric(
        auc, [0, 1, 0, 1, 1, 0], [0.1, 0.8, 0.3, 0.6, 0.4, 0.5], list("abcdef"), n_resamples=200
    )
    record = make_record(**metric_fields(estimate.value, estimate.ci))
    assert record.value == estimate.value.value
    assert record.ci_low == estimate.ci.low
    assert record.n_bootstrap == estimate.ci.n_used
    assert record.ci_method == "percentile bootstrap over patients"


def test_metric_fields_undefined_value():
    fields = metric_fields(MetricValue.undefined("only one class in the evaluated set"))
    record = make_record(**fields)
    assert record.value is None
    assert record.reason == "only one class in the evaluated set"


def test_unfinished_cell_records_per_metric():
    records = unfinished_cell_records(
        KEY,
        status=RecordStatus.INVALID,
        metrics=["auc", "auc@breast"],
        message="no positives",
        **DATA,
    )
    assert [record.metric for record in records] == ["auc", "auc@breast"]
    assert all(record.reason == "no positives" and record.value is None for record in records)


def test_error_records_are_not_final():
    records = unfinished_cell_records(
        KEY,
        status=RecordStatus.ERROR,
        metrics=["auc"],
        message="RuntimeError: out of memory",
        **DATA,
    )
    assert records[0].error == "RuntimeError: out of memory"
    assert not records[0].final


def make_header(**overrides) -> RunHeader:
    fields = {
        "run_id": "20250101T000000Z-abcd",
        "mammobench_version": "0.1.0",
        "git_commit": None,
        "git_dirty": None,
        "python_version": "3.11",
        "platform": "linux",
        "hostname": "host",
        "device": "cpu (2 threads)",
        "config": {
            "fractions": (0.1, 1.0),
            "data_root": Path("/data"),
            "options": {"b": 1, "a": 2},
        },
        "started_at": datetime(2025, 1, 1, tzinfo=timezone.utc),
    }
    fields.update(overrides)
    return RunHeader(**fields)


def test_header_hashes_config():
    header = make_header()
    assert header.config["data_root"] == "/data"
    assert header.config["fractions"] == [0.1, 1.0]
    assert header.config_sha256 == config_sha256(
        {"options": {"a": 2, "b": 1}, "fractions": [0.1, 1.0], "data_root": "/data"}
    )


def test_header_round_trips_json():
    header = make_header()
    assert RunHeader.model_validate_json(header.model_dump_json()) == header


def test_header_rejects_edited_config():
    payload = make_header().model_dump(mode="json")
    payload["config"]["fractions"] = [0.5]
    with pytest.raises(ValidationError, match="does not match the config"):
        RunHeader.model_validate(payload)


def test_header_rejects_unsafe_run_id():
    with pytest.raises(ValidationError, match="run_id"):
        make_header(run_id="../escape")


def test_header_rejects_nan_config():
    with pytest.raises((ValidationError, TypeError)):
        make_header(config={"lr": math.nan})
