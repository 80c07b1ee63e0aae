"""Zero-shot classification: image embeddings against text prompts, no labels used.

Each class is represented by the L2-normalised mean of the text embeddings of its prompts. An
image's class probabilities are the softmax of its cosine similarities to the class vectors,
divided by a temperature. Zero-shot uses no training labels, so a run has one cell at label
fraction 0; the test split is scored as in every other protocol.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from mammobench.data.fractions import LabelSubset
from mammobench.encoders.embed import EmbeddingSet, compute_embeddings
from mammobench.errors import ConfigError
from mammobench.progress import callback
from mammobench.protocols.base import CellResult, Protocol, ProtocolContext
from mammobench.specs import Capability
from mammobench.tasks.base import ClassificationTask
from mammobench.tasks.evaluation import main_metric_value, probability_columns

logger = logging.getLogger(__name__)

# Softmax temperature of the cosine similarities; CLIP-style models are trained near 0.07. The
# AUC does not depend on it; thresholded metrics (accuracy) do.
TEMPERATURE = 0.07


class ZeroShot(Protocol):
    """Text prompts against image embeddings, for encoders with the ``text`` capability."""

    name = "zero-shot"
    capabilities = (Capability.GLOBAL, Capability.TEXT)
    task_kinds = ("classification",)
    uses_labels = False
    light_cells = True

    def __init__(self) -> None:
        self.embeddings: EmbeddingSet | None = None

    def setup(self, context: ProtocolContext) -> None:
        settings = context.settings
        manifest = context.embedding_manifest
        with context.reporter.step("Embedding images (frozen encoder)", len(manifest.images)) as handle:
            # The whole dataset is embedded, so the cache entry is the one the linear probe reads.
            self.embeddings = compute_embeddings(
                context.encoder,
                manifest,
                settings.profile,
                batch_size=settings.batch_size,
                num_workers=settings.num_workers,
                progress=callback(handle),
                precision=settings.precision,
            )

    def run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        task = context.task
        if not isinstance(task, ClassificationTask):
            raise TypeError(f"zero-shot needs a classification task, got {type(task).__name__}")
        if self.embeddings is None:
            raise RuntimeError("ZeroShot.setup must run before run_cell")

        prompts = context.settings.prompts or {name: list(texts) for name, texts in task.prompts.items()}
        missing = [name for name in task.classes if not prompts.get(name)]
        if missing:
            raise ConfigError(
                f"task '{task.name}' has no zero-shot prompts for class(es) {missing}; pass "
                "--prompts FILE with a list of prompts per class"
            )
        class_vectors = _class_vectors(context, [prompts[name] for name in task.classes])

        frames = {}
        for split in ("val", "test"):
            images = context.images(split)
            images = images[~images["image_id"].astype(str).isin(set(self.embeddings.failed))]
            probabilities = _probabilities(context, self.embeddings.rows(images["image_id"].tolist()), class_vectors)
            frames[split] = _frame(task, images, probabilities)

        validation = main_metric_value(task, frames["val"])
        return CellResult(
            predictions=frames["test"],
            validation=validation if np.isfinite(validation) else None,
            cache_key=self.embeddings.key,
            details={"prompts": {name: prompts[name] for name in task.classes}, "temperature": TEMPERATURE},
            failed_images=dict(self.embeddings.failed),
        )


def _class_vectors(context: ProtocolContext, prompt_lists: list[list[str]]) -> torch.Tensor:
    encoder = context.encoder
    vectors = []
    with torch.inference_mode():
        for prompts in prompt_lists:
            embedded = encoder.encode_text(list(prompts)).float()
            mean = embedded.mean(dim=0)
            vectors.append(mean / mean.norm().clamp_min(1e-12))
    return torch.stack(vectors)


def _probabilities(context: ProtocolContext, embeddings: np.ndarray, class_vectors: torch.Tensor) -> np.ndarray:
    encoder = context.encoder
    device = class_vectors.device
    with torch.inference_mode():
        images = torch.from_numpy(np.ascontiguousarray(embeddings)).to(device)
        joint = encoder.project_image(images).float()
        joint = joint / joint.norm(dim=1, keepdim=True).clamp_min(1e-12)
        logits = joint @ class_vectors.T / TEMPERATURE
        return torch.softmax(logits, dim=1).cpu().numpy()


def _frame(task: ClassificationTask, images: pd.DataFrame, probabilities: np.ndarray) -> pd.DataFrame:
    frame = images[["image_id", "patient_id", "laterality", "view"]].copy()
    frame["target"] = task.targets(images)
    if task.binary:
        frame["score"] = probabilities[:, 1]
    else:
        for column, values in zip(probability_columns(task), probabilities.T, strict=True):
            frame[column] = values
    return frame.reset_index(drop=True)
