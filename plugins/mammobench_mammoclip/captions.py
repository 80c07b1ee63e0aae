"""Report text for pretraining: sentences from written reports or synthesized from labels.

Mammo-CLIP augments text in two ways, both drawn from a seeded generator here:

- instance augmentation: each breast gets two text variants per step, made by shuffling the
  report's sentences and dropping some of them (at least one sentence is always kept);
- dataset augmentation: image-label datasets become image-text data by writing a report from a
  breast's findings, density and BI-RADS assessment, including pertinent negatives for findings
  it lacks ("No mass is seen."). Every draw words the report differently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mammobench.api import BreastDescription, FindingDescription, report_sentences, vocab

# "FINDINGS:" and "IMPRESSION:" headers of written reports are not sentences of their own.
_SECTION_HEADER = re.compile(r"^\s*[A-Z][A-Z ]{2,}:\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def split_sentences(report: str) -> list[str]:
    """Split a report into sentences, dropping section headers and empty pieces."""
    sentences: list[str] = []
    for line in report.splitlines():
        line = _SECTION_HEADER.sub("", line).strip()
        if not line:
            continue
        sentences.extend(piece.strip() for piece in _SENTENCE_END.split(line) if piece.strip())
    return sentences


def augment_sentences(
    sentences: Sequence[str], rng: np.random.Generator, *, shuffle: bool, dropout: float
) -> str:
    """Drop each sentence with probability ``dropout`` (keeping at least one), optionally shuffle, join.

    Returns:
        The sentences joined by spaces; an empty string when ``sentences`` is empty.
    """
    remaining = [sentence for sentence in sentences if rng.random() >= dropout]
    if not remaining and sentences:
        remaining = [sentences[int(rng.integers(len(sentences)))]]
    if shuffle:
        order = rng.permutation(len(remaining))
        remaining = [remaining[index] for index in order]
    return " ".join(remaining)


def synthesized_sentences(
    breast: BreastDescription, rng: np.random.Generator, *, include_negatives: bool
) -> list[str]:
    """Write one randomly worded report for ``breast`` and return its sentences."""
    return report_sentences(breast, rng, include_negatives=include_negatives)


def describe_breast(
    images: pd.DataFrame, boxes: pd.DataFrame, label_columns: Sequence[str]
) -> BreastDescription | None:
    """Summarise the manifest rows of one breast as a :class:`BreastDescription`.

    A finding is present when any image of the breast has a box of its category or a label
    column of that name equal to 1. Density is the first known value, BI-RADS the highest known
    assessment. Masses and calcifications count as suspicious when BI-RADS is 4 or higher.

    Args:
        images: Manifest image rows of one patient and laterality.
        boxes: Box rows of those images.
        label_columns: The manifest's label columns.

    Returns:
        The description, or None when the rows carry no labels at all to describe.
    """
    laterality = str(images["laterality"].iloc[0])

    densities = images["density"].dropna()
    density = str(densities.iloc[0]) if not densities.empty else None

    birads_values = pd.to_numeric(images["birads"], errors="coerce").dropna()
    birads = int(birads_values.max()) if not birads_values.empty else None

    present: list[str] = []
    for category in vocab.FINDINGS:
        labelled = category in label_columns and (images[category] == 1.0).any()
        boxed = not boxes.empty and (boxes["category"] == category).any()
        if labelled or boxed:
            present.append(category)

    known_finding_labels = [c for c in label_columns if c in vocab.FINDINGS and images[c].notna().any()]
    if density is None and birads is None and not present and not known_finding_labels:
        return None

    suspicious = None if birads is None else birads >= 4
    # NOTE: findings carry no quadrant or depth. The manifest's boxes are in the pixels of one
    # view, but a quadrant needs both views and the image orientation.
    findings = [
        FindingDescription(
            category=category,
            suspicious=suspicious if category in (vocab.MASS, vocab.CALCIFICATION) else None,
        )
        for category in present
    ]
    if birads is not None and birads not in vocab.BIRADS:
        birads = None
    return BreastDescription(laterality=laterality, density=density, birads=birads, findings=findings)


def is_missing(value: object) -> bool:
    """Return True for None, NaN and blank strings, the empty cells of a CSV."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()
