"""Cost of patient-bootstrap intervals for detection metrics: reweighting versus rerunning.

The detection protocol scores 1,000 bootstrap resamples of every AP and FROC metric by
reweighting per-detection match tables (:mod:`mammobench.detection.scoring`). The naive way
reruns pycocotools and the FROC matching on every resample. This script builds a random test
split (images, patients, lesions, predictions), times both ways for one metric and for the
whole metric list, and prints the ratio measured in this run. The naive timing is
extrapolated from a few resamples.

Usage::

    python benchmarks/detection_scoring.py [--images 1000] [--predictions 100] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from mammobench.detection.names import detection_metric_names
from mammobench.detection.scoring import evaluate_boxes, score_with_intervals

CATEGORIES = ("mass", "calcification")
IMAGE_SIZE = (1520, 912)
NAIVE_RESAMPLES = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="Test images (two per patient).")
    parser.add_argument("--predictions", type=int, default=100, help="Predicted boxes per image.")
    parser.add_argument("--resamples", type=int, default=1000, help="Bootstrap resamples.")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    image_ids = [f"image{index}" for index in range(args.images)]
    patients = [f"patient{index // 2}" for index in range(args.images)]
    truth = _ground_truth(rng, image_ids)
    predictions = _predictions(rng, image_ids, truth, args.predictions)
    names = detection_metric_names(CATEGORIES)
    print(f"{args.images} images, {len(truth)} lesions, {len(predictions)} predictions, {args.resamples} resamples")

    started = time.perf_counter()
    scores = evaluate_boxes(truth, predictions, image_ids=image_ids, categories=CATEGORIES, max_detections=args.predictions)
    evaluation_s = time.perf_counter() - started
    print(f"one evaluation (pycocotools and FROC matching): {evaluation_s:.2f} s")

    started = time.perf_counter()
    score_with_intervals(scores, ["ap@0.25"], patients, n_bootstrap=args.resamples, seed=0)
    weighted_one_s = time.perf_counter() - started

    started = time.perf_counter()
    score_with_intervals(scores, names, patients, n_bootstrap=args.resamples, seed=0)
    weighted_all_s = time.perf_counter() - started

    naive_one_s = _naive_seconds_per_resample(truth, predictions, image_ids, patients, args.predictions, rng)
    naive_total_s = naive_one_s * args.resamples

    print(f"reweighting, ap@0.25 only:        {weighted_one_s:8.2f} s")
    print(f"reweighting, all {len(names)} metrics:      {weighted_all_s:8.2f} s")
    print(f"rerunning, estimated from {NAIVE_RESAMPLES} resamples: {naive_total_s:8.2f} s (every metric of a resample at once)")
    print(f"ratio rerunning / reweighting, all metrics: {naive_total_s / weighted_all_s:.1f}")


def _ground_truth(rng: np.random.Generator, image_ids: list[str]) -> pd.DataFrame:
    rows = []
    for image_id in image_ids:
        for _ in range(rng.poisson(0.3)):
            size = rng.uniform(20, 200)
            x, y = rng.uniform(0, IMAGE_SIZE[1] - size), rng.uniform(0, IMAGE_SIZE[0] - size)
            rows.append((image_id, CATEGORIES[rng.integers(2)], x, y, x + size, y + size))
    return pd.DataFrame(rows, columns=["image_id", "category", "xmin", "ymin", "xmax", "ymax"])


def _predictions(rng: np.random.Generator, image_ids: list[str], truth: pd.DataFrame, per_image: int) -> pd.DataFrame:
    """Return ``per_image`` boxes per image: a jittered copy of each lesion, then random boxes."""
    rows = []
    by_image = {image_id: group for image_id, group in truth.groupby("image_id")}
    for image_id in image_ids:
        lesions = by_image.get(image_id, truth.iloc[:0])
        for _, lesion in lesions.iterrows():
            corners = lesion[["xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=float) + rng.normal(0, 5, 4)
            rows.append((image_id, lesion["category"], *corners, rng.uniform(0.3, 1.0)))
        for _ in range(max(per_image - len(lesions), 0)):
            size = rng.uniform(20, 200)
            x, y = rng.uniform(0, IMAGE_SIZE[1] - size), rng.uniform(0, IMAGE_SIZE[0] - size)
            rows.append((image_id, CATEGORIES[rng.integers(2)], x, y, x + size, y + size, rng.uniform(0.0, 0.6)))
    frame = pd.DataFrame(rows, columns=["image_id", "category", "xmin", "ymin", "xmax", "ymax", "score"])
    return frame[(frame["xmax"] > frame["xmin"]) & (frame["ymax"] > frame["ymin"])]


def _naive_seconds_per_resample(
    truth: pd.DataFrame,
    predictions: pd.DataFrame,
    image_ids: list[str],
    patients: list[str],
    max_detections: int,
    rng: np.random.Generator,
) -> float:
    """Time pycocotools and FROC matching on resampled copies of the test split."""
    patient_images: dict[str, list[str]] = {}
    for image_id, patient in zip(image_ids, patients, strict=True):
        patient_images.setdefault(patient, []).append(image_id)
    unique_patients = sorted(patient_images)

    started = time.perf_counter()
    for _ in range(NAIVE_RESAMPLES):
        drawn = rng.choice(len(unique_patients), size=len(unique_patients), replace=True)
        truth_parts, prediction_parts, resampled_ids = [], [], []
        for copy, index in enumerate(drawn):
            for image_id in patient_images[unique_patients[index]]:
                renamed = f"{image_id}#{copy}"
                resampled_ids.append(renamed)
                truth_parts.append(truth[truth["image_id"] == image_id].assign(image_id=renamed))
                prediction_parts.append(predictions[predictions["image_id"] == image_id].assign(image_id=renamed))
        scores = evaluate_boxes(
            pd.concat(truth_parts),
            pd.concat(prediction_parts),
            image_ids=resampled_ids,
            categories=CATEGORIES,
            max_detections=max_detections,
        )
        for name in detection_metric_names(CATEGORIES):
            scores.value(name)
    return (time.perf_counter() - started) / NAIVE_RESAMPLES


if __name__ == "__main__":
    main()
