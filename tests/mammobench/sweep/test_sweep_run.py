"""Sweeps that run: records, one embedding pass per dataset, resume, failures and fail-fast."""

from __future__ import annotations

from pathlib import Path

import json

import pytest

from mammobench.cli.app import main
from mammobench.leaderboard.build import build_leaderboard
from mammobench.results.store import ResultStore
from mammobench.sweep.run import run_sweep

ENCODER = "timm:test_efficientnet"


def embedding_passes(home: Path, encoder: str) -> list[dict]:
    """Key fields of the complete embedding cache entries of ``encoder``."""
    keys = []
    for entry in (home / "embeddings").iterdir():
        meta = entry / "meta.json"
        if meta.is_file():
            key = json.loads(meta.read_text(encoding="utf-8"))["key"]
            if key["encoder"] == encoder:
                keys.append(key)
    return keys


def test_sweep_runs_then_resumes(make_sweep, tmp_path, home):
    results = tmp_path / "results"
    config = make_sweep(results)

    first = run_sweep(config)
    cell_files = {path: path.stat().st_mtime_ns for path in (results / "cells").iterdir()}
    second = run_sweep(config)

    assert first.success, [event.message for event in first.failed]
    assert first.counts.done == 4
    assert len(embedding_passes(home, ENCODER)) == 1  # vindr-mass and vindr-calc share one pass
    assert len(cell_files) == 4
    assert second.counts.reused == 4
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
    assert "1 cells in 1 work items" in capsys.readouterr().out
    assert failed == 1
    assert (tmp_path / "results" / "cells").is_dir()


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
