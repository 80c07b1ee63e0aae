"""A sweep killed with SIGKILL mid-run and resumed ends with the records of an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mammobench.sweep.run import run_sweep

# Seconds the killed sweep may take to write its first cell (imports, data loading, embedding).
FIRST_CELL_TIMEOUT_S = 300


def write_sweep_file(path: Path, data_root: Path) -> Path:
    path.write_text(
        "\n".join(
            [
                'name = "kill-resume"',
                'encoders = ["timm:test_efficientnet"]',
                'tasks = ["vindr-mass", "vindr-calc"]',
                "fractions = [0.5, 1.0]",
                "seeds = [0]",
                "[data_roots]",
                f'vindr = "{data_root}"',
                "[settings]",
                'profile = "tiny"',
                "workers = 0",
                'device = "cpu"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def cell_files(results: Path) -> list[Path]:
    folder = results / "cells"
    if not folder.is_dir():
        return []
    return [path for path in folder.glob("*.json") if not path.name.startswith(".")]


def kill_after_first_cell(command: list[str], results: Path, home: Path, log: Path) -> int:
    """Start the sweep, SIGKILL it once its first cell file exists; return the cells written."""
    environment = {**os.environ, "MAMMOBENCH_HOME": str(home), "MAMMOBENCH_NUM_WORKERS": "0"}
    with open(log, "wb") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + FIRST_CELL_TIMEOUT_S
        try:
            while not cell_files(results):
                if process.poll() is not None:
                    tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                    pytest.fail(f"the sweep exited with {process.returncode} before writing a cell: {tail}")
                if time.monotonic() > deadline:
                    pytest.fail(f"the sweep wrote no cell within {FIRST_CELL_TIMEOUT_S} s")
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return len(cell_files(results))


def test_killed_sweep_resumes_without_loss(make_sweep, stored_records, synthetic_vindr, tmp_path, home):
    sweep_file = write_sweep_file(tmp_path / "sweep.toml", synthetic_vindr)
    reference = tmp_path / "reference"
    interrupted = tmp_path / "interrupted"
    command = [sys.executable, "-m", "mammobench.cli.app", "sweep", "--config", str(sweep_file), "--results", str(interrupted)]
    config = make_sweep(interrupted, name="kill-resume")

    uninterrupted = run_sweep(config.model_copy(update={"results": str(reference)}))
    written_before_kill = kill_after_first_cell(command, interrupted, home, tmp_path / "sweep.log")
    resumed = run_sweep(config)

    assert uninterrupted.success
    assert 1 <= written_before_kill < 4, "the kill must land mid-sweep"
    assert resumed.success
    assert resumed.counts.reused == written_before_kill
    assert len(cell_files(interrupted)) == 4
    assert stored_records(interrupted) == stored_records(reference)
