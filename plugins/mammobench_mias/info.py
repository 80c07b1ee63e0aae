"""Parser for mini-MIAS ``Info.txt``: the dataset's README with its ground-truth table.

Table rows look like ``mdb001 G CIRC B 535 425 197``; the columns are, as ``Info.txt`` names
them: reference number, background tissue (F, G, D), class of abnormality (CALC, CIRC, SPIC,
MISC, ARCH, ASYM, NORM), severity (B, M), x and y of the abnormality's centre, and the radius in
pixels of a circle enclosing it. An image has one row per abnormality. NORM rows stop after the
class. Four abnormal rows have no centre and radius: ``mdb059`` stops after the severity, and
``mdb216``, ``mdb233`` and ``mdb245`` give ``*NOTE 3*`` in their place (calcifications spread
over the breast).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mammobench.api import DataError, vocab

TISSUES = ("F", "G", "D")
SEVERITIES = ("B", "M")
NORMAL = "NORM"
# MIAS class -> shared finding name.
CLASS_TO_FINDING = {
    "CALC": vocab.CALCIFICATION,
    "CIRC": vocab.MASS,
    "SPIC": vocab.MASS,
    "MISC": vocab.MASS,
    "ARCH": vocab.ARCHITECTURAL_DISTORTION,
    "ASYM": vocab.ASYMMETRY,
}
CLASSES = (*CLASS_TO_FINDING, NORMAL)

INFO_COLUMNS = ("reference", "tissue", "class", "severity", "x", "y", "radius")
_ROW_START = re.compile(r"^mdb\d{3}\b")
_REFERENCE = re.compile(r"^mdb(\d{3})$")


def read_info(path: Path) -> pd.DataFrame:
    """Parse the ground-truth table of ``Info.txt``.

    Args:
        path (Path): The ``Info.txt`` file.

    Returns:
        pd.DataFrame: One row per table line with columns :data:`INFO_COLUMNS` plus ``number``
        (the image number) and ``line`` (1-based line in the file). ``severity`` is None for NORM
        rows; ``x``, ``y`` and ``radius`` are NaN where the file gives no coordinates.

    Raises:
        DataError: Naming the file, line and column of the first invalid entry.
    """
    if not path.is_file():
        raise DataError(
            f"file '{path}' not found; point the data root at the mini-MIAS folder that contains "
            "Info.txt and the mdbNNN.pgm images"
        )
    text = path.read_text(encoding="latin-1")

    records = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if _ROW_START.match(line.strip()):
            records.append(_parse_row(line.split(), path, line_number))
    if not records:
        raise DataError(
            f"file '{path}' has no ground-truth rows such as 'mdb001 G CIRC B 535 425 197'; "
            "use the Info.txt shipped with mini-MIAS"
        )
    return pd.DataFrame.from_records(records)


def _parse_row(tokens: list[str], path: Path, line: int) -> dict[str, object]:
    def invalid(column: str, value: object, expected: str) -> DataError:
        return DataError(
            f"file '{path}', line {line}, column '{column}': invalid value {value!r}; "
            f"expected {expected}"
        )

    reference = tokens[0]
    match = _REFERENCE.match(reference)
    if match is None:
        raise invalid("reference", reference, "'mdb' followed by three digits")
    if len(tokens) < 3:
        raise invalid("class", None, "background tissue and class after the reference number")
    tissue, mias_class = tokens[1], tokens[2]
    if tissue not in TISSUES:
        raise invalid("tissue", tissue, "one of " + ", ".join(TISSUES))
    if mias_class not in CLASSES:
        raise invalid("class", mias_class, "one of " + ", ".join(CLASSES))

    record: dict[str, object] = {
        "reference": reference,
        "number": int(match.group(1)),
        "tissue": tissue,
        "class": mias_class,
        "severity": None,
        "x": float("nan"),
        "y": float("nan"),
        "radius": float("nan"),
        "line": line,
    }
    if mias_class == NORMAL:
        if len(tokens) > 3:
            raise invalid("severity", tokens[3], "nothing after NORM")
        return record

    if len(tokens) < 4 or tokens[3] not in SEVERITIES:
        raise invalid("severity", tokens[3] if len(tokens) > 3 else None, "B or M")
    record["severity"] = tokens[3]

    rest = tokens[4:]
    if not rest or rest[0].startswith("*"):
        return record  # no centre or radius given
    if len(rest) != 3 or not all(token.isdigit() for token in rest):
        raise invalid("x", " ".join(rest), "x, y and radius as whole numbers of pixels")
    record["x"], record["y"], record["radius"] = (float(token) for token in rest)
    return record
