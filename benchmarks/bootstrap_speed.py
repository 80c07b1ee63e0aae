"""Patient-bootstrap speed: vectorised metrics against one metric call per resample.

For AUC, accuracy, macro-F1 and balanced accuracy on a few thousand images of synthetic
predictions, prints the wall time of a 1,000-resample patient bootstrap in its vectorised form,
the time of the same resamples with one scikit-learn call each, and their ratio. Both forms draw
identical resamples, so the script also prints the largest difference between their values.
AP and FROC bootstraps over detection predictions are timed as well. Run:

    python benchmarks/bootstrap_speed.py [--images 4000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import pandas as pd

from mammobench.metrics.bootstrap import bootstrap_metric, cluster_bootstrap
from mammobench.metrics.classification import accuracy, auc, balanced_accuracy, macro_f1
from mammobench.metrics.detection import evaluate_detection
from mammobench.metrics.froc import evaluate_froc

_IMAGES_PER_PATIENT = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000, help="Evaluated images.")
    parser.add_argument("--resamples", type=int, default=1000, help="Bootstrap resamples.")
    arguments = parser.parse_args()

    rng = np.random.default_rng(0)
    n_images = arguments.images
    patients = np.arange(n_images) // _IMAGES_PER_PATIENT
    labels = (rng.random(n_images) < 0.2).astype(int)
    scores = rng.normal(size=n_images) + labels
    density = rng.choice(list("ABCD"), size=n_images, p=[0.05, 0.4, 0.4, 0.15])
    predicted = np.where(
        rng.random(n_images) < 0.6, density, rng.choice(list("ABCD"), size=n_images)
    )

    print(
        f"{n_images} images, {n_images // _IMAGES_PER_PATIENT} patients, {arguments.resamples} resamples"
    )
    print(f"{'metric':<20}{'vectorised s':>14}{'per resample s':>16}{'ratio':>8}{'max diff':>11}")
    cases = [
        (auc, labels, scores),
        (accuracy, density, predicted),
        (macro_f1, density, predicted),
        (balanced_accuracy, density, predicted),
    ]
    for metric, truth, values in cases:
        fast_s, fast = _timed(
            bootstrap_metric, metric, truth, values, patients, n_resamples=arguments.resamples
        )
        # A lambda hides the metric's identity, so the bootstrap calls it once per resample.
        slow_s, slow = _timed(
            bootstrap_metric,
            lambda t, p, m=metric: m(t, p),
            truth,
            values,
            patients,
            n_resamples=arguments.resamples,
        )
        difference = float(np.abs(fast.ci.values - slow.ci.values).max())
        print(
            f"{metric.__name__:<20}{fast_s:>14.3f}{slow_s:>16.3f}{slow_s / fast_s:>8.1f}{difference:>11.1e}"
        )

    truth_boxes, predicted_boxes = _detection_case(rng, n_images)
    image_ids = [f"image{i}" for i in range(n_images)]
    categories = ["mass", "calcification"]
    evaluate_s, detection = _timed(
        evaluate_detection, truth_boxes, predicted_boxes, image_ids=image_ids, categories=categories
    )
    match_s, froc = _timed(
        evaluate_froc, truth_boxes, predicted_boxes, image_ids=image_ids, categories=categories
    )
    print(f"\n{len(truth_boxes)} lesions, {len(predicted_boxes)} predicted boxes")
    print(f"pycocotools evaluation: {evaluate_s:.3f} s, FROC matching: {match_s:.3f} s")
    for evaluation, name in (
        (detection, "ap@0.25"),
        (detection, "ap@0.5:0.95"),
        (froc, "froc_mean"),
    ):
        seconds, _ = _timed(
            cluster_bootstrap,
            partial(evaluation.weighted, name),
            patients,
            n_resamples=arguments.resamples,
        )
        print(f"bootstrap of {name}: {seconds:.3f} s")


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def _detection_case(rng: np.random.Generator, n_images: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lesions on 30 % of images, one noisy hit per lesion and four false positives per image."""
    truth, predicted = [], []
    for i in range(n_images):
        image_id = f"image{i}"
        if rng.random() < 0.3:
            x, y = rng.uniform(0, 800, size=2)
            size = rng.uniform(20, 80)
            category = ["mass", "calcification"][rng.integers(2)]
            truth.append((image_id, category, x, y, x + size, y + size))
            dx, dy = rng.normal(scale=0.2 * size, size=2)
            predicted.append(
                (image_id, category, x + dx, y + dy, x + size + dx, y + size + dy, rng.random())
            )
        for _ in range(4):
            x, y = rng.uniform(0, 800, size=2)
            category = ["mass", "calcification"][rng.integers(2)]
            predicted.append((image_id, category, x, y, x + 40, y + 40, 0.8 * rng.random()))
    columns = ["image_id", "category", "xmin", "ymin", "xmax", "ymax"]
    return pd.DataFrame(truth, columns=columns), pd.DataFrame(
        predicted, columns=[*columns, "score"]
    )


if __name__ == "__main__":
    main()
