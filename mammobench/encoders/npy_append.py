"""Append-only ``.npy`` files: rows are written as they come and the header is finalised on close.

numpy's own writers need the full array (``np.save``) or a memory map (``open_memmap``), and a
memory map grows the writer's resident memory with every page it touches. Here the header has a
fixed size, is written first with zero rows and is rewritten in place with the final row count,
so the file reads back with ``np.load`` (also with ``mmap_mode``) like any other ``.npy`` file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Every .npy file starts with a header of this fixed size, so the final row count can be written
# over the placeholder in place. A multiple of 64, as the .npy format recommends for alignment.
NPY_HEADER_BYTES = 256
NPY_MAGIC = b"\x93NUMPY\x01\x00"


class NpyAppender:
    """A ``.npy`` file whose rows are appended and whose header is finalised on close."""

    def __init__(self, path: Path, dtype: np.dtype, row_shape: Sequence[int]) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(int(size) for size in row_shape)
        self.rows = 0
        self._handle = open(path, "wb")
        self._handle.write(npy_header(self.dtype, (0, *self.row_shape)))

    def append(self, rows: np.ndarray) -> None:
        if rows.dtype != self.dtype or tuple(rows.shape[1:]) != self.row_shape:
            raise ValueError(
                f"array '{self.path.name}': rows of {rows.dtype} {tuple(rows.shape[1:])} do not "
                f"match {self.dtype} {self.row_shape}"
            )
        self._handle.write(np.ascontiguousarray(rows).tobytes())
        self.rows += int(rows.shape[0])

    def close(self) -> None:
        if self._handle.closed:
            return
        self._handle.seek(0)
        self._handle.write(npy_header(self.dtype, (self.rows, *self.row_shape)))
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()


def npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """Return a .npy version 1.0 header of exactly ``NPY_HEADER_BYTES`` bytes."""
    description = np.lib.format.dtype_to_descr(dtype)
    text = f"{{'descr': {description!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    header_length = NPY_HEADER_BYTES - len(NPY_MAGIC) - 2
    if len(text) + 1 > header_length:
        raise ValueError(f"array shape {shape} is too long for the fixed .npy header")
    body = text.ljust(header_length - 1) + "\n"
    return NPY_MAGIC + struct.pack("<H", header_length) + body.encode("latin1")
