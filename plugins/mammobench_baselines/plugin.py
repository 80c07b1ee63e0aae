"""Register the baseline encoders.

timm EfficientNet and ResNet with random or ImageNet weights, plus generic ``timm:<model>`` and
``hf:<path>`` encoders for any timm model or local transformers vision model. This module only
registers specs; it imports no torch, timm or transformers. The factories live in
:mod:`mammobench_baselines.timm_encoder` and :mod:`mammobench_baselines.hf_encoder`.
"""

from __future__ import annotations

from mammobench.api import Capability, EncoderSpec, hookimpl
from mammobench_baselines.catalog import BASELINES

_TIMM_FACTORIES = "mammobench_baselines.timm_encoder"
_IMAGE_CAPABILITIES = [Capability.GLOBAL, Capability.DENSE]


@hookimpl
def mammobench_register_encoders() -> list[EncoderSpec]:
    """Register the random and ImageNet baselines and the generic timm and hf encoders."""
    specs: list[EncoderSpec] = []
    for baseline in BASELINES:
        specs.append(
            EncoderSpec(
                name=f"random/{baseline.architecture}",
                description=f"timm {baseline.architecture} with random weights (fixed seed).",
                loader=f"{_TIMM_FACTORIES}:build_random",
                capabilities=_IMAGE_CAPABILITIES,
                architecture=baseline.architecture,
                weights="none",
                parameters_millions=baseline.parameters_millions,
            )
        )
        specs.append(
            EncoderSpec(
                name=f"imagenet/{baseline.architecture}",
                description=f"timm {baseline.pretrained_name} ImageNet weights from a local file "
                "or the local Hugging Face cache.",
                loader=f"{_TIMM_FACTORIES}:build_imagenet",
                capabilities=_IMAGE_CAPABILITIES,
                architecture=baseline.architecture,
                pretraining_datasets=list(baseline.pretraining_datasets),
                weights=f"local file or Hugging Face cache: timm/{baseline.pretrained_name}",
                license="apache-2.0",
                reference=f"https://huggingface.co/timm/{baseline.pretrained_name}",
                parameters_millions=baseline.parameters_millions,
            )
        )

    specs.append(
        EncoderSpec(
            name="timm:",
            description="Any timm model by name, random weights unless --weights is given.",
            loader=f"{_TIMM_FACTORIES}:build_timm",
            capabilities=_IMAGE_CAPABILITIES,
            architecture="any timm model",
            weights="none, or a local file given with --weights",
            takes_argument=True,
        )
    )
    specs.append(
        EncoderSpec(
            name="hf:",
            description="A transformers vision model from a local folder (or the local Hugging "
            "Face cache), loaded offline.",
            loader="mammobench_baselines.hf_encoder:build_hf",
            capabilities=_IMAGE_CAPABILITIES,
            architecture="any transformers vision model",
            weights="local folder saved with save_pretrained",
            takes_argument=True,
        )
    )
    return specs
