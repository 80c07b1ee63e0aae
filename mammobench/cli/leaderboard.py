"""``mammobench leaderboard build|check``: tables and plots from result records."""

from __future__ import annotations

from pathlib import Path

import typer

from mammobench.cli.console import console, error_console, print_error
from mammobench.plural import counted


def register(app: typer.Typer) -> None:
    """Add the ``leaderboard`` command group to ``app``."""
    group = typer.Typer(
        help="Build leaderboards from result records, or check a committed one.",
        no_args_is_help=True,
    )
    group.command("build")(build_command)
    group.command("check")(check_command)
    app.add_typer(group, name="leaderboard")


def build_command(
    results: list[Path] = typer.Argument(..., help="Result folders (each with cells/ and runs/), e.g. leaderboards/synthetic/results."),
    out: Path = typer.Option(..., "--out", "-o", help="Leaderboard folder to write, e.g. leaderboards/synthetic."),
    name: str = typer.Option(None, "--name", help="Name in the title; default: the name of the --out folder."),
) -> None:
    """Build Markdown, CSV, JSON, HTML and data-efficiency plots from result records.

    The output depends only on the records: the same records give byte-identical files.
    """
    from mammobench.leaderboard.build import build_leaderboard

    result = build_leaderboard(results, out, name=name)
    board = result.board
    console.print(
        f"Built '{board.title}' from {counted(len(board.inputs.cells), 'cell')}: "
        f"{counted(len(board.rows), 'encoder')}, {counted(len(board.columns), 'task')}, "
        f"{len(board.ranked)} ranked."
    )
    console.print(f"Wrote {len(result.files)} files to {result.folder}.")
    for removed in result.removed:
        console.print(f"  removed stale {removed}")


def check_command(
    folder: Path = typer.Argument(..., help="Committed leaderboard folder, e.g. leaderboards/synthetic."),
) -> None:
    """Rebuild a leaderboard from its result records and fail when the committed files differ."""
    from mammobench.leaderboard.build import check_leaderboard

    result = check_leaderboard(folder)
    for note in result.notes:
        error_console.print(f"note: {note}", soft_wrap=True, markup=False)
    if not result.ok:
        for problem in result.problems:
            error_console.print(problem, soft_wrap=True, markup=False, highlight=False)
        print_error(
            f"leaderboard '{folder}' differs from a rebuild of its results in "
            f"{len(result.problems)} file(s); run 'mammobench leaderboard build' on its results "
            "and commit the output"
        )
        raise typer.Exit(1)
    console.print(f"Leaderboard '{folder}' matches a rebuild of its results.")
