"""Metric names of detection tasks, shared by task specs and the ``detection`` protocol.

Names follow :mod:`mammobench.metrics.detection` and :mod:`mammobench.metrics.froc`.
``ap@<iou>`` is COCO AP at IoU 0.25, 0.5 or the COCO range 0.5:0.95, averaged over categories,
and ``ap@<iou>/<category>`` is the AP of one category. ``sensitivity@<rate>fpi`` is the FROC
sensitivity at a number of false positives per image and ``froc_mean`` the mean over those
rates, again with an optional ``/<category>``. This module imports nothing heavy, so plugin
registration code can call it.
"""

from __future__ import annotations

from collections.abc import Sequence

# IoU keys as the AP evaluation names them; "0.5:0.95" is COCO's AP@[.5:.95].
AP_IOU_KEYS = ("0.25", "0.5", "0.5:0.95")

# False positives per image at which FROC sensitivity is reported (the usual CAD points).
FROC_FP_RATES = (0.25, 0.5, 1.0, 2.0, 4.0)

# The default main metric of detection tasks: mean AP at IoU 0.25 over categories.
DEFAULT_MAIN_METRIC = "ap@0.25"


def detection_metric_names(categories: Sequence[str]) -> list[str]:
    """Return every metric name a detection task with ``categories`` reports.

    Args:
        categories (Sequence[str]): Box categories of the task, e.g. ``("mass", "calcification")``.

    Returns:
        list[str]: AP names first (mean, then per category, for each IoU key), then the FROC
        names (each rate and ``froc_mean``, mean first, then per category).
    """
    names: list[str] = []
    for key in AP_IOU_KEYS:
        names.append(f"ap@{key}")
        names.extend(f"ap@{key}/{category}" for category in categories)
    for suffix in ("", *(f"/{category}" for category in categories)):
        names.extend(f"sensitivity@{rate:g}fpi{suffix}" for rate in FROC_FP_RATES)
        names.append(f"froc_mean{suffix}")
    return names
