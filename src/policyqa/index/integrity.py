"""Integrity checks before anything is read: checksums, then every size a file declares."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import IndexCorruptError
from .manifest import (
    CENTROID_VECTORS_FILE,
    COUNT_NAMES,
    INDEX_FILES,
    MAX_MANIFEST_BYTES,
    TERM_INDEX_FILE,
    TITLE_VECTORS_FILE,
    file_stat,
    read_json_file,
    sha256_file,
    write_json_file,
)

# Written into a build folder once its checksums were verified; not in the manifest, which comes first.
VERIFIED_FILE = "verified.json"


def verify_files(folder: Path, manifest: dict[str, object]) -> None:
    """Every file the manifest lists exists inside the build and matches its checksum.

    The checksums are computed once per build, not at every load: ``verified.json`` then
    records the manifest's hash and each file's checksum, size, mtime, ctime and inode, and a
    later call whose files all still match it hashes nothing. A file rewritten, or copied or
    moved in, gets a new ctime or inode, which user space cannot set back (``os.utime`` sets the
    mtime and moves the ctime to now). Whoever could forge the marker could as well rewrite the
    manifest's checksums, so it adds no trust. A marker that is missing, not ours or out of date
    means hashing everything; one that cannot be written (a read-only replica) is not an error.
    """
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(INDEX_FILES) <= set(files):
        raise IndexCorruptError(f"{folder}/manifest.json lists no checksums for the index files.")
    paths = {}
    for name in files:
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:
            raise IndexCorruptError(f"{folder}/manifest.json names a file outside the index: {name!r}.")
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing.")
        paths[name] = path
    verified = _verified_record(folder, files, paths)
    if verified is not None and read_json_file(folder / VERIFIED_FILE) == verified:
        return
    for name, path in paths.items():
        if sha256_file(path) != files[name]:
            raise IndexCorruptError(f"{path} does not match its checksum in the manifest (truncated or changed).")
    if verified is not None:
        write_json_file(folder / VERIFIED_FILE, verified)


def _verified_record(folder: Path, files: dict[str, object], paths: dict[str, Path]) -> dict[str, object] | None:
    """What ``verified.json`` holds once the files are verified as they are now; None without a readable manifest.

    Taken before the files are hashed: a write during the hash leaves another stat than the one recorded.
    """
    try:
        with (folder / "manifest.json").open("rb") as handle:
            manifest_bytes = handle.read(MAX_MANIFEST_BYTES + 1)
        stats = {name: {"sha256": files[name], "stat": file_stat(path)} for name, path in paths.items()}
    except OSError:
        return None
    if len(manifest_bytes) > MAX_MANIFEST_BYTES:
        return None
    return {"manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(), "files": stats}


# --- declared sizes -------------------------------------------------------------------------
# Checksums prove that the files are the ones the manifest names, not that the manifest is
# ours: a foreign index whose checksums were rewritten can declare billions of rows, and FAISS
# reserves and zero-fills what a header declares before it reads a byte of data (a flat index
# claiming 3 million rows of 64 floats costs 770 MB before the read fails). So every size that
# numpy, FAISS or the loader will act on is checked against the bytes on disk and the
# manifest's counts first; reading the headers costs a few hundred bytes.

# The shortest line of passages.jsonl, ``{"type":"…"}`` and a newline, bounds the records it can hold.
_MIN_RECORD_BYTES = 16
_FAISS_FLAT = (b"IxFI", b"IxF2", b"IxFl")
_FAISS_HNSW = (b"IHNf", b"IHNs")  # over float32 vectors (builds before float16), over a scalar quantizer
_FAISS_SCALAR_QUANTIZER = b"IxSQ"
# The quantizer's type, range statistic and its argument, then d and the bytes of one code.
_SCALAR_QUANTIZER_HEADER = struct.Struct("<iifQQ")
_QT_FP16 = 4  # faiss.ScalarQuantizer.QT_fp16, the only quantizer policyqa writes
# After the fourcc: d (int32), ntotal (int64), two int64 placeholders, is_trained (bool), metric (int32).
_FAISS_HEADER = struct.Struct("<iqqq?i")
# The vectors of an HNSW graph, in the order faiss writes them, with their element sizes.
_HNSW_VECTORS = (("assign_probas", 8), ("cum_nneighbor_per_level", 4), ("levels", 4), ("offsets", 8), ("neighbors", 4))
_HNSW_SCALARS = 5 * 4  # entry_point, max_level, efConstruction, efSearch, a placeholder


def check_declared_sizes(folder: Path, manifest: dict[str, object], dimension: int) -> None:
    """Refuse an index whose declared sizes disagree with its files, before anything allocates for them."""
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(
        type(counts.get(name)) is int and counts[name] >= 0 for name in COUNT_NAMES
    ):
        raise IndexCorruptError(f"{folder}/manifest.json gives no valid counts of documents, chunks and sentences.")
    records = sum(int(counts[name]) for name in COUNT_NAMES)
    store = (folder / "passages.jsonl").stat().st_size
    if records * _MIN_RECORD_BYTES > store:
        raise IndexCorruptError(
            f"{folder}/manifest.json declares {records:,} records, but passages.jsonl has only {store:,} bytes."
        )
    _check_npy(folder / "sentence_vectors.npy", (int(counts["sentences"]), dimension))
    terms = _check_npy(folder / "term_vectors.npy", (None, dimension))[0]
    for optional in (TITLE_VECTORS_FILE, CENTROID_VECTORS_FILE):
        if (folder / optional).exists():
            _check_npy(folder / optional, (int(counts["documents"]), dimension))
    _check_faiss_file(folder / "vectors.faiss", int(counts["chunks"]), dimension)
    if (folder / TERM_INDEX_FILE).exists():
        _check_faiss_file(folder / TERM_INDEX_FILE, terms, dimension)
    _check_bm25_files(folder / "bm25", int(counts["chunks"]))


def _check_npy(path: Path, shape: tuple[int | None, ...]) -> tuple[int, ...]:
    """The shape a ``.npy`` header declares, checked against ``shape`` (None: any) and the file's size."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                declared, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                declared, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = handle.tell()
    except (OSError, ValueError, SyntaxError) as exc:
        raise IndexCorruptError(f"{path} has no readable .npy header ({exc}).") from exc
    if dtype.hasobject:
        raise IndexCorruptError(f"{path} holds Python objects (a pickle), which an index never does.")
    mismatch = any(want is not None and got != want for got, want in zip(declared, shape, strict=False))
    if len(declared) != len(shape) or mismatch:
        expected = tuple("any" if want is None else want for want in shape)
        raise IndexCorruptError(f"{path} declares shape {declared}, but the manifest and encoder need {expected}.")
    size = path.stat().st_size
    if offset + math.prod(declared) * dtype.itemsize != size:
        raise IndexCorruptError(
            f"{path} declares {math.prod(declared):,} values of {dtype.itemsize} bytes, "
            f"but the file has {size:,} bytes."
        )
    return tuple(int(n) for n in declared)


def _check_faiss_file(path: Path, rows: int, dimension: int) -> None:
    """Walk a FAISS file's headers (flat, HNSW over float32 or float16 vectors); every declared length must fit."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        fourcc = handle.read(4)
        if fourcc in _FAISS_HNSW:
            _check_faiss_header(path, handle, rows, dimension)
            for name, item in _HNSW_VECTORS:
                (length,) = struct.unpack("<Q", _read_exactly(path, handle, 8))
                expected = {"levels": rows, "offsets": rows + 1}.get(name)
                if (expected is not None and length != expected) or length * item > size - handle.tell():
                    raise IndexCorruptError(
                        f"{path}: the HNSW graph declares {length:,} {name} for {rows:,} passages "
                        f"in a file of {size:,} bytes."
                    )
                handle.seek(length * item, os.SEEK_CUR)
            handle.seek(_HNSW_SCALARS, os.SEEK_CUR)
            fourcc = handle.read(4)
        if fourcc == _FAISS_SCALAR_QUANTIZER:
            _check_float16_codes(path, handle, size, rows, dimension)
            return
        if fourcc not in _FAISS_FLAT:
            raise IndexCorruptError(f"{path} is not a FAISS flat or HNSW index (it starts with {fourcc!r}).")
        _check_faiss_header(path, handle, rows, dimension)
        (floats,) = struct.unpack("<Q", _read_exactly(path, handle, 8))
        if floats != rows * dimension or handle.tell() + 4 * floats != size:
            raise IndexCorruptError(
                f"{path} declares {floats:,} stored values for {rows:,} passages of dimension {dimension}, "
                f"in a file of {size:,} bytes."
            )


def _check_float16_codes(path: Path, handle: BinaryIO, size: int, rows: int, dimension: int) -> None:
    """An HNSW graph's float16 vectors: FAISS's scalar quantizer header, then the codes to the file's end."""
    _check_faiss_header(path, handle, rows, dimension)
    header = _read_exactly(path, handle, _SCALAR_QUANTIZER_HEADER.size)
    quantizer, _, _, d, code_size = _SCALAR_QUANTIZER_HEADER.unpack(header)
    if quantizer != _QT_FP16 or d != dimension or code_size != 2 * dimension:
        raise IndexCorruptError(
            f"{path} stores its vectors with FAISS quantizer {quantizer} ({code_size:,} bytes for dimension {d}); "
            f"policyqa writes float16 vectors of dimension {dimension}."
        )
    (trained,) = struct.unpack("<Q", _read_exactly(path, handle, 8))
    if trained * 4 > size - handle.tell():
        raise IndexCorruptError(f"{path} declares {trained:,} quantizer values in a file of {size:,} bytes.")
    handle.seek(trained * 4, os.SEEK_CUR)
    (codes,) = struct.unpack("<Q", _read_exactly(path, handle, 8))
    if codes != rows * code_size or handle.tell() + codes != size:
        raise IndexCorruptError(
            f"{path} declares {codes:,} bytes of vectors for {rows:,} passages of dimension {dimension}, "
            f"in a file of {size:,} bytes."
        )


def _check_faiss_header(path: Path, handle: BinaryIO, rows: int, dimension: int) -> None:
    d, ntotal, _, _, _, metric = _FAISS_HEADER.unpack(_read_exactly(path, handle, _FAISS_HEADER.size))
    if metric > 1:  # metrics other than inner product and L2 carry an argument; ours never do
        raise IndexCorruptError(f"{path} uses FAISS metric {metric}, which policyqa never writes.")
    if d != dimension or ntotal != rows:
        raise IndexCorruptError(
            f"{path} declares {ntotal:,} vectors of dimension {d}, "
            f"but the manifest and encoder need {rows:,} of dimension {dimension}."
        )


def _read_exactly(path: Path, handle: BinaryIO, count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise IndexCorruptError(f"{path} is truncated.")
    return data


def _check_bm25_files(folder: Path, passages: int) -> None:
    """The BM25 arrays (a token x passage matrix in CSC form) agree with each other and with the passages."""
    try:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexCorruptError(f"{folder}/params.index.json cannot be read ({exc}).") from exc
    if not isinstance(params, dict) or params.get("num_docs") != passages:
        declared = params.get("num_docs") if isinstance(params, dict) else None
        raise IndexCorruptError(f"{folder} declares {declared!r} passages for BM25, but the manifest has {passages:,}.")
    (data,) = _check_npy(folder / "data.csc.index.npy", (None,))
    (indices,) = _check_npy(folder / "indices.csc.index.npy", (None,))
    (pointers,) = _check_npy(folder / "indptr.csc.index.npy", (None,))
    if data != indices or pointers < 1:
        raise IndexCorruptError(f"{folder}: the BM25 arrays disagree ({data:,} scores, {indices:,} rows).")
    indptr = np.load(folder / "indptr.csc.index.npy", mmap_mode="r", allow_pickle=False)
    rows = np.load(folder / "indices.csc.index.npy", mmap_mode="r", allow_pickle=False)
    outside = data > 0 and (int(rows.min()) < 0 or int(rows.max()) >= passages)
    if indptr[0] != 0 or indptr[-1] != data or np.any(np.diff(indptr) < 0) or outside:
        raise IndexCorruptError(f"{folder}: the BM25 arrays point outside the {passages:,} passages.")
