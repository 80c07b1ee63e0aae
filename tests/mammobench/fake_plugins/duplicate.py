"""A fake plugin that registers a dataset name that the good plugin already uses."""

from mammobench.api import DatasetSpec, hookimpl


@hookimpl
def mammobench_register_datasets():
    return [DatasetSpec(name="fake-data", description="Same name again.", loader="os:getcwd")]
