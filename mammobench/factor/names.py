"""Metric names of Mammo-FActOR tasks, shared by task specs and the ``factor`` protocol.

Classification: ``auc/<attribute>`` and their mean ``auc``. Localization: ``hit_rate@0.25``,
``hit_rate@0.5`` (IoU hit rates), ``pointing_game``, ``ap@0.25`` and ``ap@0.5``, each per
attribute (``.../<attribute>``) and as the mean over attributes (no suffix). This module imports
nothing heavy, so plugin registration code can call it.
"""

from __future__ import annotations

from collections.abc import Sequence

# IoU thresholds of the hit rates and of AP.
HIT_IOUS = (0.25, 0.5)
AP_IOU_KEYS = ("0.25", "0.5")
POINTING = "pointing_game"

CLASSIFICATION_MAIN_METRIC = "auc"
LOCALIZATION_MAIN_METRIC = "hit_rate@0.25"

# Localization metric names before the "/<attribute>" suffix, in report order.
LOCALIZATION_BASES = (
    *(f"hit_rate@{threshold:g}" for threshold in HIT_IOUS),
    POINTING,
    *(f"ap@{key}" for key in AP_IOU_KEYS),
)


def factor_metric_names(attributes: Sequence[str], *, localize: bool) -> list[str]:
    """Return every metric name a FActOR task reports, the main metric first.

    Args:
        attributes (Sequence[str]): The task's attributes, e.g. ``("mass", "calcification")``.
        localize (bool): True for a localization task, False for attribute classification.

    Returns:
        list[str]: Means over attributes first, then the names per attribute.
    """
    if localize:
        bases = LOCALIZATION_BASES
    else:
        bases = (CLASSIFICATION_MAIN_METRIC,)
    return [*bases, *(f"{base}/{attribute}" for attribute in attributes for base in bases)]
