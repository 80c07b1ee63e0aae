"""``mammobench sweep``: every cell of a sweep file, with progress, resume and shards."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from mammobench.cli.console import console, print_error
from mammobench.errors import ConfigError
from mammobench.plural import counted

# Failed cells listed one per line after the summary table; the rest are counted.
_MAX_LISTED_FAILURES = 20


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to ``app``."""
    app.command("sweep")(sweep_command)


def sweep_command(
    config: Path = typer.Option(..., "--config", "-c", help="Sweep file (TOML): encoders, tasks, protocols, fractions, seeds, settings."),
    encoders: str = typer.Option(None, "--encoders", "--models", help="Comma-separated encoder names; replaces the file's list."),
    tasks: str = typer.Option(None, "--tasks", help="Comma-separated task names; replaces the file's list."),
    protocols: str = typer.Option(None, "--protocols", help="Comma-separated protocols ('default': each task's default); replaces the file's list."),
    fractions: str = typer.Option(None, "--fractions", help="Comma-separated label fractions, e.g. 0.1,0.5,1.0."),
    seeds: str = typer.Option(None, "--seeds", help="Comma-separated seeds, e.g. 0,1,2."),
    data_root: list[str] = typer.Option(None, "--data-root", help="DATASET=DIR, repeatable, e.g. vindr=/data/vindr-mammo; datasets without one use their environment variable or the synthetic default."),
    weights: list[str] = typer.Option(None, "--weights", help="ENCODER=PATH, repeatable: weights file or trained model folder of one encoder."),
    trust_pickle: bool = typer.Option(None, "--trust-pickle", help="Allow pickled checkpoints, which can run code when loaded. Only for files you trust."),
    results: Path = typer.Option(None, "--results", help="Results folder; default: the file's 'results', else $MAMMOBENCH_HOME/results."),
    profile: str = typer.Option(None, "--profile", help="Resolution profile: tiny (256x160), medium (1024x608) or paper (1520x912)."),
    device: str = typer.Option(None, "--device", help="Torch device: auto, cpu, cuda, cuda:1, mps."),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="Images per batch."),
    workers: int = typer.Option(None, "--workers", min=0, help="Data loading worker processes per run."),
    epochs: int = typer.Option(None, "--epochs", min=1, help="Training epochs for fine-tuning and detection."),
    learning_rate: float = typer.Option(None, "--lr", help="Peak learning rate."),
    bootstrap: int = typer.Option(None, "--bootstrap", help="Bootstrap resamples over patients for 95% CIs (at least 1000)."),
    overwrite: str = typer.Option("only-missing", "--overwrite", help="Which cells to run when results exist: only-missing (resume), always or never."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Start no cell after the first failed cell."),
    shard: str = typer.Option(None, "--shard", help="Run only shard i of n, e.g. 2/4: a fixed share of the cells."),
    executor: str = typer.Option(None, "--executor", help="Where cells run: local (this machine) or ray."),
    jobs: int = typer.Option(None, "--jobs", "-j", min=1, help="Local executor: worker processes (1: in this process)."),
    address: str = typer.Option(None, "--address", help="Ray executor: cluster address, e.g. auto or ray://head:10001; default: a local Ray instance."),
    max_retries: int = typer.Option(None, "--max-retries", min=0, help="Ray executor: retries of a failed task."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the cells and work items, then exit without running."),
) -> None:
    """Run every (encoder, task, protocol, fraction, seed) cell of a sweep file.

    Values given on the command line replace the file's. Cells that already have a final
    record are skipped (--overwrite only-missing), so running the same command again resumes
    an interrupted sweep. The exit status is 1 when any cell failed or did not run.
    """
    from mammobench.cli.sweep_progress import SweepProgressDisplay
    from mammobench.results.store import OverwritePolicy
    from mammobench.sweep.config import load_sweep_config
    from mammobench.sweep.plan import parse_shard
    from mammobench.sweep.run import run_sweep

    overrides = {
        "encoders": _names(encoders, "--encoders"),
        "tasks": _names(tasks, "--tasks"),
        "protocols": _names(protocols, "--protocols"),
        "fractions": _numbers(fractions, "--fractions", float),
        "seeds": _numbers(seeds, "--seeds", int),
        "results": str(results.absolute()) if results is not None else None,
        "data_roots": _pairs(data_root, "--data-root", "DATASET=DIR"),
        "weights": _pairs(weights, "--weights", "ENCODER=PATH"),
        "trust_pickle": trust_pickle,
        "settings": {
            "profile": profile,
            "device": device,
            "batch_size": batch_size,
            "workers": workers,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "bootstrap": bootstrap,
        },
        "executor": {"kind": executor, "jobs": jobs, "address": address, "max_retries": max_retries},
    }
    sweep = load_sweep_config(config, overrides)
    policy = _overwrite_policy(overwrite, OverwritePolicy)
    shard_range = parse_shard(shard) if shard else None

    if dry_run:
        _print_plan(sweep, shard_range)
        return

    command_line = ["mammobench", *sys.argv[1:]]
    with SweepProgressDisplay(sweep.name) as display:
        result = run_sweep(
            sweep,
            overwrite=policy,
            fail_fast=fail_fast,
            shard=shard_range,
            on_progress=display.update,
            command_line=command_line,
            reporter=display,
        )
    _print_summary(result)
    if not result.success:
        raise typer.Exit(1)


def _print_plan(sweep: Any, shard: tuple[int, int] | None) -> None:
    from mammobench.plugin_host import get_host
    from mammobench.sweep.plan import all_cells, expand, plan_items, select_shard

    groups = expand(sweep, get_host())
    if shard is not None:
        groups = select_shard(groups, *shard)
    parallel = sweep.executor.kind == "ray" or sweep.executor.jobs > 1
    items = plan_items(groups, parallel=parallel)
    table = Table(title=f"Sweep '{sweep.name}' (config {sweep.sha256()[:12]})", title_justify="left")
    for column in ("encoder", "task", "protocol", "dataset", "cells"):
        table.add_column(column)
    for group in groups:
        table.add_row(group.encoder, group.task, group.protocol, group.dataset, str(len(group.cells)))
    console.print(table)
    console.print(
        f"{counted(len(all_cells(groups)), 'cell')} in {counted(len(items), 'work item')} "
        f"({sweep.executor.kind} executor)."
    )


def _print_summary(result: Any) -> None:
    counts: dict[tuple[str, str, str], Counter] = {}
    for group in result.groups:
        tally = counts.setdefault(group.key, Counter())
        for cell in group.cells:
            event = result.finished.get(cell)
            if event is None:
                tally["not run"] += 1
            else:
                tally[f"{event.status} (reused)" if event.reused else event.status] += 1

    table = Table(title=f"Sweep '{result.config.name}' (config {result.config_sha256[:12]})", title_justify="left")
    for column in ("encoder", "task", "protocol", "cells"):
        table.add_column(column)
    for (encoder, task, protocol), tally in counts.items():
        table.add_row(encoder, task, protocol, ", ".join(f"{n} {label}" for label, n in sorted(tally.items())))
    console.print(table)

    for event in result.failed[:_MAX_LISTED_FAILURES]:
        console.print(f"  failed: {event.cell.label()}: {event.message}", soft_wrap=True)
    if len(result.failed) > _MAX_LISTED_FAILURES:
        console.print(f"  ... and {len(result.failed) - _MAX_LISTED_FAILURES} more failed cells")
    for error in result.errors:
        print_error(error)
    if result.stopped_early:
        console.print(f"Stopped at the first failure (--fail-fast); {counted(len(result.not_run), 'cell')} did not run.")
    elif result.not_run and result.errors:
        console.print(
            f"{counted(len(result.not_run), 'cell')} did not run because of the errors above; fix them, "
            "then run the same command again to run the remaining cells."
        )
    elif result.not_run:
        console.print(f"{counted(len(result.not_run), 'cell')} did not run; run the same command again to resume.")
    console.print(
        f"{result.counts.describe()}. Records: {result.results_dir}; resolved config: "
        f"{result.config_file}; {result.elapsed_s:.0f} s."
    )


def _names(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError(f"{option} is empty; give at least one name")
    return names


def _numbers(text: str | None, option: str, kind: type) -> list[Any] | None:
    if text is None:
        return None
    try:
        values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        example = "0.1,0.5,1.0" if kind is float else "0,1,2"
        raise ConfigError(f"{option} '{text}' is invalid; expected comma-separated numbers such as {example}") from None
    if not values:
        raise ConfigError(f"{option} is empty; give at least one value")
    return values


def _pairs(values: list[str] | None, option: str, form: str) -> dict[str, str] | None:
    if not values:
        return None
    pairs = {}
    for value in values:
        name, separator, path = value.partition("=")
        if not separator or not name.strip() or not path.strip():
            raise ConfigError(f"{option} '{value}' is invalid; expected {form}")
        pairs[name.strip()] = str(Path(path.strip()).expanduser().absolute())
    return pairs


def _overwrite_policy(text: str, policy_type: Any) -> Any:
    try:
        return policy_type(text)
    except ValueError:
        choices = ", ".join(policy.value for policy in policy_type)
        raise ConfigError(f"--overwrite '{text}' is invalid; choose one of: {choices}") from None
