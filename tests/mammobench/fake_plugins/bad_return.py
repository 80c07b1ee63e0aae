"""A fake plugin whose hook returns the wrong type."""

from mammobench.api import hookimpl


@hookimpl
def mammobench_register_encoders():
    return ["not a spec"]
