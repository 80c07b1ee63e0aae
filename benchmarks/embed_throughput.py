"""Embedding throughput and memory: the full pipeline against the bare forward pass.

Throughput: on the same images and encoder, the ratio of the full pipeline (read the
preprocessed-image cache -> batch in DataLoader workers -> forward -> write the embedding cache)
to the raw forward pass on tensors already in memory. The target is a ratio of at least 0.9.

Memory: peak resident memory (RSS) of a full embedding run at two image counts per profile, in
fresh processes, for the main process and for its data-loading workers. Flat memory means the
larger count peaks no higher than the smaller one, within noise.

Images are synthetic PNG mammogram look-alikes written to a temporary folder and prepared into
the image cache before any timing, so decoding and preprocessing are not measured. Run:

    python benchmarks/embed_throughput.py                 # everything: 30-40 minutes on 2 busy cores
    python benchmarks/embed_throughput.py --skip-memory   # throughput only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

# Source images are larger than the profile, as real mammograms are, but small enough to write
# thousands quickly. (height, width) in pixels.
_SOURCE_SIZES = {"tiny": (512, 320), "medium": (1536, 912), "paper": (2280, 1368)}


def main() -> None:
    arguments = _parse_arguments()
    if arguments.rss_run:
        _rss_run(arguments)
        return

    work = Path(arguments.work or tempfile.mkdtemp(prefix="mammobench-bench-"))
    os.environ["MAMMOBENCH_HOME"] = str(work / "home")
    _print_machine()

    throughput = [] if arguments.skip_throughput else _throughput(work, arguments)
    memory = [] if arguments.skip_memory else _memory(work, arguments)

    print("\nsummary")
    if throughput:
        print(
            f"  loading alone {throughput[0]['loading_ips']:.1f} img/s; ratio with serial loading "
            f"{throughput[0]['serial_ratio']:.3f}"
        )
    for row in throughput:
        print(
            f"  throughput  workers={row['workers']}  median raw {row['raw_ips']:.1f} img/s  pipeline "
            f"{row['pipeline_ips']:.1f} img/s  ratio {row['ratio']:.3f}  CPU-time ratio {row['cpu_ratio']:.3f}"
        )
    for row in memory:
        print(
            f"  memory      {row['profile']:<6} {row['count']:>5} images  main peak "
            f"{row['main_peak_mib']:.0f} MiB (+{row['main_peak_mib'] - row['before_mib']:.0f} MiB over "
            f"the {row['before_mib']:.0f} MiB before the run)  worker peak {row['worker_peak_mib']:.0f} MiB"
        )
    for profile in sorted({row["profile"] for row in memory}):
        rows = sorted((r for r in memory if r["profile"] == profile), key=lambda r: r["count"])
        growth = rows[-1]["main_peak_mib"] / rows[0]["main_peak_mib"]
        print(
            f"  memory      {profile}: peak ratio {rows[-1]['count']} vs {rows[0]['count']} images = {growth:.3f}"
        )


# -------------------------------------------------------------------------------------------------
# Throughput
# -------------------------------------------------------------------------------------------------


def _throughput(work: Path, arguments: argparse.Namespace) -> list[dict[str, float]]:
    import torch

    from mammobench.data.loading import ImageDataset
    from mammobench.encoders.embed import compute_embeddings
    from mammobench.encoders.embedding_cache import EmbeddingCache
    from mammobench.encoders.registry import build_encoder

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    manifest = _write_dataset(work / "throughput", arguments.images, "tiny")
    _prepare(manifest, "tiny")
    encoder = build_encoder(arguments.model)
    print(
        f"\nthroughput: {arguments.model}, {arguments.images} 'tiny' images, batch {arguments.batch_size}, "
        f"torch threads {torch.get_num_threads()}"
    )

    dataset = ImageDataset(manifest, "tiny")
    images = torch.stack([dataset[index]["image"] for index in range(len(dataset))])

    # Reading alone, in this process: the cost that loading adds when nothing overlaps it.
    loading_ips, loading_cpu = max(
        _loading(dataset, arguments.batch_size) for _ in range(arguments.repeats)
    )
    forward_ips, forward_cpu = max(
        _raw_forward(encoder, images, arguments.batch_size) for _ in range(arguments.repeats)
    )
    serial_ratio = (1 / forward_ips) / (1 / forward_ips + 1 / loading_ips)
    print(
        f"  loading alone (read cache + collate, no workers): {loading_ips:.1f} images/s, "
        f"{1000 * loading_cpu:.2f} CPU ms per image"
    )
    print(
        f"  forward alone: {forward_ips:.1f} images/s, {1000 * forward_cpu:.1f} CPU ms per image; with "
        f"loading in series the ratio would be {serial_ratio:.3f}"
    )

    # Raw and pipeline runs alternate, so a change in machine load between them biases the
    # ratio less; the median over repeats is reported.
    measured: dict[int, list[dict[str, float]]] = {workers: [] for workers in arguments.workers}
    for repeat in range(arguments.repeats):
        for workers in arguments.workers:
            raw_ips, raw_cpu = _raw_forward(encoder, images, arguments.batch_size)
            cache = EmbeddingCache(tempfile.mkdtemp(prefix="embeddings-", dir=work))
            cpu_before = _cpu_seconds()
            start = time.perf_counter()
            result = compute_embeddings(
                encoder,
                manifest,
                "tiny",
                batch_size=arguments.batch_size,
                num_workers=workers,
                cache=cache,
            )
            pipeline_ips = len(result) / (time.perf_counter() - start)
            pipeline_cpu = (_cpu_seconds() - cpu_before) / len(result)
            if result.from_cache or len(result) != len(dataset):
                raise RuntimeError(
                    f"pipeline run read the cache or embedded {len(result)} of {len(dataset)} images"
                )
            measured[workers].append(
                {
                    "raw_ips": raw_ips,
                    "pipeline_ips": pipeline_ips,
                    "ratio": pipeline_ips / raw_ips,
                    "cpu_ratio": raw_cpu / pipeline_cpu,
                }
            )
            print(
                f"  repeat {repeat}, {workers} workers: raw {raw_ips:.1f} images/s, pipeline "
                f"{pipeline_ips:.1f} images/s, ratio {pipeline_ips / raw_ips:.3f}, CPU-time ratio "
                f"{raw_cpu / pipeline_cpu:.3f}, load {_load()}"
            )

    rows = []
    for workers, runs in measured.items():
        row = {
            "model": arguments.model,
            "loading_ips": loading_ips,
            "serial_ratio": serial_ratio,
            "workers": workers,
        }
        for name in ("raw_ips", "pipeline_ips", "ratio", "cpu_ratio"):
            row[name] = float(np.median([run[name] for run in runs]))
        rows.append(row)
    return rows


def _loading(dataset, batch_size: int) -> tuple[float, float]:
    """Return images per second and CPU seconds per image of reading and batching, no workers."""
    from mammobench.data.loading import make_loader

    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    count = sum(
        len(batch["image_id"])
        for batch in make_loader(dataset, batch_size, shuffle=False, num_workers=0)
    )
    return count / (time.perf_counter() - start), (_cpu_seconds() - cpu_before) / count


def _raw_forward(encoder, images, batch_size: int) -> tuple[float, float]:
    """Return images per second and CPU seconds per image of the forward pass on in-memory tensors."""
    import torch

    with torch.inference_mode():
        encoder.encode_image(encoder.prepare(images[:batch_size]))  # warm-up, not timed
        cpu_before = _cpu_seconds()
        start = time.perf_counter()
        for first in range(0, len(images), batch_size):
            encoder.encode_image(encoder.prepare(images[first : first + batch_size])).cpu().numpy()
        elapsed = time.perf_counter() - start
    return len(images) / elapsed, (_cpu_seconds() - cpu_before) / len(images)


def _cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its finished children, e.g. loader workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# -------------------------------------------------------------------------------------------------
# Memory
# -------------------------------------------------------------------------------------------------


def _memory(work: Path, arguments: argparse.Namespace) -> list[dict[str, float]]:
    plans = [("tiny", count) for count in arguments.tiny_counts] + [
        ("paper", count) for count in arguments.paper_counts
    ]
    print(
        f"\nmemory: {arguments.memory_model}, batch {arguments.memory_batch_size}, "
        f"{arguments.memory_workers} workers"
    )
    largest = {profile: max(count for p, count in plans if p == profile) for profile, _ in plans}
    folders = {}
    for profile, count in largest.items():
        manifest = _write_dataset(work / f"memory-{profile}", count, profile)
        _prepare(manifest, profile)
        folders[profile] = work / f"memory-{profile}"

    rows = []
    for profile, count in plans:
        command = [
            sys.executable,
            __file__,
            "--rss-run",
            "--profile",
            profile,
            "--count",
            str(count),
            "--data",
            str(folders[profile]),
            "--model",
            arguments.memory_model,
            "--batch-size",
            str(arguments.memory_batch_size),
            "--memory-workers",
            str(arguments.memory_workers),
        ]
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, env=os.environ.copy()
        )
        row = json.loads(output.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"  {profile:<6} {count:>5} images: main {row['before_mib']:.0f} MiB before the run, peak "
            f"{row['main_peak_mib']:.0f} MiB; worker peak "
            f"{row['worker_peak_mib']:.0f} MiB, {row['images_per_second']:.1f} images/s"
        )
    return rows


def _current_rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def _rss_run(arguments: argparse.Namespace) -> None:
    """Embed the first ``count`` images in this fresh process and print peak RSS as JSON."""
    from mammobench.data.manifest import Manifest
    from mammobench.encoders.embed import compute_embeddings
    from mammobench.encoders.embedding_cache import EmbeddingCache
    from mammobench.encoders.registry import build_encoder

    folder = Path(arguments.data)
    images = pd.read_csv(folder / "manifest.csv", dtype={"density": str}).head(arguments.count)
    manifest = Manifest(dataset=f"bench-{arguments.profile}", root=folder, images=images)
    encoder = build_encoder(arguments.model)
    before = _current_rss_mib()
    with tempfile.TemporaryDirectory() as cache_folder:
        start = time.perf_counter()
        result = compute_embeddings(
            encoder,
            manifest,
            arguments.profile,
            batch_size=arguments.batch_size,
            num_workers=arguments.memory_workers,
            cache=EmbeddingCache(cache_folder),
        )
        elapsed = time.perf_counter() - start
    # ru_maxrss is in KiB on Linux. RUSAGE_CHILDREN covers the DataLoader workers, which have
    # exited by now: it is the peak of the largest one, not a sum.
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "profile": arguments.profile,
                "count": len(result),
                "before_mib": before,
                "main_peak_mib": main_peak,
                "worker_peak_mib": worker_peak,
                "images_per_second": len(result) / elapsed,
            }
        )
    )


# -------------------------------------------------------------------------------------------------
# Data
# -------------------------------------------------------------------------------------------------


def _write_dataset(folder: Path, count: int, profile: str):
    """Write ``count`` synthetic 8-bit PNG mammograms and their manifest (also as CSV)."""
    from mammobench.data.manifest import Manifest

    folder.mkdir(parents=True, exist_ok=True)
    height, width = _SOURCE_SIZES[profile]
    rows = []
    rng = np.random.default_rng(0)
    template = _breast_template(height, width)
    for index in range(count):
        path = folder / f"image{index:05d}.png"
        if not path.exists():
            noise = rng.integers(0, 60, size=(height, width), dtype=np.uint8)
            pixels = np.where(template, 130 + noise, 4).astype(np.uint8)
            Image.fromarray(pixels).save(path, compress_level=1)
        rows.append(
            {
                "image_id": f"image{index:05d}",
                "patient_id": f"patient{index // 2:05d}",
                "exam_id": f"exam{index // 2:05d}",
                "laterality": "L",
                "view": "CC",
                "path": path.name,
                "split": "train",
                "density": "B",
                "birads": 1.0,
                "age": 55.0,
                "site": "",
            }
        )
    images = pd.DataFrame(rows)
    images.to_csv(folder / "manifest.csv", index=False)
    return Manifest(dataset=f"bench-{profile}", root=folder, images=images).validate()


def _breast_template(height: int, width: int) -> np.ndarray:
    rows, columns = np.mgrid[0:height, 0:width]
    return (columns / (0.8 * width)) ** 2 + ((rows - height / 2) / (0.45 * height)) ** 2 < 1


def _prepare(manifest, profile: str) -> None:
    from mammobench.data.prepare import prepare_images

    start = time.perf_counter()
    report = prepare_images(manifest, profile, workers=os.cpu_count() or 1)
    print(
        f"  prepared {len(manifest.images)} '{profile}' images in {time.perf_counter() - start:.1f} s "
        f"(not timed below): {report}"
    )


# -------------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------------


def _print_machine() -> None:
    import platform

    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"cuda {'yes' if torch.cuda.is_available() else 'no'}, load average {_load()}"
    )


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default="random/efficientnet_b0", help="Encoder for the throughput ratio."
    )
    parser.add_argument("--images", type=int, default=128, help="Images for the throughput ratio.")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 1, 2], help="Worker counts to compare."
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="Timed runs per setting; the median counts."
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)."
    )
    parser.add_argument(
        "--memory-model", default="timm:test_efficientnet", help="Encoder for the memory runs."
    )
    parser.add_argument("--memory-workers", type=int, default=2)
    parser.add_argument("--memory-batch-size", type=int, default=8)
    parser.add_argument("--tiny-counts", type=int, nargs=2, default=[1000, 3000])
    parser.add_argument("--paper-counts", type=int, nargs=2, default=[100, 200])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--work", help="Folder for images and caches (default: a new temporary folder)."
    )
    # Internal: one memory measurement in a fresh process.
    parser.add_argument("--rss-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
