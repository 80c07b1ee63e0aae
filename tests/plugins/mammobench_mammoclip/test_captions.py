"""Report text for pretraining: sentence handling and synthesis for every finding type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammobench import vocab
from mammobench.data.manifest import empty_boxes
from mammobench_mammoclip.captions import augment_sentences, describe_breast, split_sentences, synthesized_sentences

# A word every report naming the finding contains.
FINDING_WORDS = {
    vocab.MASS: "mass",
    vocab.CALCIFICATION: "calcification",
    vocab.ARCHITECTURAL_DISTORTION: "distort",
    vocab.ASYMMETRY: "asymmetr",
    vocab.FOCAL_ASYMMETRY: "focal asymmetr",
    vocab.GLOBAL_ASYMMETRY: "global asymmetr",
    vocab.SKIN_THICKENING: "thicken",
    vocab.SKIN_RETRACTION: "retract",
    vocab.NIPPLE_RETRACTION: "nipple",
    vocab.SUSPICIOUS_LYMPH_NODE: "lymph node",
    vocab.OTHER_FINDING: "finding",
}


def _breast_rows(density: str | None = "B", birads: float = 2.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ["a", "b"],
            "patient_id": ["p1", "p1"],
            "laterality": ["L", "L"],
            "view": ["CC", "MLO"],
            "density": [density, density],
            "birads": [birads, birads],
            "mass": [0.0, 0.0],
        }
    )


def _boxes(category: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"image_id": ["a"], "category": [category], "xmin": [1.0], "ymin": [1.0], "xmax": [5.0], "ymax": [5.0]}
    )


def test_finding_words_cover_vocabulary():
    assert set(FINDING_WORDS) == set(vocab.FINDINGS)


@pytest.mark.parametrize("category", vocab.FINDINGS)
def test_synthesis_covers_finding_type(category):
    breast = describe_breast(_breast_rows(), _boxes(category), ["mass"])
    rng = np.random.default_rng(0)

    texts = [" ".join(synthesized_sentences(breast, rng, include_negatives=False)).lower() for _ in range(5)]

    assert [finding.category for finding in breast.findings] == [category]
    assert all(FINDING_WORDS[category] in text for text in texts)


def test_synthesis_from_label_column():
    rows = _breast_rows(birads=5.0)
    rows.loc[0, "mass"] = 1.0

    breast = describe_breast(rows, empty_boxes(), ["mass"])

    assert [finding.category for finding in breast.findings] == ["mass"]
    assert breast.findings[0].suspicious is True
    assert breast.birads == 5
    assert breast.density == "B"


def test_synthesis_adds_negatives_for_absent_findings():
    breast = describe_breast(_breast_rows(birads=1.0), empty_boxes(), ["mass"])
    rng = np.random.default_rng(3)

    texts = [" ".join(synthesized_sentences(breast, rng, include_negatives=True)).lower() for _ in range(5)]

    assert breast.findings == []
    assert any(" no " in f" {text}" or "negative" in text for text in texts)


def test_synthesis_skips_unlabelled_breast():
    rows = _breast_rows(density=None, birads=float("nan"))
    rows["mass"] = float("nan")

    assert describe_breast(rows, empty_boxes(), ["mass"]) is None


def test_split_sentences_drops_headers():
    report = "FINDINGS: A mass is seen. No calcifications.\nIMPRESSION: BI-RADS 4."

    assert split_sentences(report) == ["A mass is seen.", "No calcifications.", "BI-RADS 4."]


def test_sentence_dropout_keeps_one():
    rng = np.random.default_rng(0)
    sentences = ["One.", "Two.", "Three."]

    texts = [augment_sentences(sentences, rng, shuffle=True, dropout=0.99) for _ in range(20)]

    assert all(text in sentences for text in texts)


def test_sentence_shuffle_keeps_sentences():
    rng = np.random.default_rng(1)
    sentences = ["One.", "Two.", "Three.", "Four."]

    texts = {augment_sentences(sentences, rng, shuffle=True, dropout=0.0) for _ in range(20)}

    assert len(texts) > 1
    assert all(sorted(text.split(" ")) == sorted(sentences) for text in texts)
