from __future__ import annotations

import logging
import math
import shutil

import pandas as pd
import pytest

from mammobench.data.splits import check_patient_disjoint
from mammobench.errors import DataError
from mammobench.plugin_host import PluginHost


@pytest.fixture(scope="module")
def load_rsna():
    """The RSNA adapter as the plugin host resolves it from the installed entry point."""
    host = PluginHost(allow=["rsna"]).load()
    assert host.failures == []
    return host.dataset("rsna").load()


def test_spec_metadata():
    spec = PluginHost(allow=["rsna"]).load().dataset("rsna")

    assert spec.root_env == "MAMMOBENCH_RSNA_ROOT"
    assert spec.layouts == ["kaggle-dicom", "mammoclip-png"]
    assert spec.synthesizer == "mammobench_rsna.synth:write_synthetic"


def test_kaggle_layout_image_table(load_rsna, kaggle_root):
    manifest = load_rsna(kaggle_root)
    images = manifest.images.set_index("image_id")

    assert manifest.layout == "kaggle-dicom"
    assert len(images) == 160
    assert manifest.images["patient_id"].nunique() == 40
    assert manifest.label_columns == ("cancer", "biopsy", "invasive", "density")
    assert images.loc["1001", "path"] == "train_images/10000/1001.dcm"
    assert images.loc["1001", "patient_id"] == "10000"
    assert images.loc["1001", "exam_id"] == "10000"
    assert images.loc["1001", "cancer"] == 1.0
    assert images.loc["1003", "cancer"] == 0.0
    assert images.loc["1001", "birads"] == 0.0
    assert math.isnan(images.loc["1005", "birads"])
    assert images.loc["1001", "density"] == "A"
    assert pd.isna(images.loc["1017", "density"])
    assert math.isnan(images.loc["1013", "age"])
    assert images.loc["1001", "age"] == 40.0
    assert images.loc["1001", "site"] == "1"


def test_split_from_patient_folds(load_rsna, kaggle_root):
    manifest = load_rsna(kaggle_root)
    images = manifest.images

    check_patient_disjoint(manifest)
    test_patients = images.loc[images["split"] == "test", "patient_id"].unique()
    assert len(test_patients) == 8
    assert set(images.loc[images["split"] == "test", "fold"]) == {0}
    cancer_patients = images.loc[images["cancer"] == 1.0, ["patient_id", "split"]].drop_duplicates()
    # 8 cancer patients over 5 folds: the test fold gets 1 or 2 of them.
    assert (cancer_patients["split"] == "test").sum() in (1, 2)
    assert len(cancer_patients) == 8


def test_split_is_reproducible(load_rsna, kaggle_root, tmp_path):
    first = load_rsna(kaggle_root).images.set_index("image_id")["split"]
    copy = tmp_path / "copy"
    shutil.copytree(kaggle_root, copy)
    second = load_rsna(copy).images.set_index("image_id")["split"]

    pd.testing.assert_series_equal(first, second)


def test_split_ignores_missing_files(load_rsna, kaggle_root, caplog):
    full = load_rsna(kaggle_root).images.set_index("image_id")["split"]
    shutil.rmtree(kaggle_root / "train_images" / "10001")

    with caplog.at_level(logging.WARNING):
        partial = load_rsna(kaggle_root).images.set_index("image_id")["split"]

    assert len(partial) == 156
    assert "dropped 4 of 160 images" in caplog.text
    pd.testing.assert_series_equal(partial, full.loc[partial.index])


def test_png_layout_same_split(load_rsna, kaggle_root, rsna_png_root):
    kaggle = load_rsna(kaggle_root)
    png = load_rsna(rsna_png_root)
    columns = [
        "image_id",
        "patient_id",
        "split",
        "birads",
        "density",
        "cancer",
        "biopsy",
        "invasive",
    ]

    assert png.layout == "mammoclip-png"
    assert png.images.set_index("image_id").loc["1001", "path"] == "train_images_png/10000/1001.png"
    assert png.images.set_index("image_id").loc["1001", "mammoclip_fold"] == 0.0
    pd.testing.assert_frame_equal(
        png.images[columns].reset_index(drop=True), kaggle.images[columns].reset_index(drop=True)
    )


def test_missing_column_names_file(load_rsna, kaggle_root):
    path = kaggle_root / "train.csv"
    pd.read_csv(path).drop(columns=["cancer"]).to_csv(path, index=False)

    with pytest.raises(DataError) as raised:
        load_rsna(kaggle_root)

    assert "train.csv" in str(raised.value)
    assert "'cancer'" in str(raised.value)


def test_invalid_view_names_line(load_rsna, kaggle_root):
    path = kaggle_root / "train.csv"
    rows = pd.read_csv(path)
    rows.loc[9, "view"] = "XYZ"
    rows.to_csv(path, index=False)

    with pytest.raises(DataError, match=r"train.csv', column 'view', line 11: invalid value 'XYZ'"):
        load_rsna(kaggle_root)


def test_invalid_label_names_line(load_rsna, kaggle_root):
    path = kaggle_root / "train.csv"
    rows = pd.read_csv(path)
    rows.loc[0, "cancer"] = 2
    rows.to_csv(path, index=False)

    with pytest.raises(DataError, match=r"column 'cancer', line 2: invalid value '2'"):
        load_rsna(kaggle_root)


def test_invalid_birads_names_line(load_rsna, kaggle_root):
    path = kaggle_root / "train.csv"
    rows = pd.read_csv(path, dtype=str)
    rows.loc[0, "BIRADS"] = "four"
    rows.to_csv(path, index=False)

    with pytest.raises(
        DataError, match=r"column 'BIRADS', line 2: invalid value 'four'; expected a number"
    ):
        load_rsna(kaggle_root)


def test_missing_root_named(load_rsna, tmp_path):
    with pytest.raises(DataError, match="MAMMOBENCH_RSNA_ROOT"):
        load_rsna(tmp_path / "absent")
