"""Built-in synthetic mammography generator.

Draws four-view screening exams with findings, boxes, labels and free-text reports, and writes
them as DICOM files. Layout writers in the dataset plugins decide ids and file paths and turn the
returned records into each dataset's own CSV files, so the real adapters read synthetic data
unchanged.
"""

from __future__ import annotations

from mammobench.synth.config import GENERATOR_VERSION, FindingRates, SynthConfig, parse_size
from mammobench.synth.dicom import dicom_uid
from mammobench.synth.exam import (
    SCREENING_IMAGES,
    BoxRecord,
    BreastRecord,
    ImageRecord,
    ImageSlot,
    PatientPlan,
    PatientRecord,
)
from mammobench.synth.runner import MARKER_FILE, REPORTS_FILE, generate_patients, write_synthetic_marker, write_reports_table

__all__ = [
    "GENERATOR_VERSION",
    "MARKER_FILE",
    "REPORTS_FILE",
    "SCREENING_IMAGES",
    "BoxRecord",
    "BreastRecord",
    "FindingRates",
    "ImageRecord",
    "ImageSlot",
    "PatientPlan",
    "PatientRecord",
    "SynthConfig",
    "dicom_uid",
    "generate_patients",
    "parse_size",
    "write_synthetic_marker",
    "write_reports_table",
]
