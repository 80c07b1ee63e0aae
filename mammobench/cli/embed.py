"""The ``embed`` command: compute (or read from the cache) embeddings of a dataset."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mammobench.cli.console import console, error_console, print_json, print_warning
from mammobench.data.profiles import DEFAULT_PROFILE

# Failed images listed by name in the summary; the rest are counted.
_FAILURES_SHOWN = 5


def register(app: typer.Typer) -> None:
    """Add the ``embed`` command to ``app``."""
    app.command("embed")(embed_command)


def embed_command(
    model: str = typer.Option(
        ..., "--model", "-m", help="Encoder name, e.g. 'random/efficientnet_b0'."
    ),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, e.g. 'vindr'."),
    split: str | None = typer.Option(
        None, "--split", "-s", help="Embed only this split: train, val or test."
    ),
    profile: str = typer.Option(
        DEFAULT_PROFILE, "--profile", "-p", help="Resolution profile: paper, medium or tiny."
    ),
    data_root: Path | None = typer.Option(
        None,
        "--data-root",
        help="Dataset folder; without it the dataset's configured root or synthetic copy.",
    ),
    weights: Path | None = typer.Option(
        None, "--weights", help="Weights file replacing the encoder's default source."
    ),
    trust_pickle: bool = typer.Option(
        False,
        "--trust-pickle",
        help="Allow pickled weights to run code when loaded. Only for trusted files.",
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images per forward pass."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        help="Data-loading worker processes (default: chosen from the CPU count).",
    ),
    device: str = typer.Option(
        "auto", "--device", help="Torch device: cpu, cuda, cuda:N, mps or auto."
    ),
    precision: str = typer.Option(
        "float32", "--precision", help="Forward precision: float32, bfloat16 or float16."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary instead of text."),
) -> None:
    """Compute global embeddings of a dataset and store them in the cache.

    A second run with the same encoder, weights, data, profile and split reads the cache.
    """
    from mammobench.data.roots import load_dataset
    from mammobench.encoders.embed import compute_embeddings
    from mammobench.encoders.registry import build_encoder

    manifest = load_dataset(dataset, data_root)
    encoder = build_encoder(model, weights=weights, trust_pickle=trust_pickle, device=device)

    with Progress(
        TextColumn("[bold]embed[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=error_console,
        transient=as_json,
    ) as progress:
        task = progress.add_task(f"{model} on {dataset}", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = compute_embeddings(
            encoder,
            manifest,
            profile,
            split=split,
            batch_size=batch_size,
            num_workers=workers,
            progress=report,
            precision=precision,
        )

    summary = {
        "cache_key": result.key,
        "location": str(result.path),
        "from_cache": result.from_cache,
        "encoder": encoder.name,
        "revision": encoder.info.revision,
        "dataset": manifest.dataset,
        "split": split or "all",
        "profile": profile,
        "embedded": len(result.ids),
        "embed_dim": int(result.array.shape[1]),
        "failed": result.failed,
    }
    if as_json:
        print_json(summary)
        return

    source = "read from the cache" if result.from_cache else "computed"
    console.print(f"{len(result.ids)} embeddings of dimension {summary['embed_dim']} {source}")
    console.print(f"cache key: {result.key}")
    console.print(f"location:  {result.path}")
    if result.failed:
        listed = list(result.failed.items())[:_FAILURES_SHOWN]
        more = len(result.failed) - len(listed)
        for image_id, reason in listed:
            print_warning(f"image '{image_id}' failed: {reason}")
        if more:
            print_warning(f"{more} more images failed; 'mammobench embed --json' lists all of them")
