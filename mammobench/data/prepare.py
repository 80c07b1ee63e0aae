"""Fill the preprocessed-image cache for a whole manifest, in parallel worker processes.

Used by ``mammobench data prepare``. A file that fails is recorded with its message and the
run goes on; the report lists every failure at the end.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from mammobench.data.image_cache import ImageCache
from mammobench.data.manifest import Manifest
from mammobench.data.profiles import ResolutionProfile, get_profile
from mammobench.errors import DataError, ImageReadError

logger = logging.getLogger(__name__)

# Outcome of one image: "prepared" (written now), "cached" (already there) or "failed".
PREPARED = "prepared"
CACHED = "cached"
FAILED = "failed"

# Images handed to a worker at a time: large enough to amortise inter-process overhead, small
# enough that the progress bar moves.
_CHUNK_SIZE = 4


@dataclass(frozen=True)
class PrepareFailure:
    """One image that could not be prepared."""

    image_id: str
    path: str
    message: str


@dataclass
class PrepareReport:
    """Counts and failures of one ``prepare_images`` run."""

    total: int = 0
    prepared: int = 0
    cached: int = 0
    failures: list[PrepareFailure] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        """Images that are in the cache after the run (newly prepared or already cached)."""
        return self.prepared + self.cached


def load_dataset_manifest(dataset: str, root: str | Path) -> Manifest:
    """Build the manifest of a registered dataset from its data root.

    Raises:
        UnknownNameError: no loaded plugin registers ``dataset``.
        DataError: the root is not a folder, or the adapter rejects the layout.
    """
    from mammobench.plugin_host import get_host

    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"data root '{root}' is not a folder or does not exist; pass the folder that "
            "contains the dataset"
        )
    adapter = get_host().dataset(dataset).load()
    manifest = adapter(root)
    if not isinstance(manifest, Manifest):
        raise DataError(
            f"dataset '{dataset}': its adapter returned {type(manifest).__name__}; expected a Manifest"
        )
    return manifest


def prepare_images(
    manifest: Manifest,
    profile: ResolutionProfile | str,
    *,
    canonical_side: str = "left",
    workers: int = 1,
    cache_root: str | Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> PrepareReport:
    """Decode, preprocess and cache every image of ``manifest``.

    Args:
        manifest: images to prepare.
        profile: resolution profile or its name.
        canonical_side: ``"left"`` or ``"right"``, the side the chest wall faces.
        workers: worker processes; 0 or 1 runs in this process.
        cache_root: cache folder; defaults to the image cache under ``MAMMOBENCH_HOME``.
        on_progress: called once per finished image with its outcome
            (``"prepared"``, ``"cached"`` or ``"failed"``).

    Returns:
        Counts and the failures, in manifest order.
    """
    profile = get_profile(profile) if isinstance(profile, str) else profile
    # Build one cache up front so an invalid side or profile fails before any worker starts.
    ImageCache(profile, canonical_side=canonical_side, root=cache_root)
    jobs = [
        (str(image_id), str(manifest.absolute_path(str(path))), _laterality_or_none(laterality))
        for image_id, path, laterality in zip(
            manifest.images["image_id"], manifest.images["path"], manifest.images["laterality"]
        )
    ]
    settings = (profile, canonical_side, None if cache_root is None else str(cache_root))

    report = PrepareReport(total=len(jobs))
    for image_id, path, outcome, message in _run(jobs, settings, workers):
        if outcome == PREPARED:
            report.prepared += 1
        elif outcome == CACHED:
            report.cached += 1
        else:
            report.failures.append(PrepareFailure(image_id, path, message))
            logger.warning("%s (image_id '%s')", message, image_id)
        if on_progress is not None:
            on_progress(outcome)
    return report


def _run(
    jobs: list[tuple[str, str, str | None]],
    settings: tuple[ResolutionProfile, str, str | None],
    workers: int,
) -> Iterator[tuple[str, str, str, str]]:
    if workers <= 1 or len(jobs) <= 1:
        _start_worker(*settings)
        yield from map(_prepare_one, jobs)
        return

    # "spawn" starts clean interpreters: forking a process whose other threads (the CLI's
    # progress bar refresher) may hold locks can deadlock the children.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker, initargs=settings
        ) as executor:
            yield from executor.map(_prepare_one, jobs, chunksize=_CHUNK_SIZE)
    except BrokenProcessPool:
        raise DataError(
            "a worker process died while preparing images (out of memory or a crash in a "
            "decoder); run again with fewer workers. Images prepared so far stay cached."
        ) from None


_worker_cache: ImageCache | None = None


def _start_worker(profile: ResolutionProfile, canonical_side: str, cache_root: str | None) -> None:
    global _worker_cache
    _worker_cache = ImageCache(profile, canonical_side=canonical_side, root=cache_root)


def _prepare_one(job: tuple[str, str, str | None]) -> tuple[str, str, str, str]:
    image_id, path, laterality = job
    cache = _worker_cache
    assert cache is not None, "_start_worker must run before _prepare_one"
    try:
        if cache.contains(path, laterality):
            return image_id, path, CACHED, ""
        cache.ensure(path, laterality)
        return image_id, path, PREPARED, ""
    except ImageReadError as error:
        return image_id, path, FAILED, str(error)
    except Exception as error:  # one unexpected failure must not stop the other images
        logger.debug("image '%s' raised", image_id, exc_info=True)
        return image_id, path, FAILED, f"image '{path}': {type(error).__name__}: {error}"


def _laterality_or_none(value: object) -> str | None:
    if isinstance(value, str) and value.strip().upper() in ("L", "R"):
        return value.strip().upper()
    return None
