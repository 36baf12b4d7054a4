"""Index stage: FAISS vectors, the chunk store and BM25, persisted with a manifest.

Layout under ``<index_dir>/<fingerprint>/``::

    CURRENT                 name of the live build (replaced atomically)
    corpus-hashes.json      the corpus files' hashes by size, mtime, ctime and inode, so that an
                            unchanged file is not hashed again to tell whether the build is stale
    build-<time>-<pid>-<n>/ one complete build
        manifest.json       encoder, dimension, chunker, corpus hashes, versions, file checksums
        verified.json       the files' size, mtime, ctime and inode when their checksums were
                            last verified: an unchanged build is not hashed again at each load
        vectors.faiss       FAISS index of the chunk vectors (FAISS's own format)
        sentence_vectors.npy  sentence embeddings, for scoring and answer extraction
        terms.json, term_vectors.npy  the Chinese words of the corpus, embedded (query expansion)
        title_vectors.npy, centroid_vectors.npy  each document's title embedded and its mean
                            chunk vector, in sorted id order
        passages.jsonl      documents, sentences and chunks as JSON lines
        table/              where each line of passages.jsonl lies, and every passage's document,
                            section, kind and sentences as columns (.npy), so that a load parses
                            only the documents
        bm25/               BM25 arrays (.npy, JSON) and every passage's token ids

One module a concern: ``cache`` (embeddings by text hash under ``<index_dir>/cache/``),
``build`` (full, or ``extend``: the live build with added files appended), ``parts`` (what
both share), ``store`` (the build folders and the ``CURRENT`` switch), ``manifest``,
``integrity`` (checksums and declared sizes, checked before FAISS or numpy read a
file), ``vectors`` (FAISS, imported nowhere else), ``table`` and ``load``. Nothing is
pickled. Sentence vectors are memory-mapped when loaded: at 100,000 chunks they are
~0.5 GB, of which a question reads a few hundred rows; so is the store, whose sentence
and passage lines are parsed only when read.
"""

from __future__ import annotations

from ..types import DocumentInfo
from .build import build_index
from .cache import EmbeddingCache, ProgressFn
from .load import LoadedIndex, load_index, read_through
from .manifest import FORMAT_VERSION, check_compatible, is_stale, read_manifest
from .parts import COMPOSED_PASSAGES_ABOVE
from .store import current_build, index_home
from .vectors import EXACT_SEARCH_LIMIT, VectorSearch, document_centroids, limit_search_threads, make_faiss_index

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
    "document_centroids",
    "index_home",
    "is_stale",
    "limit_search_threads",
    "load_index",
    "make_faiss_index",
    "read_manifest",
    "read_through",
]
