"""The ``cache`` commands: list, verify and prune cached embeddings and feature maps."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from mammobench.cli.console import console, print_json

if TYPE_CHECKING:
    from mammobench.encoders.embedding_cache import CacheEntry

_SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_BINARY_UNITS = {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}

_JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
_ROOT_OPTION = typer.Option(
    None, "--cache-dir", help="Cache folder (default: MAMMOBENCH_HOME/embeddings)."
)


def register(app: typer.Typer) -> None:
    """Add the ``cache`` command group to ``app``."""
    group = typer.Typer(
        help="List, verify and prune cached embeddings and feature maps.", no_args_is_help=True
    )
    group.command("ls")(list_command)
    group.command("verify")(verify_command)
    group.command("prune")(prune_command)
    app.add_typer(group, name="cache")


def list_command(cache_dir: Path | None = _ROOT_OPTION, as_json: bool = _JSON_OPTION) -> None:
    """List cache entries with their size, encoder, dataset and creation time."""
    from mammobench.encoders.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(cache_dir)
    entries = cache.entries()
    rows = [_describe(entry) for entry in entries]
    if as_json:
        print_json(
            {"root": str(cache.root), "entries": rows, "damaged": [str(p) for p in cache.damaged()]}
        )
        return

    table = Table(title=f"Embedding cache {cache.root} ({len(rows)} entries)")
    for column in (
        "key",
        "kind",
        "encoder",
        "dataset",
        "split",
        "profile",
        "images",
        "failed",
        "size",
        "created",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["key"][:12],
            row["kind"],
            row["encoder"],
            row["dataset"],
            row["split"],
            row["profile"],
            str(row["images"]),
            str(row["failed"]),
            _human_size(row["size_bytes"]),
            row["created"][:19].replace("T", " "),
        )
    console.print(table)
    total = sum(row["size_bytes"] for row in rows)
    console.print(f"total: {_human_size(total)}")


def verify_command(
    key: str | None = typer.Argument(None, help="Verify only entries whose key starts with this."),
    cache_dir: Path | None = _ROOT_OPTION,
    as_json: bool = _JSON_OPTION,
) -> None:
    """Re-hash stored arrays and compare them with the recorded SHA-256 checksums.

    Exits with 1 when an entry is damaged.
    """
    from mammobench.encoders.embedding_cache import EmbeddingCache, verify_entry

    cache = EmbeddingCache(cache_dir)
    entries = [entry for entry in cache.entries() if key is None or entry.digest.startswith(key)]
    results = [(entry.digest, verify_entry(entry)) for entry in entries]
    results += [(folder.name, ["meta.json is missing or unreadable"]) for folder in cache.damaged()]
    damaged = [digest for digest, problems in results if problems]

    if as_json:
        print_json({"entries": [{"key": d, "problems": p} for d, p in results], "ok": not damaged})
    else:
        table = Table(title=f"Verify {cache.root}")
        table.add_column("key")
        table.add_column("result")
        table.add_column("problems", overflow="fold")
        for digest, problems in results:
            verdict = "[bold red]damaged[/bold red]" if problems else "[green]ok[/green]"
            table.add_row(digest[:12], verdict, "; ".join(problems) or "-")
        console.print(table)
        if damaged:
            console.print(
                f"{len(damaged)} damaged entries; remove them with 'mammobench cache prune --damaged'"
            )
    if damaged:
        raise typer.Exit(1)


def prune_command(
    older_than: float | None = typer.Option(
        None, "--older-than", min=0, help="Remove entries created more than this many days ago."
    ),
    max_size: str | None = typer.Option(
        None,
        "--max-size",
        help="Remove the oldest entries until the cache fits this size, e.g. 20GB or 500MiB.",
    ),
    damaged: bool = typer.Option(
        False, "--damaged", help="Remove entries whose meta.json is missing or unreadable."
    ),
    everything: bool = typer.Option(False, "--all", help="Remove every entry."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be removed without removing it."
    ),
    cache_dir: Path | None = _ROOT_OPTION,
) -> None:
    """Remove cache entries by age, total size or all at once.

    Folders left by interrupted writes more than an hour ago are removed too.
    """
    from mammobench.encoders.embedding_cache import EmbeddingCache, select_for_prune

    if older_than is None and max_size is None and not everything and not damaged:
        raise typer.BadParameter("give --older-than, --max-size, --damaged or --all")
    limit = parse_size(max_size) if max_size is not None else None

    cache = EmbeddingCache(cache_dir)
    chosen = select_for_prune(
        cache.entries(),
        older_than=timedelta(days=older_than) if older_than is not None else None,
        max_total_bytes=limit,
        everything=everything,
    )
    folders = [(entry.path, entry.size_bytes, entry.key.get("encoder", "?")) for entry in chosen]
    if damaged or everything:
        folders += [(folder, _folder_size(folder), "damaged") for folder in cache.damaged()]
    folders += [
        (folder, _folder_size(folder), "interrupted write") for folder in cache.stale_temporaries()
    ]

    verb = "would remove" if dry_run else "removed"
    for folder, size, description in folders:
        if not dry_run:
            cache.remove(folder)
        console.print(f"{verb} {folder.name[:12]} ({description}, {_human_size(size)})")
    freed = sum(size for _, size, _ in folders)
    console.print(f"{verb} {len(folders)} entries, {_human_size(freed)}")


def parse_size(text: str) -> int:
    """Parse a size such as ``'20GB'``, ``'500MiB'`` or ``'1024'`` (bytes) into bytes."""
    match = _SIZE_PATTERN.match(text)
    if match is None:
        raise typer.BadParameter(
            f"size '{text}' is invalid; use a number with an optional unit, e.g. 20GB or 500MiB"
        )
    number, unit = float(match.group(1)), match.group(2).upper().removesuffix("B")
    factor = _BINARY_UNITS.get(unit) or _SIZE_UNITS.get(unit)
    if factor is None:
        raise typer.BadParameter(
            f"size unit in '{text}' is invalid; use B, KB, MB, GB, TB or KiB, MiB, GiB, TiB"
        )
    return int(number * factor)


def _describe(entry: CacheEntry) -> dict[str, object]:
    key = entry.key
    return {
        "key": entry.digest,
        "kind": key.get("kind", "?"),
        "encoder": key.get("encoder", "?"),
        "encoder_revision": key.get("encoder_revision", "?"),
        "dataset": key.get("dataset", "?"),
        "split": key.get("split", "?"),
        "profile": key.get("profile", "?"),
        "images": len(entry.ids),
        "failed": len(entry.failed),
        "size_bytes": entry.size_bytes,
        "created": entry.created.isoformat(),
        "path": str(entry.path),
    }


def _folder_size(folder: Path) -> int:
    return sum(child.stat().st_size for child in folder.rglob("*") if child.is_file())


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
