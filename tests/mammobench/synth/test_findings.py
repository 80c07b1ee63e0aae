from __future__ import annotations

import numpy as np
import pytest

from mammobench import vocab
from mammobench.synth import SynthConfig
from mammobench.synth import findings
from mammobench.synth.findings import Lesion


def _sample(config: SynthConfig, count: int, seed: int = 0) -> list[findings.BreastPlan]:
    rng = np.random.default_rng(seed)
    return [findings.sample_breast("L", "B", config, rng) for _ in range(count)]


def _lesion(lateral: float, superior: float, depth: float = 0.5) -> Lesion:
    return Lesion(
        kind=findings.MASS, annotated=True, birads=4, suspicious=True, depth=depth,
        lateral=lateral, superior=superior, size_mm=12.0, views=("CC", "MLO"), seed=0,
        shape="irregular", margin="spiculated",
    )


def test_cancer_prevalence_follows_config() -> None:
    breasts = _sample(SynthConfig(cancer_prevalence=0.2, cancer_label_noise=0.0), 3000)
    rate = np.mean([breast.cancer for breast in breasts])
    assert 0.17 < rate < 0.23


def test_label_noise_keeps_prevalence() -> None:
    breasts = _sample(SynthConfig(cancer_prevalence=0.2, cancer_label_noise=0.2), 4000, seed=1)
    rate = np.mean([breast.cancer for breast in breasts])
    disagreeing = np.mean([breast.cancer != breast.cancer_in_image for breast in breasts])
    assert 0.16 < rate < 0.24
    assert disagreeing > 0.03


def test_malignant_features_raise_cancer_rate() -> None:
    breasts = _sample(SynthConfig(cancer_prevalence=0.1), 4000, seed=2)
    spiculated = [b.cancer for b in breasts if any(l.margin == "spiculated" for l in b.lesions)]
    circumscribed = [b.cancer for b in breasts if any(l.margin == "circumscribed" and l.annotated for l in b.lesions)]
    assert np.mean(spiculated) > 2 * np.mean(circumscribed)


def test_birads_matches_findings() -> None:
    for breast in _sample(SynthConfig(cancer_prevalence=0.1), 2000, seed=3):
        annotated = [lesion.birads for lesion in breast.lesions if lesion.annotated]
        if annotated:
            assert breast.birads == max(annotated)
            assert breast.birads >= 3
        else:
            assert breast.birads in (1, 2)


def test_every_kind_described() -> None:
    kinds = set()
    for breast in _sample(SynthConfig(cancer_prevalence=0.5), 3000, seed=4):
        for lesion in breast.lesions:
            kinds.add(lesion.kind)
            description = findings.describe(lesion, "L", 150.0)
            if lesion.kind == findings.SKIN_MARKER:
                assert description is None
            else:
                assert description is not None
                assert description.category in vocab.FINDINGS
    reported = {findings._CATEGORY_OF_KIND[kind] for kind in kinds if kind in findings._CATEGORY_OF_KIND}
    assert reported == set(vocab.FINDINGS)


@pytest.mark.parametrize(
    "lateral, superior, expected",
    [(0.5, 0.5, "upper outer"), (-0.5, 0.5, "upper inner"), (0.5, -0.5, "lower outer"), (-0.5, -0.5, "lower inner")],
)
def test_quadrant_names(lateral: float, superior: float, expected: str) -> None:
    assert findings.quadrant(_lesion(lateral, superior)) == expected


def test_central_quadrant_behind_nipple() -> None:
    assert findings.quadrant(_lesion(0.1, -0.1, depth=0.1)) == "central"


def test_clock_sides_mirror() -> None:
    upper_outer = _lesion(0.7, 0.7)
    assert findings.clock_hour(upper_outer, "L") in (1, 2)
    assert findings.clock_hour(upper_outer, "R") in (10, 11)
    assert findings.clock_hour(_lesion(0.0, 1.0), "L") == 12


def test_depth_thirds() -> None:
    assert findings.depth_third(0.1) == "anterior"
    assert findings.depth_third(0.5) == "middle"
    assert findings.depth_third(0.9) == "posterior"
    assert findings.depth_third(1.0) == "posterior"


def test_density_follows_age() -> None:
    rng = np.random.default_rng(5)
    config = SynthConfig()
    young = [findings.sample_density(40, config, rng) for _ in range(2000)]
    old = [findings.sample_density(75, config, rng) for _ in range(2000)]
    dense = {"C", "D"}
    assert np.mean([d in dense for d in young]) > np.mean([d in dense for d in old]) + 0.15
