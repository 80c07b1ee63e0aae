from __future__ import annotations

import re

import numpy as np
import pytest

from mammobench import vocab
from mammobench.text import descriptors
from mammobench.text.reports import (
    BreastDescription,
    FindingDescription,
    density_sentences,
    finding_sentences,
    negative_sentences,
    report_sentences,
    write_report,
)


def _example_finding(category: str) -> FindingDescription:
    """Return a fully described finding of ``category``."""
    if category == vocab.MASS:
        return FindingDescription(
            category, shape="irregular", margin="spiculated", quadrant="upper outer",
            depth="middle", size_mm=14.0, suspicious=True, clock=2, distance_from_nipple_mm=60.0,
        )
    if category == vocab.CALCIFICATION:
        return FindingDescription(
            category, calcification_morphology="fine pleomorphic",
            calcification_distribution="grouped", quadrant="central", depth="anterior",
            size_mm=8.0, suspicious=True,
        )
    if category == vocab.ASYMMETRY:
        return FindingDescription(category, quadrant="lower inner", depth="posterior", seen_on="CC")
    if category == vocab.OTHER_FINDING:
        return FindingDescription(category, note="intramammary lymph node", quadrant="upper outer")
    return FindingDescription(category, quadrant="lower outer", depth="middle", size_mm=20.0)


@pytest.mark.parametrize("category", vocab.FINDINGS)
def test_report_covers_finding_type(category: str) -> None:
    breast = BreastDescription("L", "B", 4, [_example_finding(category)])
    report = write_report(breast, np.random.default_rng(0))
    findings_line = report.splitlines()[0]
    assert len(findings_line.split(". ")) >= 2, report


@pytest.mark.parametrize("category", vocab.FINDINGS + (vocab.CANCER,))
def test_sentence_families_per_category(category: str) -> None:
    positives = finding_sentences(category)
    negatives = negative_sentences(category)
    assert len(positives) >= 4
    assert len(negatives) >= 2
    assert not set(positives) & set(negatives)


@pytest.mark.parametrize("seed", range(20))
def test_report_names_side_density_birads(seed: int) -> None:
    rng = np.random.default_rng(seed)
    laterality = vocab.LATERALITIES[seed % 2]
    density = vocab.DENSITIES[seed % 4]
    birads = (1, 2, 3, 4, 5)[seed % 5]
    findings = [] if birads == 1 else [_example_finding(vocab.FINDINGS[seed % len(vocab.FINDINGS)])]
    report = write_report(BreastDescription(laterality, density, birads, findings), rng)

    side = "left" if laterality == "L" else "right"
    assert side in report.lower()
    assert re.search(rf"density (category )?{density}\b", report, flags=re.IGNORECASE), report
    assert re.search(rf"BI-RADS (category )?{birads}\b", report), report


def test_report_has_two_sections() -> None:
    report = write_report(BreastDescription("R", "C", 1), np.random.default_rng(1))
    lines = report.splitlines()
    assert lines[0].startswith("FINDINGS: ")
    assert lines[1].startswith("IMPRESSION: ")


def test_report_same_seed_same_text() -> None:
    breast = BreastDescription("L", "D", 5, [_example_finding(vocab.MASS)])
    first = write_report(breast, np.random.default_rng(7))
    second = write_report(breast, np.random.default_rng(7))
    assert first == second


def test_report_wording_varies() -> None:
    breast = BreastDescription("L", "C", 4, [_example_finding(vocab.MASS)])
    texts = {write_report(breast, np.random.default_rng(seed)) for seed in range(10)}
    assert len(texts) >= 5


def test_mass_descriptors_in_report() -> None:
    finding = _example_finding(vocab.MASS)
    report = write_report(BreastDescription("L", "B", 4, [finding]), np.random.default_rng(3))
    assert "mass" in report
    assert "irregular" in report.lower()
    assert "14 mm" in report or "1.4 cm" in report


def test_sentences_end_with_period() -> None:
    breast = BreastDescription("R", "A", 3, [_example_finding(vocab.CALCIFICATION)])
    sentences = report_sentences(breast, np.random.default_rng(2))
    assert all(sentence.endswith(".") for sentence in sentences)
    assert "BI-RADS" in sentences[-1]


def test_sentences_without_negatives() -> None:
    breast = BreastDescription("R", "A", 1)
    with_negatives = report_sentences(breast, np.random.default_rng(4), include_negatives=True)
    without = report_sentences(breast, np.random.default_rng(4), include_negatives=False)
    assert len(without) == 3  # composition, "no abnormality", impression
    assert len(with_negatives) > len(without)


def test_density_family_names_category() -> None:
    for density in vocab.DENSITIES:
        assert any(density in sentence for sentence in density_sentences(density))


def test_invalid_descriptor_rejected() -> None:
    with pytest.raises(ValueError, match="margin 'fuzzy' is invalid"):
        FindingDescription(vocab.MASS, margin="fuzzy")


def test_invalid_category_rejected() -> None:
    with pytest.raises(ValueError, match="category 'lump' is invalid"):
        finding_sentences("lump")


def test_descriptor_tables_cover_lexicon() -> None:
    from mammobench.text import phrasing

    assert set(phrasing.SHAPE_WORDS) == set(descriptors.MASS_SHAPES)
    assert set(phrasing.MARGIN_WORDS) == set(descriptors.MASS_MARGINS)
    assert set(phrasing.CALCIFICATION_MORPHOLOGY_WORDS) == set(descriptors.CALCIFICATION_MORPHOLOGIES)
    assert set(phrasing.CALCIFICATION_DISTRIBUTION_WORDS) == set(descriptors.CALCIFICATION_DISTRIBUTIONS)
    assert set(phrasing.QUADRANT_WORDS) == set(descriptors.QUADRANTS)
    assert set(phrasing.DEPTH_WORDS) == set(descriptors.DEPTHS)
