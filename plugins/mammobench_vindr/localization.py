"""VinDr-Mammo localization tasks: boxes of masses and suspicious calcifications.

``vindr-loc`` trains one detector for both findings; ``vindr-loc-mass`` and ``vindr-loc-calc``
detect one finding each, as the Mammo-CLIP reference trains one detector per finding. Every
image with a known finding label takes part, including normal images, so false positives on
normal mammograms count. Images of other findings (asymmetries, architectural distortion, ...)
are negatives for these tasks. The official training/test split is kept and a validation split
is carved out of training by patient (study) for epoch selection.
"""

from __future__ import annotations

from mammobench.api import DetectionTask, detection_metric_names, vocab

LOCALIZATION_CATEGORIES = (vocab.MASS, vocab.CALCIFICATION)


def masses_and_calcifications() -> DetectionTask:
    """Masses and suspicious calcifications with one two-class detector."""
    return _task(LOCALIZATION_CATEGORIES)


def masses() -> DetectionTask:
    """Masses only."""
    return _task((vocab.MASS,))


def calcifications() -> DetectionTask:
    """Suspicious calcifications only."""
    return _task((vocab.CALCIFICATION,))


def _task(categories: tuple[str, ...]) -> DetectionTask:
    return DetectionTask(categories=categories, metrics=tuple(detection_metric_names(categories)))
