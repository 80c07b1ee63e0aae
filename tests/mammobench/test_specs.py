from __future__ import annotations

import pydantic
import pytest

from mammobench.errors import MammobenchError
from mammobench.specs import Capability, DatasetSpec, EncoderSpec, TaskSpec


def make_task(**overrides):
    fields = dict(
        name="some-task",
        description="A task.",
        loader="os.path:join",
        version="1",
        dataset="some-data",
        kind="classification",
        capabilities=["global"],
        protocols=["linear-probe", "finetune"],
        main_metric="auc",
    )
    fields.update(overrides)
    return TaskSpec(**fields)


def test_unknown_field_is_rejected():
    with pytest.raises(pydantic.ValidationError, match="extra"):
        DatasetSpec(name="d", description="x", loader="os:getcwd", colour="blue")


def test_invalid_loader_is_rejected():
    with pytest.raises(pydantic.ValidationError, match="package.module:attribute"):
        DatasetSpec(name="d", description="x", loader="os.getcwd")


def test_invalid_name_is_rejected():
    with pytest.raises(pydantic.ValidationError, match="lower-case"):
        DatasetSpec(name="Bad Name", description="x", loader="os:getcwd")


def test_loader_imports_lazily():
    import os.path

    assert make_task().load() is os.path.join


def test_loader_with_missing_attribute_names_it():
    task = make_task(loader="os.path:no_such_function")

    with pytest.raises(MammobenchError, match="no_such_function"):
        task.load()


def test_loader_with_missing_module_names_it():
    task = make_task(loader="no_such_module_xyz:factory")

    with pytest.raises(MammobenchError, match="no_such_module_xyz"):
        task.load()


def test_task_default_protocol_is_first():
    assert make_task().default_protocol == "linear-probe"


def test_task_needs_a_protocol():
    with pytest.raises(pydantic.ValidationError):
        make_task(protocols=[])


def test_encoder_needs_a_capability():
    with pytest.raises(pydantic.ValidationError, match="capability"):
        EncoderSpec(name="e", description="x", loader="os:getcwd", capabilities=[], architecture="a")


def test_capabilities_parse_from_strings():
    spec = EncoderSpec(
        name="e", description="x", loader="os:getcwd", capabilities=["global", "dense"], architecture="a"
    )

    assert spec.capabilities == [Capability.GLOBAL, Capability.DENSE]
