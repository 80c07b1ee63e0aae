"""Registration of the Mammo-CLIP plugin. Imports nothing heavy: specs and the command only."""

from __future__ import annotations

from typing import Any

from mammobench.api import Capability, EncoderSpec, hookimpl

_ENCODERS = "mammobench_mammoclip.encoder"
_CAPABILITIES = [Capability.GLOBAL, Capability.DENSE, Capability.TEXT]
_REFERENCE = "https://arxiv.org/abs/2405.12255"


@hookimpl
def mammobench_register_encoders() -> list[EncoderSpec]:
    return [
        EncoderSpec(
            name="mammoclip",
            description="Mammo-CLIP trained in mammobench; the demo recipe's weights by default "
            "(trained on first use), or any 'mammobench pretrain' folder with --weights.",
            loader=f"{_ENCODERS}:build_trained",
            capabilities=_CAPABILITIES,
            architecture="test_efficientnet + BERT (demo recipe)",
            pretraining_datasets=["vindr"],
            weights="trained in mammobench ($MAMMOBENCH_HOME/models/mammoclip-demo)",
            reference=_REFERENCE,
        ),
        EncoderSpec(
            name="mammoclip-official",
            description="The authors' released Mammo-CLIP checkpoint (--weights "
            "b5-model-best-epoch-7.tar or b2-model-best-epoch-10.tar, with --trust-pickle); "
            "text needs MAMMOBENCH_BIOCLINICALBERT.",
            loader=f"{_ENCODERS}:build_official",
            capabilities=_CAPABILITIES,
            architecture="tf_efficientnet_b5 or tf_efficientnet_b2 + Bio_ClinicalBERT",
            pretraining_datasets=["upmc"],
            weights="local file given with --weights",
            license="MIT (code); checkpoint terms set by its authors",
            reference=_REFERENCE,
        ),
    ]


@hookimpl
def mammobench_register_commands(app: Any) -> None:
    from mammobench_mammoclip.cli import register

    register(app)
