"""Counted nouns for messages: ``1 image``, ``2 images``."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """Return ``count`` followed by ``noun`` in the singular or the plural.

    Args:
        count: The number to print.
        noun: The singular form, e.g. ``"image"``.
        plural: The plural form when it is not ``noun + "s"``, e.g. ``"boxes"``.
    """
    form = noun if count == 1 else (plural or f"{noun}s")
    return f"{count} {form}"
