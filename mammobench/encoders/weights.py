"""Load encoder weights from files: unwrap containers, strip wrapper prefixes, load strictly.

Loading never falls back to random weights. A file that is missing, unreadable, untrusted or
does not match the network raises :class:`~mammobench.errors.WeightsError` with the file, the
counts of missing and unexpected keys, the first of each, and what to do.

Safetensors files are preferred because reading them runs no code. Pickled checkpoints
(``.pt``, ``.pth``, ``.bin``, ``.ckpt``) are read with ``torch.load(weights_only=True)``, which
only accepts tensors and plain containers, unless the user passes ``--trust-pickle``.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mammobench.errors import WeightsError

logger = logging.getLogger(__name__)

# Keys under which training scripts commonly nest the state dict, tried in this order.
CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module")

# Prefixes added by wrappers: DataParallel and DistributedDataParallel ('module.') and
# torch.compile ('_orig_mod.'). They are stripped only when every key carries them.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")

SAFETENSORS_SUFFIX = ".safetensors"

_HASH_CHUNK_BYTES = 1 << 20

_DERIVED_SUFFIX = "num_batches_tracked"

# torch.load(weights_only=True) names the class it rejected as "Unsupported global: GLOBAL x.Y".
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_checkpoint(path: Path | str, *, trust_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a weights file into a flat state dict on the CPU.

    Containers such as ``{"state_dict": {...}, "epoch": 3}`` are unwrapped and wrapper
    prefixes (``module.``, ``_orig_mod.``) are stripped.

    Args:
        path: A ``.safetensors`` file or a pickled checkpoint.
        trust_pickle: Read pickles with full unpickling, which can run arbitrary code. Only for
            files from a source the user trusts.

    Returns:
        The state dict, parameter name to tensor.

    Raises:
        WeightsError: The file is missing, unreadable, untrusted or contains no state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file '{path}' not found; check the path given with --weights")

    if path.suffix == SAFETENSORS_SUFFIX:
        raw: Any = _read_safetensors(path)
    else:
        raw = _read_pickle(path, trust_pickle=trust_pickle)

    state_dict = unwrap_state_dict(raw, source=str(path))
    return strip_wrapper_prefixes(state_dict)


def unwrap_state_dict(checkpoint: Any, *, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Find the state dict inside a checkpoint container.

    Descends through :data:`CONTAINER_KEYS` until it reaches a mapping whose values are all
    tensors.

    Args:
        checkpoint: What ``torch.load`` or safetensors returned.
        source: File name used in error messages.

    Raises:
        WeightsError: No mapping of names to tensors was found.
    """
    current = checkpoint
    path: list[str] = []
    while True:
        if not isinstance(current, Mapping):
            where = "/".join(path) or "top level"
            raise WeightsError(
                f"weights '{source}': expected a mapping of parameter names to tensors at "
                f"{where}, found {type(current).__name__}"
            )
        if current and all(isinstance(value, torch.Tensor) for value in current.values()):
            return {str(name): tensor for name, tensor in current.items()}

        container = next(
            (key for key in CONTAINER_KEYS if isinstance(current.get(key), Mapping)), None
        )
        if container is None:
            keys = ", ".join(repr(key) for key in list(current)[:6]) or "no keys"
            raise WeightsError(
                f"weights '{source}': no state dict found (keys: {keys}); expected tensors or "
                f"one of the containers {', '.join(CONTAINER_KEYS)}"
            )
        path.append(container)
        current = current[container]


def strip_wrapper_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove ``module.`` or ``_orig_mod.`` prefixes that every key carries, repeatedly."""
    result = dict(state_dict)
    stripped = True
    while stripped and result:
        stripped = False
        for prefix in WRAPPER_PREFIXES:
            if all(name.startswith(prefix) for name in result):
                result = {name[len(prefix) :]: tensor for name, tensor in result.items()}
                stripped = True
    return result


def select_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keep the keys under ``prefix`` (e.g. ``'image_encoder.'``) with the prefix removed.

    Raises:
        WeightsError: No key starts with ``prefix``.
    """
    selected = {
        name[len(prefix) :]: tensor
        for name, tensor in state_dict.items()
        if name.startswith(prefix)
    }
    if not selected:
        first = next(iter(state_dict), "none")
        raise WeightsError(
            f"weights contain no keys under '{prefix}' (first key: '{first}'); check that the "
            "file is the checkpoint this encoder expects"
        )
    return selected


def load_state_dict_strict(
    module: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str,
    ignore_prefixes: Iterable[str] = (),
) -> None:
    """Load ``state_dict`` into ``module`` and raise unless every key and shape matches.

    Args:
        module: The network to fill.
        state_dict: Parameter name to tensor.
        source: File or description used in error messages.
        ignore_prefixes: Checkpoint keys to drop before loading, e.g. a classifier head that
            the headless encoder does not have.

    Raises:
        WeightsError: Keys are missing or unexpected, or shapes differ. The message gives the
            counts and the first key of each kind. The module is unchanged in that case.
    """
    prefixes = tuple(ignore_prefixes)
    kept = {name: tensor for name, tensor in state_dict.items() if not name.startswith(prefixes)}
    if prefixes and len(kept) < len(state_dict):
        logger.debug(
            "weights '%s': ignored %d keys under %s", source, len(state_dict) - len(kept), prefixes
        )

    expected = module.state_dict()
    # torch derives BatchNorm's num_batches_tracked when a checkpoint lacks it.
    missing = [name for name in expected if name not in kept and not name.endswith(_DERIVED_SUFFIX)]
    unexpected = [name for name in kept if name not in expected]
    mismatched = [
        (name, tuple(tensor.shape), tuple(expected[name].shape))
        for name, tensor in kept.items()
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape)
    ]
    if missing or unexpected or mismatched:
        description = _describe_mismatch(missing, unexpected, mismatched)
        raise WeightsError(f"weights '{source}' do not match the network: {description}")

    result = module.load_state_dict(kept, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise WeightsError(
            f"weights '{source}' do not match the network: "
            f"{_describe_mismatch(list(result.missing_keys), list(result.unexpected_keys), [])}"
        )


def file_sha256(path: Path | str) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def state_dict_sha256(module: nn.Module) -> str:
    """Return the SHA-256 hex digest of a module's parameters and buffers (names, dtypes, values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        values = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{values.dtype}|{tuple(values.shape)}|".encode())
        # Viewing as bytes handles every dtype, bfloat16 included, which numpy cannot hold.
        digest.update(values.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def revision_from_sha256(hex_digest: str) -> str:
    """Return the short revision string recorded for weights with this SHA-256 digest."""
    return f"sha256:{hex_digest[:16]}"


def require_weights_file(
    path: Path | None, *, encoder: str, expected: str, how_to_obtain: str
) -> Path:
    """Return ``path`` when it is a file; otherwise raise an error naming the file and its source.

    Args:
        path: The located weights file, or None when nothing was found.
        encoder: Encoder name, for the message.
        expected: Which file is expected, e.g. "model.safetensors of 'timm/resnet18.a1_in1k'".
        how_to_obtain: What the user can do, e.g. a download command to run on another machine.

    Raises:
        WeightsError: ``path`` is None or not a file.
    """
    if path is not None and Path(path).is_file():
        return Path(path)
    raise WeightsError(
        f"encoder '{encoder}': weights not found; expected {expected}. {how_to_obtain}"
    )


def _describe_mismatch(
    missing: list[str],
    unexpected: list[str],
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
) -> str:
    first_missing = f"'{missing[0]}'" if missing else "none"
    first_unexpected = f"'{unexpected[0]}'" if unexpected else "none"
    text = (
        f"{len(missing)} missing keys (first: {first_missing}), {len(unexpected)} unexpected keys "
        f"(first: {first_unexpected})"
    )
    if mismatched:
        name, found, wanted = mismatched[0]
        text += (
            f", {len(mismatched)} tensors with the wrong shape (first: '{name}' is {found} in the "
            f"file, {wanted} in the network)"
        )
    return (
        f"{text}; check that the file belongs to this architecture and was saved from the image "
        "encoder, not a wrapper around it"
    )


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(
            f"weights file '{path}' is not a readable safetensors file: {error}"
        ) from error


def _read_pickle(path: Path, *, trust_pickle: bool) -> Any:
    if trust_pickle:
        logger.warning("weights '%s': loading a pickle with full unpickling (--trust-pickle)", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as error:
        if trust_pickle:
            raise WeightsError(
                f"weights file '{path}' is not a readable checkpoint: {error}"
            ) from error
        custom_object = _UNSUPPORTED_GLOBAL.search(str(error))
        if custom_object is None:
            raise WeightsError(
                f"weights file '{path}' could not be read with torch.load(weights_only=True); it "
                "may be corrupt or use pickle features beyond tensors. Convert it to "
                "safetensors, or pass --trust-pickle if you trust its source"
            ) from error
        raise WeightsError(
            f"weights file '{path}' contains the Python object {custom_object.group(1)}, and "
            "unpickling it can run arbitrary code. Convert the file to safetensors, or pass "
            "--trust-pickle if you trust its source"
        ) from error
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise WeightsError(
            f"weights file '{path}' is not a readable checkpoint: {error}"
        ) from error
