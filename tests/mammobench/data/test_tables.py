from __future__ import annotations

import math
from pathlib import Path

import pytest

from mammobench.data.tables import check_values, read_csv_table, strip_prefix, to_numbers
from mammobench.errors import DataError


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_spellings_become_nan(tmp_path):
    path = write_csv(tmp_path, "id,value\na,\nb,nan\nc,NaN\nd,2.5\n")

    table = read_csv_table(path, ["id", "value"], "fix it")
    numbers = to_numbers(table, "value", path)

    assert [math.isnan(value) for value in numbers[:3]] == [True, True, True]
    assert numbers[3] == 2.5


def test_other_na_spelling_reported(tmp_path):
    path = write_csv(tmp_path, "id,value\na,1\nb,NA\n")
    table = read_csv_table(path, ["id", "value"], "fix it")

    with pytest.raises(
        DataError, match=r"column 'value', line 3: invalid value 'NA'; expected a number"
    ):
        to_numbers(table, "value", path)


def test_ids_stay_text(tmp_path):
    path = write_csv(tmp_path, "id\n007\n")

    table = read_csv_table(path, ["id"], "fix it")

    assert table["id"].tolist() == ["007"]


def test_missing_column_lists_found(tmp_path):
    path = write_csv(tmp_path, "id,value\na,1\n")

    with pytest.raises(DataError) as raised:
        read_csv_table(path, ["id", "split"], "download the release again")

    assert "'split'" in str(raised.value)
    assert "found ['id', 'value']" in str(raised.value)
    assert "download the release again" in str(raised.value)


def test_bad_value_names_line(tmp_path):
    path = write_csv(tmp_path, "side\nL\nR\nX\n")
    table = read_csv_table(path, ["side"], "fix it")

    with pytest.raises(
        DataError, match=r"column 'side', line 4: invalid value 'X'; expected one of 'L', 'R'"
    ):
        check_values(table, "side", ["L", "R"], path)


def test_prefix_stripped_and_checked(tmp_path):
    path = write_csv(tmp_path, "id,density\na,DENSITY A\nb,\nc,DENSITY D\n")
    table = read_csv_table(path, ["id", "density"], "fix it")

    values = strip_prefix(table, "density", "DENSITY ", "ABCD", path, allow_missing=True)

    assert values[0] == "A"
    assert values[2] == "D"
    assert isinstance(values[1], float)
    with pytest.raises(DataError, match="line 3"):
        strip_prefix(table, "density", "DENSITY ", "ABCD", path)
