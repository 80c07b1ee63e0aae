"""Errors that the CLI reports as one line: what failed, on which value, and what to do."""

from __future__ import annotations


class MammobenchError(Exception):
    """A known failure with a message fit for a user.

    The message should name the value that failed and the fix, for example
    "image 'abc.dcm': MONOCHROME3 is not a valid PhotometricInterpretation; expected MONOCHROME1
    or MONOCHROME2". The CLI prints it on one line and exits with status 1.
    """


class ConfigError(MammobenchError):
    """An invalid option, recipe or sweep configuration."""


class DataError(MammobenchError):
    """Missing or invalid data: a data root, a manifest, an image file."""


class ImageReadError(DataError):
    """One image could not be read or decoded. Fails that image, never the whole run."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"image '{self.path}': {reason}")


class UnknownNameError(MammobenchError):
    """An encoder, task, dataset or protocol name that no loaded plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        self.kind = kind
        self.name = name
        suggestions = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        message = f"unknown {kind} '{name}'"
        if suggestions:
            message += "; did you mean " + " or ".join(f"'{s}'" for s in suggestions) + "?"
        if kind in ("encoder", "task", "dataset"):
            message += f" Run 'mammobench list {kind}s' to see every registered {kind}."
        else:
            message += f" Known {kind}s: {', '.join(known)}."
        super().__init__(message)


class PluginLoadError(MammobenchError):
    """One or more plugins failed to load while strict plugin loading was requested."""


class WeightsError(MammobenchError):
    """Model weights are missing, untrusted or do not match the architecture."""


class IncompatibleError(MammobenchError):
    """An encoder lacks a capability that a task or protocol needs."""
