"""Encoders built from local transformers vision models: ``hf:<folder>`` or ``hf:<org/name>``.

The model loads offline with ``AutoModel.from_pretrained(..., local_files_only=True)`` from a
folder written by ``save_pretrained`` or from the local Hugging Face cache. ``global`` is the
model's pooled output when it has one, else the mean of the last hidden state over positions.
``dense`` is offered when the model returns 4-D hidden states ``(B, C, H, W)`` with
``output_hidden_states=True``, as CNNs such as ResNet and ConvNeXt do. Strides and channels are
measured once by a probe forward pass at build time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mammobench.api import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Capability,
    ConfigError,
    Encoder,
    EncoderInfo,
    EncoderOptions,
    EncoderSpec,
    FeatureInfo,
    InputContract,
    WeightsError,
    file_sha256,
    revision_from_sha256,
)
from mammobench_baselines.levels import select_levels

logger = logging.getLogger(__name__)

# Side of the square probe image used to measure embedding size, strides and channels. A
# multiple of 32, so every stride of common backbones divides it.
_PROBE_SIZE = 128

_WEIGHT_PATTERNS = ("*.safetensors", "*.bin")


class HFEncoder(Encoder):
    """A transformers vision model exposed through the encoder contract."""

    def __init__(self, model: nn.Module, info: EncoderInfo, contract: InputContract) -> None:
        accepts_interpolation = (
            "interpolate_pos_encoding" in inspect.signature(model.forward).parameters
        )
        probe = _probe(model, contract.channels, accepts_interpolation)

        capabilities = [Capability.GLOBAL]
        if probe.feature_info:
            capabilities.append(Capability.DENSE)
        super().__init__(
            info, capabilities, contract, embed_dim=probe.embed_dim, feature_info=probe.feature_info
        )
        self.model = model
        self._accepts_interpolation = accepts_interpolation
        self._hidden_indices = probe.hidden_indices

    @property
    def backbone(self) -> nn.Module:
        """The transformers model."""
        return self.model

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return the pooled output, or the mean of the last hidden state, as ``(B, embed_dim)``."""
        return _pool(self._run(inputs, hidden_states=False))

    def forward_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return the hidden states listed in :attr:`feature_info`, each ``(B, C, h, w)``."""
        outputs = self._run(inputs, hidden_states=True)
        return [outputs.hidden_states[index] for index in self._hidden_indices]

    def _run(self, inputs: torch.Tensor, *, hidden_states: bool) -> Any:
        kwargs: dict[str, Any] = {"output_hidden_states": hidden_states, "return_dict": True}
        if self._accepts_interpolation:
            kwargs["interpolate_pos_encoding"] = True
        return self.model(pixel_values=inputs, **kwargs)


def build_hf(spec: EncoderSpec, argument: str | None, options: EncoderOptions) -> HFEncoder:
    """Build ``hf:<folder>`` or ``hf:<org/name>`` from local files only."""
    name = f"hf:{argument}"
    if options.weights is not None:
        raise ConfigError(
            f"encoder '{name}' reads its weights from the model folder and takes no --weights"
        )
    folder = _resolve_folder(name, argument or "")

    from transformers import AutoModel

    try:
        model, loading_info = AutoModel.from_pretrained(
            str(folder), local_files_only=True, output_loading_info=True
        )
    except (OSError, ValueError, KeyError) as error:
        raise WeightsError(
            f"encoder '{name}': folder '{folder}' could not be loaded as a transformers model "
            f"({error}); it needs config.json and the weights written by save_pretrained"
        ) from error
    _check_loading_info(name, folder, loading_info)

    info = EncoderInfo(name=name, revision=_folder_revision(folder), weights_path=str(folder))
    return HFEncoder(model.eval(), info, _contract_of(folder, model))


class _Probe:
    def __init__(
        self, embed_dim: int, feature_info: list[FeatureInfo], hidden_indices: list[int]
    ) -> None:
        self.embed_dim = embed_dim
        self.feature_info = feature_info
        self.hidden_indices = hidden_indices


def _probe(model: nn.Module, channels: int, accepts_interpolation: bool) -> _Probe:
    kwargs: dict[str, Any] = {"output_hidden_states": True, "return_dict": True}
    if accepts_interpolation:
        kwargs["interpolate_pos_encoding"] = True
    inputs = torch.zeros(1, channels, _PROBE_SIZE, _PROBE_SIZE)
    with torch.inference_mode():
        outputs = model.eval()(pixel_values=inputs, **kwargs)

    embed_dim = int(_pool(outputs).shape[1])
    hidden_states = getattr(outputs, "hidden_states", None) or ()
    spatial = [(index, state) for index, state in enumerate(hidden_states) if state.ndim == 4]
    strides = [_PROBE_SIZE // int(state.shape[-1]) for _, state in spatial]
    chosen = select_levels(strides)
    feature_info = [
        FeatureInfo(
            stride=strides[i],
            channels=int(spatial[i][1].shape[1]),
            name=f"hidden_states.{spatial[i][0]}",
        )
        for i in chosen
    ]
    return _Probe(embed_dim, feature_info, [spatial[i][0] for i in chosen])


def _pool(outputs: Any) -> torch.Tensor:
    pooled = getattr(outputs, "pooler_output", None)
    if pooled is not None:
        return pooled.flatten(1)
    last = outputs.last_hidden_state
    if last.ndim == 4:
        return last.mean(dim=(2, 3))
    return last.mean(dim=1)


def _resolve_folder(name: str, argument: str) -> Path:
    folder = Path(argument).expanduser()
    if folder.is_dir():
        return folder
    if argument.count("/") == 1 and not folder.exists():
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(argument, local_files_only=True))
        except LocalEntryNotFoundError:
            pass
    raise WeightsError(
        f"encoder '{name}': '{argument}' is neither a folder nor a model in the local Hugging Face "
        "cache. Nothing is downloaded at run time: save the model with save_pretrained to a "
        f"folder and pass hf:<folder>, or run 'hf download {argument}' on a machine with network "
        "access and copy the cache here"
    )


def _check_loading_info(name: str, folder: Path, loading_info: dict[str, Any]) -> None:
    # transformers initialises missing weights randomly and only warns, so a wrong folder would
    # silently give a random encoder.
    missing = sorted(loading_info.get("missing_keys") or [])
    mismatched = sorted(str(key) for key in loading_info.get("mismatched_keys") or [])
    if missing or mismatched:
        first_missing = f"'{missing[0]}'" if missing else "none"
        first_mismatched = mismatched[0] if mismatched else "none"
        raise WeightsError(
            f"encoder '{name}': weights in '{folder}' do not match the model: {len(missing)} "
            f"missing keys (first: {first_missing}), {len(mismatched)} with the wrong shape (first: "
            f"{first_mismatched}); transformers would fill them with random values"
        )
    unexpected = sorted(loading_info.get("unexpected_keys") or [])
    if unexpected:
        logger.info(
            "encoder '%s': ignored %d weights the base model does not use (first: '%s'), e.g. a "
            "classification head",
            name,
            len(unexpected),
            unexpected[0],
        )


def _folder_revision(folder: Path) -> str:
    files = sorted({path for pattern in _WEIGHT_PATTERNS for path in folder.glob(pattern)})
    files += [folder / "config.json"] if (folder / "config.json").is_file() else []
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}:{file_sha256(path)}\n".encode())
    return revision_from_sha256(digest.hexdigest())


def _contract_of(folder: Path, model: nn.Module) -> InputContract:
    channels = int(getattr(model.config, "num_channels", 3))
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    processor_file = folder / "preprocessor_config.json"
    if processor_file.is_file():
        processor = json.loads(processor_file.read_text(encoding="utf-8"))
        mean = tuple(float(m) for m in processor.get("image_mean", mean))
        std = tuple(float(s) for s in processor.get("image_std", std))
    if len(mean) != channels:
        mean = (mean[0],) * channels
        std = (std[0],) * channels

    size = None
    image_size = getattr(model.config, "image_size", None)
    if isinstance(image_size, int):
        size = (image_size, image_size)
    return InputContract(channels=channels, mean=mean, std=std, size=size)
