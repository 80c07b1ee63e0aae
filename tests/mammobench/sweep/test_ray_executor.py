"""The Ray executor on a local, CPU-only Ray instance gives the records of the local executor."""

from __future__ import annotations

import pytest

from mammobench.sweep.plan import plan_items
from mammobench.sweep.ray_executor import RayExecutor
from mammobench.sweep.run import run_sweep

ray = pytest.importorskip("ray", reason="the Ray executor needs the 'ray' extra: pip install '.[ray]'")


@pytest.fixture(scope="module")
def ray_instance(home):
    """A local Ray instance with two CPUs, started after MAMMOBENCH_HOME is set."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_matches_local(make_sweep, stored_records, tmp_path, home, ray_instance):
    local = run_sweep(make_sweep(tmp_path / "local", fractions=[1.0]))
    on_ray = run_sweep(make_sweep(tmp_path / "ray", fractions=[1.0], executor={"kind": "ray", "max_retries": 1}))

    assert local.success
    assert on_ray.success, [event.message for event in on_ray.failed] + on_ray.errors
    assert on_ray.counts.done == 2
    assert stored_records(tmp_path / "ray") == stored_records(tmp_path / "local")


def test_ray_retries_then_records_failures(make_sweep, tmp_path, home, ray_instance):
    # 'random/resnet18' takes no weights file: every attempt fails before its cells run.
    config = make_sweep(
        tmp_path / "results",
        encoders=["random/resnet18"],
        tasks=["vindr-mass"],
        fractions=[1.0],
        weights={"random/resnet18": str(tmp_path / "weights.pt")},
        executor={"kind": "ray", "max_retries": 1},
    )

    result = run_sweep(config)

    assert [event.status for event in result.finished.values()] == ["error"]
    assert result.counts.running == 0
    assert not result.success
    assert any("takes no --weights" in error for error in result.errors)


def test_gpu_shares_follow_item_kind(make_sweep):
    from mammobench.plugin_host import get_host
    from mammobench.sweep.plan import expand

    items = plan_items(expand(make_sweep("unused"), get_host()), parallel=True)
    executor = RayExecutor(probe_gpus=0.25)

    shares = [(item.kind, executor._gpus(item, available=8.0)) for item in items]
    without_gpus = {executor._gpus(item, available=0.0) for item in items}

    assert shares == [("prepare", 0.0), ("prepare", 1.0), ("embed", 1.0), ("light", 0.25)]
    assert without_gpus == {0.0}
