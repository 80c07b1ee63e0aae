"""Pretraining under torchrun: two CPU processes (gloo) train one model and rank 0 writes it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from .conftest import tiny_recipe_text


@pytest.mark.slow
def test_torchrun_two_processes(reports_csv, tmp_path):
    recipe_path = tmp_path / "tiny.toml"
    recipe_path.write_text(tiny_recipe_text(reports_csv), encoding="utf-8")
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node", "2", "--master_port", str(_free_port()),
        "-m", "mammobench.cli.app", "pretrain", str(recipe_path), "--out", str(out),
    ]
    environment = dict(os.environ, OMP_NUM_THREADS="1")

    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)

    assert completed.returncode == 0, completed.stderr[-3000:]
    card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    assert card["world_size"] == 2
    # 8 training breasts over 2 processes with 4 per batch: one step per epoch.
    assert card["steps"] == 2
    assert card["final_val_loss"] is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
