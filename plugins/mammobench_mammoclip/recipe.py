"""Pretraining recipes: a strict schema for the TOML files in the repository's ``models/`` folder.

A recipe names everything a pretraining run needs: the two towers, the data sources and their
augmentation, the loss weights, the optimiser schedule and the quality check run afterwards.
Unknown keys are rejected, so a misspelt option fails when the recipe is read instead of being
ignored silently.

Recipes are found by name (``mammoclip-demo``) among the recipes shipped with the plugin, or read
from a path (``./my-recipe.toml``). Installed wheels ship them as the package
``mammobench_mammoclip.recipes``; a source checkout reads the repository's ``models/`` folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mammobench.api import ConfigError

RECIPE_PACKAGE = "mammobench_mammoclip.recipes"
RECIPE_SUFFIX = ".toml"

# Per-channel statistics of mammograms rescaled to [0, 1], from the Mammo-CLIP reference
# configuration (base.mean and base.std in its pre_train_b5_clip.yaml).
MAMMOCLIP_MEAN = 0.3089279
MAMMOCLIP_STD = 0.25053555408335154


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextConfig(_Strict):
    """The text tower: a local pretrained BERT-style model, or a small BERT trained from scratch.

    With neither ``pretrained_path`` nor the variable named by ``pretrained_path_env`` set, the
    tower is a BERT built from the size fields below with a WordPiece vocabulary learnt from the
    pretraining corpus.
    """

    pretrained_path: str | None = Field(
        default=None, description="Local folder of a transformers model and its tokenizer."
    )
    pretrained_path_env: str | None = Field(
        default=None,
        description="Environment variable that names the local folder when pretrained_path is unset.",
    )
    require_pretrained: bool = Field(
        default=False,
        description="Fail instead of training a small BERT from scratch when no folder is configured.",
    )
    pooling: Literal["eos", "bos", "mean"] = Field(
        default="eos",
        description="'eos': hidden state of the last non-padding token ([SEP] for BERT), as "
        "Mammo-CLIP; 'bos': first token; 'mean': mean over non-padding tokens.",
    )
    max_length: int = Field(default=128, gt=2, description="Tokens per text, longer texts are cut.")
    vocab_size: int = Field(default=1000, gt=10, description="WordPiece vocabulary size (from scratch).")
    hidden_size: int = Field(default=128, gt=0)
    num_layers: int = Field(default=2, gt=0)
    num_heads: int = Field(default=2, gt=0)
    intermediate_size: int = Field(default=256, gt=0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check_heads(self) -> TextConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"text.hidden_size {self.hidden_size} is not divisible by text.num_heads {self.num_heads}"
            )
        return self

    def resolved_pretrained_path(self) -> Path | None:
        """Return the configured pretrained folder, or None to train a text tower from scratch."""
        if self.pretrained_path:
            return Path(self.pretrained_path).expanduser()
        if self.pretrained_path_env and os.environ.get(self.pretrained_path_env):
            return Path(os.environ[self.pretrained_path_env]).expanduser()
        return None


class ModelConfig(_Strict):
    """Both towers and the joint embedding space."""

    image_architecture: str = Field(description="timm EfficientNet-family model name.")
    image_weights: str | None = Field(
        default=None,
        description="Local timm weights file for the image tower (e.g. ImageNet); random init when unset.",
    )
    in_chans: int = Field(default=3, gt=0, description="Image channels; grayscale is replicated.")
    image_mean: float = MAMMOCLIP_MEAN
    image_std: float = Field(default=MAMMOCLIP_STD, gt=0.0)
    embed_dim: int = Field(default=512, gt=0, description="Size of the joint image-text space.")
    temperature: float = Field(default=0.07, gt=0.0, description="Initial softmax temperature.")
    text: TextConfig = Field(default_factory=TextConfig)


class SourceConfig(_Strict):
    """One dataset used for pretraining."""

    dataset: str = Field(description="Dataset name, e.g. 'vindr'; synthetic when no root is set.")
    root: str | None = Field(default=None, description="Data root; overrides the dataset's default.")
    reports: bool = Field(default=True, description="Use image-report pairs from its reports CSV.")
    reports_csv: str | None = Field(
        default=None, description="Reports CSV path; by default reports.csv in the dataset's root."
    )
    synthesize: bool = Field(
        default=True, description="Turn its labels into synthesized reports (image-label data)."
    )

    @model_validator(mode="after")
    def _check_some_text(self) -> SourceConfig:
        if not (self.reports or self.synthesize):
            raise ValueError(f"source '{self.dataset}' sets reports and synthesize to false; enable one")
        return self


class AugmentationConfig(_Strict):
    """Image augmentation applied independently to each of the two views of a breast.

    Defaults keep anatomy plausible: small rotations, shifts and zooms, mild intensity changes and
    no flips. A vertical flip moves the pectoral muscle of an MLO view to the wrong corner, and
    a horizontal flip moves the chest wall away from the side preprocessing puts it on.
    """

    rotate_degrees: float = Field(default=10.0, ge=0.0, le=45.0)
    translate_fraction: float = Field(default=0.05, ge=0.0, le=0.3)
    scale_range: tuple[float, float] = (0.9, 1.1)
    shear_degrees: float = Field(default=5.0, ge=0.0, le=30.0)
    brightness: float = Field(default=0.1, ge=0.0, le=0.5, description="Max additive change.")
    contrast: float = Field(default=0.1, ge=0.0, le=0.5, description="Max relative change.")
    horizontal_flip: float = Field(default=0.0, ge=0.0, le=1.0, description="Probability.")
    vertical_flip: float = Field(default=0.0, ge=0.0, le=1.0, description="Probability.")

    @field_validator("scale_range")
    @classmethod
    def _check_scale(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 < low <= high:
            raise ValueError(f"scale_range {list(value)} is invalid; expected 0 < low <= high")
        return value


class DataConfig(_Strict):
    """Sources of image-text pairs and their augmentation."""

    profile: str = Field(default="tiny", description="Resolution profile, e.g. 'tiny' or 'paper'.")
    sources: list[SourceConfig] = Field(min_length=1)
    sentence_dropout: float = Field(
        default=0.2, ge=0.0, lt=1.0, description="Probability of dropping each sentence (one is always kept)."
    )
    shuffle_sentences: bool = True
    include_negatives: bool = Field(
        default=True, description="Synthesized reports mention absent findings ('No mass is seen.')."
    )
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    validation_fraction: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description="Share of training patients moved to a validation split when a source has none.",
    )
    max_breasts: int | None = Field(
        default=None, gt=1, description="Use at most this many breasts per split (quick runs and tests)."
    )


class LossConfig(_Strict):
    """Weights of the Mammo-CLIP loss terms (reference configs/loss/breast_clip.yaml)."""

    image_image_weight: float = Field(default=1.0, ge=0.0)
    text_text_weight: float = Field(default=0.5, ge=0.0)
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)


class TrainConfig(_Strict):
    """Optimiser, schedule and loop settings."""

    epochs: int = Field(gt=0)
    batch_size: int = Field(gt=1, description="Breasts per step and device; each gives two images.")
    learning_rate: float = Field(gt=0.0)
    weight_decay: float = Field(default=1e-4, ge=0.0)
    warmup_epochs: float = Field(default=1.0, ge=0.0, description="Linear warm-up, then cosine decay.")
    max_grad_norm: float | None = Field(default=None, gt=0.0)
    amp: bool = Field(default=True, description="Mixed precision; used on CUDA only.")
    seed: int = 10
    num_workers: int = Field(default=0, ge=0)
    validate_every_steps: int = Field(
        default=0, ge=0, description="Validation loss every N steps; 0 means once per epoch."
    )
    device: str = Field(default="auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")


class QualityConfig(_Strict):
    """A check run after pretraining: linear probe against random init, and zero-shot AUC."""

    enabled: bool = False
    dataset: str = "vindr"
    label_fraction: float = Field(default=0.1, gt=0.0, le=1.0)
    labels: list[str] = Field(default_factory=lambda: ["mass", "calcification"])
    zero_shot_labels: list[str] = Field(default_factory=lambda: ["mass"])
    seed: int = 0


class Recipe(_Strict):
    """A complete pretraining recipe."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", description="Output folder name.")
    description: str = ""
    model: ModelConfig
    data: DataConfig
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig
    quality: QualityConfig = Field(default_factory=QualityConfig)

    def digest(self) -> str:
        """Return a SHA-256 of the recipe's content, for checking that a resumed run matches."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_toml(self) -> str:
        """Return the recipe as TOML text that :func:`load_recipe` reads back unchanged."""
        return dump_toml(self.model_dump(mode="json", exclude_none=True))


def load_recipe(reference: str | Path) -> Recipe:
    """Read a recipe by name (``mammoclip-demo``) or from a TOML file path.

    Raises:
        ConfigError: The name is unknown, the file is unreadable, or a value is invalid.
    """
    path = Path(reference).expanduser()
    if path.suffix == RECIPE_SUFFIX or path.is_file():
        if not path.is_file():
            raise ConfigError(f"recipe file '{path}' not found")
        return parse_recipe(path.read_text(encoding="utf-8"), source=str(path))

    shipped = shipped_recipes()
    if str(reference) not in shipped:
        known = ", ".join(sorted(shipped)) or "none"
        raise ConfigError(
            f"unknown recipe '{reference}'; choose one of: {known}, or give a path to a .toml file"
        )
    return parse_recipe(shipped[str(reference)].read_text(encoding="utf-8"), source=str(reference))


def parse_recipe(text: str, *, source: str) -> Recipe:
    """Validate TOML text as a :class:`Recipe`; ``source`` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"recipe '{source}' is not valid TOML: {error}") from error
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "top level"
        raise ConfigError(
            f"recipe '{source}': {location}: {first['msg']} ({error.error_count()} problem(s) in total)"
        ) from error


def shipped_recipes() -> dict[str, Any]:
    """Return recipe name -> readable file for every recipe shipped with the plugin.

    Installed wheels carry the recipes as the package ``mammobench_mammoclip.recipes``. A source
    checkout (including an editable install) has no such package files, so the repository's
    ``models/`` folder next to ``plugins/`` is read instead.
    """
    found: dict[str, Any] = {}
    try:
        for entry in resources.files(RECIPE_PACKAGE).iterdir():
            if entry.name.endswith(RECIPE_SUFFIX):
                found[entry.name[: -len(RECIPE_SUFFIX)]] = entry
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    if found:
        return found

    repository_models = Path(__file__).resolve().parents[2] / "models"
    if repository_models.is_dir():
        for path in sorted(repository_models.glob(f"*{RECIPE_SUFFIX}")):
            found[path.stem] = path
    return found


def dump_toml(document: dict[str, Any]) -> str:
    """Write nested dicts of strings, numbers, booleans and lists as TOML.

    The standard library reads TOML (``tomllib``) but cannot write it. Recipes hold only tables,
    arrays of tables and scalar arrays, which this writer covers.
    """
    lines: list[str] = []
    _dump_table(document, [], lines)
    return "\n".join(lines).strip() + "\n"


def _dump_table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not _is_table(v) and not _is_table_array(v)}
    for key, value in scalars.items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")

    for key, value in table.items():
        if _is_table(value):
            lines.append("")
            lines.append("[" + ".".join(_toml_key(part) for part in [*path, key]) + "]")
            _dump_table(value, [*path, key], lines)
        elif _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append("[[" + ".".join(_toml_key(part) for part in [*path, key]) + "]]")
                _dump_table(item, [*path, key], lines)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} value {value!r} as TOML")
