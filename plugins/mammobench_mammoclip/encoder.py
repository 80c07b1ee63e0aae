"""Mammo-CLIP as a mammobench encoder, and the factories behind ``mammoclip`` and ``mammoclip-official``.

``mammoclip`` uses a folder written by ``mammobench pretrain`` (``--weights DIR``). By default
it uses the demo recipe's folder ``$MAMMOBENCH_HOME/models/mammoclip-demo``, which is trained on
the spot, once, when it does not exist yet.

``mammoclip-official`` loads the authors' released checkpoint given with ``--weights`` (and
``--trust-pickle``, because the file is a pickle). Its text tower needs a local Bio_ClinicalBERT
folder named by ``MAMMOBENCH_BIOCLINICALBERT``; without it the encoder offers ``global`` and
``dense`` only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mammobench.api import (
    Capability,
    Encoder,
    EncoderInfo,
    EncoderOptions,
    EncoderSpec,
    InputContract,
    WeightsError,
    file_sha256,
    paths,
    revision_from_sha256,
)
from mammobench_mammoclip.model import ImageTower, MammoClipModel, TextTower
from mammobench_mammoclip.recipe import MAMMOCLIP_MEAN, MAMMOCLIP_STD
from mammobench_mammoclip.text import tokenize

logger = logging.getLogger(__name__)

DEMO_RECIPE = "mammoclip-demo"
BIOCLINICALBERT_ENV = "MAMMOBENCH_BIOCLINICALBERT"

# The released checkpoints were pretrained on the in-house UPMC image-report data only, and RSNA
# was used only for evaluation. Source: the authors' answers in the batmanlab/Mammo-CLIP GitHub
# threads "Datasets that provided checkpoints are pretrained on" and "Radiology text".
OFFICIAL_PRETRAINING_DATASETS = ["upmc"]

# Text length used by the reference configuration (base.text_max_length).
OFFICIAL_TEXT_MAX_LENGTH = 256


@dataclass(frozen=True)
class MammoClipContract(InputContract):
    """Input contract of Mammo-CLIP: per-image min-max rescaling, then mean/std normalisation.

    The reference rescales every image to ``[0, 1]`` by its own minimum and maximum before
    subtracting the mean; :meth:`prepare` does the same, so images that do not span the full
    range are stretched exactly as in pretraining.
    """

    rescale_per_image: bool = True

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Turn ``(B, 1, H, W)`` images in ``[0, 1]`` into normalised ``(B, C, H, W)`` input."""
        if self.rescale_per_image and images.ndim == 4:
            images = rescale_per_image(images)
        return super().prepare(images)


class MammoClipEncoder(Encoder):
    """A Mammo-CLIP model behind the encoder contract (``global``, ``dense`` and, with text, ``text``)."""

    def __init__(
        self,
        model: MammoClipModel,
        tokenizer: Any,
        info: EncoderInfo,
        contract: InputContract,
        text_max_length: int,
    ) -> None:
        capabilities = [Capability.GLOBAL, Capability.DENSE]
        if model.text is not None and tokenizer is not None:
            capabilities.append(Capability.TEXT)
        super().__init__(
            info,
            capabilities,
            contract,
            embed_dim=model.image.num_features,
            feature_info=model.image.feature_info,
        )
        self.model = model
        self.tokenizer = tokenizer
        self.text_max_length = text_max_length

    @property
    def backbone(self) -> nn.Module:
        """The image tower; its forward returns pooled features."""
        return self.model.image

    @property
    def logit_scale(self) -> float:
        """The learnt multiplier of image-text cosine similarities (``1 / temperature``)."""
        return float(self.model.scale().detach())

    def encode_image(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return pooled image features ``(B, embed_dim)`` before the projection."""
        return self.model.image(inputs)

    def forward_features(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return the image tower's maps at strides 4, 8, 16 and 32."""
        return self.model.image.forward_features(inputs)

    def project_image(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Project pooled image features into the joint space, L2-normalised."""
        return self.model.project_image(embeddings)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Return L2-normalised joint-space embeddings ``(N, joint_dim)`` of ``texts``."""
        self.require(Capability.TEXT)
        device = self.model.logit_scale.device
        tokens = tokenize(self.tokenizer, texts, self.text_max_length)
        return self.model.embed_texts(tokens["input_ids"].to(device), tokens["attention_mask"].to(device))


def rescale_per_image(images: torch.Tensor) -> torch.Tensor:
    """Stretch each image of ``(B, C, H, W)`` to span ``[0, 1]``; constant images become 0."""
    flat = images.flatten(1)
    low = flat.amin(dim=1).view(-1, 1, 1, 1)
    span = (flat.amax(dim=1).view(-1, 1, 1, 1) - low).clamp_min(1e-6)
    return (images - low) / span


def contract_for(in_chans: int, mean: float, std: float, rescale: bool = True) -> MammoClipContract:
    """Return the input contract for a model with ``in_chans`` channels and scalar statistics."""
    return MammoClipContract(
        channels=in_chans, mean=(mean,) * in_chans, std=(std,) * in_chans, rescale_per_image=rescale
    )


def build_trained(spec: EncoderSpec, argument: str | None, options: EncoderOptions) -> MammoClipEncoder:
    """Build ``mammoclip`` from a trained folder, training the demo recipe first when needed."""
    from mammobench_mammoclip.card import synthetic_only_datasets
    from mammobench_mammoclip.storage import CARD_JSON, MODEL_FILE, load_trained

    folder = _trained_folder(options.weights)
    if options.weights is None and not (folder / CARD_JSON).is_file():
        _train_demo(folder)

    trained = load_trained(folder)
    recipe = trained.recipe
    info = EncoderInfo(
        name=spec.name,
        revision=revision_from_sha256(trained.weights_sha256),
        weights_path=str(folder / MODEL_FILE),
        pretraining_datasets=list(trained.card.get("pretraining_datasets", [])),
        synthetic_pretraining=synthetic_only_datasets(trained.card),
    )
    contract = contract_for(recipe.model.in_chans, recipe.model.image_mean, recipe.model.image_std)
    return MammoClipEncoder(trained.model, trained.tokenizer, info, contract, recipe.model.text.max_length)


def build_official(spec: EncoderSpec, argument: str | None, options: EncoderOptions) -> MammoClipEncoder:
    """Build ``mammoclip-official`` from a released checkpoint (``--weights``, ``--trust-pickle``)."""
    from mammobench_mammoclip import official

    if options.weights is None:
        raise WeightsError(
            f"encoder '{spec.name}' needs the released checkpoint: pass --weights "
            "b5-model-best-epoch-7.tar (or b2-model-best-epoch-10.tar) and --trust-pickle"
        )
    path = Path(options.weights)
    state = official.read_released_checkpoint(path, trust_pickle=options.trust_pickle)
    architecture, reference_size = official.detect_architecture(state, source=str(path))

    image = ImageTower(architecture, in_chans=3)
    official.load_image_encoder(image.net, state, source=str(path))
    official.freeze_same_padding(image.net, reference_size)

    text, tokenizer = _official_text_tower(state, source=str(path))
    model = MammoClipModel(image, text, embed_dim=int(state[official.IMAGE_PROJECTION_PREFIX + "weight"].shape[0]))
    official.load_projection(model.image_projection, state, official.IMAGE_PROJECTION_PREFIX, source=str(path))
    if model.text_projection is not None:
        official.load_projection(model.text_projection, state, official.TEXT_PROJECTION_PREFIX, source=str(path))
    if "logit_scale" in state:
        model.logit_scale.data.copy_(state["logit_scale"].reshape(()))

    info = EncoderInfo(
        name=spec.name,
        revision=revision_from_sha256(file_sha256(path)),
        weights_path=str(path),
        pretraining_datasets=list(OFFICIAL_PRETRAINING_DATASETS),
    )
    contract = contract_for(3, MAMMOCLIP_MEAN, MAMMOCLIP_STD)
    logger.info("loaded released Mammo-CLIP %s from '%s'", architecture, path)
    return MammoClipEncoder(model, tokenizer, info, contract, OFFICIAL_TEXT_MAX_LENGTH)


def _official_text_tower(state: dict[str, torch.Tensor], *, source: str) -> tuple[TextTower | None, Any]:
    from mammobench_mammoclip import official
    from mammobench_mammoclip.text import load_pretrained_text

    configured = os.environ.get(BIOCLINICALBERT_ENV)
    if not configured:
        logger.info(
            "mammoclip-official: %s is not set, so the text tower is not loaded and the encoder "
            "offers 'global' and 'dense' only; set it to a local Bio_ClinicalBERT folder for 'text'",
            BIOCLINICALBERT_ENV,
        )
        return None, None
    encoder, tokenizer = load_pretrained_text(Path(configured).expanduser())
    official.load_text_encoder(encoder, state, source=source)
    return TextTower(encoder, pooling="eos"), tokenizer


def _trained_folder(weights: Path | None) -> Path:
    from mammobench_mammoclip.storage import MODEL_FILE

    if weights is None:
        return paths.models_dir() / DEMO_RECIPE
    weights = Path(weights)
    if weights.is_file() and weights.name == MODEL_FILE:
        return weights.parent
    return weights


def _train_demo(folder: Path) -> None:
    from mammobench_mammoclip.progress import default_progress
    from mammobench_mammoclip.recipe import load_recipe
    from mammobench_mammoclip.train import pretrain

    logger.warning(
        "encoder 'mammoclip': no trained weights in '%s' yet; pretraining them now with recipe "
        "'%s' (one time only, a few minutes on a CPU)",
        folder,
        DEMO_RECIPE,
    )
    resume = (folder / "checkpoint").is_dir()
    pretrain(load_recipe(DEMO_RECIPE), out_dir=folder, resume=resume, progress=default_progress())
