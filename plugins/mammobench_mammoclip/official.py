"""Load the Mammo-CLIP authors' released checkpoints into timm's EfficientNet.

The released files (``b5-model-best-epoch-7.tar``, ``b2-model-best-epoch-10.tar``) are
``torch.save`` pickles of ``{"model": state_dict, "optimizer": ..., "scheduler": ...,
"config": <hydra config>, "epoch": ..., "train_loss": ...}``. The image encoder is the
EfficientNet-PyTorch implementation (lukemelas) under ``image_encoder.``; projections are
``image_projection.projection`` and ``text_projection.projection``; the text encoder lies under
``text_encoder.``.

Two details make the timm network compute the same function:

- Parameter names differ; :func:`lukemelas_to_timm` maps them block by block.
- EfficientNet-PyTorch pads its strided convolutions for a fixed image size (456 for B5, 260 for
  B2) whatever the input size, while timm's ``tf_`` models pad for the actual input. Both agree on
  even sizes and differ by one pixel where a feature map has the other parity (e.g. 1520 x 912,
  whose stride-8 map is 190 x 114). :func:`freeze_same_padding` fixes timm's padding to the
  reference sizes.

The stored config is ignored: it contains absolute paths of the authors' cluster and hydra objects
that need ``omegaconf`` to unpickle. The architecture is read from the tensor shapes instead.
"""

from __future__ import annotations

import logging
import math
import pickle
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mammobench.api import WeightsError, load_state_dict_strict, strip_wrapper_prefixes, unwrap_state_dict

logger = logging.getLogger(__name__)

IMAGE_PREFIX = "image_encoder."
TEXT_PREFIX = "text_encoder."
IMAGE_PROJECTION_PREFIX = "image_projection.projection."
TEXT_PROJECTION_PREFIX = "text_projection.projection."

# Output channels of ``_conv_head`` -> timm architecture and the image size for which
# EfficientNet-PyTorch computes its static "same" padding (``efficientnet_params`` there).
ARCHITECTURES_BY_HEAD_CHANNELS = {
    1408: ("tf_efficientnet_b2", 260),
    2048: ("tf_efficientnet_b5", 456),
}

# EfficientNet-PyTorch block parts -> timm names. Blocks with an expansion convolution are
# timm ``InvertedResidual`` blocks; the first stage has none and is a ``DepthwiseSeparableConv``.
_INVERTED_RESIDUAL_NAMES = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_se_reduce": "se.conv_reduce",
    "_se_expand": "se.conv_expand",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_DEPTHWISE_SEPARABLE_NAMES = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_se_reduce": "se.conv_reduce",
    "_se_expand": "se.conv_expand",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_STEM_AND_HEAD_NAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2"}


def read_released_checkpoint(path: Path, *, trust_pickle: bool) -> dict[str, torch.Tensor]:
    """Read a released Mammo-CLIP checkpoint into a flat state dict on the CPU.

    Objects whose classes are not importable here (the hydra/omegaconf config) are replaced by
    inert placeholders, so the file loads without the authors' environment.

    Raises:
        WeightsError: The file is missing, ``trust_pickle`` is False, or no state dict is found.
    """
    if not path.is_file():
        raise WeightsError(f"Mammo-CLIP checkpoint '{path}' not found; check the path given with --weights")
    if not trust_pickle:
        raise WeightsError(
            f"Mammo-CLIP checkpoint '{path}' is a pickle (torch.save of the whole training "
            "state), and unpickling can run arbitrary code. Pass --trust-pickle if you trust "
            "its source (the authors' Hugging Face or Google Drive release)"
        )
    logger.warning("weights '%s': loading a pickle with full unpickling (--trust-pickle)", path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_TolerantPickle)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as error:
        raise WeightsError(f"Mammo-CLIP checkpoint '{path}' is not a readable checkpoint: {error}") from error
    return strip_wrapper_prefixes(unwrap_state_dict(raw, source=str(path)))


def detect_architecture(state_dict: dict[str, torch.Tensor], *, source: str) -> tuple[str, int]:
    """Return the timm architecture and reference padding size of the checkpoint's image encoder.

    Raises:
        WeightsError: The checkpoint has no EfficientNet-PyTorch image encoder of a known size.
    """
    head = state_dict.get(f"{IMAGE_PREFIX}_conv_head.weight")
    if head is None:
        raise WeightsError(
            f"Mammo-CLIP checkpoint '{source}' has no '{IMAGE_PREFIX}_conv_head.weight'; it is not "
            "an EfficientNet Mammo-CLIP checkpoint"
        )
    channels = int(head.shape[0])
    if channels not in ARCHITECTURES_BY_HEAD_CHANNELS:
        known = ", ".join(f"{c} ({name})" for c, (name, _) in ARCHITECTURES_BY_HEAD_CHANNELS.items())
        raise WeightsError(
            f"Mammo-CLIP checkpoint '{source}': image encoder head has {channels} channels; "
            f"supported are {known}"
        )
    return ARCHITECTURES_BY_HEAD_CHANNELS[channels]


def lukemelas_to_timm(image_state: dict[str, torch.Tensor], stage_lengths: list[int]) -> dict[str, torch.Tensor]:
    """Rename EfficientNet-PyTorch parameters to timm's ``EfficientNet`` names.

    Args:
        image_state: Image encoder state dict with EfficientNet-PyTorch names (``_blocks.7._bn1.weight``).
        stage_lengths: Blocks per timm stage, ``[len(stage) for stage in model.blocks]``.

    Returns:
        The same tensors under timm names (``blocks.2.1.bn2.weight``). The classifier ``_fc``,
        which the headless encoder lacks, is dropped.

    Raises:
        WeightsError: The block count differs from the timm model's, or a name is not recognised.
    """
    block_ids = sorted({int(name.split(".")[1]) for name in image_state if name.startswith("_blocks.")})
    if len(block_ids) != sum(stage_lengths):
        raise WeightsError(
            f"the checkpoint's image encoder has {len(block_ids)} blocks, the timm model "
            f"{sum(stage_lengths)}; the checkpoint is not of the detected architecture"
        )
    expanding = {int(name.split(".")[1]) for name in image_state if "._expand_conv." in name}

    renamed: dict[str, torch.Tensor] = {}
    for name, tensor in image_state.items():
        parts = name.split(".")
        if parts[0] == "_fc":
            continue
        if parts[0] == "_blocks":
            block = int(parts[1])
            stage, index = _stage_position(block, stage_lengths)
            table = _INVERTED_RESIDUAL_NAMES if block in expanding else _DEPTHWISE_SEPARABLE_NAMES
            target = table.get(parts[2])
            if target is None:
                raise WeightsError(f"unrecognised EfficientNet-PyTorch block parameter '{name}'")
            renamed[".".join([f"blocks.{stage}.{index}", target, *parts[3:]])] = tensor
            continue
        target = _STEM_AND_HEAD_NAMES.get(parts[0])
        if target is None:
            raise WeightsError(f"unrecognised EfficientNet-PyTorch parameter '{name}'")
        renamed[".".join([target, *parts[1:]])] = tensor
    return renamed


def load_image_encoder(net: nn.Module, state_dict: dict[str, torch.Tensor], *, source: str) -> None:
    """Fill a timm ``tf_efficientnet_*`` network from a released checkpoint's ``image_encoder.`` keys."""
    image_state = {
        name[len(IMAGE_PREFIX) :]: tensor for name, tensor in state_dict.items() if name.startswith(IMAGE_PREFIX)
    }
    stage_lengths = [len(stage) for stage in net.blocks]
    load_state_dict_strict(net, lukemelas_to_timm(image_state, stage_lengths), source=source)


def load_text_encoder(encoder: nn.Module, state_dict: dict[str, torch.Tensor], *, source: str) -> None:
    """Fill a transformers encoder from the checkpoint's ``text_encoder.`` keys.

    The reference wraps the transformers model one level deeper (``text_encoder.text_encoder.``)
    and may keep a masked-language-model head; wrapper prefixes (``text_encoder.``, ``bert.``,
    ``model.``) are stripped until the names match the encoder, and head, pooler and
    position-id entries that a headless encoder lacks are dropped.
    """
    # NOTE: the prefix search is built from the reference's model code and was not run on a
    # released file here; the strict load below names any key it could not place.
    text_state = {name[len(TEXT_PREFIX) :]: t for name, t in state_dict.items() if name.startswith(TEXT_PREFIX)}
    if not text_state:
        raise WeightsError(f"Mammo-CLIP checkpoint '{source}' has no '{TEXT_PREFIX}' keys")
    expected = set(encoder.state_dict())
    for _ in range(3):
        if any(name in expected for name in text_state):
            break
        for prefix in ("text_encoder.", "bert.", "model."):
            if all(name.startswith(prefix) or name.startswith("cls.") for name in text_state):
                text_state = {
                    name[len(prefix) :] if name.startswith(prefix) else name: tensor
                    for name, tensor in text_state.items()
                }
                break
    load_state_dict_strict(
        encoder,
        text_state,
        source=source,
        ignore_prefixes=("cls.", "pooler.", "embeddings.position_ids", "lm_head."),
    )


def load_projection(layer: nn.Linear, state_dict: dict[str, torch.Tensor], prefix: str, *, source: str) -> None:
    """Fill a linear projection from ``<prefix>weight`` and ``<prefix>bias``."""
    selected = {name[len(prefix) :]: t for name, t in state_dict.items() if name.startswith(prefix)}
    load_state_dict_strict(layer, selected, source=source)


def freeze_same_padding(net: nn.Module, image_size: int) -> int:
    """Replace timm's input-dependent "same" convolutions by ones padded for ``image_size``.

    EfficientNet-PyTorch computes each strided convolution's padding once, for a square input of
    ``image_size`` pixels (``Conv2dStaticSamePadding``). The padding of every ``Conv2dSame`` in
    ``net`` is recorded during one forward pass at that size and fixed.

    Returns:
        The number of convolutions replaced.
    """
    from timm.layers import Conv2dSame

    input_sizes: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, module in net.named_modules():
        if isinstance(module, Conv2dSame):
            hooks.append(module.register_forward_pre_hook(_record_input_size(name, input_sizes)))
    in_chans = int(next(module for module in net.modules() if isinstance(module, nn.Conv2d)).in_channels)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, in_chans, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
        net.train(was_training)

    for name, (height, width) in input_sizes.items():
        original = net.get_submodule(name)
        replacement = StaticSamePadConv2d.from_conv(original, (height, width))
        parent_name, _, child_name = name.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        setattr(parent, child_name, replacement)
    return len(input_sizes)


class StaticSamePadConv2d(nn.Conv2d):
    """A convolution with fixed zero padding ``(left, right, top, bottom)``, TensorFlow style."""

    def __init__(self, *args: Any, static_padding: tuple[int, int, int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.static_padding = static_padding

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, input_size: tuple[int, int]) -> StaticSamePadConv2d:
        """Copy ``conv`` with the padding TensorFlow's "same" gives an input of ``input_size``."""
        pad_h = _same_padding(input_size[0], conv.kernel_size[0], conv.stride[0], conv.dilation[0])
        pad_w = _same_padding(input_size[1], conv.kernel_size[1], conv.stride[1], conv.dilation[1])
        replacement = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=0,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            static_padding=(pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2),
        )
        replacement.load_state_dict(conv.state_dict())
        return replacement.to(conv.weight.device, conv.weight.dtype)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        padded = F.pad(inputs, self.static_padding)
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


def _record_input_size(name: str, sizes: dict[str, tuple[int, int]]) -> Any:
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        sizes[name] = (int(inputs[0].shape[-2]), int(inputs[0].shape[-1]))

    return hook


def _stage_position(block: int, stage_lengths: list[int]) -> tuple[int, int]:
    for stage, length in enumerate(stage_lengths):
        if block < length:
            return stage, block
        block -= length
    raise WeightsError(f"block index beyond the {sum(stage_lengths)} blocks of the timm model")


class _Placeholder:
    """Stands in for an object whose class cannot be imported; keeps its pickled state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _TolerantUnpickler(pickle.Unpickler):
    # torch.load subclasses this and calls find_class through super().
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            if module.split(".")[0] in {"torch", "collections", "builtins", "numpy"}:
                raise
            logger.debug("checkpoint object %s.%s is not importable; using a placeholder", module, name)
            return type(name, (_Placeholder,), {"__module__": f"unavailable.{module}"})


class _TolerantPickle:
    """A ``pickle_module`` for ``torch.load`` whose unpickler tolerates missing classes."""

    Unpickler = _TolerantUnpickler
    load = staticmethod(pickle.load)
    loads = staticmethod(pickle.loads)
    dump = staticmethod(pickle.dump)
    dumps = staticmethod(pickle.dumps)
    UnpicklingError = pickle.UnpicklingError
