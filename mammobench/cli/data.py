"""The ``data`` command group: ``mammobench data prepare`` and commands other modules add.

Other command modules add sub-commands to the same group with :func:`add_data_command`, e.g.
``add_data_command("synth", synth_command)`` in their ``register(app)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mammobench.cli.console import console, print_warning
from mammobench.data.profiles import DEFAULT_PROFILE, PROFILES
from mammobench.errors import DataError

data_app = typer.Typer(
    name="data",
    help="Prepare datasets: decode, crop and resize images into the cache.",
    no_args_is_help=True,
)

# Failures printed in full at the end of 'data prepare'; the rest are counted.
_MAX_LISTED_FAILURES = 20


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    add_data_command("prepare", prepare_command)
    app.add_typer(data_app, name="data")


def add_data_command(name: str, function: Callable[..., Any]) -> None:
    """Add ``function`` as ``mammobench data <name>``; adding the same name again replaces it."""
    data_app.registered_commands = [
        command for command in data_app.registered_commands if command.name != name
    ]
    data_app.command(name)(function)


def prepare_command(
    dataset: str = typer.Option(..., "--dataset", help="Registered dataset name, e.g. 'vindr'."),
    root: Path = typer.Option(..., "--data-root", "--root", help="Folder that contains the dataset in its layout (the same folder as --data-root of run)."),
    profile: str = typer.Option(
        DEFAULT_PROFILE,
        "--profile",
        help=f"Resolution profile: {', '.join(PROFILES)}.",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        help="Worker processes (default: MAMMOBENCH_NUM_WORKERS, else min(4, CPU count)); "
        "0 runs in this process.",
    ),
    canonical_side: str = typer.Option(
        "left", "--canonical-side", help="Image side the chest wall should face: left or right."
    ),
) -> None:
    """Decode, crop and resize every image of a dataset into the preprocessed-image cache.

    Failed files are listed at the end and do not stop the run.
    Exit status 0: at least one image is in the cache afterwards.
    Exit status 1: every image failed (usually a wrong root or a missing codec).
    """
    from mammobench.data.workers import default_num_workers
    from mammobench.data.prepare import load_dataset_manifest, prepare_images
    from mammobench.data.profiles import get_profile

    resolved_profile = get_profile(profile)
    worker_count = default_num_workers() if workers is None else workers
    manifest = load_dataset_manifest(dataset, root)
    total = len(manifest.images)
    console.print(
        f"Preparing {total} images of '{dataset}' at profile '{resolved_profile.name}' "
        f"({resolved_profile.height} x {resolved_profile.width}) with {worker_count} workers"
    )

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("preparing", total=total)
        report = prepare_images(
            manifest,
            resolved_profile,
            canonical_side=canonical_side,
            workers=worker_count,
            on_progress=lambda outcome: progress.advance(task),
        )

    console.print(
        f"{report.prepared} prepared, {report.cached} already cached, "
        f"{len(report.failures)} failed, of {report.total} images"
    )
    if report.failures:
        table = Table(title=f"Failed images ({len(report.failures)})", title_style="bold red")
        table.add_column("image_id", overflow="fold")
        table.add_column("error", overflow="fold")
        for failure in report.failures[:_MAX_LISTED_FAILURES]:
            table.add_row(failure.image_id, failure.message)
        console.print(table)
        hidden = len(report.failures) - _MAX_LISTED_FAILURES
        if hidden > 0:
            print_warning(f"{hidden} more failures are not in the table; each was logged above")
    if report.total > 0 and report.succeeded == 0:
        raise DataError(
            f"every one of the {report.total} images of '{dataset}' failed; the first error was: "
            f"{report.failures[0].message}"
        )
