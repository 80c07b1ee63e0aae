"""Free-text breast reports written from structured findings, for image-text pretraining.

A report has a FINDINGS section (composition, each finding with its descriptors and location,
and some pertinent negatives) and an IMPRESSION section (BI-RADS assessment). Wording is drawn
at random from synonym tables, so reports of equal content differ in phrasing. The same
``numpy.random.Generator`` state always gives the same text.

Sentence families (:func:`finding_sentences`, :func:`negative_sentences`,
:func:`density_sentences`) are fixed lists, for zero-shot prompts and attribute text embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mammobench import vocab
from mammobench.text import descriptors, phrasing

# Categories that the report writer and the sentence families accept.
REPORT_CATEGORIES = vocab.FINDINGS + (vocab.CANCER,)

# Pertinent negatives are drawn from these categories when a breast lacks them.
_NEGATIVE_CANDIDATES = (
    vocab.MASS,
    vocab.CALCIFICATION,
    vocab.ARCHITECTURAL_DISTORTION,
    vocab.ASYMMETRY,
    vocab.SKIN_THICKENING,
    vocab.NIPPLE_RETRACTION,
    vocab.SUSPICIOUS_LYMPH_NODE,
)


@dataclass(frozen=True)
class FindingDescription:
    """One finding in one breast, described with BI-RADS lexicon terms.

    Attributes:
        category: Finding name from :data:`mammobench.vocab.FINDINGS`.
        shape: Mass shape (:data:`~mammobench.text.descriptors.MASS_SHAPES`).
        margin: Mass margin (:data:`~mammobench.text.descriptors.MASS_MARGINS`).
        calcification_morphology: One of
            :data:`~mammobench.text.descriptors.CALCIFICATION_MORPHOLOGIES`.
        calcification_distribution: One of
            :data:`~mammobench.text.descriptors.CALCIFICATION_DISTRIBUTIONS`.
        quadrant: Quadrant from the patient's point of view, e.g. ``"upper outer"``.
        depth: ``"anterior"``, ``"middle"`` or ``"posterior"`` third.
        size_mm: Largest diameter in millimetres (cluster extent for calcifications).
        suspicious: True for features suspicious of malignancy, False for benign, None unknown.
        clock: Clock-face position 1-12 as seen facing the patient, or None.
        distance_from_nipple_mm: Distance from the nipple in millimetres, or None.
        seen_on: ``"CC"`` or ``"MLO"`` when the finding is visible on that view only.
        note: What an ``other`` finding is, e.g. ``"intramammary lymph node"``.
    """

    category: str
    shape: str | None = None
    margin: str | None = None
    calcification_morphology: str | None = None
    calcification_distribution: str | None = None
    quadrant: str | None = None
    depth: str | None = None
    size_mm: float | None = None
    suspicious: bool | None = None
    clock: int | None = None
    distance_from_nipple_mm: float | None = None
    seen_on: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        _check_choice("category", self.category, vocab.FINDINGS)
        _check_choice("shape", self.shape, descriptors.MASS_SHAPES)
        _check_choice("margin", self.margin, descriptors.MASS_MARGINS)
        _check_choice(
            "calcification_morphology",
            self.calcification_morphology,
            descriptors.CALCIFICATION_MORPHOLOGIES,
        )
        _check_choice(
            "calcification_distribution",
            self.calcification_distribution,
            descriptors.CALCIFICATION_DISTRIBUTIONS,
        )
        _check_choice("quadrant", self.quadrant, descriptors.QUADRANTS)
        _check_choice("depth", self.depth, descriptors.DEPTHS)
        _check_choice("seen_on", self.seen_on, descriptors.DESCRIPTOR_VIEWS)
        if self.clock is not None and not 1 <= self.clock <= 12:
            raise ValueError(f"clock {self.clock} is invalid; expected an hour from 1 to 12")
        if self.size_mm is not None and not self.size_mm > 0:
            raise ValueError(f"size_mm {self.size_mm} is invalid; expected a positive number")


@dataclass
class BreastDescription:
    """The facts a report states about one breast.

    Attributes:
        laterality: ``"L"`` or ``"R"``.
        density: BI-RADS density ``"A"``-``"D"``, or None when unknown.
        birads: BI-RADS assessment 0-6, or None when unknown.
        findings: Findings in this breast, benign ones included.
    """

    laterality: str
    density: str | None = None
    birads: int | None = None
    findings: list[FindingDescription] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_choice("laterality", self.laterality, vocab.LATERALITIES)
        _check_choice("density", self.density, vocab.DENSITIES)
        _check_choice("birads", self.birads, vocab.BIRADS)


def write_report(breast: BreastDescription, rng: np.random.Generator) -> str:
    """Write a two-section report (FINDINGS, IMPRESSION) for one breast.

    Args:
        breast: The breast to describe.
        rng: Source of the wording choices; the same state gives the same text.

    Returns:
        The report as two lines, ``"FINDINGS: ..."`` and ``"IMPRESSION: ..."``.
    """
    findings_text = " ".join(_findings_section(breast, rng, include_negatives=True))
    impression_text = _impression(breast, rng)
    return f"FINDINGS: {findings_text}\nIMPRESSION: {impression_text}"


def report_sentences(
    breast: BreastDescription, rng: np.random.Generator, include_negatives: bool = True
) -> list[str]:
    """Return a report as separate sentences, for augmentation by shuffling or dropping sentences.

    Args:
        breast: The breast to describe.
        rng: Source of the wording choices.
        include_negatives: Add a few pertinent negatives ("No mass is seen.") for finding
            types the breast lacks.

    Returns:
        Findings sentences followed by the impression sentence, without section headers.
    """
    sentences = _findings_section(breast, rng, include_negatives=include_negatives)
    sentences.append(_impression(breast, rng))
    return sentences


def finding_sentences(category: str) -> list[str]:
    """Return a fixed family of sentences stating that a finding is present.

    Args:
        category: A name from :data:`mammobench.vocab.FINDINGS`, or ``"cancer"``.

    Returns:
        Distinct sentences, generic ones first, then ones naming descriptors of the category
        (e.g. "There is a spiculated mass.").
    """
    _check_choice("category", category, REPORT_CATEGORIES, allow_none=False)
    sentences: list[str] = []
    for noun in phrasing.CATEGORY_NOUNS[category]:
        verb = "are" if noun in phrasing.PLURAL_NOUNS else "is"
        for stem in phrasing.POSITIVE_STEMS:
            sentences.append(stem.format(noun=noun, Noun=_capitalize(noun), be=verb))
    sentences.extend(_descriptor_sentences(category))
    return list(dict.fromkeys(sentences))


def negative_sentences(category: str) -> list[str]:
    """Return a fixed family of sentences stating that a finding is absent.

    Args:
        category: A name from :data:`mammobench.vocab.FINDINGS`, or ``"cancer"``.
    """
    _check_choice("category", category, REPORT_CATEGORIES, allow_none=False)
    return list(phrasing.NEGATIVE_SENTENCES[category])


def density_sentences(density: str) -> list[str]:
    """Return a fixed family of sentences describing a BI-RADS density category A-D."""
    _check_choice("density", density, vocab.DENSITIES, allow_none=False)
    sentences = [f"The breast is {phrase}." for phrase in phrasing.DENSITY_PHRASES[density]]
    sentences.append(f"Breast density category {density}.")
    return sentences


# -------------------------------------------------------------------------------------------------
# Findings section
# -------------------------------------------------------------------------------------------------


def _findings_section(
    breast: BreastDescription, rng: np.random.Generator, include_negatives: bool
) -> list[str]:
    side = phrasing.SIDE_WORDS[breast.laterality]
    sentences: list[str] = []

    if breast.density is not None:
        sentences.append(_density_sentence(side, breast.density, rng))

    for finding in breast.findings:
        sentences.append(_finding_sentence(finding, side, rng))

    if not breast.findings:
        sentences.append(
            _pick(
                rng,
                (
                    f"No suspicious finding is seen in the {side} breast.",
                    f"The {side} breast shows no mass, suspicious calcification or distortion.",
                    f"No abnormality is identified in the {side} breast.",
                ),
            )
        )

    if include_negatives:
        present = {finding.category for finding in breast.findings if finding.suspicious is not False}
        absent = [category for category in _NEGATIVE_CANDIDATES if category not in present]
        count = int(rng.integers(1, min(3, len(absent)) + 1)) if absent else 0
        for index in sorted(rng.choice(len(absent), size=count, replace=False)) if count else ():
            sentences.append(_pick(rng, phrasing.NEGATIVE_SENTENCES[absent[index]]))
    return sentences


def _density_sentence(side: str, density: str, rng: np.random.Generator) -> str:
    phrase = _pick(rng, phrasing.DENSITY_PHRASES[density])
    template = _pick(
        rng,
        (
            "The {side} breast is {phrase} (density {density}).",
            "Breast composition, {side}: {phrase} (BI-RADS density {density}).",
            "Density {density}: the {side} breast is {phrase}.",
            "The {side} breast tissue is {phrase}, density category {density}.",
        ),
    )
    return template.format(side=side, phrase=phrase, density=density)


def _finding_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    writers = {
        vocab.MASS: _mass_sentence,
        vocab.CALCIFICATION: _calcification_sentence,
        vocab.ARCHITECTURAL_DISTORTION: _distortion_sentence,
        vocab.ASYMMETRY: _asymmetry_sentence,
        vocab.FOCAL_ASYMMETRY: _asymmetry_sentence,
        vocab.GLOBAL_ASYMMETRY: _asymmetry_sentence,
        vocab.SKIN_THICKENING: _skin_sentence,
        vocab.SKIN_RETRACTION: _skin_sentence,
        vocab.NIPPLE_RETRACTION: _nipple_sentence,
        vocab.SUSPICIOUS_LYMPH_NODE: _lymph_node_sentence,
        vocab.OTHER_FINDING: _other_sentence,
    }
    return _finish(writers[finding.category](finding, side, rng))


def _mass_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    shape = _pick(rng, phrasing.SHAPE_WORDS[finding.shape]) if finding.shape else ""
    margin = _pick(rng, phrasing.MARGIN_WORDS[finding.margin]) if finding.margin else ""
    size = _size(finding.size_mm, rng)
    where = _location(finding, side, rng)
    noun = " ".join(part for part in (size, shape, "mass") if part)
    with_margin = f"{noun} with {margin}" if margin else noun

    template = _pick(
        rng,
        (
            "There is {article} {with_margin} {where}",
            "{Article} {with_margin} is seen {where}",
            "{Where}, {article} {with_margin} is present",
            "{Article} {with_margin} is noted {where}",
        ),
    )
    sentence = template.format(
        article=_article(with_margin),
        Article=_capitalize(_article(with_margin)),
        with_margin=with_margin,
        where=where,
        Where=_capitalize(where),
    )
    return sentence + _suspicion_clause(finding, rng)


def _calcification_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    morphology = (
        _pick(rng, phrasing.CALCIFICATION_MORPHOLOGY_WORDS[finding.calcification_morphology])
        if finding.calcification_morphology
        else ""
    )
    distribution = (
        _pick(rng, phrasing.CALCIFICATION_DISTRIBUTION_WORDS[finding.calcification_distribution])
        if finding.calcification_distribution
        else ""
    )
    noun = f"{morphology} calcifications" if morphology else "calcifications"
    where = _location(finding, side, rng)
    size = _size(finding.size_mm, rng)
    extent = f", spanning {size}" if size else ""

    template = _pick(
        rng,
        (
            "{Noun} {distribution} are seen {where}{extent}",
            "There are {noun} {distribution} {where}{extent}",
            "{Where}, {noun} are present {distribution}{extent}",
        ),
    )
    sentence = template.format(
        noun=noun,
        Noun=_capitalize(noun),
        distribution=distribution,
        where=where,
        Where=_capitalize(where),
        extent=extent,
    )
    return " ".join(sentence.split()) + _suspicion_clause(finding, rng)


def _distortion_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    where = _location(finding, side, rng)
    return _pick(
        rng,
        (
            f"Architectural distortion is seen {where}",
            f"There is an area of architectural distortion {where}, with radiating lines and no central mass",
            f"The normal architecture is distorted {where}",
        ),
    )


def _asymmetry_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    where = _location(finding, side, rng)
    if finding.category == vocab.GLOBAL_ASYMMETRY:
        return _pick(
            rng,
            (
                f"There is a global asymmetry, with more fibroglandular tissue in the {side} breast "
                "over more than one quadrant",
                f"Global asymmetry of the {side} breast tissue is noted",
            ),
        )
    if finding.category == vocab.FOCAL_ASYMMETRY:
        size = _size(finding.size_mm, rng)
        sized = f" measuring {size}" if size else ""
        return _pick(
            rng,
            (
                f"A focal asymmetry{sized} is seen {where} on both views",
                f"There is a focal asymmetry {where}{sized}, visible on both projections",
            ),
        )
    view = finding.seen_on
    only = f", on the {view} view only" if view else ""
    return _pick(
        rng,
        (
            f"An asymmetry is seen {where}{only}",
            f"There is an area of asymmetric density {where}{only}",
        ),
    )


def _skin_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    where = _location(finding, side, rng) if finding.quadrant else f"of the {side} breast"
    if finding.category == vocab.SKIN_THICKENING:
        return _pick(rng, (f"The skin is thickened {where}", f"There is skin thickening {where}"))
    return _pick(rng, (f"There is skin retraction {where}", f"The overlying skin is retracted {where}"))


def _nipple_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    return _pick(
        rng,
        (
            f"The {side} nipple is retracted",
            "Nipple retraction is present",
            f"The {side} nipple is inverted",
        ),
    )


def _lymph_node_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    size = _size(finding.size_mm, rng)
    sized = f"{size} " if size else ""
    return _pick(
        rng,
        (
            f"A {sized}dense lymph node without a fatty hilum is seen in the {side} axilla",
            f"There is an enlarged {sized}lymph node in the {side} axillary tail, suspicious in appearance",
            f"A suspicious {sized}axillary lymph node is present on the {side} side",
        ),
    )


def _other_sentence(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    description = _with_article(finding.note or "additional finding")
    where = _location(finding, side, rng) if finding.quadrant else f"in the {side} breast"
    return _pick(rng, (f"{_capitalize(description)} is seen {where}", f"There is {description} {where}"))


# -------------------------------------------------------------------------------------------------
# Impression
# -------------------------------------------------------------------------------------------------


def _impression(breast: BreastDescription, rng: np.random.Generator) -> str:
    side = phrasing.SIDE_WORDS[breast.laterality]
    lead = _lead_finding(breast.findings)
    summary = ""
    if lead is not None:
        summary = _short_name(lead, rng)
        if lead.quadrant is not None:
            summary += " " + _pick(rng, phrasing.QUADRANT_WORDS[lead.quadrant]) + f" of the {side} breast"
        else:
            summary += f" in the {side} breast"
        summary = f"{_capitalize(summary)}. "

    if breast.birads is None:
        if lead is None:
            return _pick(rng, (f"No evidence of malignancy in the {side} breast.", f"Negative {side} breast."))
        return summary.strip()

    phrase = _pick(rng, phrasing.BIRADS_PHRASES[breast.birads])
    template = _pick(
        rng,
        (
            "{summary}BI-RADS {birads}: {phrase}.",
            "{summary}{Side} breast: BI-RADS {birads}, {phrase}.",
            "{summary}{Phrase} ({side} breast), BI-RADS category {birads}.",
        ),
    )
    return template.format(
        summary=summary,
        birads=breast.birads,
        phrase=phrase,
        Phrase=_capitalize(phrase),
        side=side,
        Side=_capitalize(side),
    )


def _lead_finding(findings: Sequence[FindingDescription]) -> FindingDescription | None:
    """Return the finding the impression should name: the first suspicious one, else the first."""
    for finding in findings:
        if finding.suspicious:
            return finding
    return findings[0] if findings else None


def _short_name(finding: FindingDescription, rng: np.random.Generator) -> str:
    if finding.category == vocab.MASS:
        parts = (finding.shape, finding.margin, "mass")
        return " ".join(part for part in parts if part)
    if finding.category == vocab.CALCIFICATION:
        morphology = finding.calcification_morphology
        return f"{morphology} calcifications" if morphology else "calcifications"
    if finding.category == vocab.OTHER_FINDING and finding.note:
        return finding.note
    return _pick(rng, phrasing.CATEGORY_NOUNS[finding.category]).removeprefix("a ").removeprefix("an ")


# -------------------------------------------------------------------------------------------------
# Sentence families and phrasing helpers
# -------------------------------------------------------------------------------------------------


def _descriptor_sentences(category: str) -> list[str]:
    if category == vocab.MASS:
        sentences = [f"There is {_with_article(shape)} mass." for shape in descriptors.MASS_SHAPES]
        sentences += [f"There is a mass with {margin} margins." for margin in descriptors.MASS_MARGINS]
        sentences += ["There is a spiculated mass.", "There is an irregular spiculated mass."]
        return sentences
    if category == vocab.CALCIFICATION:
        sentences = [
            f"There are {morphology} calcifications."
            for morphology in descriptors.SUSPICIOUS_CALCIFICATION_MORPHOLOGIES
        ]
        sentences += [
            f"There are calcifications in a {distribution} distribution."
            for distribution in ("grouped", "linear", "segmental")
        ]
        return sentences
    return []


def _location(finding: FindingDescription, side: str, rng: np.random.Generator) -> str:
    parts: list[str] = []
    if finding.quadrant is not None:
        quadrant = _pick(rng, phrasing.QUADRANT_WORDS[finding.quadrant])
        if finding.quadrant != "central" and rng.random() < 0.5:
            quadrant += f" of the {side} breast"
        parts.append(quadrant)
    else:
        parts.append(f"in the {side} breast")
    if finding.clock is not None and rng.random() < 0.4:
        parts.append(f"at {finding.clock} o'clock")
    if finding.depth is not None and rng.random() < 0.8:
        parts.append(_pick(rng, phrasing.DEPTH_WORDS[finding.depth]))
    if finding.distance_from_nipple_mm is not None and rng.random() < 0.4:
        centimetres = max(1, int(round(finding.distance_from_nipple_mm / 10)))
        parts.append(f"about {centimetres} cm from the nipple")
    return ", ".join(parts)


def _suspicion_clause(finding: FindingDescription, rng: np.random.Generator) -> str:
    if finding.suspicious is None or rng.random() < 0.4:
        return ""
    return ", " + _pick(rng, phrasing.SUSPICION_WORDS[finding.suspicious])


def _size(size_mm: float | None, rng: np.random.Generator) -> str:
    if size_mm is None:
        return ""
    if size_mm >= 20 and rng.random() < 0.5:
        return f"{size_mm / 10:.1f} cm"
    return f"{int(round(size_mm))} mm"


def _article(noun_phrase: str) -> str:
    """Return "a" or "an" for the sound the phrase starts with, numbers included ("an 8 mm")."""
    digits = re.match(r"\d+", noun_phrase)
    if digits is not None:
        number = digits.group()
        vowel_sound = number.startswith("8") or number in ("11", "18")
    else:
        vowel_sound = noun_phrase[:1].lower() in "aeiou"
    return "an" if vowel_sound else "a"


def _with_article(noun_phrase: str) -> str:
    return f"{_article(noun_phrase)} {noun_phrase}"


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _finish(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return sentence if sentence.endswith(".") else sentence + "."


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _check_choice(name: str, value: object, allowed: Sequence[object], allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value not in allowed:
        choices = ", ".join(repr(choice) for choice in allowed)
        raise ValueError(f"{name} {value!r} is invalid; expected one of {choices}")
