"""mini-MIAS Mammo-FActOR tasks on real screen-film mammograms.

Attributes are mass (the circumscribed, spiculated and ill-defined classes CIRC, SPIC and MISC,
which the dataset adapter labels ``mass``) and calcification (CALC). Normal images and images of
other abnormalities are negatives. Localization is evaluated on the test images that have the
attribute and an abnormality circle (as a box). Images without a circle (diffuse
calcifications) still count in training and classification. The adapter's fixed patient-level
folds decide the test split, and a validation split is carved out of training by patient.
"""

from __future__ import annotations

from mammobench.api import FactorTask, factor_metric_names, vocab

ATTRIBUTES = (vocab.MASS, vocab.CALCIFICATION)


def attributes() -> FactorTask:
    """Mass and calcification scores (AUC per attribute)."""
    return FactorTask(
        attributes=ATTRIBUTES, localize=False, metrics=tuple(factor_metric_names(ATTRIBUTES, localize=False))
    )


def localization() -> FactorTask:
    """Heatmap boxes of masses and calcifications (IoU hit rate, pointing game, AP)."""
    return FactorTask(
        attributes=ATTRIBUTES, localize=True, metrics=tuple(factor_metric_names(ATTRIBUTES, localize=True))
    )
