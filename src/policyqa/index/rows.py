"""Rows of a ``.npy`` matrix read from the file when asked for, without mapping it.

A question reads the sentence vectors of its candidates: a few hundred scattered rows of a
matrix of 426,000 at the whole library. Memory-mapped, every row read made the kernel map
the 16 pages around it into the process (fault-around): after twenty questions a serving
process counted 390 MB of the file's 870 MB in its resident memory, and every worker the
same. Read with ``pread``, the rows come from the same page cache and the process keeps
only what it asked for.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np


class NpyRows:
    """A 2-D float32 ``.npy`` file whose rows are read on indexing: ``rows[5]``, ``rows[[3, 4, 9]]``, ``rows[2:7]``.

    ``np.asarray(rows)`` reads the whole matrix. The file's header was checked against its
    size before (``integrity.check_declared_sizes``); it is checked again here.
    """

    def __init__(self, path: Path) -> None:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            self._offset = handle.tell()
        if len(shape) != 2 or fortran or dtype != np.dtype("<f4"):
            raise ValueError(f"{path.name} is not a matrix of float32 rows in C order")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self._row_bytes = self.shape[1] * dtype.itemsize
        if self._offset + self.shape[0] * self._row_bytes > path.stat().st_size:
            raise ValueError(f"{path.name} holds fewer rows than its header declares")
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        whole = self._read(0, len(self))
        return whole if dtype is None else whole.astype(dtype)

    def __getitem__(self, key: int | slice | np.ndarray | list[int]) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            row = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= row < len(self):
                raise IndexError(key)
            return self._read(row, 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._read(start, max(0, stop - start))
            key = np.arange(start, stop, step)
        rows = np.asarray(key, dtype=np.int64).ravel()
        if len(rows) and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError("a row lies outside the matrix")
        rows = np.where(rows < 0, rows + len(self), rows)
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        if not len(rows):
            return out
        # One read for each run of consecutive rows (a candidate's sentences are one run), straight
        # into its place in the result.
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        view = memoryview(out).cast("B")  # type: ignore[arg-type]  # numpy arrays are buffers
        row_bytes = self._row_bytes
        for start, end in zip([0, *breaks.tolist()], [*breaks.tolist(), len(rows)], strict=True):
            self._read_into(view[start * row_bytes : end * row_bytes], int(rows[start]))
        return out

    def _read(self, first: int, count: int) -> np.ndarray:
        out = np.empty((count, self.shape[1]), dtype=self.dtype)
        self._read_into(memoryview(out).cast("B"), first)  # type: ignore[arg-type]
        return out

    def _read_into(self, view: memoryview, first: int) -> None:
        size, done = len(view), 0
        while done < size:  # a read returns at most ~2 GB
            got = os.preadv(self._fd, [view[done:]], self._offset + first * self._row_bytes + done)
            if got == 0:
                raise OSError(f"the file ended {size - done} bytes early")
            done += got
