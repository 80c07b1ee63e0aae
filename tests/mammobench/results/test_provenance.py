"""Run provenance: header collection and git state."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import mammobench
from mammobench.results.provenance import (
    collect_run_header,
    finish_run_header,
    git_state,
    new_run_id,
)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder: Path, *arguments: str) -> None:
    subprocess.run(
        [
            "git",
            "-C",
            str(folder),
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            *arguments,
        ],
        check=True,
        capture_output=True,
    )


def test_header_has_provenance():
    header = collect_run_header(
        {"task": "vindr-mass"},
        seeds=[2, 0, 2],
        device="cpu",
        command_line=["mammobench", "run"],
        plugins=[],
    )
    assert header.mammobench_version == mammobench.__version__
    assert header.seeds == [0, 2]
    assert header.command_line == ["mammobench", "run"]
    assert "numpy" in header.libraries
    assert header.hostname
    assert header.finished_at is None
    assert len(header.config_sha256) == 64


def test_finish_sets_end_time():
    header = collect_run_header({}, device="cpu", plugins=[])
    finished = finish_run_header(header)
    assert finished.finished_at is not None
    assert finished.finished_at >= header.started_at


def test_run_ids_are_unique():
    assert new_run_id() != new_run_id()


@needs_git
def test_git_state_clean_and_dirty(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "file.txt").write_text("one")
    git(tmp_path, "add", "file.txt")
    git(tmp_path, "commit", "-q", "-m", "Add file")

    commit, dirty = git_state(tmp_path)
    assert commit is not None and len(commit) == 40
    assert dirty is False

    (tmp_path / "untracked.txt").write_text("ignored")
    assert git_state(tmp_path)[1] is False
    (tmp_path / "file.txt").write_text("two")
    assert git_state(tmp_path)[1] is True


@needs_git
def test_git_state_ignores_enclosing_repository(tmp_path):
    git(tmp_path, "init", "-q")
    nested = tmp_path / "venv" / "site-packages"
    nested.mkdir(parents=True)
    assert git_state(nested) == (None, None)


def test_git_state_outside_checkout(tmp_path):
    assert git_state(tmp_path) == (None, None)
