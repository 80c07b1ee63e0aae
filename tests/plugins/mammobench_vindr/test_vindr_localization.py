"""vindr-loc end to end as the main job runs it: a Mammo-CLIP encoder, the CLI, two runs.

The main job (``mammobench run --model mammoclip --task vindr-loc``) trains the demo Mammo-CLIP
recipe and uses the default synthetic dataset, which takes minutes. Here the same command runs
on tiny settings: the session's tiny Mammo-CLIP, pretrained by ``mammobench pretrain`` on the
small synthetic VinDr copy of the test session (``--weights``), that copy as ``--data-root``,
and one detector epoch.
"""

from __future__ import annotations

import re

import pytest

from mammobench.cli.app import main
from mammobench.plugin_host import get_host
from mammobench.results.store import ResultStore

@pytest.fixture(scope="module")
def main_job(tiny_mammoclip, synthetic_vindr, tmp_path_factory):
    """Arguments of the main job on tiny settings, and its results folder."""
    folder = tmp_path_factory.mktemp("main-job")
    arguments = [
        "run",
        "--model", "mammoclip",
        "--task", "vindr-loc",
        "--weights", str(tiny_mammoclip),
        "--data-root", str(synthetic_vindr),
        "--results", str(folder / "results"),
        "--epochs", "1",
        "--workers", "0",
        "--save-overlays", str(folder / "overlays"),
    ]  # fmt: skip
    return arguments, folder


def test_main_job_prints_results_table(main_job, capsys):
    arguments, folder = main_job

    status = main(arguments)

    output = capsys.readouterr().out
    assert status == 0, output
    assert "vindr-loc v1 · detection · mammoclip" in output
    assert "ap@0.25 mean ± sd" in output
    assert re.search(r"│\s+1 │\s+\d+ │\s+\d\.\d{3} │\s+1 │ \[\d\.\d{3}, \d\.\d{3}\] │ 1 ok", output), output
    records = list(ResultStore(folder / "results", create=False).iter_records())
    assert {record.metric for record in records} >= {"ap@0.25", "ap@0.5", "ap@0.5:0.95", "froc_mean"}
    assert any((folder / "overlays").rglob("*.png"))


def test_second_run_reuses_results(main_job, capsys):
    arguments, _ = main_job
    main(arguments)
    capsys.readouterr()

    status = main(arguments)

    output = capsys.readouterr().out
    assert status == 0, output
    assert "1 ok (reused)" in output


def test_localization_tasks_are_registered():
    host = get_host()

    for name, categories in (
        ("vindr-loc", ["mass", "calcification"]),
        ("vindr-loc-mass", ["mass"]),
        ("vindr-loc-calc", ["calcification"]),
    ):
        spec = host.task(name)
        assert spec.kind == "detection", name
        assert spec.protocols == ["detection"], name
        assert spec.main_metric == "ap@0.25", name
        assert [metric for metric in spec.metrics if metric.startswith("ap@0.25/")] == [
            f"ap@0.25/{category}" for category in categories
        ], name
