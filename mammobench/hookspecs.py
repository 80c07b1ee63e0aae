"""Hook specifications: everything a plugin can contribute to mammobench.

A plugin is a module registered under the ``mammobench`` entry-point group. It implements any
of the hooks below with functions decorated by :data:`mammobench.api.hookimpl`. Hook
implementations must be cheap: they return specs (metadata plus a lazy loader) and must not
import torch, build models or read data.

The plugin host calls each hook once per plugin, so one failing plugin never hides the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from mammobench.specs import DatasetSpec, EncoderSpec, TaskSpec

PROJECT_NAME = "mammobench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -------------------------------------------------------------------------------------------------
# Registration: data
# -------------------------------------------------------------------------------------------------


@hookspec
def mammobench_register_datasets() -> list[DatasetSpec]:
    """Register dataset layout adapters.

    Called once per plugin when the plugin host loads, before encoders and tasks.

    :return: A list of :class:`~mammobench.specs.DatasetSpec`. Lists from all plugins are
        concatenated. A name registered twice is a load error naming both distributions.
    """


# -------------------------------------------------------------------------------------------------
# Registration: models
# -------------------------------------------------------------------------------------------------


@hookspec
def mammobench_register_encoders() -> list[EncoderSpec]:
    """Register image encoders (with optional text towers).

    Called once per plugin when the plugin host loads, after datasets.

    :return: A list of :class:`~mammobench.specs.EncoderSpec`. Lists from all plugins are
        concatenated; a duplicate name is a load error naming both distributions.
    """


# -------------------------------------------------------------------------------------------------
# Registration: benchmarks
# -------------------------------------------------------------------------------------------------


@hookspec
def mammobench_register_tasks() -> list[TaskSpec]:
    """Register benchmark tasks.

    Called once per plugin when the plugin host loads, after encoders. A task names its dataset
    by ``TaskSpec.dataset``; the dataset may come from another plugin.

    :return: A list of :class:`~mammobench.specs.TaskSpec`. Lists from all plugins are
        concatenated; a duplicate name is a load error naming both distributions.
    """


# -------------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------------


@hookspec
def mammobench_register_commands(app: typer.Typer) -> None:
    """Add sub-commands to the ``mammobench`` command line.

    Called once per plugin when the CLI starts, after all specs are registered.

    :param app: The root Typer application. Add commands with ``app.command()`` or groups with
        ``app.add_typer()``. Import heavy modules inside the command function, not at module
        level, so ``mammobench --help`` stays fast.
    :return: Nothing; results are ignored.
    """
