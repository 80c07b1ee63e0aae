"""Synthetic datasets with chosen generator settings, named by a sweep's ``[synthetic]`` table.

Without a data root a dataset uses its built-in synthetic copy, drawn with the generator's
default settings. A sweep can instead ask for other settings, e.g. more patients or a higher
cancer prevalence so that every test split has positives::

    [synthetic.rsna]
    patients = 160
    cancer_prevalence = 0.1

The copy is generated once into ``$MAMMOBENCH_HOME/datasets/<dataset>-synthetic-v<generator
version>-<settings hash>`` and then used as that dataset's data root. As with the default copy,
generation writes into a temporary folder that is renamed when complete, so an interrupted
generation is never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from mammobench import paths
from mammobench.data.roots import load_synthesizer
from mammobench.plugin_host import PluginHost
from mammobench.results.records import canonical_json
from mammobench.synth.config import GENERATOR_VERSION, SynthConfig
from mammobench.synth.runner import MARKER_FILE, default_workers

logger = logging.getLogger(__name__)

_HASH_LENGTH = 12


def synthetic_config(dataset: str, settings: dict[str, Any]) -> SynthConfig:
    """Return the generator settings of a dataset: its layout's defaults with ``settings`` on top.

    Raises:
        ConfigError: The dataset has no synthetic layout or a setting is invalid.
    """
    return SynthConfig.for_layout(dataset, **settings)


def synthetic_root(dataset: str, settings: dict[str, Any]) -> Path:
    """Return the folder of a dataset's synthetic copy with ``settings`` (it may not exist yet)."""
    config = synthetic_config(dataset, settings)
    digest = hashlib.sha256(canonical_json(config.model_dump(mode="json")).encode("utf-8")).hexdigest()
    return paths.datasets_dir() / f"{dataset}-synthetic-v{GENERATOR_VERSION}-{digest[:_HASH_LENGTH]}"


def ensure_synthetic(dataset: str, settings: dict[str, Any], host: PluginHost) -> Path:
    """Generate a dataset's synthetic copy with ``settings`` unless it exists; return its folder.

    Raises:
        ConfigError: A setting is invalid.
        DataError: The dataset has no synthesizer.
    """
    final = synthetic_root(dataset, settings)
    if (final / MARKER_FILE).is_file():
        return final

    spec = host.dataset(dataset)
    synthesizer = load_synthesizer(spec)
    config = synthetic_config(dataset, settings)
    partial = final.parent / f".{final.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    workers = default_workers()
    logger.warning(
        "generating a SYNTHETIC '%s' dataset with the sweep's settings (%d patients) in '%s' with "
        "%d worker(s); this happens once",
        dataset,
        config.patients,
        final,
        workers,
    )
    try:
        synthesizer(partial, config, workers=workers)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        partial.rename(final)
    except OSError:
        if not (final / MARKER_FILE).is_file():
            raise
        shutil.rmtree(partial, ignore_errors=True)  # another process finished the same copy first
    return final
