"""Cost of a linear-probe data-efficiency sweep relative to one embedding pass.

"Embed once, probe many": a linear-probe run over 3 label fractions x 5 seeds should cost little
more than the single embedding pass it needs. This script measures, in one process:

- ``embed``: one embedding pass over the dataset into an empty embedding cache;
- ``sweep``: ``run_benchmark`` with 3 fractions x 5 seeds (15 cells, each fitting the
  regularisation grid and scoring 1,000 patient-bootstrap resamples), also starting from an
  empty embedding cache, so it includes its own embedding pass;

and prints ``sweep / embed`` (target: at most 1.3). Both start from a warm preprocessed-image
cache, so neither pays for DICOM decoding.

Usage::

    python benchmarks/sweep_cost.py                      # default synthetic VinDr, efficientnet_b0
    python benchmarks/sweep_cost.py --profile medium --model random/resnet18
    python benchmarks/sweep_cost.py --data-root /data/vindr --profile paper
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

FRACTIONS = (0.1, 0.5, 1.0)
SEEDS = (0, 1, 2, 3, 4)
TARGET = 1.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="random/efficientnet_b0")
    parser.add_argument("--task", default="vindr-mass")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    home = Path(os.environ.get("MAMMOBENCH_HOME") or tempfile.mkdtemp(prefix="mammobench-sweep-cost-"))
    os.environ["MAMMOBENCH_HOME"] = str(home)

    # Imports after MAMMOBENCH_HOME is set, so every cache lands in it.
    from mammobench.data.roots import load_dataset
    from mammobench.encoders.embed import compute_embeddings
    from mammobench.encoders.embedding_cache import EmbeddingCache
    from mammobench.encoders.registry import build_encoder
    from mammobench.plugin_host import get_host
    from mammobench.protocols.base import RunSettings
    from mammobench.runner import RunRequest, run_benchmark

    task_spec = get_host().task(args.task)
    manifest = load_dataset(task_spec.dataset, args.data_root)
    encoder = build_encoder(args.model, device="cpu")
    print(f"dataset: {manifest.summary()}")
    print(f"encoder: {args.model} ({encoder.info.revision}), profile {args.profile}")

    # Warm the preprocessed-image cache (and torch) outside the timed sections.
    warm_cache = EmbeddingCache(home / "bench-warmup-embeddings")
    compute_embeddings(encoder, manifest, args.profile, batch_size=args.batch_size, num_workers=args.workers, cache=warm_cache)

    embed_cache = EmbeddingCache(home / "bench-embed-embeddings")
    started = time.perf_counter()
    compute_embeddings(encoder, manifest, args.profile, batch_size=args.batch_size, num_workers=args.workers, cache=embed_cache)
    embed_s = time.perf_counter() - started

    # The sweep reads the default embedding cache: empty it so the sweep embeds once itself.
    shutil.rmtree(home / "embeddings", ignore_errors=True)
    results = Path(tempfile.mkdtemp(prefix="mammobench-sweep-cost-results-"))
    request = RunRequest(
        model=args.model,
        task=args.task,
        protocol="linear-probe",
        fractions=FRACTIONS,
        seeds=SEEDS,
        data_root=args.data_root,
        results=results,
        settings=RunSettings(profile=args.profile, batch_size=args.batch_size, num_workers=args.workers, device="cpu"),
    )
    started = time.perf_counter()
    summary = run_benchmark(request)
    sweep_s = time.perf_counter() - started

    statuses = sorted({cell.status for cell in summary.cells})
    ratio = sweep_s / embed_s
    print(f"one embedding pass:            {embed_s:8.1f} s")
    print(f"linear probe, {len(FRACTIONS)} fractions x {len(SEEDS)} seeds: {sweep_s:8.1f} s ({len(summary.cells)} cells: {', '.join(statuses)})")
    print(f"sweep / embedding pass:        {ratio:8.2f}  (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
