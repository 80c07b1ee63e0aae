from __future__ import annotations

import pytest

from mammobench.plural import counted


@pytest.mark.parametrize(
    "count, expected",
    [(0, "0 images"), (1, "1 image"), (2, "2 images")],
)
def test_counted_regular_noun(count: int, expected: str) -> None:
    assert counted(count, "image") == expected


def test_counted_irregular_plural() -> None:
    assert counted(3, "box", "boxes") == "3 boxes"


def test_counted_irregular_singular() -> None:
    assert counted(1, "box", "boxes") == "1 box"
