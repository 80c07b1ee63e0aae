"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one.

The data goes to a temporary file in the target's folder, is flushed and fsynced, and then
``os.replace`` renames it over the target, which POSIX and Windows perform atomically within one
file system. A process killed before the rename leaves only the temporary file, whose name starts
with "." and ends with ".tmp" so that listings skip it; :func:`remove_stale_temp_files` deletes
old ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, replacing any existing file.

    Raises:
        OSError: The folder is not writable or the disk is full; the target is unchanged.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    fsync_folder(path.parent)


def remove_atomic(path: Path) -> bool:
    """Delete ``path`` if it exists and make the deletion durable; return whether it existed."""
    path = Path(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_folder(path.parent)
    return True


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk so a rename or deletion survives a power loss.

    Does nothing where folders cannot be opened (Windows).
    """
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def is_temp_file(path: Path) -> bool:
    """True for the temporary files that :func:`write_atomic` creates."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def remove_stale_temp_files(folder: Path, max_age_s: float) -> int:
    """Delete temporary files older than ``max_age_s`` seconds left by interrupted writes.

    Younger files are kept because another process may still be writing them.

    Returns:
        The number of files deleted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    now = time.time()
    removed = 0
    for candidate in folder.iterdir():
        if not is_temp_file(candidate):
            continue
        try:
            if now - candidate.stat().st_mtime > max_age_s:
                candidate.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # another process finished or removed it
    if removed:
        logger.info(
            "removed %d temporary files left by interrupted writes in '%s'", removed, folder
        )
    return removed
