"""Registration of the mini-MIAS plugin. Imports nothing heavy: specs only."""

from __future__ import annotations

from mammobench.api import (
    Capability,
    DatasetSpec,
    TaskSpec,
    detection_metric_names,
    factor_metric_names,
    hookimpl,
    vocab,
)

_CLASSIFICATION_PROTOCOLS = ["linear-probe", "finetune", "zero-shot"]


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


@hookimpl
def mammobench_register_tasks() -> list[TaskSpec]:
    return [
        TaskSpec(
            name="mias-abnormal",
            description="Normal versus abnormal on real mini-MIAS mammograms (AUC).",
            loader="mammobench_mias.tasks:abnormal",
            version="1",
            dataset="mias",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=_CLASSIFICATION_PROTOCOLS,
            main_metric="auc",
            metrics=["auc"],
        ),
        TaskSpec(
            name="mias-malignant",
            description="Benign versus malignant among abnormal mini-MIAS mammograms (AUC).",
            loader="mammobench_mias.tasks:malignant",
            version="1",
            dataset="mias",
            kind="classification",
            capabilities=[Capability.GLOBAL],
            protocols=_CLASSIFICATION_PROTOCOLS,
            main_metric="auc",
            metrics=["auc"],
        ),
        TaskSpec(
            name="mias-loc",
            description="Boxes of masses and calcifications on real mini-MIAS mammograms "
            "(abnormality circles as boxes), one detector; normal images included (mean AP at "
            "IoU 0.25, FROC).",
            loader="mammobench_mias.localization:masses_and_calcifications",
            version="1",
            dataset="mias",
            kind="detection",
            capabilities=[Capability.DENSE],
            protocols=["detection"],
            main_metric="ap@0.25",
            metrics=detection_metric_names((vocab.MASS, vocab.CALCIFICATION)),
        ),
        *_factor_specs(),
    ]


def _factor_specs() -> list[TaskSpec]:
    """Mammo-FActOR tasks on mini-MIAS: attribute scores (AUC) and heatmap localization."""
    attributes = (vocab.MASS, vocab.CALCIFICATION)
    tasks = [
        (
            "mias-factor",
            "attributes",
            "factor",
            "Mammo-FActOR attribute scores of masses (CIRC, SPIC, MISC) and calcifications on real "
            "mini-MIAS mammograms (mean AUC over attributes).",
        ),
        (
            "mias-factor-loc",
            "localization",
            "factor-localization",
            "Mammo-FActOR heatmap boxes of masses and calcifications on real mini-MIAS mammograms, "
            "no box supervision (mean IoU hit rate at 0.25, pointing game, AP).",
        ),
    ]
    return [
        TaskSpec(
            name=name,
            description=description,
            loader=f"mammobench_mias.factor:{factory}",
            version="1",
            dataset="mias",
            kind=kind,
            capabilities=[Capability.DENSE, Capability.TEXT],
            protocols=["factor"],
            main_metric=factor_metric_names(attributes, localize=kind == "factor-localization")[0],
            metrics=factor_metric_names(attributes, localize=kind == "factor-localization"),
        )
        for name, factory, kind, description in tasks
    ]
