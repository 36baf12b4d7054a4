"""The embedding cache: vectors by text hash, so a rebuild embeds only what changed."""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..embed import Encoder
from .workers import by_length, encode_into, write_rows

log = logging.getLogger("policyqa")

ProgressFn = Callable[[str, int, int], None]


class EmbeddingCache:
    """Embeddings by text hash for one encoder version: ``keys.json`` + ``vectors.npy``.

    The vectors stay on disk, memory-mapped (the sentence states of the whole
    library are ~2.5 GB): new rows are encoded, by worker processes when there
    are many, straight into a new file that is then swapped in, so a build never
    holds the cache, or its new rows, in its own memory.
    """

    def __init__(self, folder: Path, dimension: int, *, encoder_name: str | None = None, processes: int = 1) -> None:
        self.folder = folder
        self.dimension = dimension
        self.encoder_name = encoder_name
        self.processes = processes
        self._rows: dict[str, int] = {}
        self._vectors: np.ndarray = np.zeros((0, dimension), dtype=np.float32)
        keys_file, vectors_file = folder / "keys.json", folder / "vectors.npy"
        if keys_file.is_file() and vectors_file.is_file():
            try:
                keys = json.loads(keys_file.read_text(encoding="utf-8"))
                vectors = np.load(vectors_file, mmap_mode="r", allow_pickle=False)
                if vectors.shape == (len(keys), dimension) and vectors.dtype == np.float32:
                    self._rows = {k: i for i, k in enumerate(keys)}
                    self._vectors = vectors
            except (OSError, ValueError, json.JSONDecodeError):
                log.warning("Embedding cache %s is unreadable; embedding from scratch.", folder)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    @property
    def vectors(self) -> np.ndarray:
        """Every cached row (memory-mapped); ``rows`` indexes into it."""
        return self._vectors

    def __len__(self) -> int:
        return len(self._rows)

    def embed(self, encoder: Encoder, texts: list[str], progress: ProgressFn | None, label: str) -> np.ndarray:
        """The encoder's vectors of ``texts``, embedding only those not cached."""
        rows = self.rows(encoder.encode_documents, texts, progress, label, method="encode_documents")
        return np.asarray(self._vectors[rows], dtype=np.float32)

    def rows(
        self,
        encode: Callable[[list[str]], np.ndarray],
        texts: list[str],
        progress: ProgressFn | None,
        label: str,
        *,
        method: str | None = None,
    ) -> np.ndarray:
        """Row of each text in ``vectors``, after embedding (each distinct text once) those not cached.

        ``method``: the name of ``encode`` on the encoder, so that worker processes
        (``encoder_name`` and ``processes`` > 1) can call their own; without it the
        texts are encoded in this process.
        """
        keys = [self.key(t) for t in texts]
        missing_by_key = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}
        if missing_by_key:
            missing = list(missing_by_key.items())
            order = by_length([t for _, t in missing])
            missing = [missing[i] for i in order]
            self._append(encode, missing, progress, label, method)
        return np.fromiter((self._rows[k] for k in keys), dtype=np.int64, count=len(keys))

    def _append(
        self,
        encode: Callable[[list[str]], np.ndarray],
        missing: list[tuple[str, str]],
        progress: ProgressFn | None,
        label: str,
        method: str | None,
    ) -> None:
        """Write old rows and the new ones into a new file, then swap it and the keys in."""
        self.folder.mkdir(parents=True, exist_ok=True)
        base = len(self._rows)
        total = base + len(missing)
        tmp_keys, tmp_vectors = (
            self.folder / f".keys.{os.getpid()}.tmp",
            self.folder / f".vectors.{os.getpid()}.tmp.npy",
        )
        try:
            data_offset = new_array_file(tmp_vectors, (total, self.dimension))
            if base:
                _copy_rows(self._vectors, tmp_vectors, data_offset)
            if progress:
                progress(label, 0, len(missing))
            for done in encode_into(
                [t for _, t in missing],
                tmp_vectors,
                data_offset,
                base,
                encode=encode,
                encoder_name=self.encoder_name if method else None,
                method=method or "",
                processes=self.processes,
            ):
                if progress:
                    progress(label, done, len(missing))
        except BaseException:
            tmp_vectors.unlink(missing_ok=True)  # a failed or interrupted build leaves no half-written file
            raise
        for offset, (k, _) in enumerate(missing):
            self._rows[k] = base + offset
        keys = [k for k, _ in sorted(self._rows.items(), key=lambda kv: kv[1])]
        tmp_keys.write_text(json.dumps(keys), encoding="utf-8")
        # Vectors first: a crash between the two leaves keys that no longer match
        # the vectors' shape, which the loader detects and discards.
        os.replace(tmp_vectors, self.folder / "vectors.npy")
        os.replace(tmp_keys, self.folder / "keys.json")
        self._vectors = np.load(self.folder / "vectors.npy", mmap_mode="r", allow_pickle=False)


def new_array_file(path: Path, shape: tuple[int, int]) -> int:
    """Create a float32 ``.npy`` of ``shape`` (sparse, unwritten); the offset where its data starts."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    offset = int(array.offset)
    del array  # nothing was written through the mapping: no page of it is resident
    return offset


def _copy_rows(source: np.ndarray, path: Path, data_offset: int, block: int = 16_384) -> None:
    """Copy ``source``'s rows to the start of the array file ``path``, a block at a time."""
    fd = os.open(path, os.O_WRONLY)
    try:
        for start in range(0, len(source), block):
            write_rows(fd, data_offset, start, np.asarray(source[start : start + block]))
            release_pages(source)
    finally:
        os.close(fd)


def release_pages(array: np.ndarray) -> None:
    """Drop the pages of a read-only memory-mapped array from this process (they stay in the page cache).

    Reading a mapping counts its pages in the process's resident memory until the
    kernel needs them; a build that streams a 2.5 GB cache gives them back as it goes.
    """
    mapping = getattr(array, "_mmap", None)
    if mapping is None:
        base = getattr(array, "base", None)
        mapping = getattr(base, "_mmap", None) if base is not None else None
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # pragma: no cover - an unusual mapping
            pass


def cache_folder(index_dir: Path, encoder: Encoder) -> Path:
    """Where the cache of one encoder version lives, shared by every configuration."""
    return index_dir / "cache" / f"{encoder.encoder_id.replace('/', '_').replace(':', '_')}-{encoder.version}"
