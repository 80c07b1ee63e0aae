"""Image cache speed-up: decoding and preprocessing against reading the cached result.

For every DICOM, PNG and PGM file under a folder, times ``read_image`` + ``preprocess`` (what a
first run does) and ``ImageCache.load`` on a filled cache (what every later run does), then
prints both totals and their ratio. The cache lives in a temporary folder. Run:

    python benchmarks/image_cache_speedup.py FOLDER [--profile paper] [--limit 20]

FOLDER defaults to the MAMMOBENCH_REALDATA folder when that variable is set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mammobench.data.image_cache import ImageCache
from mammobench.data.preprocess import preprocess
from mammobench.data.readers import read_image
from mammobench.errors import ImageReadError

_SUFFIXES = {".dcm", ".dicom", ".png", ".pgm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=os.environ.get("MAMMOBENCH_REALDATA"))
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--limit", type=int, default=20, help="Maximum number of files timed.")
    arguments = parser.parse_args()
    if not arguments.folder:
        parser.error("pass a folder of images or set MAMMOBENCH_REALDATA")

    files = sorted(path for path in Path(arguments.folder).rglob("*") if path.suffix.lower() in _SUFFIXES)
    readable = []
    for path in files:
        try:
            read_image(path)
        except ImageReadError:
            continue
        readable.append(path)
        if len(readable) >= arguments.limit:
            break

    with tempfile.TemporaryDirectory() as root:
        cache = ImageCache(arguments.profile, root=root)
        for path in readable:
            cache.ensure(path, None)

        started = time.perf_counter()
        for path in readable:
            preprocess(read_image(path), None, arguments.profile)
        uncached = time.perf_counter() - started

        started = time.perf_counter()
        for path in readable:
            cache.load(path, None)
        cached = time.perf_counter() - started

    print(f"files: {len(readable)} at profile '{arguments.profile}'")
    print(f"decode + preprocess: {uncached:.3f} s ({uncached / len(readable) * 1000:.1f} ms per file)")
    print(f"cached load:         {cached:.3f} s ({cached / len(readable) * 1000:.1f} ms per file)")
    print(f"speed-up: {uncached / cached:.1f}x")


if __name__ == "__main__":
    main()
