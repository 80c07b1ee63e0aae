"""Sweeps that run: records, one embedding pass per dataset, resume, failures and fail-fast."""

from __future__ import annotations

import pytest

from mammobench.cli.app import main
from mammobench.leaderboard.build import build_leaderboard
from mammobench.results.store import ResultStore
from mammobench.sweep.run import run_sweep

ENCODER = "timm:test_efficientnet"


def test_sweep_runs_then_resumes(make_sweep, stored_records, tmp_path, home):
    results = tmp_path / "results"
    config = make_sweep(results, fractions=[1.0])

    first = run_sweep(config)
    cell_files = {path: path.stat().st_mtime_ns for path in (results / "cells").iterdir()}
    second = run_sweep(config)
    cache_keys = {record["task"]: record["cache_key"] for records in stored_records(results).values() for record in records}

    assert first.success, [event.message for event in first.failed]
    assert first.counts.done == 2
    assert len(cell_files) == 2
    assert cache_keys["vindr-mass"] == cache_keys["vindr-calc"]  # one embedding pass for both
    assert second.counts.reused == 2
    assert {path: path.stat().st_mtime_ns for path in (results / "cells").iterdir()} == cell_files


def test_sweep_records_feed_leaderboard(make_sweep, tmp_path, home):
    results = tmp_path / "board" / "results"
    config = make_sweep(results, tasks=["vindr-mass"], fractions=[1.0])

    result = run_sweep(config)
    built = build_leaderboard([results], tmp_path / "board", name="test")
    headers = ResultStore(results).run_headers()

    assert [row.label for row in built.board.rows] == [ENCODER]
    assert built.board.synthetic is True
    assert [column.task for column in built.board.columns] == ["vindr-mass"]
    assert result.config_file.is_file()
    assert [header.config["sweep"] for header in headers] == [{"name": "test", "config_sha256": config.sha256()}]


def test_failed_group_does_not_stop_sweep(make_sweep, tmp_path, home):
    # 'random/resnet18' takes no weights file, so its runs fail before any cell runs.
    config = make_sweep(
        tmp_path / "results",
        encoders=["random/resnet18", ENCODER],
        tasks=["vindr-mass"],
        weights={"random/resnet18": str(tmp_path / "weights.pt")},
    )

    result = run_sweep(config)
    statuses = {(cell.encoder, cell.fraction): event.status for cell, event in result.finished.items()}

    assert statuses == {
        ("random/resnet18", 0.5): "error",
        ("random/resnet18", 1.0): "error",
        (ENCODER, 0.5): "ok",
        (ENCODER, 1.0): "ok",
    }
    assert not result.success
    assert "takes no --weights" in result.failed[0].message


def test_fail_fast_stops_at_first_failure(make_sweep, tmp_path, home):
    config = make_sweep(
        tmp_path / "results",
        encoders=["random/resnet18", ENCODER],
        tasks=["vindr-mass"],
        weights={"random/resnet18": str(tmp_path / "weights.pt")},
    )

    result = run_sweep(config, fail_fast=True)

    assert result.stopped_early
    assert {cell.encoder for cell in result.not_run} == {ENCODER}
    assert len(result.failed) == 2


def test_sweep_command_exit_status(synthetic_vindr, tmp_path, home, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(
        "\n".join(
            [
                'name = "cli"',
                'encoders = ["random/resnet18"]',
                'tasks = ["vindr-mass"]',
                "fractions = [1.0]",
                'results = "results"',
                "[data_roots]",
                f'vindr = "{synthetic_vindr}"',
            ]
        ),
        encoding="utf-8",
    )

    planned = main(["sweep", "--config", str(path), "--dry-run"])
    failed = main(["sweep", "--config", str(path), "--weights", f"random/resnet18={tmp_path / 'w.pt'}"])

    assert planned == 0
    assert "1 cell in 1 work item" in capsys.readouterr().out
    assert failed == 1
    assert (tmp_path / "results" / "cells").is_dir()


def test_changed_settings_leave_cells_unrun(synthetic_vindr, tmp_path, home, capsys):
    lines = [
        'name = "cli"',
        'encoders = ["timm:test_efficientnet"]',
        'tasks = ["vindr-mass"]',
        "fractions = [1.0]",
        'results = "results"',
        "[data_roots]",
        f'vindr = "{synthetic_vindr}"',
        "[settings]",
        "workers = 0",
    ]
    first = tmp_path / "first.toml"
    first.write_text("\n".join(lines), encoding="utf-8")
    changed = tmp_path / "changed.toml"
    changed.write_text("\n".join([*lines, "bootstrap = 2000"]), encoding="utf-8")

    assert main(["sweep", "--config", str(first)]) == 0
    capsys.readouterr()
    status = main(["sweep", "--config", str(changed)])
    output = capsys.readouterr()

    assert status == 1
    assert "computed with other settings (bootstrap resamples 1000 -> 2000)" in output.out + output.err
    assert "did not run because of the errors above" in output.out


def test_sweep_command_rejects_bad_config(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text('name = "bad"\nencoders = ["x"]\ntasks = ["vindr-mass"]\ncolour = "red"\n', encoding="utf-8")

    status = main(["sweep", "--config", str(path)])

    assert status == 1
    assert "colour: Extra inputs are not permitted" in capsys.readouterr().err


@pytest.mark.slow
def test_process_pool_matches_in_process(make_sweep, stored_records, tmp_path, home):
    in_process = run_sweep(make_sweep(tmp_path / "here"))
    pooled = run_sweep(make_sweep(tmp_path / "pool", executor={"kind": "local", "jobs": 2}))

    assert in_process.success
    assert pooled.success, [event.message for event in pooled.failed] + pooled.errors
    assert stored_records(tmp_path / "pool") == stored_records(tmp_path / "here")
