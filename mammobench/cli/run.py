"""``mammobench run``: every cell of one encoder on one task, then a results table."""

from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path

import typer
from rich.table import Table

from mammobench.cli.console import console
from mammobench.errors import ConfigError

# At least this many bootstrap resamples back every printed confidence interval.
MIN_BOOTSTRAP = 1000


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""
    app.command("run")(run_command)


def run_command(
    model: str = typer.Option(..., "--model", "-m", help="Encoder name, e.g. 'mammoclip' or 'random/efficientnet_b0'."),
    task: str = typer.Option(..., "--task", "-t", help="Task name, e.g. 'vindr-mass' or 'vindr-loc'."),
    protocol: str = typer.Option(None, "--protocol", "-p", help="Protocol; the task's default when omitted."),
    fractions: str = typer.Option("1.0", "--fractions", help="Comma-separated label fractions of the training patients, e.g. 0.1,0.5,1.0."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds, e.g. 0,1,2."),
    data_root: Path = typer.Option(None, "--data-root", help="Dataset folder; without it the built-in synthetic data is used (or the dataset's environment variable)."),
    results: Path = typer.Option(None, "--results", help="Results folder; default: $MAMMOBENCH_HOME/results."),
    profile: str = typer.Option("tiny", "--profile", help="Resolution profile: tiny (256x160), medium (1024x608) or paper (1520x912)."),
    weights: Path = typer.Option(None, "--weights", help="Weights file or trained model folder for the encoder."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled checkpoints, which can run code when loaded. Only for files you trust."),
    overwrite: str = typer.Option("only-missing", "--overwrite", help="Which cells to run when results exist: only-missing, always or never."),
    device: str = typer.Option("auto", "--device", help="Torch device: auto, cpu, cuda, cuda:1, mps."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Images per batch."),
    workers: int = typer.Option(None, "--workers", min=0, help="Data loading worker processes; default from MAMMOBENCH_NUM_WORKERS or min(4, CPUs)."),
    epochs: int = typer.Option(None, "--epochs", min=1, help="Training epochs for fine-tuning, detection and FActOR; protocol default when omitted."),
    learning_rate: float = typer.Option(None, "--lr", help="Peak learning rate; protocol default when omitted."),
    bootstrap: int = typer.Option(MIN_BOOTSTRAP, "--bootstrap", help=f"Bootstrap resamples over patients for 95% CIs (at least {MIN_BOOTSTRAP})."),
    freeze_backbone: bool = typer.Option(True, "--freeze-backbone/--train-backbone", help="Detection: keep the encoder frozen (default) or train it with the detector."),
    save_overlays: Path = typer.Option(None, "--save-overlays", help="Write PNGs of test images with ground-truth and predicted boxes to this folder."),
    prompts: Path = typer.Option(None, "--prompts", help="TOML file of zero-shot prompts: one list of strings per class name."),
    heatmap_percentile: float = typer.Option(None, "--heatmap-percentile", min=0.0, max=99.999, help="FActOR localization: heatmap pixels above this percentile of the image's heatmap become boxes (default 95)."),
) -> None:
    """Run every cell of MODEL on TASK over label fractions and seeds, and print the results."""
    from mammobench.cli.progress import RichReporter
    from mammobench.protocols.base import RunSettings
    from mammobench.results.store import OverwritePolicy
    from mammobench.runner import RunRequest, run_benchmark

    if bootstrap < MIN_BOOTSTRAP:
        raise ConfigError(f"--bootstrap {bootstrap} is too few; use at least {MIN_BOOTSTRAP} resamples")
    settings = RunSettings(
        profile=profile,
        batch_size=batch_size,
        num_workers=workers,
        device=device,
        n_bootstrap=bootstrap,
        epochs=epochs,
        learning_rate=learning_rate,
        freeze_backbone=freeze_backbone,
        prompts=_read_prompts(prompts) if prompts else None,
        save_overlays=save_overlays,
        options={"heatmap_percentile": heatmap_percentile} if heatmap_percentile is not None else {},
    )
    request = RunRequest(
        model=model,
        task=task,
        protocol=protocol,
        fractions=parse_floats(fractions, "--fractions"),
        seeds=parse_ints(seeds, "--seeds"),
        data_root=data_root,
        results=results,
        weights=weights,
        trust_pickle=trust_pickle,
        overwrite=_overwrite_policy(overwrite, OverwritePolicy),
        settings=settings,
    )
    with RichReporter() as reporter:
        summary = run_benchmark(request, reporter=reporter, command_line=["mammobench", *sys.argv[1:]])
    print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def print_summary(summary) -> None:
    """Print the main metric per label fraction: mean ± sd over seeds and the 95 % CI."""
    source = "SYNTHETIC data" if summary.synthetic else summary.data_source
    title = (
        f"{summary.task.name} v{summary.task.version} · {summary.protocol} · {summary.encoder} "
        f"· {source}"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("fraction", justify="right")
    table.add_column("train patients", justify="right")
    table.add_column(f"{summary.main_metric} mean ± sd", justify="right")
    table.add_column("seeds", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("status")

    for fraction in sorted({cell.fraction for cell in summary.cells}):
        cells = [cell for cell in summary.cells if cell.fraction == fraction]
        values = [cell.value for cell in cells if cell.status == "ok" and cell.value is not None]
        patients = sorted({cell.n_train_patients for cell in cells if cell.n_train_patients is not None})
        table.add_row(
            f"{fraction:g}",
            "/".join(str(p) for p in patients) or "-",
            _mean_sd(values),
            str(len(values)),
            _interval(cells),
            _status(cells),
        )
    console.print(table)
    if any(sum(1 for c in summary.cells if c.fraction == f and c.ci_low is not None) > 1 for f in {c.fraction for c in summary.cells}):
        console.print("* mean of the per-seed 95% CIs (patient bootstrap); sd is over seeds.")

    for cell in summary.cells:
        if cell.status != "ok" and cell.message:
            console.print(f"  fraction {cell.fraction:g}, seed {cell.seed}: {cell.status}: {cell.message}", soft_wrap=True)
        elif cell.value is None and cell.message:
            console.print(f"  fraction {cell.fraction:g}, seed {cell.seed}: metric undefined: {cell.message}", soft_wrap=True)
    if summary.synthetic:
        console.print(
            "These results are on SYNTHETIC mammograms; they check the pipeline, not clinical "
            "performance. Pass --data-root to run on a real dataset."
        )
    console.print(
        f"Records: {summary.results_dir} (run {summary.run_id}); encoder revision "
        f"{summary.encoder_revision}; {summary.elapsed_s:.0f} s."
    )


def parse_floats(text: str, option: str) -> tuple[float, ...]:
    """Parse a comma-separated list of numbers."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{option} '{text}' is invalid; expected comma-separated numbers such as 0.1,0.5,1.0") from None


def parse_ints(text: str, option: str) -> tuple[int, ...]:
    """Parse a comma-separated list of integers."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{option} '{text}' is invalid; expected comma-separated integers such as 0,1,2") from None
    if not values:
        raise ConfigError(f"{option} is empty; give at least one value")
    return values


def _overwrite_policy(text: str, policy_type):
    try:
        return policy_type(text)
    except ValueError:
        choices = ", ".join(p.value for p in policy_type)
        raise ConfigError(f"--overwrite '{text}' is invalid; choose one of: {choices}") from None


def _read_prompts(path: Path) -> dict[str, list[str]]:
    if path.is_dir():
        raise ConfigError(f"prompts file '{path}' is a folder; pass the TOML file inside it")
    if not path.is_file():
        raise ConfigError(f"prompts file '{path}' does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"prompts file '{path}' is not valid TOML: {error}") from None
    prompts: dict[str, list[str]] = {}
    for name, value in data.items():
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or not value:
            raise ConfigError(f"prompts file '{path}': '{name}' must be a non-empty list of strings")
        prompts[name] = value
    return prompts


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return f"{mean:.3f} ± {math.sqrt(variance):.3f}"


def _interval(cells) -> str:
    bounds = [(c.ci_low, c.ci_high) for c in cells if c.status == "ok" and c.ci_low is not None]
    if not bounds:
        return "-"
    low = sum(b[0] for b in bounds) / len(bounds)
    high = sum(b[1] for b in bounds) / len(bounds)
    text = f"[{low:.3f}, {high:.3f}]"
    return text if len(bounds) == 1 else f"{text}*"


def _status(cells) -> str:
    counts: dict[str, int] = {}
    for cell in cells:
        label = f"{cell.status} (reused)" if cell.reused else cell.status
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
