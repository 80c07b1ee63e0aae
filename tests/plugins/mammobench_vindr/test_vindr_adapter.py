from __future__ import annotations

import logging

import pandas as pd
import pytest

from mammobench.errors import DataError
from mammobench.plugin_host import PluginHost


@pytest.fixture(scope="module")
def load_vindr():
    """The VinDr adapter as the plugin host resolves it from the installed entry point."""
    host = PluginHost(allow=["vindr"]).load()
    assert host.failures == []
    return host.dataset("vindr").load()


def labels_of(manifest, image_id: str) -> dict[str, float]:
    row = manifest.images.set_index("image_id").loc[image_id]
    return {column: row[column] for column in manifest.label_columns if column != "density"}


def positive_labels(manifest, image_id: str) -> set[str]:
    return {name for name, value in labels_of(manifest, image_id).items() if value == 1.0}


def test_spec_metadata():
    spec = PluginHost(allow=["vindr"]).load().dataset("vindr")

    assert spec.root_env == "MAMMOBENCH_VINDR_ROOT"
    assert spec.layouts == ["physionet-dicom", "mammoclip-png"]
    assert spec.synthesizer == "mammobench_vindr.synth:write_synthetic"
    assert spec.homepage.startswith("https://physionet.org/")


def test_dicom_layout_image_table(load_vindr, dicom_root):
    manifest = load_vindr(dicom_root)
    images = manifest.images.set_index("image_id")

    assert manifest.layout == "physionet-dicom"
    assert len(images) == 24
    assert manifest.images["patient_id"].nunique() == 6
    assert manifest.summary()["splits"] == {"train": 16, "test": 8}
    assert images.loc["s0Lcc", "path"] == "images/s0/s0Lcc.dicom"
    assert images.loc["s0Lcc", "patient_id"] == "s0"
    assert images.loc["s0Lcc", "exam_id"] == "s0"
    assert images.loc["s0Lmlo", "view"] == "MLO"
    assert images.loc["s3Rcc", "density"] == "D"
    assert images.loc["s0Lcc", "birads"] == 4.0
    assert images.loc["s2Rcc", "birads"] == 1.0
    assert images.loc["s4Rcc", "split"] == "test"


def test_dicom_layout_image_labels(load_vindr, dicom_root):
    manifest = load_vindr(dicom_root)

    assert positive_labels(manifest, "s0Lcc") == {"mass", "abnormal"}
    assert positive_labels(manifest, "s0Lmlo") == {"mass", "calcification", "abnormal"}
    assert positive_labels(manifest, "s1Rcc") == {
        "focal_asymmetry",
        "asymmetry",
        "architectural_distortion",
        "abnormal",
    }
    assert positive_labels(manifest, "s3Rmlo") == {"nipple_retraction", "mass", "abnormal"}
    assert positive_labels(manifest, "s4Rcc") == {"global_asymmetry", "asymmetry", "abnormal"}
    assert positive_labels(manifest, "s5Lcc") == {"suspicious_lymph_node", "abnormal"}
    assert positive_labels(manifest, "s2Rcc") == set()
    assert labels_of(manifest, "s2Rcc")["mass"] == 0.0


def test_dicom_layout_boxes(load_vindr, dicom_root):
    manifest = load_vindr(dicom_root)
    boxes = manifest.boxes

    assert len(boxes) == 10
    calcification = boxes[(boxes["image_id"] == "s0Lmlo") & (boxes["category"] == "calcification")]
    assert calcification[["xmin", "ymin", "xmax", "ymax"]].values.tolist() == [
        [30.5, 40.25, 60.0, 90.0]
    ]
    assert sorted(boxes.loc[boxes["image_id"] == "s0Lmlo", "category"]) == [
        "calcification",
        "mass",
        "mass",
    ]
    # Asymmetry boxes keep their specific category.
    assert boxes.loc[boxes["image_id"] == "s4Rcc", "category"].tolist() == ["global_asymmetry"]
    # Published coordinates are kept, even slightly outside the image.
    distortion = boxes[boxes["category"] == "architectural_distortion"]
    assert distortion["xmin"].tolist() == [-6.25]


def test_finding_without_box_is_logged(load_vindr, dicom_root, caplog):
    with caplog.at_level(logging.WARNING):
        manifest = load_vindr(dicom_root)

    assert "s5Lcc" not in set(manifest.boxes["image_id"])
    assert "1 finding row(s) have no valid box" in caplog.text


def test_missing_image_file_dropped(load_vindr, dicom_root, caplog):
    (dicom_root / "images" / "s1" / "s1Rcc.dicom").unlink()

    with caplog.at_level(logging.WARNING):
        manifest = load_vindr(dicom_root)

    assert "s1Rcc" not in set(manifest.images["image_id"])
    assert "s1Rcc" not in set(manifest.boxes["image_id"])
    assert len(manifest.images) == 23
    assert "dropped 1 of 24 images" in caplog.text


def test_missing_csv_names_file(load_vindr, dicom_root):
    (dicom_root / "finding_annotations.csv").unlink()

    with pytest.raises(DataError, match="finding_annotations.csv' not found"):
        load_vindr(dicom_root)


def test_missing_column_names_file_and_column(load_vindr, dicom_root):
    path = dicom_root / "breast-level_annotations.csv"
    pd.read_csv(path).drop(columns=["breast_density"]).to_csv(path, index=False)

    with pytest.raises(DataError) as raised:
        load_vindr(dicom_root)

    assert "breast-level_annotations.csv" in str(raised.value)
    assert "'breast_density'" in str(raised.value)


def test_unknown_category_names_column_and_line(load_vindr, dicom_root):
    path = dicom_root / "finding_annotations.csv"
    findings = pd.read_csv(path)
    findings.loc[3, "finding_categories"] = "['Mass', 'Calcification']"
    findings.to_csv(path, index=False)

    with pytest.raises(DataError) as raised:
        load_vindr(dicom_root)

    message = str(raised.value)
    assert "finding_annotations.csv" in message
    assert "column 'finding_categories'" in message
    assert "line 5" in message
    assert "'Calcification'" in message


def test_unknown_density_names_column(load_vindr, dicom_root):
    path = dicom_root / "breast-level_annotations.csv"
    breast = pd.read_csv(path)
    breast.loc[0, "breast_density"] = "DENSITY E"
    breast.to_csv(path, index=False)

    with pytest.raises(
        DataError, match=r"column 'breast_density', line 2: invalid value 'DENSITY E'"
    ):
        load_vindr(dicom_root)


def test_unknown_laterality_names_column(load_vindr, dicom_root):
    path = dicom_root / "breast-level_annotations.csv"
    breast = pd.read_csv(path)
    breast.loc[5, "laterality"] = "B"
    breast.to_csv(path, index=False)

    with pytest.raises(DataError, match=r"column 'laterality', line 7"):
        load_vindr(dicom_root)


def test_duplicate_image_row_rejected(load_vindr, dicom_root):
    path = dicom_root / "breast-level_annotations.csv"
    breast = pd.read_csv(path)
    pd.concat([breast, breast.iloc[[2]]]).to_csv(path, index=False)

    with pytest.raises(
        DataError, match=r"column 'image_id', line 26: image 's0Rcc' is listed twice"
    ):
        load_vindr(dicom_root)


def test_finding_for_unknown_image_rejected(load_vindr, dicom_root):
    path = dicom_root / "finding_annotations.csv"
    findings = pd.read_csv(path)
    findings.loc[0, "image_id"] = "not-an-image"
    findings.to_csv(path, index=False)

    with pytest.raises(DataError, match=r"finding_annotations.csv', column 'image_id', line 2"):
        load_vindr(dicom_root)


def test_missing_images_folder_named(load_vindr, dicom_root):
    (dicom_root / "images").rename(dicom_root / "dicoms")

    with pytest.raises(DataError, match=r"folder '.*images' not found"):
        load_vindr(dicom_root)


def test_unknown_layout_lists_expected_files(load_vindr, tmp_path):
    with pytest.raises(DataError) as raised:
        load_vindr(tmp_path)

    assert "breast-level_annotations.csv" in str(raised.value)
    assert "vindr_detection_v1_folds.csv" in str(raised.value)


def test_png_layout_matches_dicom_labels(load_vindr, dicom_root, png_root):
    dicom = load_vindr(dicom_root)
    png = load_vindr(png_root)

    assert png.layout == "mammoclip-png"
    columns = [
        "image_id",
        "patient_id",
        "laterality",
        "view",
        "split",
        "density",
        "birads",
        *dicom.label_columns,
    ]
    expected = dicom.images[columns].sort_values("image_id").reset_index(drop=True)
    actual = png.images[columns].sort_values("image_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected)


def test_png_layout_paths_and_boxes(load_vindr, dicom_root, png_root):
    dicom = load_vindr(dicom_root)
    png = load_vindr(png_root)
    images = png.images.set_index("image_id")

    assert images.loc["s0Lcc", "path"] == "images_png/s0/s0Lcc.png"
    assert images.loc["s0Lcc", "width"] == 912.0
    assert images.loc["s0Lcc", "height"] == 1520.0
    order = ["image_id", "category", "xmin"]
    expected = dicom.boxes.sort_values(order).reset_index(drop=True)
    actual = png.boxes.sort_values(order).reset_index(drop=True)
    assert actual["category"].tolist() == expected["category"].tolist()
    coordinates = ["xmin", "ymin", "xmax", "ymax"]
    assert (actual[coordinates].to_numpy() == expected[coordinates].to_numpy() * 0.25).all()


def test_png_layout_conflicting_rows_rejected(load_vindr, png_root):
    path = png_root / "vindr_detection_v1_folds.csv"
    rows = pd.read_csv(path)
    second_row_of_image = rows.index[rows["image_id"] == "s0Lmlo.png"][1]
    rows.loc[second_row_of_image, "laterality"] = "R"
    rows.to_csv(path, index=False)

    with pytest.raises(DataError, match=r"column 'laterality'.*every row of one image must agree"):
        load_vindr(png_root)


def test_layout_argument_selects_png(load_vindr, both_root):
    assert load_vindr(both_root).layout == "physionet-dicom"
    assert load_vindr(both_root, layout="mammoclip-png").layout == "mammoclip-png"
