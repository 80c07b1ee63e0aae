"""Linear probe: logistic regression on frozen, cached embeddings.

The encoder runs once per (encoder, dataset, profile) in eval mode without augmentation, so
BatchNorm statistics never change and the features are truly frozen. The embeddings are cached,
and every label fraction and seed reads the same arrays. Per cell, a logistic regression with
balanced class weights is fitted on the label subset for each regularisation strength of a
fixed grid, the strength with the best validation score is kept, and that model predicts the
test split once.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mammobench.data.fractions import LabelSubset
from mammobench.encoders.embed import EmbeddingSet, compute_embeddings
from mammobench.plural import counted
from mammobench.progress import callback
from mammobench.protocols.base import CellResult, Protocol, ProtocolContext
from mammobench.specs import Capability
from mammobench.tasks.base import ClassificationTask
from mammobench.tasks.evaluation import main_metric_value, probability_columns

logger = logging.getLogger(__name__)

# Inverse regularisation strengths tried on the validation split, weakest regularisation last.
C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 7))
MAX_ITERATIONS = 2000


class LinearProbe(Protocol):
    """Logistic regression on cached frozen embeddings, regularisation chosen on validation."""

    name = "linear-probe"
    capabilities = (Capability.GLOBAL,)
    task_kinds = ("classification",)
    light_cells = True

    def __init__(self) -> None:
        self.embeddings: EmbeddingSet | None = None

    def setup(self, context: ProtocolContext) -> None:
        settings = context.settings
        manifest = context.embedding_manifest
        with context.reporter.step("Embedding images (frozen encoder)", len(manifest.images)) as handle:
            self.embeddings = compute_embeddings(
                context.encoder,
                manifest,
                settings.profile,
                batch_size=settings.batch_size,
                num_workers=settings.num_workers,
                progress=callback(handle),
                precision=settings.precision,
            )
        if self.embeddings.failed:
            logger.warning(
                "%s could not be read and will be left out of every cell: %s",
                counted(len(self.embeddings.failed), "image"),
                _first_failure(self.embeddings.failed),
            )

    def run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        # The fits work on a few hundred rows: multi-threaded BLAS only adds synchronisation, and
        # when other processes occupy the cores its spinning threads make each fit up to 50x slower.
        with threadpool_limits(limits=1):
            return self._run_cell(context, subset)

    def _run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        task = context.task
        if not isinstance(task, ClassificationTask):
            raise TypeError(f"the linear probe needs a classification task, got {type(task).__name__}")
        embeddings = self.embeddings
        if embeddings is None:
            raise RuntimeError("LinearProbe.setup must run before run_cell")

        train = _embedded(context.images("train"), embeddings, subset.image_ids)
        validation = _embedded(context.images("val"), embeddings)
        test = _embedded(context.images("test"), embeddings)

        scaler = StandardScaler().fit(embeddings.rows(train["image_id"].tolist()))
        features = {
            name: scaler.transform(embeddings.rows(frame["image_id"].tolist()))
            for name, frame in (("train", train), ("val", validation), ("test", test))
        }
        train_targets = task.targets(train)

        best_model, best_c, best_score, scores = None, None, -np.inf, {}
        for c in C_GRID:
            model = _fit(features["train"], train_targets, c, subset.seed)
            score = main_metric_value(task, _predictions(task, validation, model, features["val"]))
            scores[c] = score
            if np.isfinite(score) and score > best_score:
                best_model, best_c, best_score = model, c, score
        if best_model is None:
            best_c = 1.0
            best_model = _fit(features["train"], train_targets, best_c, subset.seed)
            logger.warning(
                "task '%s': the validation metric is undefined for every C; using C=%g",
                task.name,
                best_c,
            )

        predictions = _predictions(task, test, best_model, features["test"])
        return CellResult(
            predictions=predictions,
            validation=best_score if np.isfinite(best_score) else None,
            cache_key=embeddings.key,
            # An undefined validation score (one class only) is stored as null: JSON has no NaN.
            details={
                "C": best_c,
                "validation_scores": {f"{c:g}": (s if np.isfinite(s) else None) for c, s in scores.items()},
            },
            failed_images=dict(embeddings.failed),
        )


def _embedded(
    images: pd.DataFrame, embeddings: EmbeddingSet, keep: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Rows of ``images`` that have an embedding (and are in ``keep`` when given)."""
    mask = ~images["image_id"].astype(str).isin(set(embeddings.failed))
    if keep is not None:
        mask &= images["image_id"].astype(str).isin(set(keep))
    return images[mask.to_numpy()]


def _fit(features: np.ndarray, targets: np.ndarray, c: float, seed: int) -> LogisticRegression:
    model = LogisticRegression(
        C=c, class_weight="balanced", max_iter=MAX_ITERATIONS, random_state=seed
    )
    with warnings.catch_warnings():
        # A weakly regularised fit on separable data may stop at max_iter; its validation score
        # still decides whether it is chosen.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, targets)
    return model


def _predictions(
    task: ClassificationTask, images: pd.DataFrame, model: LogisticRegression, features: np.ndarray
) -> pd.DataFrame:
    frame = images[["image_id", "patient_id", "laterality", "view"]].copy()
    frame["target"] = task.targets(images)
    probabilities = _class_probabilities(model, features, len(task.classes))
    if task.binary:
        frame["score"] = probabilities[:, 1]
    else:
        for column, values in zip(probability_columns(task), probabilities.T, strict=True):
            frame[column] = values
    return frame.reset_index(drop=True)


def _class_probabilities(model: LogisticRegression, features: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities for every class index, also for classes absent from the training subset."""
    probabilities = np.zeros((features.shape[0], n_classes))
    probabilities[:, model.classes_.astype(int)] = model.predict_proba(features)
    return probabilities


def _first_failure(failed: dict[str, str]) -> str:
    image_id = sorted(failed)[0]
    return f"'{image_id}': {failed[image_id]}"
