"""Registration of the VinDr-Mammo plugin. Imports nothing heavy: specs only."""

from __future__ import annotations

from mammobench.api import DatasetSpec, hookimpl


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
