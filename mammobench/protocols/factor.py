"""Mammo-FActOR: attribute-text alignment of frozen feature maps and weakly supervised localization.

Shared work (:meth:`Factor.setup`, once per run):

1. The frozen encoder's final feature map (``feature_level``) of every image is computed once and
   cached on disk (:mod:`mammobench.factor.features`). Each channel, flattened over its ``h x w``
   positions, is a region descriptor; ``h x w`` follows from the profile and the level's stride.
2. Each attribute gets a text embedding: the L2-normalised mean of the encoder's text embeddings
   of the attribute's sentence family (:mod:`mammobench.factor.attributes`).

Per cell (label fraction and seed), one head per attribute (a two-layer MLP from a channel
descriptor into the text space) is trained with a contrastive loss on the label subset, with its
epoch chosen on the validation AUC (:mod:`mammobench.factor.training`). An image's score for an
attribute is its maximum channel similarity over the temperature. Then:

- attribute classification tasks score the test images' AUC per attribute;
- attribute localization tasks build a heatmap for each test image that has the attribute and
  its boxes: the channel maps weighted by their similarity, mapped to the processed image frame.
  The regions above a high percentile become boxes, scored against the ground-truth boxes in
  that frame by IoU hit rates, the pointing game and AP
  (:mod:`mammobench.factor.heatmaps`, :mod:`mammobench.factor.scoring`).

No box is used for training or selection; boxes are only evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mammobench.data.fractions import LabelSubset
from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.encoders.base import Encoder
from mammobench.encoders.feature_maps import compute_feature_maps
from mammobench.errors import ConfigError
from mammobench.factor.attributes import attribute_embeddings, attribute_sentences
from mammobench.factor.config import FactorConfig, factor_config
from mammobench.factor.features import CANONICAL_SIDE, ChannelFeatures
from mammobench.factor.localization import Localizer
from mammobench.factor.scoring import score_classification
from mammobench.factor.training import TrainedHead, score_images, train_head
from mammobench.plural import counted
from mammobench.progress import callback
from mammobench.protocols.base import CellResult, Protocol, ProtocolContext
from mammobench.specs import Capability
from mammobench.tasks.base import FactorTask

logger = logging.getLogger(__name__)

# Storage dtype of cached feature maps: half the disk space of float32.
FEATURE_DTYPE = "float16"


class Factor(Protocol):
    """One MLP head per attribute on frozen channel descriptors; epoch selected on validation AUC."""

    name = "factor"
    capabilities = (Capability.DENSE, Capability.TEXT)
    task_kinds = ("factor", "factor-localization")

    def __init__(self) -> None:
        self.config: FactorConfig | None = None
        self.features: ChannelFeatures | None = None
        self.attributes: tuple[str, ...] = ()
        self.text: dict[str, torch.Tensor] = {}
        self.shared_details: dict[str, Any] = {}

    def setup(self, context: ProtocolContext) -> None:
        task = _factor_task(context)
        settings = context.settings
        profile = get_profile(settings.profile)
        self.config = factor_config(
            epochs=settings.epochs, learning_rate=settings.learning_rate, options=settings.options
        )
        self.attributes = tuple(task.attributes)
        encoder = context.encoder
        level = _level_index(encoder, self.config.feature_level)

        manifest = context.embedding_manifest
        with context.reporter.step("Computing final feature maps (frozen encoder)", len(manifest.images)) as handle:
            feature_maps = compute_feature_maps(
                encoder,
                manifest,
                profile,
                levels=[level],
                dtype=FEATURE_DTYPE,
                batch_size=settings.batch_size,
                num_workers=settings.num_workers,
                progress=callback(handle),
                precision=settings.precision,
                canonical_side=CANONICAL_SIDE,
            )
        self.features = ChannelFeatures.from_feature_maps(feature_maps)
        _check_grid(self.features, profile)
        train_ids = self.features.readable(_ids(context.images("train")))
        self.features.fit_standardization(train_ids)
        if self.features.failed:
            logger.warning(
                "%s could not be read and will be left out of every cell", counted(len(self.features.failed), "image")
            )

        embeddings = attribute_embeddings(encoder, self.attributes, task.sentences)
        self.text = {attribute: embeddings[index] for index, attribute in enumerate(self.attributes)}

        height, width = self.features.grid
        self.shared_details = {
            "attributes": list(self.attributes),
            "features": {
                "level": level,
                "stride": self.features.stride,
                "channels": self.features.channels,
                "grid": [height, width],
                "mlp_input_size": self.features.positions,
                "mlp_hidden_size": self.config.hidden_dim or self.features.positions,
                "standardization": {"mean": self.features.mean, "std": self.features.std},
                "cache": "frozen encoder, cached feature maps",
            },
            "sentences": {
                attribute: len(attribute_sentences(attribute, task.sentences)) for attribute in self.attributes
            },
        }
        logger.info(
            "FActOR: %d channels of a %dx%d map (stride %d) per image; attributes %s",
            self.features.channels,
            height,
            width,
            self.features.stride,
            ", ".join(self.attributes),
        )

    def run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        task = _factor_task(context)
        if self.config is None or self.features is None:
            raise RuntimeError("Factor.setup must run before run_cell")
        config, features = self.config, self.features
        settings = context.settings
        device = torch.device(settings.device)
        labels = _labels(context.manifest, self.attributes)

        train_ids = features.readable(sorted(subset.image_ids))
        validation_ids = features.readable(_ids(context.images("val")))
        test_ids = features.readable(_ids(context.images("test")))

        heads: dict[str, TrainedHead] = {}
        with context.reporter.step(f"Training {len(self.attributes)} attribute head(s)", len(self.attributes)) as handle:
            for attribute in self.attributes:
                heads[attribute] = train_head(
                    attribute,
                    self.text[attribute],
                    features,
                    train_ids,
                    labels[attribute].loc[train_ids].to_numpy(),
                    validation_ids,
                    labels[attribute].loc[validation_ids].to_numpy(),
                    config,
                    seed=subset.seed,
                    device=device,
                )
                handle.advance()

        overlays = None
        if settings.save_overlays is not None:
            overlays = Path(settings.save_overlays) / f"{task.name}-fraction{subset.fraction:g}-seed{subset.seed}"
        localizer = Localizer(context, features, config, heads, task, overlays)
        if task.localize:
            predictions, metrics, evaluation = localizer.localization(test_ids, labels, subset.seed)
        else:
            predictions, metrics, evaluation = self._classification(context, heads, test_ids, labels, subset.seed)
            localizer.overlays_only(test_ids, labels)

        details = {
            **self.shared_details,
            "config": config.as_dict(),
            "heads": {
                attribute: {
                    "best_epoch": trained.best_epoch,
                    "best_validation_auc": trained.best_validation_auc,
                    "n_train_positives": int(labels[attribute].loc[train_ids].sum()),
                    "history": trained.history,
                }
                for attribute, trained in heads.items()
            },
            "n_images": {"train": len(train_ids), "val": len(validation_ids), "test": len(test_ids)},
            "evaluation": evaluation,
            "overlays": str(overlays) if overlays is not None else None,
        }
        return CellResult(
            predictions=predictions,
            validation=_mean_validation_auc(heads),
            cache_key=features.key,
            details=details,
            failed_images=dict(features.failed),
            metrics=metrics,
        )

    def _classification(
        self,
        context: ProtocolContext,
        heads: dict[str, TrainedHead],
        test_ids: list[str],
        labels: pd.DataFrame,
        seed: int,
    ) -> tuple[pd.DataFrame, list, dict[str, Any]]:
        images = context.manifest.images.set_index(context.manifest.images["image_id"].astype(str))
        frame = images.loc[test_ids, ["patient_id", "laterality", "view"]].reset_index(names="image_id")
        frame["patient_id"] = frame["patient_id"].astype(str)
        device = torch.device(context.settings.device)
        for attribute, trained in heads.items():
            frame[f"target_{attribute}"] = labels[attribute].loc[test_ids].to_numpy().astype(int)
            frame[f"score_{attribute}"] = score_images(trained.head, self.features, test_ids, device)
        metrics = score_classification(
            frame, self.attributes, n_bootstrap=context.settings.n_bootstrap, seed=seed
        )
        evaluation = {
            "n_test_positives": {attribute: int(frame[f"target_{attribute}"].sum()) for attribute in self.attributes},
            "score": "maximum channel cosine similarity divided by the temperature",
        }
        return frame, metrics, evaluation


def _factor_task(context: ProtocolContext) -> FactorTask:
    task = context.task
    if not isinstance(task, FactorTask):
        raise TypeError(f"the factor protocol needs a FActOR task, got {type(task).__name__}")
    return task


def _level_index(encoder: Encoder, level: int) -> int:
    count = len(encoder.feature_info)
    index = level if level >= 0 else count + level
    if not 0 <= index < count:
        raise ConfigError(
            f"FActOR feature_level {level} is invalid for encoder '{encoder.name}', which has "
            f"{count} dense level(s); use 0-{count - 1} or -1 for the final map"
        )
    return index


def _check_grid(features: ChannelFeatures, profile: ResolutionProfile) -> None:
    height, width = features.grid
    if height * features.stride < profile.height or width * features.stride < profile.width:
        raise ConfigError(
            f"the cached {height}x{width} maps at stride {features.stride} do not cover profile "
            f"'{profile.name}' ({profile.height}x{profile.width})"
        )


def _labels(manifest: Manifest, attributes: Sequence[str]) -> pd.DataFrame:
    images = manifest.images
    frame = images[list(attributes)].astype(float).astype(int)
    frame.index = images["image_id"].astype(str)
    return frame


def _ids(images: pd.DataFrame) -> list[str]:
    return [str(image_id) for image_id in images["image_id"]]


def _mean_validation_auc(heads: dict[str, TrainedHead]) -> float | None:
    values = [trained.best_validation_auc for trained in heads.values()]
    if not values or any(value is None for value in values):
        return None
    return float(np.mean(values))
