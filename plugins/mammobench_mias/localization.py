"""mini-MIAS localization task: boxes of masses and calcifications on real mammograms.

The abnormality circles of ``Info.txt`` become boxes (centre +- radius, clipped to the image) in
the dataset adapter. Masses are the circumscribed, spiculated and ill-defined classes (CIRC,
SPIC, MISC); calcifications are CALC. Normal images and images of other abnormalities
(architectural distortion, asymmetry) are negatives. Images with a mass or calcification but no
circle (diffuse calcifications) are left out by the detection protocol, because they can be
neither negatives nor localized positives. The adapter's fixed patient-level folds decide the
test split, and a validation split is carved out of training by patient.
"""

from __future__ import annotations

from mammobench.api import DetectionTask, detection_metric_names, vocab

LOCALIZATION_CATEGORIES = (vocab.MASS, vocab.CALCIFICATION)


def masses_and_calcifications() -> DetectionTask:
    """Masses and calcifications with one two-class detector."""
    return DetectionTask(
        categories=LOCALIZATION_CATEGORIES,
        metrics=tuple(detection_metric_names(LOCALIZATION_CATEGORIES)),
    )
