"""The ``mammobench`` command line (Typer)."""
