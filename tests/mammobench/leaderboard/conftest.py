"""Result folders written by hand: cells with chosen values, as the runner stores them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from mammobench.results.records import RecordStatus, ResultRecord, RunHeader
from mammobench.results.store import ResultStore

TASKS = {
    "vindr-mass": {"dataset": "vindr", "kind": "classification", "main_metric": "auc", "higher_is_better": True},
    "rsna-cancer": {"dataset": "rsna", "kind": "classification", "main_metric": "auc", "higher_is_better": True},
    "vindr-loc": {"dataset": "vindr", "kind": "detection", "main_metric": "froc", "higher_is_better": True},
    "toy-error": {"dataset": "toy", "kind": "classification", "main_metric": "mae", "higher_is_better": False},
}
PRETRAINING = {"mammoclip": ["vindr"], "random/resnet18": [], "imagenet/resnet18": ["imagenet-1k"]}


class ResultsWriter:
    """Writes cells into one results folder under a single run header."""

    def __init__(
        self,
        root: Path,
        *,
        synthetic: bool = True,
        commit: str = "a" * 40,
        sweep: str | None = "test",
        run_id: str = "run-1",
    ) -> None:
        self.root = root
        self.store = ResultStore(root)
        self.synthetic = synthetic
        self.header = RunHeader(
            run_id=run_id,
            mammobench_version="0.1.0",
            git_commit=commit,
            git_dirty=False,
            python_version="3.11",
            platform="linux",
            hostname="host",
            device="cpu",
            config={"sweep": {"name": sweep, "config_sha256": "b" * 64}} if sweep else {},
            started_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
        )
        self.store.write_run_header(self.header)

    def cell(
        self,
        encoder: str,
        task: str,
        fraction: float,
        seed: int,
        value: float | None = None,
        *,
        status: str = "ok",
        revision: str = "r1",
        ci: tuple[float, float] | None = None,
        reason: str | None = None,
    ) -> None:
        facts = TASKS[task]
        status_value = RecordStatus(status)
        fields = dict(
            encoder=encoder,
            encoder_revision=revision,
            task=task,
            task_version="1",
            protocol="detection" if facts["kind"] == "detection" else "linear-probe",
            fraction=fraction,
            seed=seed,
            split="test",
            metric=facts["main_metric"],
            status=status_value,
            dataset=facts["dataset"],
            data_source="synthetic" if self.synthetic else "/data/" + facts["dataset"],
            synthetic=self.synthetic,
        )
        if status_value is RecordStatus.OK:
            fields["value"] = value
            fields["reason"] = reason if value is None else None
            if ci is not None:
                fields.update(ci_low=ci[0], ci_high=ci[1], ci_level=0.95)
        elif status_value is RecordStatus.ERROR:
            fields["error"] = reason or "RuntimeError: boom"
        else:
            fields["reason"] = reason or f"{status} for a test"
        details = {
            "encoder": {"pretraining_datasets": PRETRAINING.get(encoder, [])},
            "task": facts,
        }
        self.store.write_cell([ResultRecord(**fields)], None, self.header, details=details)


@pytest.fixture
def results(tmp_path: Path) -> ResultsWriter:
    """An empty results folder inside a leaderboard folder ('board/results')."""
    return ResultsWriter(tmp_path / "board" / "results")


@pytest.fixture
def make_results():
    """Factory of further results folders: ``make_results(root, synthetic=True)``."""
    return ResultsWriter
