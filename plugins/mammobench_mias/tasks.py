"""mini-MIAS classification tasks on real screen-film mammograms.

The split comes from the dataset adapter's fixed patient-level folds (the two breasts of a
patient always share a split).
"""

from __future__ import annotations

import pandas as pd

from mammobench.api import ClassificationTask, abnormal_prompts, binary_prompts, vocab


def abnormal() -> ClassificationTask:
    """Normal versus abnormal (any abnormality class)."""
    return ClassificationTask(label=vocab.ABNORMAL, prompts=abnormal_prompts())


def malignant() -> ClassificationTask:
    """Benign versus malignant, among abnormal images only."""
    return ClassificationTask(
        label=vocab.MALIGNANT,
        classes=("benign", "malignant"),
        row_filter=_abnormal_rows,
        prompts={"benign": binary_prompts(vocab.CANCER)["absent"], "malignant": binary_prompts(vocab.CANCER)["present"]},
    )


def _abnormal_rows(images: pd.DataFrame) -> pd.Series:
    return images[vocab.ABNORMAL] == 1.0
