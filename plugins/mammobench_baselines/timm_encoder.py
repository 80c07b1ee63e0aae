"""Encoders built from timm models: random init, ImageNet weights, or any timm model by name.

One timm network serves both capabilities: ``global`` is the pooled output of the headless
model, ``dense`` the multi-scale maps from ``forward_intermediates`` (timm >= 1.0), with strides
and channels taken from the model's ``feature_info``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from mammobench.api import (
    Capability,
    ConfigError,
    Encoder,
    EncoderInfo,
    EncoderOptions,
    EncoderSpec,
    FeatureInfo,
    InputContract,
    file_sha256,
    load_checkpoint,
    load_state_dict_strict,
    require_weights_file,
    revision_from_sha256,
    state_dict_sha256,
)
from mammobench_baselines.catalog import BASELINES_BY_ARCHITECTURE, INIT_SEED
from mammobench_baselines.levels import select_levels
from mammobench_baselines.local_weights import (
    find_in_hf_cache,
    find_in_torch_hub,
    hub_download_hint,
)

logger = logging.getLogger(__name__)


class TimmEncoder(Encoder):
    """A headless timm model exposed through the encoder contract."""

    def __init__(self, model: nn.Module, info: EncoderInfo, contract: InputContract) -> None:
        strides = [int(entry["reduction"]) for entry in model.feature_info]
        indices = select_levels(strides) if hasattr(model, "forward_intermediates") else []
        feature_info = [
            FeatureInfo(
                stride=strides[index],
                channels=int(model.feature_info[index]["num_chs"]),
                name=str(model.feature_info[index].get("module", index)),
            )
            for index in indices
        ]
        capabilities = [Capability.GLOBAL]
        if feature_info:
            capabilities.append(Capability.DENSE)
        else:
            logger.info(
                "timm model '%s' has no forward_intermediates; no 'dense' output", info.name
            )

        embed_dim = getattr(model, "head_hidden_size", None) or model.num_features
        super().__init__(
            info, capabilities, contract, embed_dim=int(embed_dim), feature_info=feature_info
        )
        self.model = model
        self._indices = indices

    @property
    def backbone(self) -> nn.Module:
        """The timm network, without its classifier head."""
        return self.model

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return pooled features ``(B, embed_dim)``."""
        return self.model(inputs).flatten(1)

    def forward_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return one ``(B, C, H / stride, W / stride)`` map per :attr:`feature_info` entry."""
        return list(
            self.model.forward_intermediates(inputs, indices=self._indices, intermediates_only=True)
        )


def build_random(spec: EncoderSpec, argument: str | None, options: EncoderOptions) -> TimmEncoder:
    """Build ``random/<architecture>``: random weights from the fixed seed."""
    if options.weights is not None:
        raise ConfigError(
            f"encoder '{spec.name}' uses random weights and takes no --weights; use "
            f"'timm:{spec.architecture} --weights PATH' to load a file"
        )
    return _build_random_init(spec.name, spec.architecture, pretraining_datasets=[])


def build_imagenet(spec: EncoderSpec, argument: str | None, options: EncoderOptions) -> TimmEncoder:
    """Build ``imagenet/<architecture>`` from a local file or the local Hugging Face cache."""
    import timm

    baseline = BASELINES_BY_ARCHITECTURE[spec.architecture]
    pretrained_cfg = timm.models.get_pretrained_cfg(baseline.pretrained_name)
    repo_id = pretrained_cfg.hf_hub_id if pretrained_cfg is not None else None

    path = options.weights
    if path is None and repo_id:
        path = find_in_hf_cache(repo_id)
    if path is None and pretrained_cfg is not None:
        path = find_in_torch_hub(pretrained_cfg.url)
    path = require_weights_file(
        path,
        encoder=spec.name,
        expected=f"model.safetensors of the Hugging Face repository '{repo_id}' in the local "
        "cache, or a file given with --weights",
        how_to_obtain=hub_download_hint(repo_id or f"timm/{baseline.pretrained_name}"),
    )

    model = _create_model(baseline.pretrained_name, seed=INIT_SEED)
    return _load_file_into(model, spec.name, path, options, list(baseline.pretraining_datasets))


def build_timm(spec: EncoderSpec, argument: str | None, options: EncoderOptions) -> TimmEncoder:
    """Build ``timm:<model>``: random weights from the fixed seed, or the ``--weights`` file."""
    import timm

    model_name = argument or ""
    architecture = model_name.split(".", 1)[0]
    if not timm.is_model(architecture):
        close = timm.list_models(f"*{architecture}*")[:5]
        hint = f"; similar names: {', '.join(close)}" if close else ""
        raise ConfigError(f"encoder 'timm:{model_name}': timm has no model '{architecture}'{hint}")

    name = f"timm:{model_name}"
    if options.weights is None:
        return _build_random_init(name, model_name, pretraining_datasets=[])
    model = _create_model(model_name, seed=INIT_SEED)
    return _load_file_into(model, name, options.weights, options, [])


def _build_random_init(
    name: str, model_name: str, *, pretraining_datasets: list[str]
) -> TimmEncoder:
    model = _create_model(model_name, seed=INIT_SEED)
    revision = f"random-init-seed{INIT_SEED}-{revision_from_sha256(state_dict_sha256(model))}"
    info = EncoderInfo(name=name, revision=revision, pretraining_datasets=pretraining_datasets)
    return TimmEncoder(model, info, _contract_of(model))


def _load_file_into(
    model: nn.Module, name: str, path: Any, options: EncoderOptions, pretraining_datasets: list[str]
) -> TimmEncoder:
    state_dict = load_checkpoint(path, trust_pickle=options.trust_pickle)
    load_state_dict_strict(
        model, state_dict, source=str(path), ignore_prefixes=_classifier_prefixes(model)
    )
    info = EncoderInfo(
        name=name,
        revision=revision_from_sha256(file_sha256(path)),
        weights_path=str(path),
        pretraining_datasets=pretraining_datasets,
    )
    return TimmEncoder(model, info, _contract_of(model))


def _create_model(model_name: str, *, seed: int) -> nn.Module:
    """Create a headless timm model with weights drawn from ``seed``, leaving the global RNG as it was."""
    import timm

    kwargs: dict[str, Any] = {"pretrained": False, "num_classes": 0}
    pretrained_cfg = timm.models.get_pretrained_cfg(model_name)
    if pretrained_cfg is not None and pretrained_cfg.fixed_input_size:
        # Transformers with a fixed input size accept other sizes, e.g. the 256 x 160 'tiny'
        # profile, only when built with dynamic_img_size.
        kwargs["dynamic_img_size"] = True

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = timm.create_model(model_name, **kwargs)
    return model.eval()


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    # Checkpoints keep the classifier that the headless encoder dropped; those keys are ignored.
    classifier = model.pretrained_cfg.get("classifier")
    if not classifier:
        return ()
    names = classifier if isinstance(classifier, (list, tuple)) else [classifier]
    return tuple(f"{name}." for name in names)


def _contract_of(model: nn.Module) -> InputContract:
    cfg = model.pretrained_cfg
    channels = int(cfg.get("input_size", (3,))[0])
    mean = tuple(float(m) for m in cfg.get("mean", (0.485, 0.456, 0.406)))
    std = tuple(float(s) for s in cfg.get("std", (0.229, 0.224, 0.225)))
    size = None
    if cfg.get("fixed_input_size"):
        size = tuple(int(s) for s in cfg["input_size"][1:])
    return InputContract(channels=channels, mean=mean, std=std, size=size)
