"""Settings of the synthetic mammography generator.

:class:`SynthConfig` contains every choice that changes the generated data. The output is a pure
function of the config (and :data:`GENERATOR_VERSION`): the same config gives byte-identical
files for any number of worker processes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mammobench.errors import ConfigError

# Bump whenever a change to the generator changes its output for an unchanged config, so that
# cached default datasets are regenerated.
GENERATOR_VERSION = 3

Encoding = Literal["uncompressed", "rle", "jpeg2000"]
Layout = Literal["vindr", "rsna"]

# Size of the default dataset generated when no data root is configured: small enough that the
# main job finishes in minutes on a laptop CPU, large enough for every task to have positives.
DEFAULT_PATIENTS = 120
DEFAULT_SIZE = (640, 384)


class FindingRates(BaseModel):
    """Per-breast probabilities of findings that are present without cancer.

    Annotated findings are the ones a reader marks with a box (BI-RADS 3 or higher in
    VinDr-Mammo). Benign look-alikes are drawn in the image and named in the report but carry no
    box, as in VinDr-Mammo, where benign (BI-RADS 2) findings are not annotated.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mass: float = Field(default=0.10, ge=0, le=1, description="Probably benign or biopsy-benign mass.")
    calcification: float = Field(default=0.07, ge=0, le=1, description="Suspicious-looking benign calcifications.")
    architectural_distortion: float = Field(default=0.01, ge=0, le=1)
    asymmetry: float = Field(default=0.015, ge=0, le=1, description="Asymmetry seen on one view.")
    focal_asymmetry: float = Field(default=0.02, ge=0, le=1)
    global_asymmetry: float = Field(default=0.01, ge=0, le=1)
    skin_thickening: float = Field(default=0.005, ge=0, le=1)
    suspicious_lymph_node: float = Field(default=0.005, ge=0, le=1)
    benign_mass: float = Field(default=0.06, ge=0, le=1, description="Cyst-like circumscribed mass, no box.")
    benign_calcification: float = Field(
        default=0.20, ge=0, le=1, description="Vascular, popcorn, rim or scattered round calcifications, no box."
    )
    intramammary_lymph_node: float = Field(default=0.08, ge=0, le=1, description="Node with fatty hilum, no box.")
    skin_marker: float = Field(default=0.04, ge=0, le=1, description="Metal skin marker (BB), no box.")


class SynthConfig(BaseModel):
    """Every setting that changes the synthetic dataset.

    The defaults describe the embedded default dataset. :meth:`for_layout` returns the defaults
    tuned for one on-disk layout.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    patients: int = Field(default=DEFAULT_PATIENTS, ge=1, description="Number of patients, four images each.")
    size: tuple[int, int] = Field(
        default=DEFAULT_SIZE,
        description="Image height and width in pixels (portrait, like a mammography detector).",
    )
    seed: int = Field(default=0, ge=0, description="Seed of every random choice.")
    field_of_view_mm: float = Field(
        default=240.0, gt=0, description="Detector width in millimetres; sets the pixel spacing."
    )
    lesion_contrast: float = Field(
        default=1.0,
        ge=0,
        description="Multiplier of how far masses, calcifications and asymmetries stand out from "
        "the tissue around them; 0 makes lesions invisible, 1 is the tuned default.",
    )
    density_weights: tuple[float, float, float, float] = Field(
        default=(0.10, 0.40, 0.40, 0.10),
        description="Relative frequency of BI-RADS density A, B, C, D at age 55 (younger "
        "patients are denser).",
    )
    cancer_prevalence: float = Field(
        default=0.06, ge=0, le=1, description="Probability that a breast has cancer."
    )
    occult_cancer_fraction: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Fraction of cancers that leave no visible finding (mammographically occult).",
    )
    cancer_label_noise: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description="Fraction of cancer labels that disagree with the image: that share of cancer "
        "breasts is recorded negative and as many suspicious-looking benign breasts are recorded "
        "positive, so the prevalence is unchanged.",
    )
    finding_rates: FindingRates = Field(default_factory=FindingRates)
    monochrome1_fraction: float = Field(
        default=0.3, ge=0, le=1, description="Fraction of patients whose images are MONOCHROME1."
    )
    encoding_weights: dict[Encoding, float] = Field(
        default_factory=lambda: {"uncompressed": 0.4, "rle": 0.3, "jpeg2000": 0.3},
        description="Relative frequency of each DICOM transfer syntax, drawn per patient.",
    )
    bits_stored: tuple[int, ...] = Field(
        default=(12, 14, 16), description="BitsStored values to draw from, per patient (12-16)."
    )
    label_probability: float = Field(
        default=0.35, ge=0, le=1, description="Probability that an image has a burned-in view label."
    )
    test_fraction: float = Field(
        default=0.2, ge=0, lt=1, description="Fraction of patients in the test split (layouts with one)."
    )

    @field_validator("size")
    @classmethod
    def _check_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        height, width = value
        if height < 64 or width < 48:
            raise ValueError(f"size {height}x{width} is too small; use at least 64x48 pixels")
        if width > height:
            raise ValueError(f"size {height}x{width} is landscape; mammograms are portrait (height >= width)")
        return value

    @field_validator("bits_stored")
    @classmethod
    def _check_bits(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(bits < 12 or bits > 16 for bits in value):
            raise ValueError(f"bits_stored {value} is invalid; use values from 12 to 16")
        return value

    @model_validator(mode="after")
    def _check_weights(self) -> SynthConfig:
        if sum(self.density_weights) <= 0 or min(self.density_weights) < 0:
            raise ValueError(f"density_weights {self.density_weights} must be non-negative with a positive sum")
        if sum(self.encoding_weights.values()) <= 0 or min(self.encoding_weights.values()) < 0:
            raise ValueError(f"encoding_weights {self.encoding_weights} must be non-negative with a positive sum")
        return self

    @property
    def height(self) -> int:
        return self.size[0]

    @property
    def width(self) -> int:
        return self.size[1]

    @property
    def pixel_spacing_mm(self) -> float:
        """Pixel spacing in millimetres (square pixels)."""
        return self.field_of_view_mm / self.width

    @classmethod
    def for_layout(cls, layout: str, **overrides: object) -> SynthConfig:
        """Return the defaults for one on-disk layout, with ``overrides`` applied.

        ``vindr`` is enriched: about 15 % of breasts carry an annotated mass and 14 % suspicious
        calcifications, so that mass and calcification tasks have positives at small dataset
        sizes (real VinDr-Mammo has about 5 % and 2.5 % of images). ``rsna`` keeps the screening
        cancer prevalence of the RSNA challenge data, about 2 % of images.
        """
        if layout not in LAYOUT_DEFAULTS:
            choices = ", ".join(LAYOUT_DEFAULTS)
            raise ConfigError(f"unknown synthetic layout '{layout}'; choose one of: {choices}")
        settings = {**LAYOUT_DEFAULTS[layout], **overrides}
        try:
            return cls(**settings)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise ConfigError(f"invalid synthetic data settings: {problems}") from error


def parse_size(text: str) -> tuple[int, int]:
    """Parse ``"HxW"`` (e.g. ``"640x384"``) into ``(height, width)``; raise ConfigError otherwise."""
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ConfigError(f"size '{text}' is invalid; expected HEIGHTxWIDTH in pixels, e.g. 640x384")
    return int(parts[0]), int(parts[1])


LAYOUT_DEFAULTS: dict[str, dict[str, object]] = {
    "vindr": {
        "cancer_prevalence": 0.06,
        "finding_rates": FindingRates(mass=0.12, calcification=0.12),
    },
    "rsna": {
        "cancer_prevalence": 0.02,
        "finding_rates": FindingRates(mass=0.05, calcification=0.04),
    },
}
