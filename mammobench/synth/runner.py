"""Generating many patients in parallel, and the files every synthetic layout shares.

Patients are independent (each has its own seed), so they are generated in a process pool and
collected back in dataset order: the output does not depend on the number of workers.
Besides the layout's own files, every synthetic dataset has:

- ``SYNTHETIC.json``: the marker that labels the dataset synthetic, with the generator version
  and the full config;
- ``reports.csv``: one row per patient and breast linking its CC and MLO images to a free-text
  report (columns ``patient_id, laterality, cc_image, mlo_image, report, split``).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mammobench
from mammobench.synth.config import GENERATOR_VERSION, SynthConfig
from mammobench.synth.exam import PatientPlan, PatientRecord, generate_patient

logger = logging.getLogger(__name__)

MARKER_FILE = "SYNTHETIC.json"
REPORTS_FILE = "reports.csv"
REPORT_COLUMNS = ("patient_id", "laterality", "cc_image", "mlo_image", "report", "split")

Progress = Callable[[int, int], None]


def generate_patients(
    root: Path,
    config: SynthConfig,
    plans: Sequence[PatientPlan],
    progress: Progress | None = None,
    workers: int | None = None,
) -> list[PatientRecord]:
    """Generate every planned patient, writing its DICOM files under ``root``.

    Args:
        root: Dataset root folder.
        config: Generator settings.
        plans: One plan per patient, in dataset order.
        progress: Called as ``progress(done, total)`` after each patient.
        workers: Worker processes; None uses every CPU core, 1 runs in this process.

    Returns:
        One record per patient, in the order of ``plans``.
    """
    total = len(plans)
    workers = default_workers() if workers is None else max(1, int(workers))
    logger.debug("generating %d synthetic patients in '%s' with %d worker(s)", total, root, workers)

    records: list[PatientRecord] = []
    if workers == 1 or total <= 1:
        for plan in plans:
            records.append(generate_patient(config, plan, root))
            if progress is not None:
                progress(len(records), total)
        return records

    with ProcessPoolExecutor(max_workers=min(workers, total)) as pool:
        results = pool.map(generate_patient, [config] * total, plans, [root] * total, chunksize=1)
        for record in results:
            records.append(record)
            if progress is not None:
                progress(len(records), total)
    return records


def default_workers() -> int:
    """Return the number of worker processes to use: the CPU cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # sched_getaffinity is missing on macOS and Windows
        return max(1, os.cpu_count() or 1)


def write_synthetic_marker(root: Path, layout: str, config: SynthConfig) -> Path:
    """Write ``SYNTHETIC.json``, which labels the dataset at ``root`` as synthetic."""
    marker = {
        "synthetic": True,
        "generator": "mammobench.synth",
        "generator_version": GENERATOR_VERSION,
        "mammobench_version": mammobench.__version__,
        "layout": layout,
        "config": config.model_dump(mode="json"),
        "notice": "Synthetic mammograms drawn by a procedural model; no patient data. "
        "Results on this data say nothing about clinical performance.",
    }
    path = root / MARKER_FILE
    path.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_reports_table(root: Path, records: Sequence[PatientRecord], split_of: Callable[[PatientRecord], str]) -> Path:
    """Write ``reports.csv``: one row per patient and breast with its image paths and report.

    Args:
        root: Dataset root.
        records: Generated patients.
        split_of: Returns the harmonised split (``train`` or ``test``) of a patient.
    """
    path = root / REPORTS_FILE
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for record in records:
            split = split_of(record)
            for laterality in ("L", "R"):
                paths = {image.slot.view: image.slot.path for image in record.images if image.slot.laterality == laterality}
                report = record.breasts[laterality].report
                writer.writerow([record.plan.patient_id, laterality, paths["CC"], paths["MLO"], report, split])
    return path
