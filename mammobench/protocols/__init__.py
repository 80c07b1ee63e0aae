"""Protocols: linear probe, fine-tune, zero-shot, detection and FActOR.

Protocols are looked up by name; their modules import torch, so they load only when used.
"""

from __future__ import annotations

import importlib

from mammobench.errors import UnknownNameError

# Protocol name -> "module:class".
PROTOCOLS: dict[str, str] = {
    "linear-probe": "mammobench.protocols.linear_probe:LinearProbe",
    "finetune": "mammobench.protocols.finetune:FineTune",
    "zero-shot": "mammobench.protocols.zero_shot:ZeroShot",
    "detection": "mammobench.protocols.detection:Detection",
    "factor": "mammobench.protocols.factor:Factor",
}


def get_protocol(name: str):
    """Return a new instance of the protocol called ``name``."""
    if name not in PROTOCOLS:
        raise UnknownNameError("protocol", name, sorted(PROTOCOLS))
    module_name, _, class_name = PROTOCOLS[name].partition(":")
    protocol_class = getattr(importlib.import_module(module_name), class_name)
    return protocol_class()
