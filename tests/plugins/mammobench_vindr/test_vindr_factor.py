"""Registration of the VinDr-Mammo Mammo-FActOR tasks and the task objects they build."""

from __future__ import annotations

import pytest

from mammobench.factor.names import factor_metric_names
from mammobench.plugin_host import get_host
from mammobench.specs import Capability
from mammobench.tasks.base import FactorTask, build_task

BASIC = ("mass", "calcification")
EXTENDED = ("mass", "calcification", "architectural_distortion", "asymmetry")

TASKS = [
    ("vindr-factor", BASIC, False),
    ("vindr-factor-loc", BASIC, True),
    ("vindr-factor-extended", EXTENDED, False),
    ("vindr-factor-extended-loc", EXTENDED, True),
]


@pytest.mark.parametrize(("name", "attributes", "localize"), TASKS)
def test_factor_spec_registered(name, attributes, localize):
    spec = get_host().task(name)

    assert spec.protocols == ["factor"]
    assert set(spec.capabilities) == {Capability.DENSE, Capability.TEXT}
    assert spec.kind == ("factor-localization" if localize else "factor")
    assert spec.metrics == factor_metric_names(attributes, localize=localize)
    assert spec.main_metric == ("hit_rate@0.25" if localize else "auc")


@pytest.mark.parametrize(("name", "attributes", "localize"), TASKS)
def test_factor_task_matches_spec(name, attributes, localize):
    task = build_task(get_host().task(name))

    assert isinstance(task, FactorTask)
    assert task.attributes == attributes
    assert task.localize is localize
    assert list(task.metrics) == task.spec.metrics


def test_asymmetry_takes_every_kind():
    task = build_task(get_host().task("vindr-factor-extended-loc"))

    assert task.categories_for("asymmetry") == ("asymmetry", "focal_asymmetry", "global_asymmetry")
    assert task.categories_for("mass") == ("mass",)
