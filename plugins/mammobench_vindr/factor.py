"""VinDr-Mammo Mammo-FActOR tasks: attribute classification and weakly supervised localization.

``vindr-factor`` and ``vindr-factor-loc`` use the two attributes of the Mammo-FActOR reference
notebook, mass and suspicious calcification. The ``-extended`` tasks add architectural
distortion and asymmetry (Asymmetry, Focal Asymmetry and Global Asymmetry together, labels and
boxes alike). Real VinDr-Mammo has a few hundred images of each. The synthetic default dataset
has too few, so there a label subset may lack positives and its cell is reported as invalid.

Every image with known labels takes part: images without an attribute are its negatives in
training and classification. Localization is evaluated on the test images that have the
attribute and at least one of its boxes. The official training/test split is kept and a
validation split is carved out of training by patient (study).
"""

from __future__ import annotations

from mammobench.api import FactorTask, factor_metric_names, vocab

ATTRIBUTES = (vocab.MASS, vocab.CALCIFICATION)
EXTENDED_ATTRIBUTES = (*ATTRIBUTES, vocab.ARCHITECTURAL_DISTORTION, vocab.ASYMMETRY)
BOX_CATEGORIES = {vocab.ASYMMETRY: (vocab.ASYMMETRY, vocab.FOCAL_ASYMMETRY, vocab.GLOBAL_ASYMMETRY)}


def attributes() -> FactorTask:
    """Mass and suspicious calcification scores (AUC per attribute)."""
    return _task(ATTRIBUTES, localize=False)


def localization() -> FactorTask:
    """Heatmap boxes of masses and suspicious calcifications (IoU hit rate, pointing game, AP)."""
    return _task(ATTRIBUTES, localize=True)


def extended_attributes() -> FactorTask:
    """Mass, calcification, architectural distortion and asymmetry scores (AUC per attribute)."""
    return _task(EXTENDED_ATTRIBUTES, localize=False)


def extended_localization() -> FactorTask:
    """Heatmap boxes of the four extended attributes."""
    return _task(EXTENDED_ATTRIBUTES, localize=True)


def _task(attributes: tuple[str, ...], *, localize: bool) -> FactorTask:
    return FactorTask(
        attributes=attributes,
        localize=localize,
        box_categories={name: categories for name, categories in BOX_CATEGORIES.items() if name in attributes},
        metrics=tuple(factor_metric_names(attributes, localize=localize)),
    )
