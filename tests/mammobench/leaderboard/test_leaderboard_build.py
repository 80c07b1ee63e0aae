"""Leaderboard files: byte-identical rebuilds, the check, and what the pages state."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from mammobench.cli.app import main
from mammobench.leaderboard.build import OUTPUT_FILES, build_leaderboard, check_leaderboard


@pytest.fixture
def filled(results):
    """Three encoders, two tasks, three fractions, two seeds; one encoder lacks rsna-cancer."""
    values = {"mammoclip": 0.8, "random/resnet18": 0.6, "imagenet/resnet18": 0.7}
    for encoder, base in values.items():
        for task in ("vindr-mass", "rsna-cancer"):
            if encoder == "imagenet/resnet18" and task == "rsna-cancer":
                continue
            for fraction in (0.1, 0.5, 1.0):
                for seed in (0, 1):
                    value = base + 0.1 * fraction + 0.01 * seed
                    results.cell(encoder, task, fraction, seed, value, ci=(value - 0.05, value + 0.05))
    return results


def digests(folder):
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "results" not in path.relative_to(folder).parts
    }


def test_build_writes_every_format(filled):
    board_dir = filled.root.parent

    result = build_leaderboard([filled.root], board_dir)

    for name in OUTPUT_FILES:
        assert (board_dir / name).is_file(), name
    plots = sorted(path.name for path in (board_dir / "plots").iterdir())
    assert plots == [
        "rsna-cancer-v1-linear-probe.png",
        "rsna-cancer-v1-linear-probe.svg",
        "vindr-mass-v1-linear-probe.png",
        "vindr-mass-v1-linear-probe.svg",
    ]
    assert result.board.name == "board"


def test_build_is_byte_identical(filled, tmp_path):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)
    first = digests(board_dir)

    copy = tmp_path / "copy"
    build_leaderboard([filled.root], copy, name="board", base=board_dir)
    build_leaderboard([filled.root], board_dir)

    assert digests(board_dir) == first
    assert digests(copy) == first


def test_provenance_counts_cells_outside_the_sweep(results, make_results, tmp_path):
    results.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8)
    manual = make_results(tmp_path / "manual", sweep=None, run_id="run-2")
    manual.cell("random/resnet18", "vindr-mass", 1.0, 0, 0.6)

    build_leaderboard([results.root, manual.root], results.root.parent)
    markdown = (results.root.parent / "README.md").read_text(encoding="utf-8")

    assert "Sweeps: 'test' (config SHA-256 bbbbbbbbbbbb) (1 cell), no sweep (1 cell)." in markdown


def test_provenance_omits_sweeps_when_none_ran(tmp_path, make_results):
    manual = make_results(tmp_path / "board" / "results", sweep=None)
    manual.cell("mammoclip", "vindr-mass", 1.0, 0, 0.8)

    build_leaderboard([manual.root], manual.root.parent)
    markdown = (manual.root.parent / "README.md").read_text(encoding="utf-8")

    assert "Sweep" not in markdown


def test_markdown_states_source_and_marks(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)

    markdown = (board_dir / "README.md").read_text(encoding="utf-8")

    assert markdown.startswith("# mammobench leaderboard: board (SYNTHETIC data)")
    assert "Built from 30 result cells in results" in markdown
    assert "at commit aaaaaaaaaaaa" in markdown
    assert "| 1 | mammoclip | vindr | 1.00 | 0.905 ± 0.007 (n=2) | 0.905 ± 0.007 (n=2) † |" in markdown
    assert "| 2 | random/resnet18 | none | 2.00 | 0.705 ± 0.007 (n=2) | 0.705 ± 0.007 (n=2) |" in markdown
    assert "| – | imagenet/resnet18 | imagenet-1k | – | – | 0.805 ± 0.007 (n=2) |" in markdown


def test_csv_has_every_entry(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)

    lines = (board_dir / "leaderboard.csv").read_text(encoding="utf-8").splitlines()

    assert len(lines) == 1 + 3 * 2 * 3
    expected = "mammoclip,r1,vindr,vindr-mass,1,linear-probe,vindr,auc,true,1.0,2,0.905,0.007071,0.855,0.955,0.95,true,ok=2,1,1.0"
    assert expected in lines


def test_json_names_its_inputs(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)

    payload = json.loads((board_dir / "leaderboard.json").read_text(encoding="utf-8"))

    assert payload["inputs"]["results"] == ["results"]
    assert payload["inputs"]["cells"] == 30
    assert payload["inputs"]["files"][0].startswith("results/cells/")
    assert payload["provenance"]["commits"] == [{"commit": "a" * 40, "dirty": False, "cells": 30}]


def test_html_is_self_contained(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)

    html = (board_dir / "index.html").read_text(encoding="utf-8")

    assert "<style>" in html
    assert html.count('src="data:image/svg+xml;base64,') == 2
    assert not re.search(r"""(src|href)=["'](https?:|//)""", html)
    assert "<script" not in html
    assert 'class="seen"' in html


def test_check_passes_on_fresh_build(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)

    result = check_leaderboard(board_dir)

    assert result.ok, result.problems
    assert result.notes == []


def test_check_shows_diff_of_new_results(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)
    filled.cell("imagenet/resnet18", "rsna-cancer", 1.0, 0, 0.5)

    result = check_leaderboard(board_dir)

    assert not result.ok
    readme = next(problem for problem in result.problems if problem.startswith("README.md"))
    assert "--- committed/README.md" in readme
    assert "+++ rebuilt/README.md" in readme
    assert any(problem.startswith("plots/rsna-cancer-v1-linear-probe.png: the plotted data changed") for problem in result.problems)


def test_check_reports_stale_plot(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)
    (board_dir / "plots" / "old-task-v1-linear-probe.png").write_bytes(b"old")

    result = check_leaderboard(board_dir)

    assert result.problems == ["plots/old-task-v1-linear-probe.png: stale; the build no longer writes it"]


def test_check_reports_missing_file(filled):
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)
    (board_dir / "leaderboard.csv").unlink()

    result = check_leaderboard(board_dir)

    assert result.problems == ["leaderboard.csv: missing; the build writes it"]


def test_check_tolerates_other_renderer(filled):
    # The same data drawn by another matplotlib version differs in bytes but not in content.
    board_dir = filled.root.parent
    build_leaderboard([filled.root], board_dir)
    svg = board_dir / "plots" / "vindr-mass-v1-linear-probe.svg"
    svg.write_text(re.sub(r"matplotlib [0-9][^<]*", "matplotlib 0.0", svg.read_text(encoding="utf-8")), encoding="utf-8")

    result = check_leaderboard(board_dir)

    assert result.ok, result.problems
    assert len(result.notes) == 1
    assert "matplotlib 0.0" in result.notes[0]


def test_check_command_exit_status(filled, capsys):
    board_dir = filled.root.parent
    assert main(["leaderboard", "build", str(filled.root), "--out", str(board_dir)]) == 0
    assert main(["leaderboard", "check", str(board_dir)]) == 0

    (board_dir / "README.md").write_text("edited\n", encoding="utf-8")

    assert main(["leaderboard", "check", str(board_dir)]) == 1
    assert "differs from a rebuild" in capsys.readouterr().err


def test_build_without_cells_fails(tmp_path):
    (tmp_path / "results" / "cells").mkdir(parents=True)

    assert main(["leaderboard", "build", str(tmp_path / "results"), "--out", str(tmp_path / "board")]) == 1
