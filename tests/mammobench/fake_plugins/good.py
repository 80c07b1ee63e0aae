"""A fake plugin that implements every hook."""

import typer

from mammobench.api import Capability, DatasetSpec, EncoderSpec, TaskSpec, hookimpl


def build_nothing():
    return "built"


@hookimpl
def mammobench_register_datasets():
    return [DatasetSpec(name="fake-data", description="Fake dataset.", loader=f"{__name__}:build_nothing")]


@hookimpl
def mammobench_register_encoders():
    return [
        EncoderSpec(
            name="fake/encoder",
            description="Fake encoder.",
            loader=f"{__name__}:build_nothing",
            capabilities=[Capability.GLOBAL],
            architecture="none",
            pretraining_datasets=["fake-data"],
        ),
        EncoderSpec(
            name="fakeparam:",
            description="Fake parametric encoder.",
            loader=f"{__name__}:build_nothing",
            capabilities=[Capability.GLOBAL],
            architecture="any",
            takes_argument=True,
        ),
    ]


@hookimpl
def mammobench_register_tasks():
    return [
        TaskSpec(
            name="fake-task",
            description="Fake task.",
            loader=f"{__name__}:build_nothing",
            version="1",
            dataset="fake-data",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=["linear-probe"],
            main_metric="auc",
        )
    ]


@hookimpl
def mammobench_register_commands(app: typer.Typer):
    @app.command("fake-hello")
    def fake_hello() -> None:
        """Print a greeting from the fake plugin."""
        typer.echo("hello from the fake plugin")
