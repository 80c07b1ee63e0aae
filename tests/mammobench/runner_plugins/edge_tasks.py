"""Test plugin: tasks on the synthetic VinDr layout that end invalid or in an error."""

from __future__ import annotations

from pathlib import Path

from mammobench.api import Capability, ClassificationTask, DatasetSpec, TaskSpec, hookimpl


def load_without_training_masses(root: Path):
    """The VinDr adapter's manifest with every training image marked mass-negative."""
    from mammobench_vindr.adapter import load

    manifest = load(root)
    images = manifest.images.copy()
    images.loc[images["split"] == "train", "mass"] = 0.0
    return manifest.with_images(images)


class _BrokenTargets(ClassificationTask):
    def targets(self, images):
        raise RuntimeError("targets exploded on purpose")


def broken_task() -> ClassificationTask:
    return _BrokenTargets(label="mass")


def mass_task() -> ClassificationTask:
    return ClassificationTask(label="mass")


@hookimpl
def mammobench_register_datasets():
    return [
        DatasetSpec(
            name="vindr-no-train-mass",
            description="VinDr layout without training masses.",
            loader=f"{__name__}:load_without_training_masses",
        )
    ]


@hookimpl
def mammobench_register_tasks():
    common = dict(
        version="1",
        kind="classification",
        capabilities=[Capability.GLOBAL],
        protocols=["linear-probe", "zero-shot"],
        main_metric="auc",
        metrics=["auc"],
    )
    return [
        TaskSpec(
            name="no-train-mass",
            description="Mass task whose training split has no positives.",
            loader=f"{__name__}:mass_task",
            dataset="vindr-no-train-mass",
            **common,
        ),
        TaskSpec(
            name="broken-targets",
            description="Mass task whose targets raise.",
            loader=f"{__name__}:broken_task",
            dataset="vindr",
            **common,
        ),
    ]
