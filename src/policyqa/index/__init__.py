"""Index stage: FAISS vectors, the chunk store and BM25, persisted with a manifest.

Layout under ``<index_dir>/<fingerprint>/``::

    CURRENT                 name of the live build (replaced atomically)
    build-<time>-<pid>-<n>/ one complete build
        manifest.json       encoder, dimension, chunker, corpus hashes, versions, file checksums
        vectors.faiss       FAISS index of the chunk vectors (FAISS's own format)
        sentence_vectors.npy  sentence embeddings, for scoring and answer extraction
        terms.json, term_vectors.npy  the Chinese words of the corpus, embedded (query expansion)
        passages.jsonl      chunks, sentences and documents as JSON
        bm25/               BM25 arrays (.npy, JSON)

One module a concern: ``cache`` (embeddings by text hash under ``<index_dir>/cache/``),
``build``, ``store`` (the build folders and the ``CURRENT`` switch), ``manifest``,
``integrity`` (checksums and declared sizes, checked before FAISS or numpy read a
file), ``vectors`` (FAISS, imported nowhere else) and ``load``. Nothing is pickled.
Sentence vectors are memory-mapped when loaded: at 100,000 chunks they are ~0.5 GB,
of which a question reads a few hundred rows.
"""

from __future__ import annotations

from ..types import DocumentInfo
from .build import build_index
from .cache import EmbeddingCache, ProgressFn
from .load import LoadedIndex, load_index
from .manifest import FORMAT_VERSION, check_compatible, is_stale, read_manifest
from .parts import COMPOSED_PASSAGES_ABOVE
from .store import current_build, index_home
from .vectors import EXACT_SEARCH_LIMIT, VectorSearch, make_faiss_index

__all__ = [
    "COMPOSED_PASSAGES_ABOVE",
    "EXACT_SEARCH_LIMIT",
    "FORMAT_VERSION",
    "DocumentInfo",
    "EmbeddingCache",
    "LoadedIndex",
    "ProgressFn",
    "VectorSearch",
    "build_index",
    "check_compatible",
    "current_build",
    "index_home",
    "is_stale",
    "load_index",
    "make_faiss_index",
    "read_manifest",
]
