"""Training the detector with epoch selection on validation, and predicting boxes.

Each epoch trains on the cell's label subset, then predicts the validation split and scores it
with the task's main metric. The weights of the best epoch (the latest one on ties, because
early epochs of a small validation split often tie at 0) predict the test split once. When the
validation split has no ground-truth box, every score is NaN and the last epoch is kept.

The optimiser is AdamW with a constant learning rate and the gradient norm clipped, as in the
Mammo-CLIP reference (which uses Adam, i.e. no weight decay, at ``paper``). A trained encoder
keeps its batch-normalisation statistics frozen, as torchvision's detection backbones do,
because detection batches are too small to estimate them. On a GPU the encoder and the head
run under autocast, in bfloat16 where supported and else in float16 with gradient scaling.
Losses and box decoding stay in float32.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from mammobench.detection.config import DetectorConfig
from mammobench.detection.features import Batch
from mammobench.detection.model import RetinaNetDetector
from mammobench.detection.targets import TargetTable
from mammobench.encoders.base import Encoder
from mammobench.progress import ProgressReporter

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("image_id", "category", "score", "xmin", "ymin", "xmax", "ymax")


class BatchSource(Protocol):
    """A source of training and prediction batches.

    :class:`~mammobench.detection.features.CachedMaps` and
    :class:`~mammobench.detection.features.ImageBatches` implement it.
    """

    targets: TargetTable

    def count(self, image_ids: Sequence[str], batch_size: int) -> int:
        """Return the number of batches of ``image_ids``."""

    def batches(self, image_ids: Sequence[str], batch_size: int, **options: Any) -> Iterator[Batch]:
        """Yield batches of ``image_ids``."""


@dataclass
class TrainingResult:
    """The selected model and how training went.

    Attributes:
        best_epoch: Epoch whose weights were kept (1-based).
        best_validation: Validation main metric of that epoch, or None when undefined.
        history: Per epoch: ``epoch``, ``loss``, ``classification_loss``, ``regression_loss``,
            ``validation`` and ``skipped_steps`` (steps with a non-finite loss).
    """

    best_epoch: int
    best_validation: float | None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DetectorRun:
    """The modules of one cell: the detector and the encoder copy it trains, if any.

    Attributes:
        detector: FPN and RetinaNet head.
        encoder: The encoder when batches hold images, or None for cached maps.
        train_backbone: Whether the encoder's weights are trained.
        categories: Category names of the detector's labels.
        device: Torch device of both modules.
    """

    detector: RetinaNetDetector
    encoder: Encoder | None
    train_backbone: bool
    categories: tuple[str, ...]
    device: torch.device

    def __post_init__(self) -> None:
        self.autocast_dtype, self.scaler = _mixed_precision(self.device)

    def forward(self, batch: Batch) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        """Return the pyramid levels and head outputs of a batch."""
        with self._autocast():
            return self.detector(self._maps(batch))

    def _maps(self, batch: Batch) -> list[torch.Tensor]:
        if batch.maps is not None:
            return batch.maps
        if self.encoder is None or batch.images is None:
            raise ValueError("a batch of images needs an encoder")
        grad = self.train_backbone and self.detector.training
        with torch.set_grad_enabled(grad):
            maps = self.encoder.forward_features(self.encoder.prepare(batch.images))
        return [level if grad else level.detach() for level in maps]

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def set_training(self, training: bool) -> None:
        self.detector.train(training)
        if self.encoder is None:
            return
        self.encoder.eval()
        if training and self.train_backbone:
            self.encoder.train()
            for module in self.encoder.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def state(self) -> dict[str, dict[str, torch.Tensor]]:
        state = {"detector": _cpu_copy(self.detector.state_dict())}
        if self.encoder is not None and self.train_backbone:
            state["encoder"] = _cpu_copy(self.encoder.state_dict())
        return state

    def load_state(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        self.detector.load_state_dict(state["detector"])
        if "encoder" in state and self.encoder is not None:
            self.encoder.load_state_dict(state["encoder"])


def train(
    run: DetectorRun,
    source: BatchSource,
    train_ids: Sequence[str],
    validation_ids: Sequence[str],
    *,
    config: DetectorConfig,
    batch_size: int,
    seed: int,
    score_validation: Callable[[pd.DataFrame], float],
    reporter: ProgressReporter,
) -> TrainingResult:
    """Train ``run`` for ``config.epochs`` epochs and load the best epoch's weights into it.

    Args:
        run: Detector (and encoder) to train in place.
        source: Where batches come from.
        train_ids: Training images (the cell's label subset).
        validation_ids: Validation images for epoch selection.
        config: Epochs, learning rate and gradient clipping.
        batch_size: Images per step.
        seed: Seed of the shuffling and augmentation.
        score_validation: Maps validation predictions (:func:`predict` output) to the main
            metric; NaN when undefined.
        reporter: Progress reporting.
    """
    optimizer = torch.optim.AdamW(_parameter_groups(run, config), weight_decay=config.weight_decay)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    first_epoch = epoch_images(train_ids, has_boxes_in(source), config.negatives_per_positive, 0)
    steps_per_epoch = max(1, source.count(first_epoch, batch_size))
    options: dict[str, Any] = {"shuffle": True}

    best_score, best_epoch, best_state = math.nan, 0, None
    history: list[dict[str, Any]] = []
    with reporter.step(f"Training detector ({config.epochs} epochs)", config.epochs * steps_per_epoch) as handle:
        for epoch in range(1, config.epochs + 1):
            run.set_training(True)
            options["seed"] = seed * 1000 + epoch
            if run.encoder is not None:
                options["augment"] = True
            losses: list[tuple[float, float]] = []
            skipped = 0
            epoch_ids = epoch_images(train_ids, has_boxes_in(source), config.negatives_per_positive, options["seed"])
            for batch in source.batches(epoch_ids, batch_size, **options):
                step_losses = _step(run, batch, optimizer, parameters, config.grad_clip_norm)
                handle.advance()
                if step_losses is None:
                    skipped += 1
                    continue
                losses.append(step_losses)

            score = score_validation(predict(run, source, validation_ids, batch_size))
            classification = float(np.mean([loss[0] for loss in losses])) if losses else math.nan
            regression = float(np.mean([loss[1] for loss in losses])) if losses else math.nan
            history.append(
                {
                    "epoch": epoch,
                    "loss": _finite_or_none(classification + regression),
                    "classification_loss": _finite_or_none(classification),
                    "regression_loss": _finite_or_none(regression),
                    "validation": None if math.isnan(score) else score,
                    "skipped_steps": skipped,
                }
            )
            handle.update(
                epoch * steps_per_epoch, status=f"epoch {epoch} loss {classification + regression:.3f} val {score:.3f}"
            )
            logger.debug("epoch %d: loss %.4f, validation %.4f", epoch, classification + regression, score)
            if skipped:
                logger.warning("epoch %d: skipped %d step(s) with a non-finite loss", epoch, skipped)

            if _improves(score, best_score):
                best_score, best_epoch, best_state = score, epoch, run.state()

    if math.isnan(best_score):
        logger.warning(
            "the validation split has no ground-truth box, so the main metric is undefined; "
            "keeping the last epoch"
        )
    run.load_state(best_state)
    return TrainingResult(
        best_epoch=best_epoch,
        best_validation=None if math.isnan(best_score) else best_score,
        history=history,
    )


def predict(run: DetectorRun, source: BatchSource, image_ids: Sequence[str], batch_size: int) -> pd.DataFrame:
    """Predict boxes for ``image_ids``: one row per box (:data:`PREDICTION_COLUMNS`).

    Boxes are in processed pixels. Boxes that clipping to the image left without width or
    height are dropped.
    """
    run.set_training(False)
    rows: list[tuple[Any, ...]] = []
    with torch.inference_mode():
        for batch in source.batches(image_ids, batch_size):
            levels, outputs = run.forward(batch)
            for image_id, detections in zip(batch.image_ids, run.detector.detect(levels, outputs), strict=True):
                boxes = detections["boxes"].cpu().numpy().astype(float)
                scores = detections["scores"].cpu().numpy().astype(float)
                labels = detections["labels"].cpu().numpy()
                for box, score, label in zip(boxes, scores, labels, strict=True):
                    if box[2] > box[0] and box[3] > box[1]:
                        rows.append((image_id, run.categories[int(label)], float(score), *box.tolist()))
    frame = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
    return frame.astype({"image_id": str, "category": str, "score": float})


def epoch_images(
    image_ids: Sequence[str], has_boxes: Callable[[str], bool], negatives_per_positive: float | None, seed: int
) -> list[str]:
    """Return the training images of one epoch: all of them, or the boxed ones plus sampled negatives.

    Args:
        image_ids: The cell's training images.
        has_boxes: Whether an image has a ground-truth box.
        negatives_per_positive: Images without boxes per image with boxes, or None for all.
        seed: Seed of the draw (different per epoch).
    """
    if negatives_per_positive is None:
        return list(image_ids)
    positives = [image_id for image_id in image_ids if has_boxes(image_id)]
    negatives = [image_id for image_id in image_ids if not has_boxes(image_id)]
    count = min(len(negatives), int(round(negatives_per_positive * max(len(positives), 1))))
    chosen = np.random.default_rng(seed).choice(len(negatives), size=count, replace=False)
    drawn = {negatives[index] for index in chosen}
    return [image_id for image_id in image_ids if image_id in drawn or has_boxes(image_id)]


def has_boxes_in(source: BatchSource) -> Callable[[str], bool]:
    """Return whether an image of ``source`` has a ground-truth box."""
    images = source.targets.images
    return lambda image_id: image_id in images and len(images[image_id].boxes) > 0


def _improves(score: float, best: float) -> bool:
    """Return True when an epoch scoring ``score`` replaces the best one so far (``best``).

    A defined score beats an undefined best and wins ties, so the latest of equal epochs is
    kept. While no score is defined, each epoch replaces the previous one.
    """
    if math.isnan(score):
        return math.isnan(best)
    return math.isnan(best) or score >= best


def _step(
    run: DetectorRun,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    parameters: list[nn.Parameter],
    clip_norm: float,
) -> tuple[float, float] | None:
    levels, outputs = run.forward(batch)
    losses = run.detector.loss(levels, outputs, batch.targets)
    loss = losses["classification"] + losses["bbox_regression"]
    optimizer.zero_grad(set_to_none=True)
    if not torch.isfinite(loss):
        return None
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        run.scaler.step(optimizer)
        run.scaler.update()
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        optimizer.step()
    return float(losses["classification"].detach()), float(losses["bbox_regression"].detach())


def _parameter_groups(run: DetectorRun, config: DetectorConfig) -> list[dict[str, Any]]:
    groups = [{"params": list(run.detector.parameters()), "lr": config.learning_rate}]
    if run.encoder is not None and run.train_backbone:
        groups.append(
            {"params": list(run.encoder.parameters()), "lr": config.learning_rate * config.backbone_lr_factor}
        )
    elif run.encoder is not None:
        run.encoder.requires_grad_(False)
    return groups


def _mixed_precision(device: torch.device) -> tuple[torch.dtype | None, Any]:
    if device.type != "cuda":
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in state.items()}


def copy_encoder(encoder: Encoder, device: torch.device) -> Encoder:
    """Return a fresh copy of ``encoder`` on ``device`` for one cell's backbone training."""
    return copy.deepcopy(encoder).to(device)
