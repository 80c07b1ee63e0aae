"""The public API for plugins. Plugins import from here and from nowhere else in mammobench.

Names are resolved lazily (PEP 562), so a plugin's registration module can import
``hookimpl`` and the spec classes without importing torch or any model code.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # plugin registration
    "hookimpl": "mammobench.hookspecs",
    "Capability": "mammobench.specs",
    "DatasetSpec": "mammobench.specs",
    "EncoderSpec": "mammobench.specs",
    "TaskSpec": "mammobench.specs",
    # errors
    "MammobenchError": "mammobench.errors",
    "ConfigError": "mammobench.errors",
    "DataError": "mammobench.errors",
    "ImageReadError": "mammobench.errors",
    "WeightsError": "mammobench.errors",
    "IncompatibleError": "mammobench.errors",
    # locations
    "paths": "mammobench",
    "vocab": "mammobench",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mammobench.api' has no attribute '{name}'")
    module = importlib.import_module(module_name)
    if module_name == "mammobench":
        value = importlib.import_module(f"mammobench.{name}")
    else:
        value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
