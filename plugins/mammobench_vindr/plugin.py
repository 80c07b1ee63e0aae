"""Registration of the VinDr-Mammo plugin. Imports nothing heavy: specs only."""

from __future__ import annotations

from mammobench.api import Capability, DatasetSpec, TaskSpec, hookimpl

_CLASSIFICATION_PROTOCOLS = ["linear-probe", "finetune", "zero-shot"]


@hookimpl
def mammobench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="vindr",
            description="VinDr-Mammo: 20,000 FFDM images of 5,000 exams with BI-RADS, density "
            "and finding boxes; official training/test split.",
            loader="mammobench_vindr.adapter:load",
            homepage="https://physionet.org/content/vindr-mammo/1.0.0/",
            license="PhysioNet Credentialed Health Data License 1.5.0",
            layouts=["physionet-dicom", "mammoclip-png"],
            root_env="MAMMOBENCH_VINDR_ROOT",
            synthesizer="mammobench_vindr.synth:write_synthetic",
        )
    ]


@hookimpl
def mammobench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="vindr-mass",
            description="Image-level presence of a mass on VinDr-Mammo (AUC).",
            loader="mammobench_vindr.tasks:mass",
            version="1",
            dataset="vindr",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=_CLASSIFICATION_PROTOCOLS,
            main_metric="auc",
            metrics=["auc"],
        ),
        TaskSpec(
            name="vindr-calc",
            description="Image-level presence of a suspicious calcification on VinDr-Mammo (AUC).",
            loader="mammobench_vindr.tasks:calcification",
            version="1",
            dataset="vindr",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=_CLASSIFICATION_PROTOCOLS,
            main_metric="auc",
            metrics=["auc"],
        ),
        TaskSpec(
            name="vindr-density",
            description="Four-class BI-RADS density A-D on VinDr-Mammo (accuracy, macro-F1, "
            "balanced accuracy).",
            loader="mammobench_vindr.tasks:density",
            version="1",
            dataset="vindr",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=_CLASSIFICATION_PROTOCOLS,
            main_metric="accuracy",
            metrics=["accuracy", "macro_f1", "balanced_accuracy"],
        ),
    ]
