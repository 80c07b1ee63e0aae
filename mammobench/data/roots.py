"""Finding a dataset's files and loading its manifest, with a synthetic default.

The data root of a dataset is, in order of precedence:

1. the ``data_root`` argument (the CLI's ``--data-root``);
2. the environment variable the dataset names in ``DatasetSpec.root_env``, e.g.
   ``MAMMOBENCH_VINDR_ROOT``;
3. the built-in synthetic copy in ``<MAMMOBENCH_HOME>/datasets/<name>-synthetic-v<version>``,
   generated once by the dataset's synthesizer the first time it is needed.

A manifest is marked synthetic whenever its root contains a ``SYNTHETIC.json`` marker, so results on
synthetic data are labelled as such wherever they appear, whichever way the root was chosen.

A synthesizer is a function ``write_synthetic(out, config=None, progress=None, *, workers=None)``
that writes the dataset's real layout into ``out``; ``config=None`` means its default settings.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mammobench import paths
from mammobench.data.manifest import Manifest
from mammobench.errors import DataError
from mammobench.plugin_host import get_host
from mammobench.specs import DatasetSpec
from mammobench.synth.config import GENERATOR_VERSION
from mammobench.synth.runner import MARKER_FILE, default_workers

logger = logging.getLogger(__name__)

# Datasets whose synthetic notice was already logged by this process.
_ANNOUNCED: set[str] = set()

_TEMPORARY_PATTERN = re.compile(r"^\.(?P<name>.+)-synthetic-v(?P<version>\d+)\.partial-(?P<pid>\d+)$")


def load_dataset(name: str, data_root: Path | str | None = None) -> Manifest:
    """Load the manifest of a registered dataset.

    Args:
        name: Registered dataset name, e.g. ``"vindr"``.
        data_root: Folder holding the dataset in one of its layouts. None uses the dataset's
            environment variable, else the built-in synthetic copy (generated on first use).

    Returns:
        The validated manifest; ``manifest.synthetic`` is True when the root has a
        ``SYNTHETIC.json`` marker.

    Raises:
        UnknownNameError: No plugin registered ``name``.
        DataError: The configured root does not exist, or no root is configured and the
            dataset has no synthesizer.
    """
    spec = get_host().dataset(name)
    root = resolve_data_root(spec, data_root)

    adapter = spec.load()
    manifest = adapter(root)
    if is_synthetic(root):
        manifest.synthetic = True
    return manifest


def resolve_data_root(spec: DatasetSpec, data_root: Path | str | None = None) -> Path:
    """Return the data root of a dataset, generating the default synthetic copy if needed.

    Raises:
        DataError: The root named by the argument or the environment variable does not exist,
            or nothing is configured and the dataset has no synthesizer.
    """
    if data_root is not None and str(data_root) != "":
        return _existing_folder(Path(data_root).expanduser(), f"data root for dataset '{spec.name}'", spec)

    if spec.root_env:
        configured = os.environ.get(spec.root_env, "").strip()
        if configured:
            return _existing_folder(Path(configured).expanduser(), f"{spec.root_env}", spec)

    if spec.synthesizer is None:
        hint = f" or set {spec.root_env}" if spec.root_env else ""
        raise DataError(
            f"no data root configured for dataset '{spec.name}' and it has no synthetic "
            f"default; pass --data-root DIR{hint}"
        )
    return default_synthetic_root(spec)


def default_synthetic_root(spec: DatasetSpec) -> Path:
    """Return the built-in synthetic copy of a dataset, generating it once when missing.

    Generation writes into a temporary folder next to the final one and renames it when done,
    so an interrupted generation is never used. Temporary folders left by processes that no
    longer run are removed first.
    """
    datasets = paths.datasets_dir()
    final = datasets / f"{spec.name}-synthetic-v{GENERATOR_VERSION}"
    if not (final / MARKER_FILE).is_file():
        _remove_abandoned_partials(datasets, spec.name)
        _generate(spec, final)
    _announce(spec, final)
    return final


def is_synthetic(root: Path | str) -> bool:
    """Return True when ``root`` contains a ``SYNTHETIC.json`` marker."""
    return (Path(root) / MARKER_FILE).is_file()


def load_synthesizer(spec: DatasetSpec) -> Callable[..., Any]:
    """Import and return the synthesizer function named by ``spec.synthesizer``.

    Raises:
        DataError: The dataset has no synthesizer or it cannot be imported.
    """
    if spec.synthesizer is None:
        raise DataError(f"dataset '{spec.name}' has no synthetic data generator")
    module_name, _, attribute = spec.synthesizer.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise DataError(
            f"dataset '{spec.name}': synthesizer '{spec.synthesizer}' failed to load ({error}); "
            "reinstall the plugin that provides it"
        ) from error
    return target


def _generate(spec: DatasetSpec, final: Path) -> None:
    synthesizer = load_synthesizer(spec)
    partial = final.parent / f".{final.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)

    workers = default_workers()
    logger.warning(
        "no data root configured for dataset '%s': generating the built-in SYNTHETIC dataset "
        "in '%s' with %d worker(s); this happens once and takes a few minutes",
        spec.name,
        final,
        workers,
    )
    try:
        synthesizer(partial, None, workers=workers)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise

    try:
        partial.rename(final)
    except OSError:
        # Another process finished the same dataset first; its copy is identical.
        if (final / MARKER_FILE).is_file():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            raise


def _announce(spec: DatasetSpec, root: Path) -> None:
    if spec.name in _ANNOUNCED:
        return
    _ANNOUNCED.add(spec.name)
    how = "--data-root DIR"
    if spec.root_env:
        how += f" or set {spec.root_env}=DIR"
    logger.warning(
        "dataset '%s' is SYNTHETIC: using the built-in generated copy at '%s'. Results on it are "
        "labelled synthetic and say nothing about real performance. To use real data, pass %s.",
        spec.name,
        root,
        how,
    )


def _existing_folder(path: Path, what: str, spec: DatasetSpec) -> Path:
    if not path.is_dir():
        where = "does not exist" if not path.exists() else "is not a folder"
        raise DataError(
            f"{what} '{path}' {where}; point it at the folder that contains '{spec.name}' in one of "
            f"its layouts ({', '.join(spec.layouts) or 'see the dataset documentation'})"
        )
    return path


def _remove_abandoned_partials(datasets: Path, name: str) -> None:
    for entry in datasets.iterdir():
        match = _TEMPORARY_PATTERN.match(entry.name)
        if match is None or match.group("name") != name or not entry.is_dir():
            continue
        pid = int(match.group("pid"))
        if pid != os.getpid() and _process_alive(pid):
            continue
        logger.info("removing '%s', left by an interrupted synthetic data generation", entry)
        shutil.rmtree(entry, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the process exists but belongs to another user
        return True
    return True
