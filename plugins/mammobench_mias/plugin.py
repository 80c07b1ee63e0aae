"""Registration of the mini-MIAS plugin. Imports nothing heavy: specs only."""

from __future__ import annotations

from mammobench.api import DatasetSpec, hookimpl


@hookimpl
def mammobench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="mias",
            description="mini-MIAS: 322 digitised screen-film MLO mammograms (161 patients) "
            "with abnormality class, severity and lesion circles; fixed patient-level folds.",
            loader="mammobench_mias.adapter:load",
            homepage="http://peipa.essex.ac.uk/info/mias.html",
            license="MIAS licence agreement (Licence.txt): research use only",
            layouts=["mini-mias-pgm"],
            root_env="MAMMOBENCH_MIAS_ROOT",
        )
    ]
