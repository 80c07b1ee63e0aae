"""Rich consoles shared by all commands. Only the CLI prints; library code logs."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Without a terminal (pipes, CI logs) rich would wrap tables at 80 columns; 120 keeps result
# tables on one line per row.
_WIDTH = None if sys.stdout.isatty() else 120

console = Console(highlight=False, width=_WIDTH)
error_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)


def print_json(payload: Any) -> None:
    """Write ``payload`` as indented JSON to standard output, without rich markup or wrapping."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    """Print a one-line error to standard error."""
    error_console.print(f"[bold red]error:[/bold red] {message}", markup=True, soft_wrap=True)


def print_warning(message: str) -> None:
    """Print a one-line warning to standard error."""
    error_console.print(f"[yellow]warning:[/yellow] {message}", markup=True, soft_wrap=True)
