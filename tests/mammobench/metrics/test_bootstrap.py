"""Patient bootstrap: vectorised forms against per-resample computations, and its statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as sk_metrics
from torchmetrics.functional.classification import binary_auroc

from mammobench.metrics import weighted
from mammobench.metrics.bootstrap import (
    bootstrap_mean,
    bootstrap_metric,
    cluster_bootstrap,
    paired_bootstrap_metric,
    per_resample,
)
from mammobench.metrics.classification import accuracy, auc, balanced_accuracy, macro_f1
from mammobench.metrics.value import MetricInputError


def mann_whitney_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    positives = scores[labels == 1]
    negatives = scores[labels == 0]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    greater = (positives[:, None] > negatives[None, :]).sum()
    equal = (positives[:, None] == negatives[None, :]).sum()
    return float((greater + 0.5 * equal) / (len(positives) * len(negatives)))


@pytest.fixture
def patient_data() -> dict[str, np.ndarray]:
    """Eight hundred images of two hundred patients, labels per patient, tied scores."""
    rng = np.random.default_rng(3)
    patients = np.repeat(np.arange(200), 4)
    patient_labels = (rng.random(200) < 0.25).astype(int)
    labels = patient_labels[patients]
    scores = np.round(rng.normal(size=800) + labels, 1)
    density = rng.choice(list("ABCD"), size=800, p=[0.05, 0.4, 0.4, 0.15])
    noisy = np.where(rng.random(800) < 0.6, density, rng.choice(list("ABCD"), size=800))
    return {
        "patients": patients,
        "labels": labels,
        "scores": scores,
        "density": density,
        "predicted": noisy,
    }


def test_weighted_auc_matches_expanded_set(patient_data):
    rng = np.random.default_rng(0)
    weights = rng.integers(0, 3, size=(5, 800))
    values = weighted.weighted_auc(patient_data["labels"], patient_data["scores"], weights)
    for row, counts in enumerate(weights):
        indices = np.repeat(np.arange(800), counts)
        expected = sk_metrics.roc_auc_score(
            patient_data["labels"][indices], patient_data["scores"][indices]
        )
        assert values[row] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("weighted_metric", "sklearn_metric"),
    [
        (weighted.weighted_accuracy, sk_metrics.accuracy_score),
        (weighted.weighted_balanced_accuracy, sk_metrics.balanced_accuracy_score),
        (
            weighted.weighted_macro_f1,
            lambda t, p: sk_metrics.f1_score(t, p, average="macro", zero_division=0),
        ),
    ],
)
def test_weighted_confusion_metrics_match_sklearn(patient_data, weighted_metric, sklearn_metric):
    rng = np.random.default_rng(1)
    # Few samples per row, so some classes drop out of some rows.
    weights = (rng.random((20, 800)) < 0.01).astype(int)
    values = weighted_metric(patient_data["density"], patient_data["predicted"], weights)
    for row, counts in enumerate(weights):
        indices = np.repeat(np.arange(800), counts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns about classes missing in a row
            expected = sklearn_metric(
                patient_data["density"][indices], patient_data["predicted"][indices]
            )
        assert values[row] == pytest.approx(expected, abs=1e-12)


def test_auc_interval_matches_mann_whitney(patient_data):
    """The vectorised AUC bootstrap equals a direct pair count on the same resamples."""
    labels, scores = patient_data["labels"], patient_data["scores"]
    fast = bootstrap_metric(auc, labels, scores, patient_data["patients"], n_resamples=300, seed=5)
    direct = cluster_bootstrap(
        per_resample(lambda indices: mann_whitney_auc(labels[indices], scores[indices])),
        patient_data["patients"],
        n_resamples=300,
        seed=5,
    )
    assert fast.ci.n_used == direct.n_used
    assert np.allclose(fast.ci.values, direct.values, atol=1e-12)
    assert fast.ci.low == pytest.approx(direct.low, abs=1e-12)
    assert fast.ci.high == pytest.approx(direct.high, abs=1e-12)


def test_auc_interval_matches_torchmetrics(patient_data):
    labels, scores = patient_data["labels"], patient_data["scores"]
    # Probabilities in [0, 1], so torchmetrics applies no float32 sigmoid that could merge ties.
    scores = (scores - scores.min()) / (scores.max() - scores.min())

    def torchmetrics_auc(indices: np.ndarray) -> float:
        return binary_auroc(torch.tensor(scores[indices]), torch.tensor(labels[indices])).item()

    fast = bootstrap_metric(auc, labels, scores, patient_data["patients"], n_resamples=100, seed=2)
    reference = cluster_bootstrap(
        per_resample(torchmetrics_auc), patient_data["patients"], n_resamples=100, seed=2
    )
    assert np.allclose(fast.ci.values, reference.values, atol=1e-6)


@pytest.mark.parametrize("metric", [accuracy, macro_f1, balanced_accuracy])
def test_vectorised_matches_generic_path(patient_data, metric):
    truth, predicted, patients = (
        patient_data["density"],
        patient_data["predicted"],
        patient_data["patients"],
    )
    fast = bootstrap_metric(metric, truth, predicted, patients, n_resamples=200, seed=9)
    generic = bootstrap_metric(
        lambda t, p: metric(t, p), truth, predicted, patients, n_resamples=200, seed=9
    )
    assert np.allclose(fast.ci.values, generic.ci.values, atol=1e-12)


def test_interval_contains_estimate(patient_data):
    result = bootstrap_metric(
        auc, patient_data["labels"], patient_data["scores"], patient_data["patients"]
    )
    assert result.ci.n_resamples == 1000
    assert result.ci.low < result.value.value < result.ci.high
    assert result.ci.method == "percentile bootstrap over patients"


def test_same_seed_same_interval(patient_data):
    first = bootstrap_metric(
        auc, patient_data["labels"], patient_data["scores"], patient_data["patients"], seed=4
    )
    second = bootstrap_metric(
        auc, patient_data["labels"], patient_data["scores"], patient_data["patients"], seed=4
    )
    other = bootstrap_metric(
        auc, patient_data["labels"], patient_data["scores"], patient_data["patients"], seed=5
    )
    assert (first.ci.low, first.ci.high) == (second.ci.low, second.ci.high)
    assert (first.ci.low, first.ci.high) != (other.ci.low, other.ci.high)


def test_patient_resampling_widens_correlated_interval():
    """Four identical images per patient: image resampling understates the uncertainty."""
    rng = np.random.default_rng(11)
    patient_labels = (rng.random(150) < 0.4).astype(int)
    patient_scores = rng.normal(size=150) + patient_labels
    patients = np.repeat(np.arange(150), 4)
    labels = patient_labels[patients]
    scores = patient_scores[patients]

    by_patient = bootstrap_metric(auc, labels, scores, patients, seed=0)
    by_image = bootstrap_metric(auc, labels, scores, None, seed=0, unit="image")
    patient_width = by_patient.ci.high - by_patient.ci.low
    image_width = by_image.ci.high - by_image.ci.low
    # Four perfectly correlated copies shrink the image-level width by about sqrt(4) = 2.
    assert patient_width > 1.5 * image_width


def test_resample_weights_follow_patients(patient_data):
    seen = []

    def record_weights(weights: np.ndarray) -> np.ndarray:
        seen.append(weights)
        return np.zeros(weights.shape[0])

    cluster_bootstrap(record_weights, patient_data["patients"], n_resamples=50, seed=0)
    weights = np.concatenate(seen)
    by_patient = weights.reshape(50, 200, 4)
    # All images of a patient share the patient's draw count, and each resample draws 200 patients.
    assert (by_patient == by_patient[:, :, :1]).all()
    assert (by_patient[:, :, 0].sum(axis=1) == 200).all()


def test_undefined_resamples_are_skipped():
    labels = np.zeros(40, dtype=int)
    labels[0] = 1  # one positive patient: many resamples miss it
    scores = np.linspace(0, 1, 40)
    result = bootstrap_metric(auc, labels, scores, np.arange(40), n_resamples=500, seed=0)
    assert 0 < result.ci.n_used < 500
    assert np.isfinite(result.ci.values).all()


def test_undefined_metric_gives_undefined_interval():
    result = bootstrap_metric(auc, [0, 0, 0], [0.1, 0.2, 0.3], ["a", "b", "c"])
    assert not result.value.defined
    assert not result.ci.defined
    assert result.ci.reason == "the metric is undefined on the evaluated set"


def test_missing_patient_id_raises():
    with pytest.raises(MetricInputError, match="missing patient id"):
        bootstrap_metric(auc, [0, 1], [0.1, 0.9], ["a", None])


def test_paired_identical_models_differ_by_zero(patient_data):
    scores = patient_data["scores"]
    result = paired_bootstrap_metric(
        auc, patient_data["labels"], scores, scores, patient_data["patients"]
    )
    assert result.difference.value == 0.0
    assert result.ci.low == 0.0
    assert result.ci.high == 0.0
    assert result.p_value == 1.0


def test_paired_better_model_is_significant(patient_data):
    labels, patients = patient_data["labels"], patient_data["patients"]
    rng = np.random.default_rng(8)
    strong = labels + 0.3 * rng.normal(size=800)
    weak = labels + 3.0 * rng.normal(size=800)
    result = paired_bootstrap_metric(auc, labels, strong, weak, patients)
    assert result.difference.value > 0
    assert result.ci.low > 0
    assert result.p_value < 0.01
    assert result.ci.method == "paired percentile bootstrap over patients"


def test_bootstrap_mean_of_hits():
    hits = np.array([1, 1, 0, 1, 0, 0, 1, 1], dtype=bool)
    patients = ["a", "a", "b", "b", "c", "c", "d", "d"]
    result = bootstrap_mean(hits, patients, seed=1)
    assert result.value.value == pytest.approx(5 / 8)
    assert 0.0 <= result.ci.low <= 5 / 8 <= result.ci.high <= 1.0


def test_bootstrap_mean_empty_is_undefined():
    result = bootstrap_mean(np.array([]), np.array([]))
    assert not result.value.defined
    assert not result.ci.defined
