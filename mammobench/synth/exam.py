"""One synthetic patient: a four-view screening exam (L/R x CC/MLO) with findings and reports.

:func:`generate_patient` draws the patient from a seed derived from the dataset seed and the
patient's index, renders the four views, writes them as DICOM files and returns the records the
layout writers turn into CSV rows. It depends on nothing but its arguments, so patients can be
generated in any order and in any number of processes with identical output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mammobench.synth import anatomy, calcifications, detector, findings, lesions
from mammobench.synth.canvas import Box, Canvas
from mammobench.synth.config import SynthConfig
from mammobench.synth.dicom import DicomHeader, write_dicom
from mammobench.synth.findings import BreastPlan, Lesion
from mammobench.synth.tissue import render_tissue
from mammobench.text.reports import BreastDescription, write_report

# Order of the four screening images in every exam.
SCREENING_IMAGES = (("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO"))

# Independent random streams per patient, so adding draws to one part never shifts another.
_CLINICAL_STREAM = 0
_REPORT_STREAM = 1
_ACQUISITION_STREAM = 2
_VIEW_STREAM = 10


@dataclass(frozen=True)
class ImageSlot:
    """Identity and file location of one image, decided by the layout writer."""

    laterality: str
    view: str
    image_id: str
    path: str  # relative to the dataset root, POSIX separators
    series_instance_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class PatientPlan:
    """Identity of one patient's exam, decided by the layout writer before generation."""

    index: int  # position in the dataset; with the config seed it seeds the patient
    patient_id: str
    study_id: str
    study_instance_uid: str
    images: tuple[ImageSlot, ...]  # in SCREENING_IMAGES order


@dataclass(frozen=True)
class BoxRecord:
    """One annotated finding box in original image pixels (after mirroring right breasts)."""

    categories: tuple[str, ...]
    birads: int | None
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass
class ImageRecord:
    """Metadata of one written image: format and annotated boxes."""

    slot: ImageSlot
    height: int
    width: int
    photometric: str
    bits_stored: int
    encoding: str
    burned_in_label: bool
    boxes: list[BoxRecord] = field(default_factory=list)


@dataclass(frozen=True)
class RenderedView:
    """One view's presentation pixels with what was drawn into it."""

    pixels: np.ndarray  # presentation values, in the stored orientation
    boxes: list[BoxRecord]
    mask: np.ndarray  # breast mask, same orientation as ``pixels``
    window_sample: np.ndarray  # breast pixels before lesions were drawn, for the display window
    labelled: bool  # a view label was burned in


@dataclass
class BreastRecord:
    """Labels and report of one breast."""

    plan: BreastPlan
    report: str


@dataclass
class PatientRecord:
    """Everything the layout writers need about one generated patient."""

    plan: PatientPlan
    age: int
    study_date: str
    vendor: detector.Vendor
    breasts: dict[str, BreastRecord]
    images: list[ImageRecord]


def patient_rng(config: SynthConfig, index: int, stream: int) -> np.random.Generator:
    """Return the random generator of one stream of one patient."""
    return np.random.default_rng(np.random.SeedSequence([config.seed, index, stream]))


def generate_patient(config: SynthConfig, plan: PatientPlan, root: Path) -> PatientRecord:
    """Draw, render and write one patient's four images; return what was written.

    Args:
        config: Generator settings.
        plan: The patient's ids and file paths.
        root: Dataset root; image paths in ``plan`` are relative to it.
    """
    clinical = patient_rng(config, plan.index, _CLINICAL_STREAM)
    age = int(np.clip(round(clinical.normal(56.0, 9.0)), 35, 85))
    density = findings.sample_density(age, config, clinical)
    breast_plans = {}
    for laterality in ("L", "R"):
        breast_density = density
        if clinical.random() < 0.1:
            index = "ABCD".index(density) + int(clinical.choice([-1, 1]))
            breast_density = "ABCD"[int(np.clip(index, 0, 3))]
        breast_plans[laterality] = findings.sample_breast(laterality, breast_density, config, clinical)

    shapes = {"L": anatomy.sample_breast_shape(clinical)}
    shapes["R"] = anatomy.sibling_shape(shapes["L"], clinical)

    acquisition = patient_rng(config, plan.index, _ACQUISITION_STREAM)
    vendor = detector.VENDORS[int(acquisition.integers(len(detector.VENDORS)))]
    photometric = "MONOCHROME1" if acquisition.random() < config.monochrome1_fraction else "MONOCHROME2"
    encodings = list(config.encoding_weights)
    weights = np.array([config.encoding_weights[name] for name in encodings], dtype=float)
    encoding = encodings[int(acquisition.choice(len(encodings), p=weights / weights.sum()))]
    bits_stored = int(acquisition.choice(config.bits_stored))
    study_date = _study_date(acquisition)

    images = []
    for number, slot in enumerate(plan.images, start=1):
        view_rng = patient_rng(config, plan.index, _VIEW_STREAM + number)
        breast = breast_plans[slot.laterality]
        view = _render_view(config, breast, shapes[slot.laterality], slot, view_rng)
        stored = detector.to_stored(
            view.pixels, view.mask, bits_stored, photometric, vendor, view_rng, window_sample=view.window_sample
        )
        header = DicomHeader(
            patient_id=plan.patient_id,
            patient_age=age,
            study_instance_uid=plan.study_instance_uid,
            series_instance_uid=slot.series_instance_uid,
            sop_instance_uid=slot.sop_instance_uid,
            study_date=study_date,
            study_id=str(plan.index + 1),
            accession_number=f"SYN{plan.index + 1:07d}",
            laterality=slot.laterality,
            view=slot.view,
            instance_number=number,
            pixel_spacing_mm=config.pixel_spacing_mm,
            burned_in_label=view.labelled,
        )
        write_dicom(root / slot.path, stored, header, vendor, encoding)
        images.append(
            ImageRecord(
                slot=slot,
                height=config.height,
                width=config.width,
                photometric=photometric,
                bits_stored=bits_stored,
                encoding=encoding,
                burned_in_label=view.labelled,
                boxes=view.boxes,
            )
        )

    report_rng = patient_rng(config, plan.index, _REPORT_STREAM)
    breasts = {}
    for laterality, breast in breast_plans.items():
        description = describe_breast(breast, shapes[laterality], config)
        breasts[laterality] = BreastRecord(plan=breast, report=write_report(description, report_rng))
    return PatientRecord(plan=plan, age=age, study_date=study_date, vendor=vendor, breasts=breasts, images=images)


def describe_breast(breast: BreastPlan, shape: anatomy.BreastShape, config: SynthConfig) -> BreastDescription:
    """Return the report content of one breast."""
    nipple_distance_mm = shape.depth * config.field_of_view_mm
    descriptions = []
    for lesion in breast.lesions:
        description = findings.describe(lesion, breast.laterality, nipple_distance_mm)
        if description is not None:
            descriptions.append(description)
    return BreastDescription(
        laterality=breast.laterality,
        density=breast.density,
        birads=breast.birads,
        findings=descriptions,
    )


def _render_view(
    config: SynthConfig,
    breast: BreastPlan,
    shape: anatomy.BreastShape,
    slot: ImageSlot,
    rng: np.random.Generator,
) -> RenderedView:
    """Render one view: tissue, then lesions, then detector effects and an optional label."""
    spacing = config.pixel_spacing_mm
    millimetre = 1.0 / spacing
    view = slot.view
    geometry = anatomy.build_view_geometry(
        shape,
        view,
        config.size,
        spacing,
        changes=_outline_changes(breast.lesions, view),
        wobble=0.015 * _smooth_row_noise(config.height, rng),
    )
    canvas = render_tissue(geometry, breast.density, rng, spacing, config.lesion_contrast)
    window_sample = canvas.image[geometry.mask]

    boxes: list[BoxRecord] = []
    for lesion in sorted(breast.lesions, key=_drawing_order):
        if view not in lesion.views:
            continue
        box = _draw_lesion(canvas, lesion, view, millimetre, rng)
        if box is None or not lesion.annotated:
            continue
        clipped = _clip_box(box, config.height, config.width)
        if clipped is not None:
            boxes.append(BoxRecord(lesion.categories, lesion.birads, *clipped))

    pixels = detector.finish_exposure(canvas.image, rng, millimetre)
    mask = geometry.mask
    if slot.laterality == "R":
        pixels = pixels[:, ::-1].copy()
        mask = mask[:, ::-1]
        boxes = [_mirror(box, config.width) for box in boxes]

    labelled = rng.random() < config.label_probability
    if labelled:
        separator = str(rng.choice(["", " ", "-"]))
        detector.burn_in_label(pixels, f"{slot.laterality}{separator}{view}", slot.laterality == "L", rng)
    return RenderedView(pixels, boxes, mask, window_sample, labelled)


def _draw_lesion(
    canvas: Canvas, lesion: Lesion, view: str, millimetre: float, rng: np.random.Generator
) -> Box | None:
    geometry = canvas.geometry
    shape_rng = np.random.default_rng(lesion.seed)
    transverse = lesion.lateral if view == anatomy.CC else lesion.superior
    radius = 0.5 * lesion.size_mm * millimetre
    kind = lesion.kind

    if kind == findings.NIPPLE_RETRACTION:
        half = 0.04 * geometry.width
        return lesions.point_box(geometry.nipple, half, geometry.height, geometry.width)
    if kind in (findings.SKIN_THICKENING, findings.SKIN_RETRACTION):
        half_span = 0.12 if kind == findings.SKIN_RETRACTION else 0.35
        return lesions.skin_box(canvas, transverse - half_span, transverse + half_span)
    if kind == findings.LYMPH_NODE:
        center = _axilla_position(geometry, radius, rng)
        return lesions.draw_mass(canvas, center, radius, "round", "circumscribed", shape_rng, rng, strength=1.2)
    if kind == findings.SKIN_MARKER:
        center = geometry.place(lesion.depth, transverse, margin=0.0)
        lesions.draw_skin_marker(canvas, center, radius)
        return None

    center = geometry.place(lesion.depth, transverse, margin=min(radius, 0.1 * geometry.width) + 2)
    if kind in (findings.MASS, findings.BENIGN_MASS, findings.INTRAMAMMARY_NODE):
        box = lesions.draw_mass(
            canvas,
            center,
            radius,
            lesion.shape or "oval",
            lesion.margin or "circumscribed",
            shape_rng,
            rng,
            hilum=kind == findings.INTRAMAMMARY_NODE,
        )
        if lesion.with_calcifications:
            calcifications.draw_cluster(
                canvas, center, 1.4 * radius, lesion.calcification_morphology or "fine pleomorphic",
                "grouped", shape_rng, rng,
            )
        return box
    if kind == findings.CALCIFICATION:
        return calcifications.draw_cluster(
            canvas,
            center,
            lesion.size_mm * millimetre,
            lesion.calcification_morphology or "fine pleomorphic",
            lesion.calcification_distribution or "grouped",
            shape_rng,
            rng,
        )
    if kind == findings.BENIGN_CALCIFICATION:
        calcifications.draw_benign_calcifications(
            canvas, center, lesion.size_mm * millimetre, lesion.calcification_morphology or "round", rng
        )
        return None
    if kind == findings.DISTORTION:
        return lesions.draw_distortion(canvas, center, radius, rng)
    if kind in (findings.ASYMMETRY, findings.FOCAL_ASYMMETRY, findings.GLOBAL_ASYMMETRY):
        strength = 0.8 if kind == findings.GLOBAL_ASYMMETRY else 1.0
        return lesions.draw_asymmetry(canvas, center, radius, shape_rng, rng, strength=strength)
    raise ValueError(f"lesion kind '{kind}' has no drawing")


def _drawing_order(lesion: Lesion) -> int:
    # Distortion warps the tissue drawn before it, so it goes first; metal markers go last.
    order = {findings.DISTORTION: 0, findings.GLOBAL_ASYMMETRY: 1, findings.SKIN_MARKER: 9}
    return order.get(lesion.kind, 5)


def _outline_changes(lesion_list: tuple[Lesion, ...], view: str) -> anatomy.OutlineChanges:
    retracted = False
    retractions = []
    thickenings = []
    for lesion in lesion_list:
        transverse = lesion.lateral if view == anatomy.CC else lesion.superior
        if lesion.kind == findings.NIPPLE_RETRACTION:
            retracted = True
        elif lesion.kind == findings.SKIN_RETRACTION:
            retractions.append((transverse, 0.012 + 0.002 * lesion.size_mm / 5.0))
        elif lesion.kind == findings.SKIN_THICKENING:
            thickenings.append((transverse - 0.35, transverse + 0.35, 3.5))
    return anatomy.OutlineChanges(
        nipple_retracted=retracted,
        skin_retractions=tuple(retractions),
        skin_thickenings=tuple(thickenings),
    )


def _axilla_position(geometry: anatomy.ViewGeometry, radius: float, rng: np.random.Generator) -> tuple[float, float]:
    """Return a point in the axillary tail: near the top, just in front of the pectoral muscle."""
    y = float(rng.uniform(0.06, 0.2) * geometry.height + radius)
    row = int(np.clip(y, 0, geometry.height - 1))
    muscle = np.flatnonzero(geometry.pectoral[row] >= 0.5)
    front = float(muscle[-1]) if muscle.size else 0.0
    x = front + radius * rng.uniform(0.3, 1.2)
    return y, float(min(x, geometry.edge[row] - radius - 2))


def _clip_box(box: Box, height: int, width: int) -> tuple[float, float, float, float] | None:
    xmin = float(np.clip(box[0], 0, width))
    ymin = float(np.clip(box[1], 0, height))
    xmax = float(np.clip(box[2], 0, width))
    ymax = float(np.clip(box[3], 0, height))
    if xmax - xmin < 1 or ymax - ymin < 1:
        return None
    return round(xmin, 2), round(ymin, 2), round(xmax, 2), round(ymax, 2)


def _mirror(box: BoxRecord, width: int) -> BoxRecord:
    return BoxRecord(box.categories, box.birads, width - box.xmax, box.ymin, width - box.xmin, box.ymax)


def _smooth_row_noise(height: int, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    noise = ndimage.gaussian_filter1d(rng.standard_normal(height), height / 20.0, mode="nearest")
    return noise / (np.abs(noise).max() + 1e-9)


def _study_date(rng: np.random.Generator) -> str:
    year = int(rng.integers(2015, 2023))
    month = int(rng.integers(1, 13))
    day = int(rng.integers(1, 29))
    return f"{year:04d}{month:02d}{day:02d}"
