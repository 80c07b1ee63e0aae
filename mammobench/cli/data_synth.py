"""``mammobench data synth``: write a synthetic dataset in a real dataset's on-disk layout."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from mammobench.cli.console import console
from mammobench.cli.data import add_data_command
from mammobench.errors import ConfigError


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the ``data`` command group."""
    add_data_command("synth", synth_command)


def synth_command(
    layout: str = typer.Option(
        ...,
        "--layout",
        help="Dataset whose on-disk layout to write: 'vindr' (PhysioNet DICOM + CSV) or 'rsna' "
        "(Kaggle train.csv + DICOM); any registered dataset with a synthesizer works.",
    ),
    out: Path = typer.Option(..., "--out", help="Output folder; must be empty or not exist yet."),
    patients: int = typer.Option(120, "--patients", min=1, help="Number of patients, four images each."),
    size: str = typer.Option("640x384", "--size", help="Image size HEIGHTxWIDTH in pixels."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed; the same seed writes identical files."),
    lesion_contrast: float | None = typer.Option(
        None, "--lesion-contrast", min=0.0, help="Lesion contrast multiplier (default 1.0)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes (default: every CPU core); output does not depend on it."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Write into a non-empty output folder, replacing files of the same name."
    ),
) -> None:
    """Generate synthetic mammograms with findings, boxes, labels and reports in a real layout.

    The folder gets a SYNTHETIC.json marker, so every result computed on it is labelled
    synthetic. Point a task at it with --data-root or the dataset's environment variable.
    """
    from mammobench.data.roots import load_synthesizer
    from mammobench.plugin_host import get_host
    from mammobench.synth.config import SynthConfig, parse_size
    from mammobench.synth.runner import default_workers

    spec = get_host().dataset(layout)
    synthesizer = load_synthesizer(spec)

    overrides: dict[str, object] = {"patients": patients, "size": parse_size(size), "seed": seed}
    if lesion_contrast is not None:
        overrides["lesion_contrast"] = lesion_contrast
    config = SynthConfig.for_layout(layout, **overrides)

    out = out.expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output '{out}' is a file; choose a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"output folder '{out}' is not empty; choose a new folder or pass --overwrite")

    worker_count = workers or default_workers()
    console.print(
        f"Writing {patients} synthetic patients ({4 * patients} images, {config.height} x "
        f"{config.width}) in the '{layout}' layout to '{out}' with {worker_count} worker(s)"
    )
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("patients", total=patients)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        synthesizer(out, config, report, workers=worker_count)

    console.print(
        f"Done. This data is SYNTHETIC. Use it with --data-root {out}"
        + (f" or {spec.root_env}={out}" if spec.root_env else "")
    )
