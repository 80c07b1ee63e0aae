"""Build encoders by name and check whether an encoder can serve a task.

Names resolve through the plugin host, so ``random/efficientnet_b0``, parametric names such as
``timm:resnet18`` or ``hf:/models/my-vit``, and encoders from third-party plugins all build the
same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from mammobench.encoders.base import Encoder, EncoderOptions
from mammobench.errors import ConfigError, MammobenchError
from mammobench.plugin_host import PluginHost, get_host
from mammobench.specs import Capability, EncoderSpec

logger = logging.getLogger(__name__)


def build_encoder(
    name: str,
    *,
    weights: Path | str | None = None,
    trust_pickle: bool = False,
    device: str = "cpu",
    host: PluginHost | None = None,
) -> Encoder:
    """Build the encoder called ``name``, move it to ``device`` and put it in eval mode.

    Args:
        name: A registered encoder name, or a parametric one such as ``'timm:resnet18'``.
        weights: A weights file that replaces the encoder's default weights source.
        trust_pickle: Allow pickled checkpoints to run code when loaded (``--trust-pickle``).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'`` or ``'auto'`` (the first
            accelerator available, else the CPU).
        host: Plugin host to resolve the name with; the process-wide host by default.

    Returns:
        The built encoder. Its capabilities may be fewer than the spec declares when the
        spec is parametric (e.g. an ``hf:`` transformer without feature maps has no ``dense``).

    Raises:
        UnknownNameError: No plugin registers ``name``.
        WeightsError: The weights are missing, untrusted or do not fit the network.
        MammobenchError: The factory returned something that is not an :class:`Encoder`.
    """
    host = host or get_host()
    spec, argument = host.encoder(name)
    options = EncoderOptions(
        weights=Path(weights).expanduser() if weights is not None else None,
        trust_pickle=trust_pickle,
        device=resolve_device(device),
    )

    factory = spec.load()
    encoder = factory(spec, argument, options)
    if not isinstance(encoder, Encoder):
        raise MammobenchError(
            f"encoder '{name}': the factory '{spec.loader}' returned {type(encoder).__name__}, "
            "not an Encoder; fix the plugin that registers it"
        )

    undeclared = encoder.capabilities - set(spec.capabilities)
    if undeclared:
        logger.warning(
            "encoder '%s' provides %s, which its spec does not declare",
            name,
            ", ".join(sorted(c.value for c in undeclared)),
        )
    encoder.to(options.device)
    encoder.eval()
    logger.debug(
        "built encoder '%s' (revision %s) on %s", name, encoder.info.revision, options.device
    )
    return encoder


def check_compatible(
    encoder: Encoder | EncoderSpec, needed: Iterable[Capability | str]
) -> str | None:
    """Return why ``encoder`` cannot serve a task that needs ``needed``, or None when it can.

    Runners record a non-None result as status ``incompatible`` instead of failing the cell.

    Args:
        encoder: A built encoder (its actual capabilities) or a spec (its declared ones).
        needed: Capabilities the task or protocol needs, e.g. ``['global']``.
    """
    have = encoder.capabilities if isinstance(encoder, Encoder) else frozenset(encoder.capabilities)
    needed_set = [Capability(capability) for capability in needed]
    missing = [capability.value for capability in needed_set if capability not in have]
    if not missing:
        return None
    have_text = ", ".join(sorted(capability.value for capability in have)) or "none"
    return f"encoder '{encoder.name}' lacks capability {', '.join(missing)} (it has: {have_text})"


def resolve_device(device: str) -> str:
    """Turn ``'auto'`` into the first available accelerator and check that ``device`` exists.

    Raises:
        ConfigError: The device is unknown or not available on this machine.
    """
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"

    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ConfigError(
            f"device '{device}' is invalid; use cpu, cuda, cuda:N, mps or auto"
        ) from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device '{device}' requested but CUDA is not available; use --device cpu"
        )
    return device
