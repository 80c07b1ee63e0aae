from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mammobench.errors import ConfigError
from mammobench.plugin_host import PluginHost, module_info, set_host
from mammobench.protocols.base import RunSettings
from mammobench.results.records import RecordStatus
from mammobench.results.store import ResultStore
from mammobench.runner import RunRequest, run_benchmark

ENCODER = "timm:test_efficientnet"


@pytest.fixture
def host(monkeypatch):
    """The installed plugins plus the edge-case test plugin, as the process-wide host."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import runner_plugins.edge_tasks as edge_tasks

    host = PluginHost(autoload=True).load()
    assert host.register_plugin(edge_tasks, module_info(edge_tasks))
    set_host(host)
    yield host
    set_host(None)


def settings(**overrides) -> RunSettings:
    values = dict(profile="tiny", batch_size=16, num_workers=0, n_bootstrap=200)
    values.update(overrides)
    return RunSettings(**values)


def request(task: str, data_root: Path, results: Path, **overrides) -> RunRequest:
    values = dict(
        model=ENCODER,
        task=task,
        data_root=data_root,
        results=results,
        fractions=(0.5, 1.0),
        seeds=(0, 1),
        settings=settings(),
    )
    values.update(overrides)
    return RunRequest(**values)


def test_linear_probe_cells_are_recorded(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path))

    assert [(c.fraction, c.seed) for c in summary.cells] == [(0.5, 0), (0.5, 1), (1.0, 0), (1.0, 1)]
    assert all(c.status == "ok" for c in summary.cells), [c.message for c in summary.cells]
    assert summary.synthetic is True
    test_records = [r for r in summary.records if r.split == "test"]
    assert len(test_records) == 4
    for record in test_records:
        assert record.metric == "auc"
        assert record.n_bootstrap is not None and record.n_bootstrap > 0
        assert record.synthetic
        assert record.subset_hash
        assert record.cache_key
    stored = list(ResultStore(tmp_path, create=False).iter_records())
    assert sorted(r.cell_id for r in stored) == sorted(r.cell_id for r in summary.records)


def test_repeated_fraction_and_seed_run_once(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path, fractions=(1.0, 1.0), seeds=(0, 0)))

    assert [(c.fraction, c.seed) for c in summary.cells] == [(1.0, 0)]


def test_smaller_fraction_trains_on_fewer_patients(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path, seeds=(0,)))

    half, full = summary.cells
    assert half.n_train_patients < full.n_train_patients


def test_predictions_are_stored_per_image(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("vindr-calc", synthetic_vindr, tmp_path, fractions=(1.0,), seeds=(0,)))

    store = ResultStore(tmp_path, create=False)
    cell_id = summary.records[0].cell_id
    predictions = store.load_predictions(cell_id)
    test_record = next(r for r in summary.records if r.split == "test")
    assert len(predictions) == test_record.n_eval
    assert set(predictions.columns) >= {"image_id", "patient_id", "target", "score"}


def test_rerun_skips_finished_cells(host, synthetic_vindr, tmp_path):
    first = run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path))
    second = run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path))

    assert all(cell.reused for cell in second.cells)
    assert second.records == []
    assert [c.value for c in second.cells] == [c.value for c in first.cells]
    assert len(list(ResultStore(tmp_path, create=False).iter_records())) == len(first.records)


def one_cell(data_root: Path, results: Path, **overrides) -> RunRequest:
    """A vindr-mass run of one cell (fraction 1, seed 0) with ``overrides`` on the settings."""
    return request(
        "vindr-mass", data_root, results, seeds=(0,), fractions=(1.0,), settings=settings(**overrides)
    )


@pytest.mark.parametrize(
    "overrides, difference",
    [({"n_bootstrap": 300}, "bootstrap resamples 200 -> 300"), ({"epochs": 10}, "epochs default -> 10")],
)
def test_rerun_with_other_settings_raises(host, synthetic_vindr, tmp_path, overrides, difference):
    run_benchmark(one_cell(synthetic_vindr, tmp_path))

    with pytest.raises(ConfigError, match=re.escape(difference)):
        run_benchmark(one_cell(synthetic_vindr, tmp_path, **overrides))


def test_rerun_with_other_workers_reuses_cells(host, synthetic_vindr, tmp_path):
    run_benchmark(one_cell(synthetic_vindr, tmp_path))

    rerun = run_benchmark(one_cell(synthetic_vindr, tmp_path, num_workers=1))

    assert all(cell.reused for cell in rerun.cells)


@pytest.mark.parametrize(
    "synthetic_run, expected",
    [(True, ["vindr", "rsna"]), (False, ["vindr (synthetic)", "rsna"])],
)
def test_pretraining_provenance_marks_synthetic_copies(synthetic_run, expected):
    from mammobench.encoders.base import EncoderInfo
    from mammobench.runner import pretraining_provenance

    info = EncoderInfo("demo", "r1", pretraining_datasets=["vindr", "rsna"], synthetic_pretraining=["vindr"])

    assert pretraining_provenance(info, synthetic_run) == expected


def test_real_source_names_content_not_path(host, synthetic_vindr, tmp_path):
    from mammobench.data.roots import load_dataset
    from mammobench.runner import real_source

    copy = tmp_path / "elsewhere" / "vindr"
    shutil.copytree(synthetic_vindr, copy)

    original_source = real_source(load_dataset("vindr", synthetic_vindr))
    copy_source = real_source(load_dataset("vindr", copy))

    assert original_source == copy_source
    assert str(tmp_path) not in copy_source
    assert str(synthetic_vindr) not in original_source


def test_overwrite_always_reruns(host, synthetic_vindr, tmp_path):
    from mammobench.results.store import OverwritePolicy

    run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path, seeds=(0,)))
    again = run_benchmark(
        request("vindr-mass", synthetic_vindr, tmp_path, seeds=(0,), overwrite=OverwritePolicy.ALWAYS)
    )

    assert not any(cell.reused for cell in again.cells)


def test_subset_without_positives_is_invalid(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("no-train-mass", synthetic_vindr, tmp_path, seeds=(0,)))

    assert {c.status for c in summary.cells} == {"invalid"}
    for record in summary.records:
        assert record.status is RecordStatus.INVALID
        assert "mass" in record.reason


def test_failing_cell_records_error(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("broken-targets", synthetic_vindr, tmp_path, fractions=(1.0,), seeds=(0,)))

    assert summary.failed == 1
    record = summary.records[0]
    assert record.status is RecordStatus.ERROR
    assert "targets exploded on purpose" in record.error


def test_encoder_without_text_is_incompatible(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path, protocol="zero-shot"))

    assert [c.status for c in summary.cells] == ["incompatible"]
    assert summary.cells[0].fraction == 0.0
    assert "text" in summary.records[0].reason


def test_unsupported_protocol_is_config_error(host, synthetic_vindr, tmp_path):
    from mammobench.errors import ConfigError

    with pytest.raises(ConfigError, match="does not support protocol 'detection'"):
        run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path, protocol="detection"))


def test_density_reports_three_metrics(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(request("vindr-density", synthetic_vindr, tmp_path, fractions=(1.0,), seeds=(0,)))

    test_metrics = sorted(r.metric for r in summary.records if r.split == "test")
    assert test_metrics == ["accuracy", "balanced_accuracy", "macro_f1"]


def test_rsna_cancer_scores_breasts(host, synthetic_rsna, tmp_path):
    summary = run_benchmark(request("rsna-cancer", synthetic_rsna, tmp_path, fractions=(1.0,), seeds=(0,)))

    record = next(r for r in summary.records if r.split == "test")
    assert record.status is RecordStatus.OK
    predictions = ResultStore(tmp_path, create=False).load_predictions(record.cell_id)
    # One breast per (patient, laterality), each with two images: n_eval counts breasts.
    assert record.n_eval == predictions.groupby(["patient_id", "laterality"]).ngroups


def test_finetune_runs_one_epoch(host, synthetic_vindr, tmp_path):
    summary = run_benchmark(
        request(
            "vindr-mass",
            synthetic_vindr,
            tmp_path,
            protocol="finetune",
            fractions=(1.0,),
            seeds=(0,),
            settings=settings(epochs=1),
        )
    )

    assert [c.status for c in summary.cells] == ["ok"], summary.cells[0].message
    record = next(r for r in summary.records if r.split == "test")
    assert record.protocol == "finetune"


@pytest.mark.realdata
def test_mias_tasks_run_on_real_images(host, realdata_dir, tmp_path):
    for task in ("mias-abnormal", "mias-malignant"):
        summary = run_benchmark(request(task, realdata_dir / "mini-mias", tmp_path, fractions=(1.0,), seeds=(0,)))

        assert [c.status for c in summary.cells] == ["ok"], (task, summary.cells[0].message)
        assert summary.synthetic is False


def test_reuse_rejects_other_data(host, synthetic_vindr, tmp_path):
    import shutil

    from mammobench.errors import ConfigError
    from mammobench.synth.runner import MARKER_FILE

    unmarked = tmp_path / "unmarked-vindr"
    shutil.copytree(synthetic_vindr, unmarked)
    (unmarked / MARKER_FILE).unlink()
    results = tmp_path / "results"
    run_benchmark(request("vindr-mass", synthetic_vindr, results, fractions=(1.0,), seeds=(0,)))

    with pytest.raises(ConfigError, match="already has cell fraction 1, seed 0"):
        run_benchmark(request("vindr-mass", unmarked, results, fractions=(1.0,), seeds=(0,)))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seeds": (-1,)}, "seed -1 is invalid"),
        ({"seeds": (2**32,)}, "seed 4294967296 is invalid"),
        ({"settings": settings(profile="tinny")}, "unknown resolution profile 'tinny'"),
        ({"settings": settings(learning_rate=float("nan"))}, "learning rate nan is invalid"),
        ({"settings": settings(learning_rate=-1.0)}, "learning rate -1.0 is invalid"),
    ],
)
def test_invalid_settings_fail_early(host, synthetic_vindr, tmp_path, overrides, message):
    from mammobench.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        run_benchmark(request("vindr-mass", synthetic_vindr, tmp_path, **overrides))
    assert not (tmp_path / "cells").exists()
