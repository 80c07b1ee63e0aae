"""Plugin specs: validated metadata plus a lazy loader for datasets, encoders and tasks.

A spec is cheap to build and to list. The object it describes (a dataset adapter, an encoder, a
task) is created only when :meth:`_Spec.load` imports the module named in ``loader``, so
``mammobench list`` never imports model code or reads weights.
"""

from __future__ import annotations

import importlib
import re
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mammobench.errors import MammobenchError

_LOADER_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-/]*:?$")


class Capability(str, Enum):
    """What an encoder can produce, and what a task or protocol needs."""

    GLOBAL = "global"  # image -> embedding vector
    DENSE = "dense"  # image -> multi-scale feature maps with known strides and channels
    TEXT = "text"  # texts -> embeddings in the image embedding space


class _Spec(BaseModel):
    """Fields shared by every spec. Unknown fields are rejected, so typos fail at load time."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    name: str = Field(description="Unique name used on the command line, e.g. 'vindr-mass'.")
    description: str = Field(description="One sentence shown by 'mammobench list'.")
    loader: str = Field(
        description="'package.module:attribute' of a factory that builds the object. "
        "Imported only when the object is needed."
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME_PATTERN.match(value):
            raise ValueError(
                f"name '{value}' is invalid; use lower-case letters, digits and '-', '_', '.', '/'"
            )
        return value

    @field_validator("loader")
    @classmethod
    def _check_loader(cls, value: str) -> str:
        if not _LOADER_PATTERN.match(value):
            raise ValueError(f"loader '{value}' is invalid; expected 'package.module:attribute'")
        return value

    def load(self) -> Any:
        """Import the module named by ``loader`` and return the attribute it names."""
        module_name, _, attribute_path = self.loader.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
        except ImportError as error:
            raise MammobenchError(
                f"{type(self).__name__} '{self.name}': loader module '{module_name}' failed to "
                f"import ({error}); reinstall the plugin that provides it"
            ) from error
        for part in attribute_path.split("."):
            try:
                target = getattr(target, part)
            except AttributeError as error:
                raise MammobenchError(
                    f"{type(self).__name__} '{self.name}': loader '{self.loader}' names "
                    f"'{part}', which module '{module_name}' does not define"
                ) from error
        return target


class DatasetSpec(_Spec):
    """A dataset layout adapter: how to read one dataset from disk into the harmonised manifest.

    The loader returns a callable ``adapter(root: Path) -> Manifest``.
    """

    homepage: str | None = Field(default=None, description="Where to request or download the data.")
    license: str | None = Field(default=None, description="Licence of the images and labels.")
    layouts: list[str] = Field(
        default_factory=list,
        description="On-disk layouts the adapter recognises, e.g. 'dicom', 'mammoclip-png'.",
    )
    root_env: str | None = Field(
        default=None,
        description="Environment variable that may name the data root, e.g. 'MAMMOBENCH_VINDR_ROOT'.",
    )
    synthesizer: str | None = Field(
        default=None,
        description="'package.module:attribute' of a function that writes a synthetic copy of "
        "this dataset in its real layout; used when no data root is configured.",
    )

    @field_validator("synthesizer")
    @classmethod
    def _check_synthesizer(cls, value: str | None) -> str | None:
        if value is not None and not _LOADER_PATTERN.match(value):
            raise ValueError(f"synthesizer '{value}' is invalid; expected 'package.module:attribute'")
        return value


class EncoderSpec(_Spec):
    """An image encoder (optionally with a text tower), described like a model card.

    The loader returns a factory ``build(spec, argument, options) -> Encoder``; see
    :mod:`mammobench.encoders.base` for the encoder contract.
    """

    capabilities: list[Capability] = Field(description="What the encoder can produce.")
    architecture: str = Field(description="Backbone architecture, e.g. 'tf_efficientnet_b5'.")
    pretraining_datasets: list[str] = Field(
        default_factory=list,
        description="Datasets the encoder saw in pretraining (images or labels). Leaderboards "
        "mark results on these datasets because they are not held-out evaluations.",
    )
    weights: str = Field(
        default="none",
        description="Where the weights come from: 'none' (random init), 'local file', "
        "'trained in mammobench', ...",
    )
    license: str | None = Field(default=None, description="Licence of the weights.")
    reference: str | None = Field(default=None, description="Paper or model card URL.")
    parameters_millions: float | None = Field(default=None, ge=0)
    takes_argument: bool = Field(
        default=False,
        description="True for parametric names such as 'timm:<model>' or 'hf:<path>': the spec "
        "name ends with ':' and the text after it is passed to the factory.",
    )

    @field_validator("capabilities")
    @classmethod
    def _check_capabilities(cls, value: list[Capability]) -> list[Capability]:
        if not value:
            raise ValueError("an encoder must declare at least one capability")
        return value


TaskKind = Literal["classification", "detection", "factor", "factor-localization"]


class TaskSpec(_Spec):
    """A benchmark task: a dataset, its labels and splits, protocols and metrics.

    The loader returns a zero-argument factory that builds the task object (see
    :mod:`mammobench.tasks.base`).
    """

    version: str = Field(
        description="Changes whenever the task's splits, labels or metrics change, so results "
        "from different versions are never mixed."
    )
    dataset: str = Field(description="Name of the DatasetSpec the task reads.")
    kind: TaskKind
    capabilities: list[Capability] = Field(description="Encoder capabilities the task needs.")
    protocols: list[str] = Field(description="Protocols the task supports, default first.")
    main_metric: str = Field(description="Metric used for tables and rankings, e.g. 'auc'.")
    higher_is_better: bool = True
    metrics: list[str] = Field(default_factory=list, description="Every metric the task reports.")

    @field_validator("protocols")
    @classmethod
    def _check_protocols(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a task must support at least one protocol")
        return value

    @property
    def default_protocol(self) -> str:
        return self.protocols[0]
