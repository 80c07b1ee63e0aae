"""The value every metric returns, and the error raised for invalid metric input."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mammobench.errors import MammobenchError


class MetricInputError(MammobenchError, ValueError):
    """Metric input that no metric can score: mismatched lengths, unknown ids, invalid labels.

    An undefined metric (one class only, no ground truth) is not an input error: it is a
    :class:`MetricValue` that is NaN with a reason.
    """


@dataclass(frozen=True)
class MetricValue:
    """A metric's value, or NaN with the reason it is undefined.

    Attributes:
        value: The metric value; NaN when the metric is undefined on the evaluated set.
        reason: Why the metric is undefined, e.g. "only one class in the evaluated set". Set
            exactly when ``value`` is NaN.
    """

    value: float
    reason: str | None = None

    def __post_init__(self) -> None:
        value = float(self.value)
        object.__setattr__(self, "value", value)
        if math.isinf(value):
            raise ValueError(f"metric value {value} is infinite; return an undefined value instead")
        if math.isnan(value) and not self.reason:
            raise ValueError("an undefined (NaN) metric value needs a reason")
        if not math.isnan(value) and self.reason is not None:
            raise ValueError(f"metric value {value} is defined but has a reason ({self.reason!r})")

    @classmethod
    def undefined(cls, reason: str) -> MetricValue:
        """Return a NaN value with ``reason``."""
        return cls(math.nan, reason)

    @property
    def defined(self) -> bool:
        """True when the value is a number."""
        return not math.isnan(self.value)

    def __float__(self) -> float:
        return self.value
