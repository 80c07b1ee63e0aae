"""Commands that describe the installation: ``plugins``, ``list`` and ``env``."""

from __future__ import annotations

import platform
from dataclasses import asdict
from enum import Enum
from importlib import metadata

import typer
from rich.table import Table

import mammobench
from mammobench.cli.console import console, print_json
from mammobench.plugin_host import get_host


class ListKind(str, Enum):
    encoders = "encoders"
    tasks = "tasks"
    datasets = "datasets"


_JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")

# Libraries whose versions matter for bug reports, in the order 'mammobench env' prints them.
_REPORTED_LIBRARIES = (
    "torch",
    "torchvision",
    "timm",
    "transformers",
    "tokenizers",
    "numpy",
    "pandas",
    "scikit-learn",
    "pycocotools",
    "pydicom",
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-libjpeg",
    "pylibjpeg-rle",
    "pillow",
    "pydantic",
    "pluggy",
    "typer",
    "rich",
    "ray",
)


def register(app: typer.Typer) -> None:
    """Add the ``plugins``, ``list`` and ``env`` commands to ``app``."""
    app.command("plugins")(plugins_command)
    app.command("list")(list_command)
    app.command("env")(env_command)


def plugins_command(as_json: bool = _JSON_OPTION) -> None:
    """List loaded and failed plugins with their distributions and versions."""
    host = get_host()
    loaded = []
    for info in host.plugins:
        counts = {
            kind: sum(1 for r in getattr(host, kind).values() if r.plugin == info)
            for kind in ("datasets", "encoders", "tasks")
        }
        loaded.append({**asdict(info), **counts})
    failed = [asdict(failure) for failure in host.failures]

    if as_json:
        print_json({"loaded": loaded, "failed": failed})
        return

    table = Table(title="Loaded plugins")
    for column in ("entry point", "distribution", "version", "module", "datasets", "encoders", "tasks"):
        table.add_column(column)
    for row in loaded:
        table.add_row(
            row["entry_point"],
            row["distribution"],
            row["version"],
            row["module"],
            str(row["datasets"]),
            str(row["encoders"]),
            str(row["tasks"]),
        )
    console.print(table)

    if failed:
        failures = Table(title="Failed plugins", title_style="bold red")
        for column in ("entry point", "distribution", "version", "error"):
            failures.add_column(column, overflow="fold")
        for row in failed:
            failures.add_row(row["entry_point"], row["distribution"], row["version"], row["error"])
        console.print(failures)


def list_command(
    kind: ListKind = typer.Argument(..., help="What to list: encoders, tasks or datasets."),
    as_json: bool = _JSON_OPTION,
) -> None:
    """List registered encoders, tasks or datasets. Imports no model code."""
    host = get_host()
    registry = getattr(host, kind.value)
    rows = []
    for name in sorted(registry):
        registered = registry[name]
        row = registered.spec.model_dump(mode="json")
        row["plugin"] = registered.plugin.distribution
        rows.append(row)

    if as_json:
        print_json(rows)
        return

    table = Table(title=f"Registered {kind.value} ({len(rows)})")
    if kind is ListKind.encoders:
        columns = ("name", "capabilities", "architecture", "weights", "pretraining_datasets", "plugin")
    elif kind is ListKind.tasks:
        columns = ("name", "version", "dataset", "kind", "protocols", "main_metric", "capabilities")
    else:
        columns = ("name", "root_env", "layouts", "synthesizer", "homepage", "plugin")
    for column in columns:
        # Names are what users type, so they are never broken across lines.
        heading = "root variable" if column == "root_env" else column.replace("_", " ")
        table.add_column(heading, overflow="fold", no_wrap=column in ("name", "root_env"))
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    console.print(table)
    if kind is ListKind.encoders and any(row.get("takes_argument") for row in rows):
        console.print("Names ending in ':' take an argument, e.g. 'timm:resnet18' or 'hf:/path/to/model'.")


def env_command(as_json: bool = _JSON_OPTION) -> None:
    """Print versions and the compute device, for bug reports."""
    from mammobench import paths

    report: dict[str, object] = {
        "mammobench": mammobench.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for library in _REPORTED_LIBRARIES:
        try:
            report[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            report[library] = "not installed"
    report["device"] = _describe_device()
    report["mammobench_home"] = str(paths.home())

    if as_json:
        print_json(report)
        return
    table = Table(title="mammobench environment", show_header=False)
    table.add_column("item")
    table.add_column("value", overflow="fold")
    for key, value in report.items():
        table.add_row(key, str(value))
    console.print(table)


def _describe_device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not importable"
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"cuda ({', '.join(names)}; CUDA {torch.version.cuda})"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return f"cpu ({torch.get_num_threads()} threads)"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if value else "-"
    return str(value)
