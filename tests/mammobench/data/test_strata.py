from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mammobench.data.strata import order_by_rank, patient_labels, stratum_keys


def image_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "b", "c", "c"],
            "cancer": [0.0, 1.0, 0.0, np.nan, np.nan, np.nan],
            "density": ["B", "C", "C", "C", "D", "A"],
        }
    )


def test_binary_label_any_positive():
    labels = patient_labels(image_rows(), ["cancer"])

    assert labels.loc["a", "cancer"] == 1.0
    assert labels.loc["b", "cancer"] == 0.0
    assert math.isnan(labels.loc["c", "cancer"])


def test_multiclass_label_most_frequent():
    labels = patient_labels(image_rows(), ["density"])

    assert labels.loc["b", "density"] == "C"
    # Ties go to the smallest class.
    assert labels.loc["a", "density"] == "B"
    assert labels.loc["c", "density"] == "A"


def test_stratum_keys_combine_columns():
    keys = stratum_keys(patient_labels(image_rows(), ["cancer", "density"]))

    assert keys.to_dict() == {
        "a": "cancer=1|density=B",
        "b": "cancer=0|density=C",
        "c": "cancer=nan|density=A",
    }


def test_stratum_keys_without_columns():
    keys = stratum_keys(patient_labels(image_rows(), []))

    assert set(keys) == {""}


def test_rank_order_independent_of_input_order():
    ids = [f"p{n}" for n in range(20)]

    assert order_by_rank(ids, "salt") == order_by_rank(list(reversed(ids)), "salt")
    assert order_by_rank(ids, "salt") != order_by_rank(ids, "other salt")
