"""Preprocessed-image cache: decode and preprocess each file once per profile.

Layout under :func:`mammobench.paths.image_cache_dir`::

    <profile>-<height>x<width>-v<PREPROCESS_VERSION>-<canonical side>/
        <sha[:2]>/<sha>-<laterality>.npy    processed pixels, uint16 (value * 65535)
        <sha[:2]>/<sha>-<laterality>.json   BoxTransform and provenance; written last
    index/<key[:2]>/<key>.json              (path, size, mtime_ns) -> content SHA-256

An entry is keyed by the file's content SHA-256, the profile (name and size), the
preprocessing version, the canonical side and the laterality hint, because the hint decides
the flip when the image is ambiguous. The index spares a second run from rehashing large files:
a file whose size and modification time are unchanged keeps its recorded hash.

Every file is written to a temporary name in the same folder and moved into place with
``os.replace``, so a reader never sees a partial file and parallel writers of the same entry
are harmless. The JSON file is the commit marker: an entry without it is incomplete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mammobench import paths
from mammobench.data.preprocess import PREPROCESS_VERSION, preprocess
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.data.readers import read_image
from mammobench.data.transforms import BoxTransform
from mammobench.errors import ConfigError, DataError, ImageReadError

logger = logging.getLogger(__name__)

_QUANTIZATION = 65535.0
_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class CacheEntry:
    """Files of one cached image."""

    array_path: Path
    meta_path: Path


class ImageCache:
    """Preprocessed images for one resolution profile and canonical side.

    Args:
        profile: resolution profile or its name.
        canonical_side: ``"left"`` or ``"right"``, passed to preprocessing.
        root: cache folder; defaults to :func:`mammobench.paths.image_cache_dir`.
    """

    def __init__(
        self,
        profile: ResolutionProfile | str,
        *,
        canonical_side: str = "left",
        root: str | Path | None = None,
    ) -> None:
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        if canonical_side not in ("left", "right"):
            raise ConfigError(
                f"canonical side '{canonical_side}' is invalid; choose 'left' or 'right'"
            )
        self.canonical_side = canonical_side
        self.root = Path(root) if root is not None else paths.image_cache_dir()
        folder = (
            f"{self.profile.name}-{self.profile.height}x{self.profile.width}"
            f"-v{PREPROCESS_VERSION}-{canonical_side}"
        )
        self.directory = self.root / folder
        self.index_directory = self.root / "index"
        self.hits = 0
        self.misses = 0

    # ---------------------------------------------------------------------------------------------
    # Public API
    # ---------------------------------------------------------------------------------------------

    def load(
        self, path: str | Path, laterality: str | None = None
    ) -> tuple[np.ndarray, BoxTransform]:
        """Return the processed float32 image in [0, 1] and its transform, filling the cache.

        Raises:
            ImageReadError: the source file cannot be read (nothing is cached then).
        """
        entry = self.ensure(path, laterality)
        pixels = np.load(entry.array_path, mmap_mode="r")
        image = pixels.astype(np.float32) / np.float32(_QUANTIZATION)
        return image, self._read_transform(entry)

    def ensure(self, path: str | Path, laterality: str | None = None) -> CacheEntry:
        """Make sure the processed image of ``path`` is cached and return its files.

        A cached entry is used as is: the source is hashed (or its hash read from the index)
        but not decoded.

        Raises:
            ImageReadError: the source file cannot be read or decoded.
        """
        path = Path(path)
        entry = self.entry_for(self.content_hash(path), laterality)
        if entry.meta_path.exists() and entry.array_path.exists():
            self.hits += 1
            return entry

        self.misses += 1
        image = read_image(path)
        processed, transform = preprocess(
            image, laterality, self.profile, canonical_side=self.canonical_side, name=str(path)
        )
        del image
        quantized = np.rint(processed * _QUANTIZATION).astype(np.uint16)
        meta = {
            "transform": transform.to_dict(),
            "preprocess_version": PREPROCESS_VERSION,
            "profile": self.profile.name,
            "canonical_side": self.canonical_side,
            "laterality": _laterality_key(laterality),
            "source": str(path),
        }
        entry.array_path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(
            entry.array_path, lambda handle: np.save(handle, quantized, allow_pickle=False)
        )
        _atomic_write(
            entry.meta_path, lambda handle: handle.write(json.dumps(meta, indent=1).encode())
        )
        return entry

    def contains(self, path: str | Path, laterality: str | None = None) -> bool:
        """Return True when the processed image of ``path`` is already cached."""
        entry = self.entry_for(self.content_hash(Path(path)), laterality)
        return entry.meta_path.exists() and entry.array_path.exists()

    def entry_for(self, content_hash: str, laterality: str | None) -> CacheEntry:
        """Return where the entry for a content hash and laterality hint lives."""
        stem = f"{content_hash}-{_laterality_key(laterality)}"
        folder = self.directory / content_hash[:2]
        return CacheEntry(folder / f"{stem}.npy", folder / f"{stem}.json")

    def content_hash(self, path: str | Path) -> str:
        """Return the SHA-256 of the file's bytes, from the index when size and mtime match.

        Raises:
            ImageReadError: the file does not exist or cannot be read.
        """
        path = Path(path)
        try:
            status = path.stat()
        except FileNotFoundError:
            raise ImageReadError(
                path, "file not found; check the data root and the manifest path"
            ) from None
        except OSError as error:
            raise ImageReadError(path, f"cannot be read ({error.strerror or error})") from None

        resolved = str(path.resolve())
        index_path = self._index_path(resolved)
        recorded = _read_json(index_path)
        if (
            recorded is not None
            and recorded.get("path") == resolved
            and recorded.get("size") == status.st_size
            and recorded.get("mtime_ns") == status.st_mtime_ns
            and isinstance(recorded.get("sha256"), str)
        ):
            return recorded["sha256"]

        digest = _sha256_of_file(path)
        record = {
            "path": resolved,
            "size": status.st_size,
            "mtime_ns": status.st_mtime_ns,
            "sha256": digest,
        }
        index_path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(index_path, lambda handle: handle.write(json.dumps(record).encode()))
        return digest

    # ---------------------------------------------------------------------------------------------
    # Internals
    # ---------------------------------------------------------------------------------------------

    def _index_path(self, resolved: str) -> Path:
        key = hashlib.sha256(resolved.encode()).hexdigest()
        return self.index_directory / key[:2] / f"{key}.json"

    def _read_transform(self, entry: CacheEntry) -> BoxTransform:
        meta = _read_json(entry.meta_path)
        if meta is None or "transform" not in meta:
            raise DataError(
                f"cache entry '{entry.meta_path}' is unreadable; delete it and run "
                "'mammobench data prepare' again"
            )
        return BoxTransform.from_dict(meta["transform"])


def _laterality_key(laterality: str | None) -> str:
    value = str(laterality).strip().upper() if isinstance(laterality, str) else ""
    return value if value in ("L", "R") else "U"


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_HASH_CHUNK_BYTES), b""):
                digest.update(chunk)
    except OSError as error:
        raise ImageReadError(path, f"cannot be read ({error.strerror or error})") from None
    return digest.hexdigest()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("r", encoding="utf-8") as handle:
            payload = json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _atomic_write(target: Path, write: Any) -> None:
    """Write through ``write(handle)`` into a temporary file, then move it onto ``target``."""
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
