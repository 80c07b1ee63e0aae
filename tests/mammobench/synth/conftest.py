"""Fixtures for generator tests: small configs and hand-made patient plans."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mammobench.synth import SCREENING_IMAGES, ImageSlot, PatientPlan, SynthConfig, dicom_uid

SMALL_SIZE = (256, 160)


@pytest.fixture
def small_config() -> Callable[..., SynthConfig]:
    """Return a factory of configs with small images, a few patients and ``overrides``."""

    def build(**overrides: object) -> SynthConfig:
        settings: dict[str, object] = {"patients": 3, "size": SMALL_SIZE, "seed": 7}
        settings.update(overrides)
        return SynthConfig(**settings)

    return build


@pytest.fixture
def make_plans() -> Callable[[int], list[PatientPlan]]:
    """Return a factory of plans with ids ``p000``... and paths ``<patient>/<laterality><view>.dcm``."""

    def build(count: int) -> list[PatientPlan]:
        plans = []
        for index in range(count):
            patient_id = f"p{index:03d}"
            slots = tuple(
                ImageSlot(
                    laterality=laterality,
                    view=view,
                    image_id=f"{patient_id}-{laterality}{view}",
                    path=f"{patient_id}/{laterality}{view}.dcm",
                    series_instance_uid=dicom_uid(patient_id, laterality, view, "series"),
                    sop_instance_uid=dicom_uid(patient_id, laterality, view),
                )
                for laterality, view in SCREENING_IMAGES
            )
            plans.append(
                PatientPlan(
                    index=index,
                    patient_id=patient_id,
                    study_id=patient_id,
                    study_instance_uid=dicom_uid(patient_id),
                    images=slots,
                )
            )
        return plans

    return build
