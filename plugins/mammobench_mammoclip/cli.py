"""The ``mammobench pretrain`` command contributed by the Mammo-CLIP plugin.

Heavy modules (torch, timm, transformers) are imported inside the command, so ``mammobench
--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

_RECIPE_ARGUMENT = typer.Argument(
    ..., help="Recipe name from models/ (e.g. 'mammoclip-demo', 'mammoclip-b5') or a .toml path."
)
_DATA_ROOT_OPTION = typer.Option(
    None,
    "--data-root",
    help="Data root of the recipe's dataset; without it the dataset's configured root or the "
    "default synthetic copy is used.",
)
_RESUME_OPTION = typer.Option(
    False, "--resume", help="Continue from the last epoch checkpoint in the output folder."
)
_OUT_OPTION = typer.Option(
    None, "--out", help="Output folder; default $MAMMOBENCH_HOME/models/<recipe name>."
)


def register(app: typer.Typer) -> None:
    """Add the ``pretrain`` command to ``app``."""
    app.command("pretrain")(pretrain_command)


def pretrain_command(
    recipe: str = _RECIPE_ARGUMENT,
    data_root: Path | None = _DATA_ROOT_OPTION,
    resume: bool = _RESUME_OPTION,
    out: Path | None = _OUT_OPTION,
) -> None:
    """Pretrain Mammo-CLIP from a recipe; under torchrun, one process per GPU (DDP)."""
    import os

    from rich.console import Console

    from mammobench_mammoclip.progress import LogProgress, RichProgress
    from mammobench_mammoclip.recipe import load_recipe
    from mammobench_mammoclip.train import pretrain

    console = Console(highlight=False)
    error_console = Console(stderr=True, highlight=False)
    loaded = load_recipe(recipe)
    is_main = int(os.environ.get("RANK", "0")) == 0
    progress: Any = RichProgress(error_console) if is_main and error_console.is_terminal else LogProgress()

    result = pretrain(loaded, out_dir=out, data_root=data_root, resume=resume, progress=progress)
    if not is_main:
        return

    console.print(f"Pretrained [bold]{loaded.name}[/bold] into {result.folder}")
    console.print(
        f"steps {result.steps}, epochs {result.epochs}, final training loss "
        f"{_number(result.train_loss)}, validation loss {_number(result.val_loss)}"
    )
    console.print(f"weights SHA-256 {result.weights_sha256}")
    quality = result.card.get("quality") if result.card else None
    if quality:
        verdict = "passed" if quality["passed"] else "FAILED"
        console.print(f"quality check {verdict}; numbers in {result.folder / 'MODEL_CARD.md'}")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
