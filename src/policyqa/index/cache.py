"""The embedding cache: vectors by text hash, so a rebuild embeds only what changed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..embed import Encoder

log = logging.getLogger("policyqa")

ProgressFn = Callable[[str, int, int], None]


class EmbeddingCache:
    """Embeddings by text hash for one encoder version: ``keys.json`` + ``vectors.npy``."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self.dimension = dimension
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        keys_file, vectors_file = folder / "keys.json", folder / "vectors.npy"
        if keys_file.is_file() and vectors_file.is_file():
            try:
                keys = json.loads(keys_file.read_text(encoding="utf-8"))
                vectors = np.load(vectors_file, allow_pickle=False)
                if vectors.shape == (len(keys), dimension):
                    self._rows = {k: i for i, k in enumerate(keys)}
                    self._vectors = vectors.astype(np.float32, copy=False)
            except (OSError, ValueError, json.JSONDecodeError):
                log.warning("Embedding cache %s is unreadable; embedding from scratch.", folder)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    @property
    def vectors(self) -> np.ndarray:
        """Every cached row; ``rows`` indexes into it."""
        return self._vectors

    def embed(self, encoder: Encoder, texts: list[str], progress: ProgressFn | None, label: str) -> np.ndarray:
        """The encoder's vectors of ``texts``, embedding only those not cached."""
        rows = self.rows(encoder.encode_documents, texts, progress, label)
        return self._vectors[rows]

    def rows(
        self, encode: Callable[[list[str]], np.ndarray], texts: list[str], progress: ProgressFn | None, label: str
    ) -> np.ndarray:
        """Row of each text in ``vectors``, after embedding (each distinct text once) those not cached."""
        keys = [self.key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}.items())
        batch = 256
        new_vectors = []
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            new_vectors.append(encode([t for _, t in part]))
            if progress:
                progress(label, min(start + batch, len(missing)), len(missing))
        if missing:
            base = len(self._rows)
            self._vectors = np.vstack([self._vectors, *new_vectors])
            for offset, (k, _) in enumerate(missing):
                self._rows[k] = base + offset
            self._save()
        return np.fromiter((self._rows[k] for k in keys), dtype=np.int64, count=len(keys))

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = [k for k, _ in sorted(self._rows.items(), key=lambda kv: kv[1])]
        tmp_keys, tmp_vectors = (
            self.folder / f".keys.{os.getpid()}.tmp",
            self.folder / f".vectors.{os.getpid()}.tmp.npy",
        )
        tmp_keys.write_text(json.dumps(keys), encoding="utf-8")
        np.save(tmp_vectors, self._vectors, allow_pickle=False)
        # Vectors first: a crash between the two leaves keys that no longer match
        # the vectors' shape, which the loader detects and discards.
        os.replace(tmp_vectors, self.folder / "vectors.npy")
        os.replace(tmp_keys, self.folder / "keys.json")


def cache_folder(index_dir: Path, encoder: Encoder) -> Path:
    """Where the cache of one encoder version lives, shared by every configuration."""
    return index_dir / "cache" / f"{encoder.encoder_id.replace('/', '_').replace(':', '_')}-{encoder.version}"
