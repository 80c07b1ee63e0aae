"""The public API for plugins. Plugins import from here and from nowhere else in mammobench.

Names are resolved lazily (PEP 562), so a plugin's registration module can import
``hookimpl`` and the spec classes without importing torch or any model code.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # plugin registration
    "hookimpl": "mammobench.hookspecs",
    "Capability": "mammobench.specs",
    "DatasetSpec": "mammobench.specs",
    "EncoderSpec": "mammobench.specs",
    "TaskSpec": "mammobench.specs",
    # errors
    "MammobenchError": "mammobench.errors",
    "ConfigError": "mammobench.errors",
    "DataError": "mammobench.errors",
    "ImageReadError": "mammobench.errors",
    "WeightsError": "mammobench.errors",
    "IncompatibleError": "mammobench.errors",
    # locations
    "paths": "mammobench",
    "vocab": "mammobench",
    # manifests
    "Manifest": "mammobench.data.manifest",
    "empty_boxes": "mammobench.data.manifest",
    # helpers for dataset adapters
    "check_values": "mammobench.data.tables",
    "drop_missing_files": "mammobench.data.tables",
    "first_existing": "mammobench.data.tables",
    "image_level_labels": "mammobench.data.tables",
    "invalid_value": "mammobench.data.tables",
    "line_of": "mammobench.data.tables",
    "read_csv_table": "mammobench.data.tables",
    "require_columns": "mammobench.data.tables",
    "require_file": "mammobench.data.tables",
    "strip_prefix": "mammobench.data.tables",
    "to_numbers": "mammobench.data.tables",
    # patient-level splits and label fractions
    "assign_split_from_folds": "mammobench.data.splits",
    "carve_validation": "mammobench.data.splits",
    "check_patient_disjoint": "mammobench.data.splits",
    "stratified_patient_folds": "mammobench.data.splits",
    "LabelSubset": "mammobench.data.fractions",
    "sample_label_fraction": "mammobench.data.fractions",
    # encoder contract and weights loading
    "Encoder": "mammobench.encoders.base",
    "EncoderInfo": "mammobench.encoders.base",
    "EncoderOptions": "mammobench.encoders.base",
    "FeatureInfo": "mammobench.encoders.base",
    "InputContract": "mammobench.encoders.base",
    "IMAGENET_MEAN": "mammobench.encoders.base",
    "IMAGENET_STD": "mammobench.encoders.base",
    "file_sha256": "mammobench.encoders.weights",
    "load_checkpoint": "mammobench.encoders.weights",
    "load_state_dict_strict": "mammobench.encoders.weights",
    "require_weights_file": "mammobench.encoders.weights",
    "revision_from_sha256": "mammobench.encoders.weights",
    "select_prefix": "mammobench.encoders.weights",
    "state_dict_sha256": "mammobench.encoders.weights",
    "unwrap_state_dict": "mammobench.encoders.weights",
    "strip_wrapper_prefixes": "mammobench.encoders.weights",
    # image loading
    "ImageDataset": "mammobench.data.loading",
    "collate_images": "mammobench.data.loading",
    "make_loader": "mammobench.data.loading",
    "RandomVerticalFlip": "mammobench.data.loading",
    "read_image": "mammobench.data.readers",
    "read_dicom_header": "mammobench.data.readers",
    "BoxTransform": "mammobench.data.transforms",
    "ImageCache": "mammobench.data.image_cache",
    "PREPROCESS_VERSION": "mammobench.data.preprocess",
    # report text
    "BreastDescription": "mammobench.text.reports",
    "FindingDescription": "mammobench.text.reports",
    "report_sentences": "mammobench.text.reports",
    "write_report": "mammobench.text.reports",
    "finding_sentences": "mammobench.text.reports",
    "negative_sentences": "mammobench.text.reports",
    "density_sentences": "mammobench.text.reports",
    # task objects and default prompts
    "Task": "mammobench.tasks.base",
    "ClassificationTask": "mammobench.tasks.base",
    "DetectionTask": "mammobench.tasks.base",
    "FactorTask": "mammobench.tasks.base",
    "detection_metric_names": "mammobench.detection.names",
    "factor_metric_names": "mammobench.factor.names",
    "binary_prompts": "mammobench.tasks.prompts",
    "abnormal_prompts": "mammobench.tasks.prompts",
    "density_prompts": "mammobench.tasks.prompts",
    # data roots and the synthetic default
    "load_dataset": "mammobench.data.roots",
    "is_synthetic": "mammobench.data.roots",
    # synthetic data generator, for dataset plugins' layout writers
    "GENERATOR_VERSION": "mammobench.synth.config",
    "SynthConfig": "mammobench.synth.config",
    "SCREENING_IMAGES": "mammobench.synth.exam",
    "ImageRecord": "mammobench.synth.exam",
    "ImageSlot": "mammobench.synth.exam",
    "PatientPlan": "mammobench.synth.exam",
    "PatientRecord": "mammobench.synth.exam",
    "dicom_uid": "mammobench.synth.dicom",
    "generate_patients": "mammobench.synth.runner",
    "write_reports_table": "mammobench.synth.runner",
    "write_synthetic_marker": "mammobench.synth.runner",
    # metrics: values that are NaN with a reason when undefined, and patient-bootstrap CIs
    "MetricValue": "mammobench.metrics.value",
    "MetricInputError": "mammobench.metrics.value",
    "auc": "mammobench.metrics.classification",
    "accuracy": "mammobench.metrics.classification",
    "macro_f1": "mammobench.metrics.classification",
    "balanced_accuracy": "mammobench.metrics.classification",
    "breast_level": "mammobench.metrics.classification",
    "BootstrapCI": "mammobench.metrics.bootstrap",
    "MetricEstimate": "mammobench.metrics.bootstrap",
    "bootstrap_mean": "mammobench.metrics.bootstrap",
    "bootstrap_metric": "mammobench.metrics.bootstrap",
    "cluster_bootstrap": "mammobench.metrics.bootstrap",
    "paired_bootstrap_metric": "mammobench.metrics.bootstrap",
    "per_resample": "mammobench.metrics.bootstrap",
    "DetectionEvaluation": "mammobench.metrics.detection",
    "evaluate_detection": "mammobench.metrics.detection",
    "FROCEvaluation": "mammobench.metrics.froc",
    "evaluate_froc": "mammobench.metrics.froc",
    "heatmap_to_boxes": "mammobench.metrics.localization",
    "hit_rate": "mammobench.metrics.localization",
    "iou_hits": "mammobench.metrics.localization",
    "pointing_game": "mammobench.metrics.localization",
    # result records
    "CellKey": "mammobench.results.records",
    "RecordStatus": "mammobench.results.records",
    "ResultRecord": "mammobench.results.records",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mammobench.api' has no attribute '{name}'")
    module = importlib.import_module(module_name)
    if module_name == "mammobench":
        value = importlib.import_module(f"mammobench.{name}")
    else:
        value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
