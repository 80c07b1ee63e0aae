"""RSNA Screening Mammography cancer task.

The prediction for a breast is the mean of its images' predictions, as in the Mammo-CLIP
reference evaluation. The Kaggle test labels are not public, so the split comes from the
dataset adapter's fixed patient-level folds.
"""

from __future__ import annotations

from mammobench.api import ClassificationTask, binary_prompts, vocab


def cancer() -> ClassificationTask:
    """Breast-level cancer."""
    return ClassificationTask(label=vocab.CANCER, unit="breast", prompts=binary_prompts(vocab.CANCER))
