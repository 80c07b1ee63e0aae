"""Entry point of the ``mammobench`` command: the root Typer app and its error handling.

Known errors (:class:`~mammobench.errors.MammobenchError`) print one line and exit with 1; usage
errors exit with 2. Tracebacks are shown only with ``MAMMOBENCH_DEBUG=1`` and never include local
variables, because locals can hold patient identifiers.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback

import typer

import mammobench
from mammobench.cli.console import error_console, print_error
from mammobench.errors import MammobenchError
from mammobench.plugin_host import PluginHost, env_flag, get_host

# Built-in command modules; each defines ``register(app)``. Import them lazily so that a broken
# optional dependency in one command does not break the others.
_COMMAND_MODULES = (
    "mammobench.cli.info",
    "mammobench.cli.check",
    "mammobench.cli.embed",
    "mammobench.cli.cache",
    "mammobench.cli.data",
    "mammobench.cli.data_synth",
    "mammobench.cli.run",
    "mammobench.cli.sweep",
    "mammobench.cli.leaderboard",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mammobench {mammobench.__version__}")
        raise typer.Exit()


def build_app(host: PluginHost) -> typer.Typer:
    """Build the root app with the built-in commands and every plugin's commands."""
    app = typer.Typer(
        name="mammobench",
        help="Benchmark mammography foundation models: encoders and tasks are plugins.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False,
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the mammobench version and exit.",
        ),
        strict_plugins: bool = typer.Option(
            False,
            "--strict-plugins",
            help="Exit with status 1 when any plugin failed to load "
            "(also set by MAMMOBENCH_STRICT_PLUGINS=1).",
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    ) -> None:
        _configure_logging(verbose)
        if strict_plugins or env_flag("MAMMOBENCH_STRICT_PLUGINS"):
            host.check_strict()

    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    host.register_commands(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        host = get_host()
        app = build_app(host)
        # Standalone mode lets Typer report usage errors itself (exit status 2) and turns
        # typer.Exit into SystemExit; every other exception reaches the handlers below.
        app(args=args, prog_name="mammobench", standalone_mode=True)
        return 0
    except SystemExit as exit_:
        return _exit_status(exit_.code)
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except MammobenchError as error:
        _show_debug_traceback()
        print_error(str(error))
        return 1
    except Exception as error:  # an unexpected bug: one line, traceback only on request
        _show_debug_traceback()
        print_error(f"{type(error).__name__}: {error}")
        if not env_flag("MAMMOBENCH_DEBUG"):
            error_console.print(
                "This looks like a bug in mammobench or a plugin. Run again with "
                "MAMMOBENCH_DEBUG=1 for the traceback and include it in a bug report "
                "('mammobench env' prints versions).",
                soft_wrap=True,
            )
        return 1


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print_error(str(code))
    return 1


def _show_debug_traceback() -> None:
    # traceback.print_exc never prints local variables, unlike rich's pretty tracebacks.
    if env_flag("MAMMOBENCH_DEBUG"):
        traceback.print_exc(file=sys.stderr)


def _configure_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose or env_flag("MAMMOBENCH_DEBUG") else logging.INFO
    from rich.logging import RichHandler

    root = logging.getLogger()
    if not any(isinstance(handler, RichHandler) for handler in root.handlers):
        handler = RichHandler(console=error_console, show_path=False, show_time=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_ProjectOrWarningFilter())
        root.addHandler(handler)
    root.setLevel(level)


class _ProjectOrWarningFilter(logging.Filter):
    """Show mammobench and plugin messages at any enabled level, other libraries' from WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("mammobench"):
            return True
        return record.levelno >= logging.WARNING


if __name__ == "__main__":
    sys.exit(main())
