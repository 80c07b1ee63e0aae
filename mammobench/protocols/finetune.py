"""Fine-tuning: the encoder and a linear head trained end to end on the label subset.

Each cell starts from a fresh copy of the encoder's weights. Training uses AdamW with a linear
warm-up over the first epoch and cosine decay to zero, class-weighted loss, and light
augmentation that keeps the chest wall on its canonical side (vertical flips, contrast and
brightness jitter). After every epoch the model is scored on the validation split; the best
epoch's weights predict the test split once. On a GPU the forward pass runs under autocast
(bfloat16 where supported, else float16 with gradient scaling).
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mammobench.data.fractions import LabelSubset
from mammobench.data.loading import ImageDataset, RandomVerticalFlip, make_loader
from mammobench.encoders.base import Encoder
from mammobench.protocols.base import CellResult, Protocol, ProtocolContext
from mammobench.specs import Capability
from mammobench.tasks.base import ClassificationTask
from mammobench.tasks.evaluation import main_metric_value, probability_columns

logger = logging.getLogger(__name__)

DEFAULT_EPOCHS = {"tiny": 4, "medium": 10, "paper": 10}
DEFAULT_LEARNING_RATE = 3e-4
HEAD_LEARNING_RATE_FACTOR = 10.0  # the new head learns faster than the pretrained backbone
WEIGHT_DECAY = 1e-4


class FineTune(Protocol):
    """Encoder plus linear head trained end to end; epoch selected on validation."""

    name = "finetune"
    capabilities = (Capability.GLOBAL,)
    task_kinds = ("classification",)

    def run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        task = context.task
        if not isinstance(task, ClassificationTask):
            raise TypeError(f"fine-tuning needs a classification task, got {type(task).__name__}")
        settings = context.settings
        device = torch.device(settings.device)
        torch.manual_seed(subset.seed)

        encoder = copy.deepcopy(context.encoder).to(device)
        head = nn.Linear(int(encoder.embed_dim or 0), 1 if task.binary else len(task.classes)).to(device)
        train_images = context.images("train")
        train_images = train_images[train_images["image_id"].astype(str).isin(set(subset.image_ids))]
        targets = task.targets(train_images)
        loss_function = _weighted_loss(task, targets, device)

        train_loader = make_loader(
            ImageDataset(
                context.manifest.with_images(train_images),
                settings.profile,
                augment=_TrainAugmentation(seed=subset.seed),
            ),
            settings.batch_size,
            shuffle=True,
            num_workers=settings.num_workers,
            seed=subset.seed,
        )
        epochs = settings.epochs or DEFAULT_EPOCHS.get(settings.profile, 10)
        learning_rate = settings.learning_rate or DEFAULT_LEARNING_RATE
        optimizer = torch.optim.AdamW(
            [
                {"params": encoder.parameters(), "lr": learning_rate},
                {"params": head.parameters(), "lr": learning_rate * HEAD_LEARNING_RATE_FACTOR},
            ],
            weight_decay=WEIGHT_DECAY,
        )
        steps_per_epoch = max(1, len(train_loader))
        scheduler = _warmup_cosine(optimizer, warmup_steps=steps_per_epoch, total_steps=epochs * steps_per_epoch)
        autocast_dtype, scaler = _mixed_precision(device)
        target_lookup = dict(zip(train_images["image_id"].astype(str), targets, strict=True))

        best_score, best_epoch, best_state = -math.inf, 0, None
        history: list[dict[str, Any]] = []
        with context.reporter.step(f"Fine-tuning ({epochs} epochs)", epochs * steps_per_epoch) as handle:
            for epoch in range(1, epochs + 1):
                encoder.train()
                head.train()
                losses, skipped = [], 0
                for batch in train_loader:
                    keep = [i for i, error in enumerate(batch["error"]) if error is None]
                    skipped += len(batch["error"]) - len(keep)
                    handle.advance()
                    if not keep:
                        continue
                    images = batch["image"][keep].to(device, non_blocking=True)
                    batch_targets = torch.tensor(
                        [target_lookup[batch["image_id"][i]] for i in keep], device=device
                    )
                    with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                        logits = head(encoder.encode_image(encoder.prepare(images)))
                        loss = _loss(task, loss_function, logits, batch_targets)
                    optimizer.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(loss).backward()
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        loss.backward()
                        optimizer.step()
                    scheduler.step()
                    losses.append(float(loss.detach()))

                validation = _predict(context, encoder, head, "val", autocast_dtype)
                score = main_metric_value(task, validation)
                mean_loss = float(np.mean(losses)) if losses else math.nan
                history.append({"epoch": epoch, "loss": mean_loss, "validation": score, "skipped_images": skipped})
                handle.update(epoch * steps_per_epoch, status=f"epoch {epoch} loss {mean_loss:.3f} val {score:.3f}")
                logger.debug("epoch %d: loss %.4f, validation %s %.4f", epoch, mean_loss, task.metrics[0], score)
                if best_state is None or (np.isfinite(score) and score > best_score):
                    best_score = score if np.isfinite(score) else best_score
                    best_epoch = epoch
                    best_state = _state_on_cpu(encoder, head)

        encoder.load_state_dict(best_state["encoder"])
        head.load_state_dict(best_state["head"])
        predictions = _predict(context, encoder, head, "test", autocast_dtype)
        return CellResult(
            predictions=predictions,
            validation=best_score if np.isfinite(best_score) else None,
            details={"epochs": epochs, "best_epoch": best_epoch, "learning_rate": learning_rate, "history": history},
        )


class _TrainAugmentation:
    """Vertical flip plus contrast and brightness jitter; boxes move with the flip."""

    def __init__(self, seed: int) -> None:
        self.flip = RandomVerticalFlip(p=0.5, seed=seed)
        self.generator = torch.Generator().manual_seed(seed + 1)

    def __call__(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, boxes = self.flip(image, boxes)
        contrast = 1.0 + 0.2 * (torch.rand((), generator=self.generator).item() - 0.5)
        brightness = 0.1 * (torch.rand((), generator=self.generator).item() - 0.5)
        mean = image.mean()
        image = ((image - mean) * contrast + mean + brightness).clamp(0.0, 1.0)
        return image, boxes


def _weighted_loss(task: ClassificationTask, targets: np.ndarray, device: torch.device) -> nn.Module:
    """Loss with classes weighted by inverse frequency in the training subset."""
    if task.binary:
        positives = float((targets == 1).sum())
        negatives = float((targets == 0).sum())
        pos_weight = torch.tensor([negatives / positives if positives else 1.0], device=device)
        return nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    counts = np.bincount(targets, minlength=len(task.classes)).astype(float)
    weights = np.where(counts > 0, counts.sum() / (len(counts) * np.maximum(counts, 1.0)), 0.0)
    return nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=device))


def _loss(task: ClassificationTask, loss_function: nn.Module, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if task.binary:
        return loss_function(logits.float().squeeze(1), targets.float())
    return loss_function(logits.float(), targets.long())


def _warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _mixed_precision(device: torch.device) -> tuple[torch.dtype | None, Any]:
    if device.type != "cuda":
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def _state_on_cpu(encoder: Encoder, head: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    return {
        "encoder": {k: v.detach().to("cpu", copy=True) for k, v in encoder.state_dict().items()},
        "head": {k: v.detach().to("cpu", copy=True) for k, v in head.state_dict().items()},
    }


def _predict(
    context: ProtocolContext,
    encoder: Encoder,
    head: nn.Module,
    split: str,
    autocast_dtype: torch.dtype | None,
) -> pd.DataFrame:
    task = context.task
    assert isinstance(task, ClassificationTask)
    settings = context.settings
    device = torch.device(settings.device)
    images = context.images(split)
    loader = make_loader(
        ImageDataset(context.manifest.with_images(images), settings.profile),
        settings.batch_size,
        shuffle=False,
        num_workers=settings.num_workers,
    )
    encoder.eval()
    head.eval()
    ids, outputs = [], []
    with torch.inference_mode():
        for batch in loader:
            keep = [i for i, error in enumerate(batch["error"]) if error is None]
            if not keep:
                continue
            inputs = batch["image"][keep].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = head(encoder.encode_image(encoder.prepare(inputs))).float()
            if task.binary:
                outputs.append(torch.sigmoid(logits[:, 0]).cpu().numpy()[:, None])
            else:
                outputs.append(torch.softmax(logits, dim=1).cpu().numpy())
            ids.extend(batch["image_id"][i] for i in keep)

    scored = images[images["image_id"].astype(str).isin(set(ids))]
    scored = scored.set_index(scored["image_id"].astype(str)).loc[ids].reset_index(drop=True)
    frame = scored[["image_id", "patient_id", "laterality", "view"]].copy()
    frame["target"] = task.targets(scored)
    values = np.concatenate(outputs) if outputs else np.zeros((0, 1 if task.binary else len(task.classes)))
    if task.binary:
        frame["score"] = values[:, 0]
    else:
        for column, column_values in zip(probability_columns(task), values.T, strict=True):
            frame[column] = column_values
    return frame
