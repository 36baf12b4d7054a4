"""Rows of a .npy matrix read on indexing (``NpyRows``) are the rows numpy reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from policyqa.index.rows import NpyRows


@pytest.fixture()
def matrix(tmp_path: Path) -> tuple[Path, np.ndarray]:
    values = np.random.default_rng(7).standard_normal((50, 8)).astype(np.float32)
    path = tmp_path / "m.npy"
    np.save(path, values, allow_pickle=False)
    return path, values


def test_rows_read_as_numpy_indexes_them(matrix: tuple[Path, np.ndarray]) -> None:
    path, values = matrix
    rows = NpyRows(path)
    assert rows.shape == values.shape and len(rows) == 50
    np.testing.assert_array_equal(rows[3], values[3])
    np.testing.assert_array_equal(rows[-1], values[-1])
    np.testing.assert_array_equal(rows[10:14], values[10:14])
    np.testing.assert_array_equal(rows[40:60], values[40:60])
    np.testing.assert_array_equal(rows[0:10:3], values[0:10:3])
    picked = np.asarray([7, 8, 9, 2, 30, 31, -2])  # runs, a jump back, a negative row
    np.testing.assert_array_equal(rows[picked], values[picked])
    np.testing.assert_array_equal(rows[[]], values[[]])
    np.testing.assert_array_equal(np.asarray(rows), values)
    with pytest.raises(IndexError):
        rows[50]
    with pytest.raises(IndexError):
        rows[np.asarray([1, 50])]


def test_a_file_shorter_than_its_header_or_not_a_float_matrix_is_refused(tmp_path: Path, matrix) -> None:
    path, _ = matrix
    data = path.read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-4])
    with pytest.raises(ValueError, match="fewer rows"):
        NpyRows(tmp_path / "short.npy")
    np.save(tmp_path / "ints.npy", np.zeros((3, 2), dtype=np.int64), allow_pickle=False)
    with pytest.raises(ValueError, match="float32"):
        NpyRows(tmp_path / "ints.npy")
    np.save(tmp_path / "flat.npy", np.zeros(3, dtype=np.float32), allow_pickle=False)
    with pytest.raises(ValueError, match="float32"):
        NpyRows(tmp_path / "flat.npy")
