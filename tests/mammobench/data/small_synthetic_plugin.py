"""A test plugin: VinDr-Mammo's adapter with a small synthetic default, for data-root tests.

The synthesizer is the real VinDr-Mammo writer with a small config, so the default-dataset path
of :mod:`mammobench.data.roots` runs end to end in a second instead of minutes.
"""

from __future__ import annotations

from pathlib import Path

from mammobench.api import DatasetSpec, SynthConfig, hookimpl

ROOT_ENV = "MAMMOBENCH_TEST_SMALL_VINDR_ROOT"

# Number of times the synthesizer ran in this process.
calls = 0


@hookimpl
def mammobench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="small-vindr",
            description="VinDr-Mammo layout with a two-patient synthetic default.",
            loader="mammobench_vindr.adapter:load",
            root_env=ROOT_ENV,
            synthesizer=f"{__name__}:write_small",
        ),
        DatasetSpec(
            name="no-synthesizer",
            description="A dataset without a synthetic default.",
            loader="mammobench_vindr.adapter:load",
        ),
    ]


def write_small(out: Path, config: SynthConfig | None = None, progress=None, *, workers: int | None = None) -> None:
    from mammobench_vindr.synth import write_synthetic

    global calls
    calls += 1
    config = config or SynthConfig.for_layout("vindr", patients=2, size=(128, 96), seed=1)
    write_synthetic(out, config, progress, workers=1)
