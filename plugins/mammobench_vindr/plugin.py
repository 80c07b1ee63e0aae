"""Registration of the VinDr-Mammo plugin. Imports nothing heavy: specs only."""

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

# Main metric of the localization tasks; docs/protocols.md says why.
_LOCALIZATION_MAIN_METRIC = "ap@0.25"


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
        *_localization_specs(),
        *_factor_specs(),
    ]


def _localization_specs() -> list[TaskSpec]:
    tasks = [
        (
            "vindr-loc",
            "masses_and_calcifications",
            (vocab.MASS, vocab.CALCIFICATION),
            "Boxes of masses and suspicious calcifications on VinDr-Mammo, one detector; "
            "normal images included (mean AP at IoU 0.25, FROC).",
        ),
        ("vindr-loc-mass", "masses", (vocab.MASS,), "Boxes of masses on VinDr-Mammo (AP at IoU 0.25, FROC)."),
        (
            "vindr-loc-calc",
            "calcifications",
            (vocab.CALCIFICATION,),
            "Boxes of suspicious calcifications on VinDr-Mammo (AP at IoU 0.25, FROC).",
        ),
    ]
    return [
        TaskSpec(
            name=name,
            description=description,
            loader=f"mammobench_vindr.localization:{factory}",
            version="1",
            dataset="vindr",
            kind="detection",
            capabilities=[Capability.DENSE],
            protocols=["detection"],
            main_metric=_LOCALIZATION_MAIN_METRIC,
            metrics=detection_metric_names(categories),
        )
        for name, factory, categories, description in tasks
    ]


def _factor_specs() -> list[TaskSpec]:
    """Mammo-FActOR tasks: attribute scores (AUC) and heatmap localization of the same attributes."""
    tasks = [
        (
            "vindr-factor",
            "attributes",
            "factor",
            (vocab.MASS, vocab.CALCIFICATION),
            "Mammo-FActOR attribute scores of masses and suspicious calcifications on VinDr-Mammo "
            "(mean AUC over attributes).",
        ),
        (
            "vindr-factor-loc",
            "localization",
            "factor-localization",
            (vocab.MASS, vocab.CALCIFICATION),
            "Mammo-FActOR heatmap boxes of masses and suspicious calcifications on VinDr-Mammo, "
            "no box supervision (mean IoU hit rate at 0.25, pointing game, AP).",
        ),
        (
            "vindr-factor-extended",
            "extended_attributes",
            "factor",
            (vocab.MASS, vocab.CALCIFICATION, vocab.ARCHITECTURAL_DISTORTION, vocab.ASYMMETRY),
            "Mammo-FActOR attribute scores of masses, calcifications, architectural distortion and "
            "asymmetries on VinDr-Mammo (mean AUC over attributes).",
        ),
        (
            "vindr-factor-extended-loc",
            "extended_localization",
            "factor-localization",
            (vocab.MASS, vocab.CALCIFICATION, vocab.ARCHITECTURAL_DISTORTION, vocab.ASYMMETRY),
            "Mammo-FActOR heatmap boxes of masses, calcifications, architectural distortion and "
            "asymmetries on VinDr-Mammo (mean IoU hit rate at 0.25, pointing game, AP).",
        ),
    ]
    return [
        TaskSpec(
            name=name,
            description=description,
            loader=f"mammobench_vindr.factor:{factory}",
            version="1",
            dataset="vindr",
            kind=kind,
            capabilities=[Capability.DENSE, Capability.TEXT],
            protocols=["factor"],
            main_metric=factor_metric_names(attributes, localize=kind == "factor-localization")[0],
            metrics=factor_metric_names(attributes, localize=kind == "factor-localization"),
        )
        for name, factory, kind, attributes, description in tasks
    ]
