"""Collect the provenance of a run into a :class:`RunHeader`.

The header stores what a reader needs to trust or reproduce a result. That is the mammobench
version and git commit, plugin and library versions, the device and the seeds. It also stores the
resolved configuration with its SHA-256, the command line, the host name and the start and end
times.
"""

from __future__ import annotations

import logging
import platform
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import mammobench
from mammobench.results.records import PluginVersion, RunHeader

logger = logging.getLogger(__name__)

# Libraries whose versions can change results.
LIBRARIES = (
    "torch",
    "torchvision",
    "timm",
    "transformers",
    "tokenizers",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "pycocotools",
    "torchmetrics",
    "pydicom",
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-libjpeg",
    "pylibjpeg-rle",
    "pillow",
    "pydantic",
    "pluggy",
    "ray",
)

_GIT_TIMEOUT_S = 10


def collect_run_header(
    config: dict[str, Any],
    *,
    seeds: Iterable[int] = (),
    device: str | None = None,
    command_line: Sequence[str] | None = None,
    run_id: str | None = None,
    started_at: datetime | None = None,
    plugins: Sequence[PluginVersion] | None = None,
) -> RunHeader:
    """Build the header of a run that starts now.

    Args:
        config: The resolved configuration (JSON-compatible after path and enum conversion).
        seeds: Seeds the run uses.
        device: The device the run computes on; described from torch when None.
        command_line: The command line; ``sys.argv`` when None.
        run_id: Run id; a new time-based id when None.
        started_at: Start time; now (UTC) when None.
        plugins: Loaded plugins; read from the process-wide plugin host when None.

    Returns:
        The header with ``finished_at`` unset; see :func:`finish_run_header`.
    """
    started = started_at or datetime.now(timezone.utc)
    commit, dirty = git_state()
    return RunHeader(
        run_id=run_id or new_run_id(started),
        mammobench_version=mammobench.__version__,
        git_commit=commit,
        git_dirty=dirty,
        python_version=platform.python_version(),
        platform=platform.platform(),
        hostname=socket.gethostname(),
        device=device or describe_device(),
        plugins=list(plugins) if plugins is not None else plugin_versions(),
        libraries=library_versions(),
        seeds=sorted({int(seed) for seed in seeds}),
        config=config,
        command_line=list(command_line) if command_line is not None else list(sys.argv),
        started_at=started,
    )


def finish_run_header(header: RunHeader, finished_at: datetime | None = None) -> RunHeader:
    """Return a copy of the header with its end time set (now, UTC, when None)."""
    return header.model_copy(update={"finished_at": finished_at or datetime.now(timezone.utc)})


def new_run_id(now: datetime | None = None) -> str:
    """Return a run id such as '20250101T120000Z-1a2b3c4d': UTC time plus a random suffix."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def git_state(source_root: Path | None = None) -> tuple[str | None, bool | None]:
    """Return (commit, dirty) of the git checkout that mammobench runs from.

    Only a checkout whose top level is the folder containing the ``mammobench`` package counts,
    so an installed copy inside some other repository (a project's virtual environment) reports
    None. Dirty means tracked files differ from the commit; untracked files are ignored.

    Args:
        source_root: Folder to inspect; the parent of the mammobench package when None.

    Returns:
        ``(commit, dirty)``, or ``(None, None)`` outside a checkout or when git is unavailable.
    """
    root = (source_root or Path(mammobench.__file__).resolve().parent.parent).resolve()
    try:
        top_level = _git(root, "rev-parse", "--show-toplevel")
        if Path(top_level).resolve() != root:
            return None, None
        commit = _git(root, "rev-parse", "HEAD")
        changes = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError) as error:
        logger.debug("no git provenance for '%s': %s", root, error)
        return None, None
    return commit, bool(changes)


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """Return the installed version of each named library; missing libraries are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def plugin_versions() -> list[PluginVersion]:
    """Return the plugins loaded by the process-wide plugin host."""
    from mammobench.plugin_host import get_host

    return [
        PluginVersion(
            entry_point=info.entry_point, distribution=info.distribution, version=info.version
        )
        for info in get_host().plugins
    ]


def describe_device() -> str:
    """Describe the best available compute device, e.g. 'cuda (NVIDIA H200; CUDA 12.4)'."""
    try:
        import torch
    except ImportError:
        return "cpu (torch not importable)"
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"cuda ({', '.join(names)}; CUDA {torch.version.cuda})"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return f"cpu ({torch.get_num_threads()} threads)"


def _git(root: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(root), *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=_GIT_TIMEOUT_S,
    )
    return completed.stdout.strip()
