"""Fixtures for sweep tests: a shared MAMMOBENCH_HOME and sweep configurations on tiny data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mammobench.results.store import ResultStore
from mammobench.sweep.config import SweepConfig, validate_sweep_config

# A tiny timm network with random weights: builds in a second and embeds quickly on a CPU.
TEST_ENCODER = "timm:test_efficientnet"


@pytest.fixture(scope="session")
def home() -> Path:
    """The test session's MAMMOBENCH_HOME (see tests/conftest.py).

    Sweep tests share its image and embedding caches with the runner tests, so the small
    synthetic dataset is decoded and embedded once per session.
    """
    return Path(os.environ["MAMMOBENCH_HOME"])


@pytest.fixture
def make_sweep(synthetic_vindr):
    """Factory of sweep configurations on the small synthetic VinDr copy.

    ``make_sweep(results, **values)``: the test encoder on vindr-mass and vindr-calc at label
    fractions 0.5 and 1.0, seed 0, on the CPU; ``values`` replace any of these.
    """

    def make(results: Path, **values) -> SweepConfig:
        data = {
            "name": "test",
            "encoders": [TEST_ENCODER],
            "tasks": ["vindr-mass", "vindr-calc"],
            "fractions": [0.5, 1.0],
            "seeds": [0],
            "results": str(results),
            "data_roots": {"vindr": str(synthetic_vindr)},
            "settings": {"profile": "tiny", "workers": 0, "device": "cpu"},
        }
        data.update(values)
        return validate_sweep_config(data)

    return make


@pytest.fixture
def stored_records():
    """Function returning the records of a results folder: cell id -> records without run ids."""

    def read(results: Path) -> dict[str, list[dict]]:
        return {
            cell.cell_id: [record.model_dump(mode="json", exclude={"run_id"}) for record in cell.records]
            for cell in ResultStore(results, create=False).iter_cells()
        }

    return read
