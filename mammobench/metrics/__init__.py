"""Metrics for classification, detection and weakly supervised localization.

Every metric returns a :class:`~mammobench.metrics.value.MetricValue`: a float that is NaN, with a
reason, when the metric is undefined on the evaluated set (one class only, no ground truth).
Confidence intervals come from :mod:`mammobench.metrics.bootstrap`, which resamples patients.
"""
