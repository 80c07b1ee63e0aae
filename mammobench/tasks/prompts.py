"""Default zero-shot prompts for classification tasks, built from the report sentence families.

The same sentence families write the synthetic reports and Mammo-CLIP's synthesised captions,
so prompts phrase findings the way a text encoder saw them in pretraining.
"""

from __future__ import annotations

from mammobench import vocab
from mammobench.text.reports import density_sentences, finding_sentences, negative_sentences

# Findings whose presence makes a mammogram abnormal for the 'abnormal' label.
_ABNORMAL_FINDINGS = (vocab.MASS, vocab.CALCIFICATION, vocab.ARCHITECTURAL_DISTORTION, vocab.ASYMMETRY)


def binary_prompts(category: str) -> dict[str, list[str]]:
    """Return ``{'absent': [...], 'present': [...]}`` prompts for a finding or ``cancer``."""
    return {"absent": negative_sentences(category), "present": finding_sentences(category)}


def abnormal_prompts() -> dict[str, list[str]]:
    """Return prompts for normal versus abnormal: any of the main findings against none."""
    present: list[str] = []
    absent: list[str] = []
    for category in _ABNORMAL_FINDINGS:
        present.extend(finding_sentences(category)[:4])
        absent.extend(negative_sentences(category))
    return {"absent": absent, "present": present}


def density_prompts() -> dict[str, list[str]]:
    """Return prompts per BI-RADS density category ``A``-``D``."""
    return {density: density_sentences(density) for density in vocab.DENSITIES}
