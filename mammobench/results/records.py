"""The result record schema: one record per (cell, split, metric), plus the run header.

A cell is one (encoder, encoder revision, task, task version, protocol, label fraction, seed); it
is the unit that sweeps run, resume and parallelise. Its ``cell_id`` is a stable hash of those
seven fields, so the same cell gets the same id on every machine. A cell produces one record per
(split, metric). The run header stores what is needed to reproduce a run: versions, git commit,
device, seeds and the resolved configuration with its hash.

Both models reject unknown fields, so a typo or a record from a newer schema fails loudly.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from mammobench.metrics.bootstrap import BootstrapCI
    from mammobench.metrics.value import MetricValue

# Bump when a field is added, removed or changes meaning; readers reject other versions.
RECORD_SCHEMA_VERSION = 1

_CELL_ID_LENGTH = 20  # hex digits of SHA-256 (80 bits)
_RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RecordStatus(str, Enum):
    """Outcome of a cell.

    ``ok``, ``invalid`` and ``incompatible`` are final: rerunning the cell gives the same
    outcome. ``error`` is not final, so resumed sweeps run the cell again.
    """

    OK = "ok"
    ERROR = "error"  # the cell raised; see the record's error text
    INVALID = "invalid"  # the cell cannot be evaluated, e.g. a label subset without positives
    INCOMPATIBLE = "incompatible"  # the encoder lacks a capability the task or protocol needs


FINAL_STATUSES = frozenset({RecordStatus.OK, RecordStatus.INVALID, RecordStatus.INCOMPATIBLE})


class CellKey(BaseModel):
    """The identity of a cell: what a sweep runs once per combination."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoder: str = Field(min_length=1, description="Encoder name, e.g. 'mammoclip'.")
    encoder_revision: str = Field(
        min_length=1, description="Weights or code revision of the encoder, e.g. a checksum."
    )
    task: str = Field(min_length=1, description="Task name, e.g. 'vindr-mass'.")
    task_version: str = Field(
        min_length=1, description="Task version; changes with splits or labels."
    )
    protocol: str = Field(min_length=1, description="Protocol, e.g. 'linear-probe'.")
    fraction: float = Field(
        ge=0.0,
        le=1.0,
        description="Label fraction of the training split; 0 when no labels are used.",
    )
    seed: int = Field(description="Seed of the label subset and of training.")

    @property
    def cell_id(self) -> str:
        """Stable hash of the cell identity."""
        return cell_id(**self.model_dump())


class ResultRecord(BaseModel):
    """One metric of one cell on one split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = RECORD_SCHEMA_VERSION
    cell_id: str = Field(description="Hash of the cell identity; filled in when omitted.")
    run_id: str | None = Field(default=None, description="Run that wrote the record.")

    # Cell identity (see CellKey).
    encoder: str = Field(min_length=1)
    encoder_revision: str = Field(min_length=1)
    task: str = Field(min_length=1)
    task_version: str = Field(min_length=1)
    protocol: str = Field(min_length=1)
    fraction: float = Field(ge=0.0, le=1.0)
    seed: int

    split: str = Field(min_length=1, description="Evaluated split, e.g. 'test' or 'val'.")
    metric: str = Field(min_length=1, description="Metric name, e.g. 'auc' or 'ap@0.25/mass'.")
    value: float | None = Field(
        default=None, description="Metric value; None when undefined (NaN)."
    )
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="CI coverage, e.g. 0.95."
    )
    ci_method: str | None = Field(
        default=None, description="E.g. 'percentile bootstrap over patients'."
    )
    n_bootstrap: int | None = Field(
        default=None, ge=0, description="Bootstrap resamples used for the CI."
    )

    status: RecordStatus
    reason: str | None = Field(
        default=None,
        description="Why the value is missing (undefined metric) or why the cell is invalid or "
        "incompatible.",
    )
    error: str | None = Field(default=None, description="Error text when status is 'error'.")

    n_train: int | None = Field(
        default=None, ge=0, description="Training images in the label subset."
    )
    n_train_patients: int | None = Field(default=None, ge=0)
    n_eval: int | None = Field(default=None, ge=0, description="Evaluated images (or breasts).")
    n_eval_patients: int | None = Field(default=None, ge=0)
    subset_hash: str | None = Field(
        default=None, description="Hash of the label subset's image ids."
    )
    cache_key: str | None = Field(
        default=None, description="Embedding cache key, when one was used."
    )

    synthetic: bool = Field(description="True when the data source is the synthetic generator.")
    dataset: str = Field(min_length=1, description="Dataset name, e.g. 'vindr'.")
    data_source: str = Field(
        description="Where the data came from: the generator settings of synthetic data, or "
        "the image count and manifest hash of a real copy (never a local path)."
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_cell_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("cell_id") is None:
            identity = {name: data.get(name) for name in CellKey.model_fields}
            if all(value is not None for value in identity.values()):
                try:
                    data = {**data, "cell_id": cell_id(**identity)}
                except (TypeError, ValueError):
                    pass  # field validation reports the invalid identity field
        return data

    @field_validator("value", "ci_low", "ci_high", mode="before")
    @classmethod
    def _nan_to_none(cls, value: Any) -> Any:
        if value is not None and isinstance(value, (float, np.floating)) and math.isnan(value):
            return None
        if value is not None and isinstance(value, (float, np.floating)) and math.isinf(value):
            raise ValueError(f"value {value} is infinite; metrics are finite or undefined (None)")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> ResultRecord:
        expected = self.key.cell_id
        if self.cell_id != expected:
            raise ValueError(
                f"cell_id '{self.cell_id}' does not match the cell identity (expected "
                f"'{expected}'); omit cell_id to have it computed"
            )
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("set both ci_low and ci_high, or neither")
        if self.ci_low is not None and self.ci_high is not None and self.ci_low > self.ci_high:
            raise ValueError(f"ci_low {self.ci_low} is above ci_high {self.ci_high}")

        if self.status is RecordStatus.OK:
            if self.value is None and not self.reason:
                raise ValueError("a record with status 'ok' and no value needs a reason")
        else:
            if self.value is not None:
                raise ValueError(
                    f"a record with status '{self.status.value}' must not have a value"
                )
            if self.status is RecordStatus.ERROR and not self.error:
                raise ValueError("a record with status 'error' needs the error text")
            if self.status in (RecordStatus.INVALID, RecordStatus.INCOMPATIBLE) and not self.reason:
                raise ValueError(f"a record with status '{self.status.value}' needs a reason")
        return self

    @property
    def key(self) -> CellKey:
        """The cell identity of this record."""
        return CellKey(**{name: getattr(self, name) for name in CellKey.model_fields})

    @property
    def final(self) -> bool:
        """True when rerunning the cell would not change the outcome (see RecordStatus)."""
        return self.status in FINAL_STATUSES


class PluginVersion(BaseModel):
    """A loaded plugin and the distribution that provides it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_point: str
    distribution: str
    version: str


class RunHeader(BaseModel):
    """Provenance of one run: what ran, where, with which versions and configuration."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = RECORD_SCHEMA_VERSION
    run_id: str = Field(description="Unique id of the run, safe as a file name.")
    mammobench_version: str
    git_commit: str | None = Field(
        description="Commit of the mammobench checkout; None outside git."
    )
    git_dirty: bool | None = Field(description="True when tracked files differ from the commit.")
    python_version: str
    platform: str
    hostname: str
    device: str = Field(
        description="Compute device, e.g. 'cuda (NVIDIA H200)' or 'cpu (2 threads)'."
    )
    plugins: list[PluginVersion] = Field(default_factory=list)
    libraries: dict[str, str] = Field(default_factory=dict, description="Library name -> version.")
    seeds: list[int] = Field(default_factory=list)
    config: dict[str, Any] = Field(description="Resolved configuration, JSON-compatible.")
    config_sha256: str = Field(
        description="SHA-256 of the canonical JSON of config; filled when omitted."
    )
    command_line: list[str] = Field(default_factory=list)
    started_at: datetime
    finished_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise_config(cls, data: Any) -> Any:
        if isinstance(data, dict) and "config" in data:
            config = to_jsonable(data["config"])
            data = {**data, "config": config}
            if data.get("config_sha256") is None:
                data["config_sha256"] = config_sha256(config)
        return data

    @field_validator("run_id")
    @classmethod
    def _check_run_id(cls, value: str) -> str:
        if not _RUN_ID_PATTERN.match(value):
            raise ValueError(f"run_id '{value}' is invalid; use letters, digits, '.', '_' and '-'")
        return value

    @model_validator(mode="after")
    def _check_hash(self) -> RunHeader:
        expected = config_sha256(self.config)
        if self.config_sha256 != expected:
            raise ValueError(
                f"config_sha256 '{self.config_sha256}' does not match the config (expected "
                f"'{expected}'); the configuration was changed after hashing"
            )
        if (self.git_commit is None) != (self.git_dirty is None):
            raise ValueError("set git_commit and git_dirty together, or neither")
        return self


def cell_id(
    encoder: str,
    encoder_revision: str,
    task: str,
    task_version: str,
    protocol: str,
    fraction: float,
    seed: int,
) -> str:
    """Return the stable id of a cell: a SHA-256 prefix of its canonical identity.

    The fraction is written with 12 significant digits, so 0.1 and 0.1 + 1e-17 are one cell.
    """
    identity = [
        encoder,
        encoder_revision,
        task,
        task_version,
        protocol,
        f"{float(fraction):.12g}",
        int(seed),
    ]
    digest = hashlib.sha256(canonical_json(identity).encode("utf-8")).hexdigest()
    return digest[:_CELL_ID_LENGTH]


def canonical_json(value: Any) -> str:
    """Serialise a JSON-compatible value with sorted keys and no whitespace, for hashing."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def config_sha256(config: Any) -> str:
    """Return the SHA-256 of the canonical JSON of a configuration."""
    return hashlib.sha256(canonical_json(to_jsonable(config)).encode("utf-8")).hexdigest()


def to_jsonable(value: Any) -> Any:
    """Convert a configuration to plain JSON types.

    Paths become strings, enums their values, tuples lists, sets sorted lists, dates ISO
    strings and numpy scalars Python numbers. Dictionary keys become strings.

    Raises:
        TypeError: A value has no JSON form (e.g. an arbitrary object), or a float is not finite.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"configuration value {value} is not finite; JSON cannot store it")
        return value
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(item) for item in value), key=canonical_json)
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="json"))
    raise TypeError(
        f"configuration value {value!r} of type {type(value).__name__} has no JSON form"
    )


def metric_fields(value: MetricValue, ci: BootstrapCI | None = None) -> dict[str, Any]:
    """Return the record fields for a metric value and its confidence interval.

    Use as ``ResultRecord(**identity, **metric_fields(estimate.value, estimate.ci), ...)``.
    """
    fields: dict[str, Any] = {
        "value": value.value if value.defined else None,
        "reason": value.reason,
        "ci_low": None,
        "ci_high": None,
        "ci_level": None,
        "ci_method": None,
        "n_bootstrap": None,
    }
    if ci is not None:
        fields["ci_level"] = ci.confidence
        fields["ci_method"] = ci.method
        fields["n_bootstrap"] = ci.n_used
        if ci.defined:
            fields["ci_low"] = ci.low
            fields["ci_high"] = ci.high
    return fields


def unfinished_cell_records(
    key: CellKey,
    *,
    status: RecordStatus,
    metrics: list[str],
    message: str,
    split: str = "test",
    dataset: str,
    data_source: str,
    synthetic: bool,
    **fields: Any,
) -> list[ResultRecord]:
    """Build the records of a cell that produced no values: one per metric, without value.

    Args:
        key: The cell.
        status: ``error``, ``invalid`` or ``incompatible``.
        metrics: The metrics the cell would have reported, e.g. the task's metric list.
        message: The error text (status ``error``) or the reason (other statuses).
        split: The split the cell would have evaluated.
        dataset: Dataset name.
        data_source: Where the data came from.
        synthetic: Whether the data is synthetic.
        **fields: Further record fields, e.g. ``n_train`` or ``subset_hash``.
    """
    if status is RecordStatus.OK:
        raise ValueError("unfinished_cell_records is for error, invalid and incompatible cells")
    if not metrics:
        raise ValueError("pass at least one metric name")
    text = {"error": message} if status is RecordStatus.ERROR else {"reason": message}
    return [
        ResultRecord(
            **key.model_dump(),
            split=split,
            metric=metric,
            status=status,
            dataset=dataset,
            data_source=data_source,
            synthetic=synthetic,
            **text,
            **fields,
        )
        for metric in metrics
    ]
