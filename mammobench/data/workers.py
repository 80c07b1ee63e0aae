"""How many worker processes data loading and preparation use by default."""

from __future__ import annotations

import os

from mammobench.errors import ConfigError

NUM_WORKERS_ENV = "MAMMOBENCH_NUM_WORKERS"
_DEFAULT_MAX_WORKERS = 4


def default_num_workers() -> int:
    """Return ``MAMMOBENCH_NUM_WORKERS`` when set, else ``min(4, CPU count)``.

    Raises:
        ConfigError: the variable is not a non-negative integer.
    """
    configured = os.environ.get(NUM_WORKERS_ENV, "").strip()
    if configured:
        try:
            value = int(configured)
        except ValueError:
            raise ConfigError(
                f"{NUM_WORKERS_ENV}='{configured}' is invalid; set it to a non-negative integer"
            ) from None
        if value < 0:
            raise ConfigError(
                f"{NUM_WORKERS_ENV}={value} is invalid; set it to a non-negative integer"
            )
        return value
    return min(_DEFAULT_MAX_WORKERS, os.cpu_count() or 1)
