"""Registration of the RSNA Screening Mammography plugin. Imports nothing heavy: specs only."""

from __future__ import annotations

from mammobench.api import Capability, DatasetSpec, TaskSpec, hookimpl


@hookimpl
def mammobench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="rsna",
            description="RSNA Screening Mammography (Kaggle 2023): 54,706 images of 11,913 "
            "patients with cancer, biopsy and density labels; fixed patient-level folds.",
            loader="mammobench_rsna.adapter:load",
            homepage="https://www.kaggle.com/competitions/rsna-breast-cancer-detection",
            license="RSNA Screening Mammography data terms: non-commercial use only, including "
            "research and education",
            layouts=["kaggle-dicom", "mammoclip-png"],
            root_env="MAMMOBENCH_RSNA_ROOT",
            synthesizer="mammobench_rsna.synth:write_synthetic",
        )
    ]


@hookimpl
def mammobench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="rsna-cancer",
            description="Breast-level cancer on RSNA Screening Mammography, image predictions "
            "averaged per breast (AUC).",
            loader="mammobench_rsna.tasks:cancer",
            version="1",
            dataset="rsna",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=["linear-probe", "finetune", "zero-shot"],
            main_metric="auc",
            metrics=["auc"],
        )
    ]
