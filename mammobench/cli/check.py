"""The ``check`` command: smoke-test an encoder on synthetic images."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mammobench.cli.console import console, print_json


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""
    app.command("check")(check_command)


def check_command(
    encoder: str = typer.Argument(
        ..., help="Encoder name, e.g. 'random/efficientnet_b0' or 'timm:resnet18'."
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="Weights file replacing the encoder's default source."
    ),
    trust_pickle: bool = typer.Option(
        False,
        "--trust-pickle",
        help="Allow pickled weights to run code when loaded. Only for trusted files.",
    ),
    device: str = typer.Option(
        "cpu", "--device", help="Torch device: cpu, cuda, cuda:N, mps or auto."
    ),
    height: int | None = typer.Option(
        None, "--height", min=32, help="Synthetic image height in pixels."
    ),
    width: int | None = typer.Option(
        None, "--width", min=32, help="Synthetic image width in pixels."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Smoke-test an encoder on synthetic images.

    Checks output shapes, dtype, finite values, determinism in eval mode and whether the output
    responds to the input. Exits with 1 when a check fails.
    """
    from mammobench.encoders.registry import build_encoder
    from mammobench.encoders.smoke import run_checks

    if (height is None) != (width is None):
        raise typer.BadParameter("give both --height and --width, or neither")
    size = (height, width) if height and width else None
    built = build_encoder(encoder, weights=weights, trust_pickle=trust_pickle, device=device)
    results = run_checks(built, size=size)
    failed = [result for result in results if not result.passed]

    if as_json:
        print_json(
            {
                "encoder": built.name,
                "revision": built.info.revision,
                "capabilities": sorted(c.value for c in built.capabilities),
                "passed": not failed,
                "checks": [vars(result) for result in results],
            }
        )
    else:
        table = Table(title=f"check {built.name} (revision {built.info.revision})")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for result in results:
            verdict = "[green]pass[/green]" if result.passed else "[bold red]FAIL[/bold red]"
            table.add_row(result.name, verdict, result.detail)
        console.print(table)
        summary = f"{len(results) - len(failed)} of {len(results)} checks passed"
        console.print(f"[bold red]{summary}[/bold red]" if failed else f"[green]{summary}[/green]")

    if failed:
        raise typer.Exit(1)
