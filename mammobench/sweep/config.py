"""The sweep configuration: a TOML file, validated, with command-line values on top.

A sweep file names the encoders, tasks, protocols, label fractions and seeds to cross, plus the
settings shared by every run and how to execute them::

    name = "synthetic"
    encoders = ["mammoclip", "random/efficientnet_b0"]
    tasks = ["vindr-mass", "rsna-cancer"]
    protocols = ["default"]          # each task's default protocol
    fractions = [0.1, 0.5, 1.0]
    seeds = [0, 1, 2]
    results = "results"              # relative to the sweep file

    [data_roots]                     # dataset -> folder; default: environment, else synthetic
    [synthetic.rsna]                 # generator settings of a synthetic copy, e.g. patients
    [weights]                        # encoder -> weights file or trained model folder
    [settings]                       # profile, batch_size, device, bootstrap, ...
    [executor]                       # kind = "local" or "ray", jobs, address, max_retries, ...

Unknown keys are rejected, so a typo fails before anything runs. Relative paths in the file are
relative to the file's folder; relative paths given on the command line are relative to the
current folder.

The resolved configuration is saved next to the results. Its ``experiment`` part is hashed:
everything that can change a result, with paths as written in the file. The results folder and
the executor are saved but not hashed, because the same cells give the same records wherever
they are stored and whichever machine runs them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from mammobench.errors import ConfigError
from mammobench.results.records import config_sha256, to_jsonable

# At least this many bootstrap resamples back every confidence interval of a sweep.
MIN_BOOTSTRAP = 1000

# Protocol entry that stands for each task's default protocol.
DEFAULT_PROTOCOL = "default"

# Maximum seed that NumPy and scikit-learn accept as a random state.
MAX_SEED = 2**32 - 1

ExecutorKind = Literal["local", "ray"]


class SweepSettings(BaseModel):
    """Options shared by every run of the sweep (the ``[settings]`` table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = Field(default="tiny", description="Resolution profile: tiny, medium or paper.")
    batch_size: int = Field(default=16, ge=1, description="Images per batch.")
    workers: int | None = Field(
        default=None, ge=0, description="Data loading worker processes per run; None: default."
    )
    device: str = Field(default="auto", description="Torch device: auto, cpu, cuda, cuda:1, mps.")
    precision: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="Forward precision of frozen feature extraction."
    )
    bootstrap: int = Field(
        default=MIN_BOOTSTRAP,
        ge=MIN_BOOTSTRAP,
        description="Bootstrap resamples over patients for 95 % confidence intervals.",
    )
    epochs: int | None = Field(default=None, ge=1, description="Training epochs; protocol default.")
    learning_rate: float | None = Field(default=None, gt=0, description="Peak learning rate.")
    freeze_backbone: bool = Field(default=True, description="Detection: keep the encoder frozen.")


class ExecutorSettings(BaseModel):
    """Executor settings (the ``[executor]`` table); they never change a result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ExecutorKind = Field(default="local", description="'local' or 'ray'.")
    jobs: int = Field(
        default=1,
        ge=1,
        description="Local executor: worker processes; 1 runs every cell in this process.",
    )
    address: str | None = Field(
        default=None,
        description="Ray: address of a running cluster, e.g. 'auto' or 'ray://head:10001'; "
        "None starts a local Ray instance.",
    )
    max_retries: int = Field(
        default=2, ge=0, description="Ray: retries of a task whose worker died or raised."
    )
    probe_gpus: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Ray: share of a GPU for each light task (linear-probe or zero-shot cells "
        "reading cached embeddings) when the cluster has GPUs; embedding and training tasks get "
        "one GPU.",
    )
    cpus_per_task: float = Field(default=1.0, gt=0, description="Ray: CPUs reserved per task.")


class SweepConfig(BaseModel):
    """A validated sweep file. See the module docstring for the layout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Name of the sweep, used in titles and logs.")
    description: str = Field(default="", description="One sentence shown in leaderboards.")
    encoders: list[str] = Field(min_length=1, description="Encoder names.")
    tasks: list[str] = Field(min_length=1, description="Task names.")
    protocols: list[str] = Field(
        default_factory=lambda: [DEFAULT_PROTOCOL],
        min_length=1,
        description="Protocols; 'default' is each task's default. A protocol that a task does "
        "not support is skipped for that task.",
    )
    fractions: list[float] = Field(
        default_factory=lambda: [1.0], min_length=1, description="Label fractions in (0, 1]."
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    results: str | None = Field(
        default=None, description="Results folder; default: $MAMMOBENCH_HOME/results."
    )
    data_roots: dict[str, str] = Field(
        default_factory=dict, description="Dataset name -> data root folder."
    )
    synthetic: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Dataset name -> synthetic generator settings (e.g. patients, "
        "cancer_prevalence): the sweep generates that copy once and uses it as the data root.",
    )
    weights: dict[str, str] = Field(
        default_factory=dict, description="Encoder name -> weights file or trained model folder."
    )
    trust_pickle: bool = Field(
        default=False, description="Allow pickled checkpoints (they can run code when loaded)."
    )
    settings: SweepSettings = Field(default_factory=SweepSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)

    # Folder that relative paths are resolved against: the sweep file's folder.
    _base: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("encoders", "tasks", "protocols")
    @classmethod
    def _check_names(cls, value: list[str]) -> list[str]:
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise ValueError(f"{', '.join(duplicates)} listed more than once")
        return value

    @field_validator("fractions")
    @classmethod
    def _check_fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0.0 < fraction <= 1.0:
                raise ValueError(f"label fraction {fraction} is invalid; use values in (0, 1]")
        return sorted(set(value))

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, value: list[int]) -> list[int]:
        for seed in value:
            if not 0 <= seed <= MAX_SEED:
                raise ValueError(f"seed {seed} is invalid; use integers from 0 to {MAX_SEED}")
        return sorted(set(value))

    @property
    def base(self) -> Path:
        """Folder that relative paths in the configuration are resolved against."""
        return self._base

    def with_base(self, base: Path | str) -> SweepConfig:
        """Return a copy whose relative paths resolve against ``base``."""
        copy = self.model_copy()
        copy._base = Path(base)
        return copy

    def resolve(self, value: str | None) -> Path | None:
        """Return a configured path made absolute against :attr:`base` (None stays None)."""
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self._base / path).absolute()

    def experiment(self) -> dict[str, Any]:
        """Return the part of the configuration that can change results, JSON-compatible."""
        values = self.model_dump(mode="json", exclude={"executor", "results"})
        return to_jsonable(values)

    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`experiment`."""
        return config_sha256(self.experiment())


def load_sweep_config(path: Path | str, overrides: dict[str, Any] | None = None) -> SweepConfig:
    """Read a sweep file and apply command-line values on top of it.

    Args:
        path: The TOML file.
        overrides: Values that replace the file's, keyed like the file; nested tables
            (``settings``, ``executor``, ``data_roots``, ``weights``) are merged key by key.
            None values are ignored, so unset options keep the file's value.

    Returns:
        The validated configuration. Paths keep their written form; relative ones resolve
        against the file's folder (see :meth:`SweepConfig.resolve`), so paths in ``overrides``
        should be absolute.

    Raises:
        ConfigError: The file is missing, is not valid TOML, or fails validation.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file '{path}' does not exist; pass --config PATH to a TOML file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"sweep file '{path}' is not valid TOML: {error}") from None

    data = merge_overrides(data, overrides or {})
    config = validate_sweep_config(data, source=str(path))
    return config.with_base(path.parent.absolute())


def validate_sweep_config(data: dict[str, Any], *, source: str = "sweep config") -> SweepConfig:
    """Validate a sweep configuration given as a dictionary.

    Raises:
        ConfigError: A key is unknown or a value is invalid; the message lists every problem.
    """
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'top level'}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"{source} is invalid: {problems}") from None


def merge_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` with the non-None values of ``overrides`` on top (tables merged)."""
    merged = dict(data)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            table = dict(merged[key])
            table.update({name: item for name, item in value.items() if item is not None})
            merged[key] = table
        elif isinstance(value, dict):
            merged[key] = {name: item for name, item in value.items() if item is not None}
        else:
            merged[key] = value
    return merged
