"""The protocol interface: how a model is trained on a label subset and produces predictions.

A protocol runs once per (encoder, task) for shared work (:meth:`Protocol.setup`, e.g. one
embedding pass that serves every label fraction and seed) and then once per cell
(:meth:`Protocol.run_cell`). It returns per-image predictions on the test split; the task scores
them, so every protocol of a task is scored the same way.
"""

from __future__ import annotations

import logging
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from mammobench.data.fractions import LabelSubset
from mammobench.data.manifest import Manifest
from mammobench.encoders.base import Encoder
from mammobench.progress import LoggingReporter, ProgressReporter
from mammobench.specs import Capability
from mammobench.tasks.base import Task

logger = logging.getLogger(__name__)


@dataclass
class RunSettings:
    """Options that apply to every cell of a run.

    Attributes:
        profile: Resolution profile name (``tiny``, ``medium``, ``paper``).
        batch_size: Images per batch for embedding, fine-tuning and detection.
        num_workers: DataLoader worker processes; None uses the data layer's default.
        device: Torch device string, already resolved (``cpu``, ``cuda``, ...).
        precision: Forward precision for frozen feature extraction (``float32``, ``bfloat16``).
        n_bootstrap: Bootstrap resamples for confidence intervals.
        epochs: Training epochs for fine-tuning, detection and FActOR; None uses the
            protocol's default for the profile.
        learning_rate: Peak learning rate; None uses the protocol's default.
        freeze_backbone: Detection only: keep the encoder frozen and train the detector head.
        prompts: Zero-shot prompts per class name, overriding the task's.
        save_overlays: Folder for overlay PNGs of test predictions, or None.
        options: Protocol-specific extra options (e.g. FActOR's heatmap percentile).
    """

    profile: str = "tiny"
    batch_size: int = 16
    num_workers: int | None = None
    device: str = "cpu"
    precision: str = "float32"
    n_bootstrap: int = 1000
    epochs: int | None = None
    learning_rate: float | None = None
    freeze_backbone: bool = True
    prompts: dict[str, list[str]] | None = None
    save_overlays: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProtocolContext:
    """Everything a protocol needs for one (encoder, task) run."""

    encoder: Encoder
    task: Task
    manifest: Manifest  # prepared by the task: every image has split train, val or test
    settings: RunSettings
    reporter: ProgressReporter = field(default_factory=LoggingReporter)
    # The dataset's manifest before the task selected and split its images; None when unknown.
    dataset_manifest: Manifest | None = None

    def images(self, split: str) -> pd.DataFrame:
        return self.manifest.images[self.manifest.images["split"] == split]

    @property
    def embedding_manifest(self) -> Manifest:
        """The manifest to embed with a frozen encoder: the whole dataset when known.

        The embedding cache key includes the manifest's content hash, and every task filters
        and splits the dataset differently. Embedding the unfiltered dataset gives every task
        on that dataset the same cache entry, so one pass serves them all.
        """
        return self.dataset_manifest if self.dataset_manifest is not None else self.manifest


@dataclass
class CellResult:
    """Output of one cell, before scoring.

    Attributes:
        predictions: Test-split predictions, one row per image (classification: ``image_id``,
            ``patient_id``, ``laterality``, ``target`` and ``score`` or ``prob_<class>``
            columns; detection: one row per predicted box).
        validation: Main-metric value of the selected model on the validation split.
        cache_key: Embedding or feature cache key the cell read, if any.
        details: Chosen hyperparameters and training facts, logged and kept with the record.
        failed_images: Image id to reason for images that could not be read.
        metrics: Scored metrics, for protocols that score their own predictions (detection and
            FActOR need boxes the runner does not have); None lets the runner score
            classification predictions through the task.
    """

    predictions: pd.DataFrame
    validation: float | None = None
    cache_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    failed_images: dict[str, str] = field(default_factory=dict)
    metrics: list[Any] | None = None


class Protocol(ABC):
    """Base class of protocols."""

    name: ClassVar[str]
    capabilities: ClassVar[tuple[Capability, ...]] = ()
    task_kinds: ClassVar[tuple[str, ...]] = ("classification",)
    uses_labels: ClassVar[bool] = True  # False for zero-shot: one cell at fraction 0
    # True when setup embeds the dataset once with the frozen encoder (cached on disk) and each
    # cell only fits a small model on the embeddings; sweeps schedule such cells as light work.
    light_cells: ClassVar[bool] = False

    def setup(self, context: ProtocolContext) -> None:
        """Do the work that every cell of this run shares. Called once, before the cells."""

    @abstractmethod
    def run_cell(self, context: ProtocolContext, subset: LabelSubset) -> CellResult:
        """Train on ``subset`` (a label fraction of the train split), select on ``val``, and
        return predictions on ``test``."""


def setting_overrides(
    settings_type: type,
    options: Mapping[str, Any] | None,
    epochs: int | None,
    learning_rate: float | None,
) -> dict[str, Any]:
    """Return a run's overrides of a protocol's settings dataclass, by field name.

    Keys of ``options`` (``RunSettings.options``) that name a field of ``settings_type`` are
    kept and other keys are ignored, because they belong to other protocols. ``--epochs`` and
    ``--lr`` of the run, when given, replace the matching options.
    """
    fields = {field.name for field in dataclasses.fields(settings_type)}
    overrides = {name: value for name, value in (options or {}).items() if name in fields}
    if epochs is not None:
        overrides["epochs"] = epochs
    if learning_rate is not None:
        overrides["learning_rate"] = learning_rate
    return overrides
