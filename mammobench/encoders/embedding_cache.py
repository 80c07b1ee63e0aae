"""Content-addressed, on-disk cache of embeddings and feature maps.

An entry is a folder named by the SHA-256 of its :class:`CacheKey` under
``MAMMOBENCH_HOME/embeddings``. It holds one ``.npy`` file per array (memory-mappable, rows in
the order of ``ids``) and ``meta.json`` with the key fields, ids, failed images, per-file SHA-256
checksums and the creation time. A writer fills a temporary folder and renames it into place
when complete, so readers never see a half-written entry; a crashed run leaves only a ``.tmp-``
folder that ``prune`` removes.

Arrays are appended row by row with plain file writes (see :mod:`mammobench.encoders.npy_append`),
so writing a large entry does not grow the writer's resident memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mammobench import paths
from mammobench.data.manifest import Manifest
from mammobench.encoders.npy_append import NPY_HEADER_BYTES, NpyAppender
from mammobench.encoders.weights import file_sha256
from mammobench.errors import DataError

logger = logging.getLogger(__name__)

# Bump when the layout of an entry or the meaning of a key field changes; old entries then miss.
CACHE_SCHEMA_VERSION = 1

META_FILE = "meta.json"
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class CacheKey:
    """Everything that determines a cached array. Any change gives a new entry.

    Attributes:
        kind: ``'embeddings'`` or ``'feature-maps'``.
        encoder: Encoder name, e.g. ``'random/efficientnet_b0'``.
        encoder_revision: Weights checksum or random-init revision of the encoder.
        dataset: Dataset name, for listings (the manifest hash already covers it).
        manifest_hash: :meth:`Manifest.content_hash` of the full manifest.
        split: Split name, or ``'all'``.
        profile: Resolution profile name and size, e.g. ``'tiny-256x160'``.
        preprocessing_version: Version of the preprocessing code that made the images.
        dtype: Storage dtype of the arrays, e.g. ``'float32'``.
        precision: Compute precision of the forward pass, e.g. ``'float32'`` or ``'bfloat16'``.
        options: Further choices of the kind, e.g. the feature levels, as sorted ``name=value``.
        schema: :data:`CACHE_SCHEMA_VERSION`.
    """

    kind: str
    encoder: str
    encoder_revision: str
    dataset: str
    manifest_hash: str
    split: str
    profile: str
    preprocessing_version: str
    dtype: str
    precision: str = "float32"
    options: tuple[str, ...] = ()
    schema: int = CACHE_SCHEMA_VERSION

    def digest(self) -> str:
        """Return the SHA-256 hex digest of the key fields, the entry's folder name."""
        payload = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["options"] = list(self.options)
        return fields


@dataclass
class ArrayRecord:
    """One ``.npy`` file of an entry, as recorded in ``meta.json``."""

    file: str
    dtype: str
    shape: list[int]
    sha256: str


@dataclass
class CacheEntry:
    """A complete entry on disk, read from its ``meta.json``."""

    path: Path
    digest: str
    key: dict[str, Any]
    ids: list[str]
    failed: dict[str, str]
    arrays: dict[str, ArrayRecord]
    created: datetime
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        """Bytes used by the entry's files."""
        return sum(child.stat().st_size for child in self.path.iterdir() if child.is_file())

    def open_array(self, name: str) -> np.ndarray:
        """Return the array ``name`` memory-mapped read-only (an empty array when it has no rows)."""
        record = self.arrays[name]
        if record.shape[0] == 0:
            return np.empty(record.shape, dtype=record.dtype)
        return np.load(self.path / record.file, mmap_mode="r")


class CacheSpaceError(DataError):
    """An entry would not fit in the cache folder's free disk space or the caller's limit."""


class EmbeddingCache:
    """The cache folder: look up, write, list, verify and prune entries.

    Args:
        root: Cache folder; ``MAMMOBENCH_HOME/embeddings`` by default.
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else paths.embedding_cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def lookup(self, key: CacheKey) -> CacheEntry | None:
        """Return the complete entry for ``key``, or None when it is absent or damaged."""
        folder = self.root / key.digest()
        if not folder.is_dir():
            return None
        try:
            entry = read_entry(folder)
        except DataError as error:
            logger.warning("ignoring damaged cache entry: %s", error)
            return None
        problem = _check_sizes(entry)
        if problem is not None:
            logger.warning("ignoring damaged cache entry '%s': %s", folder, problem)
            return None
        return entry

    def writer(self, key: CacheKey) -> CacheWriter:
        """Start a new entry for ``key`` in a temporary folder; see :class:`CacheWriter`."""
        return CacheWriter(self, key)

    def entries(self) -> list[CacheEntry]:
        """Return every readable entry, oldest first. Damaged folders are logged and skipped."""
        found: list[CacheEntry] = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith(TEMP_PREFIX):
                continue
            try:
                found.append(read_entry(folder))
            except DataError as error:
                logger.warning("skipping damaged cache entry: %s", error)
        return sorted(found, key=lambda entry: entry.created)

    def damaged(self) -> list[Path]:
        """Return entry folders whose ``meta.json`` is missing or unreadable."""
        broken: list[Path] = []
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith(TEMP_PREFIX):
                continue
            try:
                read_entry(folder)
            except DataError:
                broken.append(folder)
        return broken

    def stale_temporaries(self, older_than: timedelta = timedelta(hours=1)) -> list[Path]:
        """Return temporary folders left by interrupted writers, older than ``older_than``."""
        limit = datetime.now(timezone.utc) - older_than
        stale: list[Path] = []
        for folder in self.root.glob(f"{TEMP_PREFIX}*"):
            modified = datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
            if modified < limit:
                stale.append(folder)
        return stale

    def remove(self, folder: Path) -> None:
        """Delete one entry or temporary folder inside the cache."""
        folder = Path(folder)
        if folder.parent.resolve() != self.root.resolve():
            raise DataError(f"'{folder}' is not inside the embedding cache '{self.root}'")
        shutil.rmtree(folder)


def drop_if_failed_images_changed(cache: EmbeddingCache, entry: CacheEntry, manifest: Manifest) -> bool:
    """Remove ``entry`` when a file of an image that failed in it was modified after it was made.

    The key covers the manifest, not the image bytes, so without this an image that failed to
    read would stay failed in every later run, even after its file was fixed.

    Returns:
        True when the entry was removed and must be computed again.
    """
    if not entry.failed:
        return False
    created = entry.created.timestamp()
    paths_by_id = dict(zip(manifest.images["image_id"].astype(str), manifest.images["path"].astype(str)))
    for image_id in entry.failed:
        relative = paths_by_id.get(image_id)
        if relative is None:
            continue
        try:
            modified = manifest.absolute_path(relative).stat().st_mtime
        except OSError:
            continue
        if modified > created:
            logger.info(
                "image '%s' failed in cache entry %s but its file has changed since, so the entry is computed again",
                image_id,
                entry.digest,
            )
            cache.remove(entry.path)
            return True
    return False


def verify_entry(entry: CacheEntry) -> list[str]:
    """Re-hash an entry's arrays and compare with ``meta.json``; return the problems found."""
    problems: list[str] = []
    size_problem = _check_sizes(entry)
    if size_problem is not None:
        problems.append(size_problem)
    for name, record in entry.arrays.items():
        file = entry.path / record.file
        if not file.is_file():
            continue
        actual = file_sha256(file)
        if actual != record.sha256:
            problems.append(
                f"array '{name}' ({record.file}) has SHA-256 {actual[:16]}..., recorded "
                f"{record.sha256[:16]}..."
            )
    return problems


def select_for_prune(
    entries: Sequence[CacheEntry],
    *,
    older_than: timedelta | None = None,
    max_total_bytes: int | None = None,
    everything: bool = False,
) -> list[CacheEntry]:
    """Choose entries to delete.

    Args:
        entries: Entries oldest first, as :meth:`EmbeddingCache.entries` returns them.
        older_than: Select entries created longer ago than this.
        max_total_bytes: Then select the oldest remaining entries until the rest fit this size.
        everything: Select every entry.
    """
    if everything:
        return list(entries)
    now = datetime.now(timezone.utc)
    chosen = [
        entry for entry in entries if older_than is not None and now - entry.created > older_than
    ]
    if max_total_bytes is not None:
        chosen_digests = {entry.digest for entry in chosen}
        kept = [entry for entry in entries if entry.digest not in chosen_digests]
        total = sum(entry.size_bytes for entry in kept)
        for entry in kept:
            if total <= max_total_bytes:
                break
            chosen.append(entry)
            total -= entry.size_bytes
    return chosen


def read_entry(folder: Path) -> CacheEntry:
    """Read an entry folder's ``meta.json``.

    Raises:
        DataError: The file is missing, not JSON, or from another cache schema.
    """
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"cache entry '{folder}' has no {META_FILE}") from None
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"cache entry '{folder}': {META_FILE} is unreadable ({error})") from error

    schema = meta.get("key", {}).get("schema")
    if schema != CACHE_SCHEMA_VERSION:
        raise DataError(
            f"cache entry '{folder}' has schema {schema}, this mammobench reads schema "
            f"{CACHE_SCHEMA_VERSION}; remove it with 'mammobench cache prune --all'"
        )
    try:
        return CacheEntry(
            path=folder,
            digest=folder.name,
            key=meta["key"],
            ids=list(meta["ids"]),
            failed=dict(meta["failed"]),
            arrays={name: ArrayRecord(**record) for name, record in meta["arrays"].items()},
            created=datetime.fromisoformat(meta["created"]),
            metadata=meta.get("metadata", {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"cache entry '{folder}': {META_FILE} lacks a field ({error})") from error


class CacheWriter:
    """Writes one entry: arrays are appended batch by batch, then :meth:`commit` publishes it.

    Use as a context manager; leaving the block with an exception deletes the temporary folder.
    """

    def __init__(self, cache: EmbeddingCache, key: CacheKey) -> None:
        self.cache = cache
        self.key = key
        self.digest = key.digest()
        self.folder = cache.root / f"{TEMP_PREFIX}{self.digest[:16]}-{uuid.uuid4().hex[:8]}"
        self.folder.mkdir(parents=True)
        self._files: dict[str, NpyAppender] = {}

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is not None:
            self.abort()

    def append(self, name: str, rows: np.ndarray) -> None:
        """Append rows to the array ``name``; the first call fixes its dtype and row shape."""
        if name not in self._files:
            self._files[name] = NpyAppender(self.folder / f"{name}.npy", rows.dtype, rows.shape[1:])
        self._files[name].append(rows)

    def declare(self, name: str, dtype: np.dtype | str, row_shape: Sequence[int]) -> None:
        """Create the array ``name`` before any rows exist, so an entry with no rows has it too."""
        if name not in self._files:
            self._files[name] = NpyAppender(
                self.folder / f"{name}.npy", np.dtype(dtype), tuple(row_shape)
            )

    def commit(
        self, ids: Sequence[str], failed: dict[str, str], metadata: dict[str, Any] | None = None
    ) -> CacheEntry:
        """Finish the arrays, write ``meta.json`` and move the folder into place.

        When another process committed the same key first, its entry is kept and this one is
        discarded; both hold the same content.

        Raises:
            DataError: An array's row count differs from ``len(ids)``.
        """
        arrays: dict[str, ArrayRecord] = {}
        for name, appender in self._files.items():
            appender.close()
            if appender.rows != len(ids):
                self.abort()
                raise DataError(
                    f"cache entry for '{self.key.encoder}': array '{name}' has {appender.rows} "
                    f"rows but {len(ids)} ids were given"
                )
            arrays[name] = ArrayRecord(
                file=appender.path.name,
                dtype=appender.dtype.str,
                shape=[appender.rows, *appender.row_shape],
                sha256=file_sha256(appender.path),
            )

        meta = {
            "key": self.key.to_dict(),
            "ids": list(ids),
            "failed": dict(failed),
            "arrays": {name: asdict(record) for name, record in arrays.items()},
            "created": datetime.now(timezone.utc).isoformat(),
            "metadata": metadata or {},
        }
        _write_json(self.folder / META_FILE, meta)

        final = self.cache.root / self.digest
        try:
            os.rename(self.folder, final)
        except OSError:
            if not (final / META_FILE).is_file():
                raise
            logger.info(
                "cache entry %s was written by another process; keeping that one", self.digest
            )
            shutil.rmtree(self.folder, ignore_errors=True)
        _fsync_directory(self.cache.root)
        return read_entry(final)

    def abort(self) -> None:
        """Close the files and delete the temporary folder."""
        for appender in self._files.values():
            appender.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _check_sizes(entry: CacheEntry) -> str | None:
    for name, record in entry.arrays.items():
        file = entry.path / record.file
        if not file.is_file():
            return f"array '{name}' file {record.file} is missing"
        expected = NPY_HEADER_BYTES + int(np.prod(record.shape)) * np.dtype(record.dtype).itemsize
        actual = file.stat().st_size
        if actual != expected:
            return f"array '{name}' file {record.file} has {actual} bytes, expected {expected}"
        if record.shape[0] != len(entry.ids):
            return f"array '{name}' has {record.shape[0]} rows for {len(entry.ids)} ids"
    return None


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(folder: Path) -> None:
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


def key_options(**choices: object) -> tuple[str, ...]:
    """Turn keyword choices into the sorted ``name=value`` tuple stored in :attr:`CacheKey.options`."""
    return tuple(f"{name}={value}" for name, value in sorted(choices.items()))
