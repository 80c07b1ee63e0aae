"""VinDr-Mammo classification tasks: mass, suspicious calcification and density.

Labels are image-level: an image is positive for a finding when any of its annotation rows
names it. The official training/test split is kept and a validation split is carved out of
training by patient (study).
"""

from __future__ import annotations

from mammobench.api import ClassificationTask, binary_prompts, density_prompts, vocab


def mass() -> ClassificationTask:
    """Image-level presence of a mass."""
    return ClassificationTask(label=vocab.MASS, prompts=binary_prompts(vocab.MASS))


def calcification() -> ClassificationTask:
    """Image-level presence of a suspicious calcification."""
    return ClassificationTask(label=vocab.CALCIFICATION, prompts=binary_prompts(vocab.CALCIFICATION))


def density() -> ClassificationTask:
    """Four-class BI-RADS density A-D."""
    return ClassificationTask(
        label="density",
        classes=vocab.DENSITIES,
        metrics=("accuracy", "macro_f1", "balanced_accuracy"),
        prompts=density_prompts(),
    )
