"""The clinical model: which findings a breast has, how they look, BI-RADS and the cancer label.

Cancer is drawn first, at the configured prevalence. A cancer shows up as a finding with
malignant-looking features (irregular or spiculated masses, fine pleomorphic or linear
calcifications, distortion), unless it is occult. Breasts without cancer get probably benign
or biopsy-benign findings at the configured rates, which look mostly benign but overlap with
malignant ones, and benign look-alikes that readers do not mark. So a malignant-looking finding
raises the probability of cancer without deciding it, and "finding" is not "cancer".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mammobench import vocab
from mammobench.synth.config import SynthConfig
from mammobench.text import descriptors
from mammobench.text.reports import FindingDescription

# Drawing kinds. Annotated kinds carry a box; the others are drawn and reported only.
MASS = "mass"
CALCIFICATION = "calcification"
DISTORTION = "distortion"
ASYMMETRY = "asymmetry"
FOCAL_ASYMMETRY = "focal_asymmetry"
GLOBAL_ASYMMETRY = "global_asymmetry"
SKIN_THICKENING = "skin_thickening"
SKIN_RETRACTION = "skin_retraction"
NIPPLE_RETRACTION = "nipple_retraction"
LYMPH_NODE = "lymph_node"
BENIGN_MASS = "benign_mass"
BENIGN_CALCIFICATION = "benign_calcification"
INTRAMAMMARY_NODE = "intramammary_node"
SKIN_MARKER = "skin_marker"

_CATEGORY_OF_KIND = {
    MASS: vocab.MASS,
    CALCIFICATION: vocab.CALCIFICATION,
    DISTORTION: vocab.ARCHITECTURAL_DISTORTION,
    ASYMMETRY: vocab.ASYMMETRY,
    FOCAL_ASYMMETRY: vocab.FOCAL_ASYMMETRY,
    GLOBAL_ASYMMETRY: vocab.GLOBAL_ASYMMETRY,
    SKIN_THICKENING: vocab.SKIN_THICKENING,
    SKIN_RETRACTION: vocab.SKIN_RETRACTION,
    NIPPLE_RETRACTION: vocab.NIPPLE_RETRACTION,
    LYMPH_NODE: vocab.SUSPICIOUS_LYMPH_NODE,
    BENIGN_MASS: vocab.MASS,
    BENIGN_CALCIFICATION: vocab.CALCIFICATION,
    INTRAMAMMARY_NODE: vocab.OTHER_FINDING,
}

# Relative frequency of each way a cancer presents. "mass_calcification" is a mass with
# calcifications inside it, marked as one box with both categories.
_CANCER_PRESENTATIONS = {
    "mass": 0.45,
    "calcification": 0.25,
    "mass_calcification": 0.12,
    "distortion": 0.08,
    "focal_asymmetry": 0.06,
    "asymmetry": 0.04,
}

# Probability that an annotated finding without cancer is assessed BI-RADS 4 rather than 3.
_BENIGN_SUSPICIOUS_SHARE = {
    MASS: 0.35,
    CALCIFICATION: 0.5,
    DISTORTION: 0.8,
    ASYMMETRY: 0.1,
    FOCAL_ASYMMETRY: 0.3,
    GLOBAL_ASYMMETRY: 0.1,
    SKIN_THICKENING: 0.3,
    LYMPH_NODE: 0.6,
}

_BENIGN_CALCIFICATION_FORMS = ("round", "coarse", "popcorn", "vascular", "rim")


@dataclass(frozen=True)
class Lesion:
    """One finding of one breast, in breast coordinates shared by both views.

    ``depth`` runs from 0 at the nipple to 1 at the chest wall. ``lateral`` runs from -1
    (medial) to 1 (lateral), and ``superior`` from -1 (inferior) to 1 (superior).
    """

    kind: str
    annotated: bool
    birads: int | None
    suspicious: bool | None
    depth: float
    lateral: float
    superior: float
    size_mm: float
    views: tuple[str, ...]
    seed: int
    shape: str | None = None
    margin: str | None = None
    calcification_morphology: str | None = None
    calcification_distribution: str | None = None
    with_calcifications: bool = False  # a mass with calcifications inside it

    @property
    def category(self) -> str | None:
        """Finding name from :mod:`mammobench.vocab`, or None for skin markers."""
        return _CATEGORY_OF_KIND.get(self.kind)

    @property
    def categories(self) -> tuple[str, ...]:
        """Every category the lesion's box carries."""
        if self.category is None:
            return ()
        if self.with_calcifications:
            return (self.category, vocab.CALCIFICATION)
        return (self.category,)


@dataclass(frozen=True)
class BreastPlan:
    """Everything drawn and recorded for one breast."""

    laterality: str
    density: str
    cancer: bool  # the recorded label, after label noise
    cancer_in_image: bool  # whether the image shows a cancer
    biopsy: bool
    invasive: bool
    birads: int
    lesions: tuple[Lesion, ...]


def sample_density(age: float, config: SynthConfig, rng: np.random.Generator) -> str:
    """Draw a BI-RADS density category; younger women have denser breasts."""
    weights = np.asarray(config.density_weights, dtype=float)
    shift = np.clip((55.0 - age) / 12.0, -1.5, 1.5)
    weights = weights * np.exp(shift * np.array([-1.0, -0.4, 0.4, 1.0]))
    return str(rng.choice(vocab.DENSITIES, p=weights / weights.sum()))


def sample_breast(laterality: str, density: str, config: SynthConfig, rng: np.random.Generator) -> BreastPlan:
    """Draw the findings, BI-RADS and cancer label of one breast."""
    rates = config.finding_rates
    has_cancer = rng.random() < config.cancer_prevalence
    lesions: list[Lesion] = []

    occult = has_cancer and rng.random() < config.occult_cancer_fraction
    if has_cancer and not occult:
        lesions.extend(_cancer_lesions(config, rng))

    for kind, rate in (
        (MASS, rates.mass),
        (CALCIFICATION, rates.calcification),
        (DISTORTION, rates.architectural_distortion),
        (ASYMMETRY, rates.asymmetry),
        (FOCAL_ASYMMETRY, rates.focal_asymmetry),
        (GLOBAL_ASYMMETRY, rates.global_asymmetry),
        (SKIN_THICKENING, rates.skin_thickening),
        (LYMPH_NODE, rates.suspicious_lymph_node),
    ):
        if rng.random() < rate:
            lesions.append(_benign_annotated(kind, rng))

    for kind, rate in (
        (BENIGN_MASS, rates.benign_mass),
        (BENIGN_CALCIFICATION, rates.benign_calcification),
        (INTRAMAMMARY_NODE, rates.intramammary_lymph_node),
        (SKIN_MARKER, rates.skin_marker),
    ):
        if rng.random() < rate:
            lesions.append(_look_alike(kind, rng))

    birads = _breast_birads(lesions)
    cancer = _noisy_label(has_cancer, birads, config, rng)
    biopsy = cancer or (birads >= 4 and rng.random() < 0.6)
    return BreastPlan(
        laterality=laterality,
        density=density,
        cancer=cancer,
        cancer_in_image=has_cancer and not occult,
        biopsy=biopsy,
        invasive=cancer and rng.random() < 0.7,
        birads=birads,
        lesions=tuple(lesions),
    )


def describe(lesion: Lesion, laterality: str, nipple_distance_mm: float) -> FindingDescription | None:
    """Return the report description of a lesion, or None for things reports do not mention.

    Args:
        lesion: The lesion.
        laterality: ``L`` or ``R``, for the clock position.
        nipple_distance_mm: Nipple-to-chest-wall distance of the breast in millimetres.
    """
    if lesion.category is None:
        return None
    seen_on = lesion.views[0] if lesion.kind == ASYMMETRY and len(lesion.views) == 1 else None
    note = "benign intramammary lymph node" if lesion.kind == INTRAMAMMARY_NODE else None
    # Skin findings have a quadrant but no depth; axillary nodes, the nipple and global
    # asymmetries have neither.
    has_quadrant = lesion.kind not in (NIPPLE_RETRACTION, GLOBAL_ASYMMETRY, LYMPH_NODE)
    has_depth = has_quadrant and lesion.kind not in (SKIN_THICKENING, SKIN_RETRACTION)
    where = quadrant(lesion) if has_quadrant else None
    sized = lesion.kind not in (NIPPLE_RETRACTION, SKIN_RETRACTION, SKIN_THICKENING)
    return FindingDescription(
        category=lesion.category,
        shape=lesion.shape,
        margin=lesion.margin,
        calcification_morphology=lesion.calcification_morphology,
        calcification_distribution=lesion.calcification_distribution,
        quadrant=where,
        depth=depth_third(lesion.depth) if has_depth else None,
        size_mm=round(lesion.size_mm, 1) if sized else None,
        suspicious=lesion.suspicious,
        clock=clock_hour(lesion, laterality) if where not in (None, "central") else None,
        distance_from_nipple_mm=round(lesion.depth * nipple_distance_mm, 1) if has_depth else None,
        seen_on=seen_on,
        note=note,
    )


def quadrant(lesion: Lesion) -> str:
    """Return the quadrant name of a lesion position."""
    if lesion.depth < 0.2 and abs(lesion.lateral) < 0.35 and abs(lesion.superior) < 0.35:
        return "central"
    vertical = "upper" if lesion.superior >= 0 else "lower"
    horizontal = "outer" if lesion.lateral >= 0 else "inner"
    return f"{vertical} {horizontal}"


def depth_third(depth: float) -> str:
    """Return ``anterior``, ``middle`` or ``posterior`` for a depth from 0 (nipple) to 1."""
    return descriptors.DEPTHS[min(2, int(depth * 3))]


def clock_hour(lesion: Lesion, laterality: str) -> int:
    """Return the clock-face position (1-12) seen facing the patient.

    The lateral side of the left breast is at 3 o'clock and of the right breast at 9 o'clock.
    """
    across = lesion.lateral if laterality == "L" else -lesion.lateral
    angle = np.degrees(np.arctan2(across, lesion.superior)) % 360.0
    hour = int(round(angle / 30.0)) % 12
    return 12 if hour == 0 else hour


def _cancer_lesions(config: SynthConfig, rng: np.random.Generator) -> list[Lesion]:
    names = list(_CANCER_PRESENTATIONS)
    weights = np.array([_CANCER_PRESENTATIONS[name] for name in names])
    presentation = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    lesions: list[Lesion] = []

    if presentation in ("mass", "mass_calcification"):
        shape = _choose(rng, {"irregular": 0.75, "oval": 0.15, "round": 0.10})
        margin = _choose(
            rng,
            {"spiculated": 0.45, "indistinct": 0.25, "microlobulated": 0.15, "obscured": 0.10, "circumscribed": 0.05},
        )
        highly = margin == "spiculated" or (shape == "irregular" and margin == "indistinct")
        birads = 5 if highly and rng.random() < 0.7 else 4
        lesion = _lesion(MASS, rng, birads=birads, suspicious=True, size_mm=_mass_size(rng, 22.0), shape=shape, margin=margin)
        if presentation == "mass_calcification":
            lesion = _replace(
                lesion,
                with_calcifications=True,
                calcification_morphology=_choose(rng, {"fine pleomorphic": 0.6, "amorphous": 0.4}),
                calcification_distribution="grouped",
            )
        lesions.append(lesion)
    elif presentation == "calcification":
        morphology = _choose(
            rng,
            {"fine pleomorphic": 0.40, "fine linear branching": 0.25, "amorphous": 0.20, "coarse heterogeneous": 0.15},
        )
        distribution = _choose(rng, {"grouped": 0.5, "segmental": 0.25, "linear": 0.2, "regional": 0.05})
        highly = morphology == "fine linear branching" or distribution in ("segmental", "linear")
        birads = 5 if highly and rng.random() < 0.6 else 4
        lesions.append(_calcification(rng, birads, True, morphology, distribution))
    elif presentation == "distortion":
        lesions.append(_lesion(DISTORTION, rng, birads=int(rng.choice([4, 5])), suspicious=True, size_mm=rng.uniform(15, 35)))
    else:
        kind = FOCAL_ASYMMETRY if presentation == "focal_asymmetry" else ASYMMETRY
        lesions.append(_asymmetry(kind, rng, birads=4, suspicious=True))

    # Associated features point at an advanced cancer near the primary finding.
    primary = lesions[0]
    if rng.random() < 0.06:
        lesions.append(_replace(_lesion(SKIN_THICKENING, rng, birads=4, suspicious=True, size_mm=rng.uniform(20, 50)),
                                lateral=primary.lateral, superior=primary.superior))
    if rng.random() < 0.05:
        lesions.append(_replace(_lesion(SKIN_RETRACTION, rng, birads=4, suspicious=True, size_mm=rng.uniform(5, 12)),
                                lateral=primary.lateral, superior=primary.superior, depth=0.1))
    if rng.random() < 0.05:
        lesions.append(_nipple_retraction(rng))
    if rng.random() < 0.08:
        lesions.append(_lymph_node(rng, birads=4, suspicious=True))
    return lesions


def _benign_annotated(kind: str, rng: np.random.Generator) -> Lesion:
    """Return a finding a reader marks (BI-RADS 3 or 4) in a breast without cancer."""
    suspicious_looking = rng.random() < _BENIGN_SUSPICIOUS_SHARE.get(kind, 0.3)
    birads = 4 if suspicious_looking else 3
    if kind == MASS:
        if suspicious_looking:
            shape = _choose(rng, {"irregular": 0.5, "oval": 0.3, "round": 0.2})
            margin = _choose(rng, {"indistinct": 0.4, "microlobulated": 0.3, "obscured": 0.2, "spiculated": 0.1})
        else:
            shape = _choose(rng, {"oval": 0.6, "round": 0.35, "irregular": 0.05})
            margin = _choose(rng, {"circumscribed": 0.6, "obscured": 0.3, "microlobulated": 0.1})
        return _lesion(MASS, rng, birads=birads, suspicious=suspicious_looking, size_mm=_mass_size(rng, 19.0),
                       shape=shape, margin=margin)
    if kind == CALCIFICATION:
        if suspicious_looking:
            morphology = _choose(rng, {"fine pleomorphic": 0.4, "amorphous": 0.3, "coarse heterogeneous": 0.2,
                                       "fine linear branching": 0.1})
        else:
            morphology = _choose(rng, {"amorphous": 0.5, "coarse heterogeneous": 0.4, "fine pleomorphic": 0.1})
        distribution = _choose(rng, {"grouped": 0.7, "regional": 0.2, "linear": 0.1})
        return _calcification(rng, birads, suspicious_looking, morphology, distribution)
    if kind in (ASYMMETRY, FOCAL_ASYMMETRY, GLOBAL_ASYMMETRY):
        return _asymmetry(kind, rng, birads=birads, suspicious=suspicious_looking)
    if kind == LYMPH_NODE:
        return _lymph_node(rng, birads=birads, suspicious=True)
    if kind == SKIN_THICKENING:
        return _lesion(SKIN_THICKENING, rng, birads=birads, suspicious=suspicious_looking, size_mm=rng.uniform(20, 60))
    return _lesion(kind, rng, birads=birads, suspicious=suspicious_looking, size_mm=rng.uniform(15, 30))


def _look_alike(kind: str, rng: np.random.Generator) -> Lesion:
    """Return a typically benign finding that readers do not mark (BI-RADS 2) or a skin marker."""
    if kind == BENIGN_MASS:
        return _lesion(BENIGN_MASS, rng, annotated=False, birads=2, suspicious=False,
                       size_mm=float(np.clip(rng.lognormal(np.log(10.0), 0.35), 5.0, 25.0)),
                       shape=_choose(rng, {"oval": 0.6, "round": 0.4}),
                       margin=_choose(rng, {"circumscribed": 0.8, "obscured": 0.2}))
    if kind == BENIGN_CALCIFICATION:
        morphology = str(rng.choice(_BENIGN_CALCIFICATION_FORMS))
        distribution = "grouped"
        if morphology == "round":
            distribution = "diffuse"
        elif morphology == "vascular":
            distribution = "linear"
        return _lesion(BENIGN_CALCIFICATION, rng, annotated=False, birads=2, suspicious=False,
                       size_mm=rng.uniform(3.0, 12.0) if morphology != "vascular" else rng.uniform(20, 50),
                       calcification_morphology=morphology, calcification_distribution=distribution)
    if kind == INTRAMAMMARY_NODE:
        lesion = _lesion(INTRAMAMMARY_NODE, rng, annotated=False, birads=2, suspicious=False,
                         size_mm=rng.uniform(4.0, 9.0), shape="oval", margin="circumscribed")
        return _replace(lesion, lateral=abs(lesion.lateral), superior=abs(lesion.superior))
    return _lesion(SKIN_MARKER, rng, annotated=False, birads=None, suspicious=None, size_mm=rng.uniform(2.0, 3.5))


def _lesion(
    kind: str,
    rng: np.random.Generator,
    *,
    birads: int | None,
    suspicious: bool | None,
    size_mm: float,
    annotated: bool = True,
    shape: str | None = None,
    margin: str | None = None,
    calcification_morphology: str | None = None,
    calcification_distribution: str | None = None,
) -> Lesion:
    # Positions lean to the upper outer quadrant, where most breast tissue and cancers are.
    return Lesion(
        kind=kind,
        annotated=annotated,
        birads=birads,
        suspicious=suspicious,
        depth=float(rng.uniform(0.15, 0.85)),
        lateral=float(np.clip(rng.normal(0.25, 0.5), -0.85, 0.85)),
        superior=float(np.clip(rng.normal(0.2, 0.5), -0.85, 0.85)),
        size_mm=float(size_mm),
        views=("CC", "MLO"),
        seed=int(rng.integers(2**31)),
        shape=shape,
        margin=margin,
        calcification_morphology=calcification_morphology,
        calcification_distribution=calcification_distribution,
    )


def _calcification(
    rng: np.random.Generator, birads: int, suspicious: bool, morphology: str, distribution: str
) -> Lesion:
    extent = float(np.clip(rng.lognormal(np.log(10.0), 0.4), 4.0, 30.0))
    if distribution in ("segmental", "regional"):
        extent = min(extent * 1.8, 45.0)
    return _lesion(CALCIFICATION, rng, birads=birads, suspicious=suspicious, size_mm=extent,
                   calcification_morphology=morphology, calcification_distribution=distribution)


def _asymmetry(kind: str, rng: np.random.Generator, *, birads: int, suspicious: bool) -> Lesion:
    if kind == GLOBAL_ASYMMETRY:
        lesion = _lesion(kind, rng, birads=birads, suspicious=suspicious, size_mm=rng.uniform(60, 100))
        return _replace(lesion, depth=float(rng.uniform(0.4, 0.6)))
    if kind == FOCAL_ASYMMETRY:
        return _lesion(kind, rng, birads=birads, suspicious=suspicious, size_mm=rng.uniform(15, 40))
    lesion = _lesion(kind, rng, birads=birads, suspicious=suspicious, size_mm=rng.uniform(20, 45))
    return _replace(lesion, views=(str(rng.choice(["CC", "MLO"])),))


def _lymph_node(rng: np.random.Generator, *, birads: int, suspicious: bool) -> Lesion:
    # Axillary nodes lie above the breast, over the pectoral muscle: seen on MLO views only.
    lesion = _lesion(LYMPH_NODE, rng, birads=birads, suspicious=suspicious, size_mm=rng.uniform(10, 22),
                     shape="round", margin="circumscribed")
    return _replace(lesion, views=("MLO",), depth=0.95, lateral=0.9, superior=0.95)


def _nipple_retraction(rng: np.random.Generator) -> Lesion:
    lesion = _lesion(NIPPLE_RETRACTION, rng, birads=4, suspicious=True, size_mm=10.0)
    return _replace(lesion, depth=0.0, lateral=0.0, superior=0.0)


def _mass_size(rng: np.random.Generator, median_mm: float) -> float:
    # Log-normal sizes. At the default 240 mm field of view, medians of 19-22 mm give a median
    # box of about 8 % of the image width, spanning roughly 3-20 %.
    return float(np.clip(rng.lognormal(np.log(median_mm), 0.5), 5.0, 70.0))


def _breast_birads(lesions: list[Lesion]) -> int:
    annotated = [lesion.birads for lesion in lesions if lesion.annotated and lesion.birads is not None]
    if annotated:
        return max(annotated)
    if any(lesion.category is not None for lesion in lesions):
        return 2
    return 1


def _noisy_label(has_cancer: bool, birads: int, config: SynthConfig, rng: np.random.Generator) -> bool:
    """Flip a share of labels, keeping the expected prevalence.

    Cancers are recorded negative with probability ``cancer_label_noise``. Suspicious-looking
    breasts without cancer (BI-RADS 4-5) are recorded positive at a rate that adds back the
    same expected number of positives.
    """
    noise = config.cancer_label_noise
    if has_cancer:
        return not rng.random() < noise
    if birads < 4 or noise == 0:
        return False
    suspicious_rate = _benign_suspicious_rate(config)
    if suspicious_rate <= 0:
        return False
    prevalence = config.cancer_prevalence
    flip = noise * prevalence / max((1.0 - prevalence) * suspicious_rate, 1e-9)
    return rng.random() < min(flip, 1.0)


def _benign_suspicious_rate(config: SynthConfig) -> float:
    """Return the probability that a breast without cancer gets BI-RADS 4 or 5 (approximately)."""
    rates = config.finding_rates
    by_kind = {
        MASS: rates.mass,
        CALCIFICATION: rates.calcification,
        DISTORTION: rates.architectural_distortion,
        ASYMMETRY: rates.asymmetry,
        FOCAL_ASYMMETRY: rates.focal_asymmetry,
        GLOBAL_ASYMMETRY: rates.global_asymmetry,
        SKIN_THICKENING: rates.skin_thickening,
        LYMPH_NODE: rates.suspicious_lymph_node,
    }
    return float(sum(rate * _BENIGN_SUSPICIOUS_SHARE[kind] for kind, rate in by_kind.items()))


def _choose(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    values = np.array([weights[name] for name in names])
    return names[int(rng.choice(len(names), p=values / values.sum()))]


def _replace(lesion: Lesion, **changes: object) -> Lesion:
    return replace(lesion, **changes)
