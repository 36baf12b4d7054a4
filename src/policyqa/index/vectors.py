"""FAISS, kept behind this module: the only place in policyqa that imports it.

Exact inner-product search below ``EXACT_SEARCH_LIMIT`` chunks, HNSW above, its vectors stored
as float16.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Exact search is fast and exact below this many chunks; above it HNSW. Measured on
# 2 cores (docs/performance.md): exact search takes 1.5 ms at 20,000 chunks and 6.3 ms
# at 100,000; efConstruction 200 doubled the build for the same recall. efSearch against
# exact search on the whole library's real vectors and the gold questions: 1024 gave
# recall@40 0.993 in 2.65 ms a search, 512 0.980 in 1.38 ms, 256 0.956 in 0.69 ms, 128
# 0.913; with BM25's candidates beside them, 256 and 1024 ranked the dev half alike.
EXACT_SEARCH_LIMIT = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# A search among at most this many allowed rows (a few documents) is exact over them.
EXACT_ALLOWED_LIMIT = 4096
# The corpus vocabulary's words (query expansion, ``expand.TermMatcher``) get an HNSW index above
# EXACT_SEARCH_LIMIT words. At the whole library (48,000 words), against the exact product: a
# phrase's words at or above the matcher's floor agreed for 0.979 of the gold questions' 1,218
# phrases in 0.35 ms a phrase, instead of 1.9 ms (efSearch 64: 0.955; M 16: 0.943).
TERM_EF_SEARCH = 128


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("FAISS is not available - install faiss-cpu") from exc
    return faiss


def limit_search_threads(threads: int) -> None:
    """FAISS's OpenMP threads in this process (a server whose worker processes are its parallelism uses 1)."""
    _faiss().omp_set_num_threads(threads)


def make_faiss_index(vectors: np.ndarray, exact: bool | None = None, float16: bool = True) -> Any:
    """Exact inner-product search for small corpora (or when ``exact``), HNSW above ``EXACT_SEARCH_LIMIT``.

    The HNSW graph keeps its vectors as float16 (FAISS's ``QT_fp16`` scalar quantizer): on the
    whole library's real vectors and gold questions, recall against exact search is that of
    float32 vectors (0.959 at 50 for both), the file is 204 MB instead of 366, and the graph is
    built and searched faster, since a distance reads half the bytes (docs/performance.md).
    Scores move by about 1e-4 (a unit vector's components rounded to 11 significant bits);
    ``float16=False`` keeps float32 vectors in the graph.
    """
    faiss = _faiss()
    dimension = vectors.shape[1]
    if exact or (exact is None and len(vectors) <= EXACT_SEARCH_LIMIT):
        index = faiss.IndexFlatIP(dimension)
    elif float16:
        index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    if hasattr(index, "hnsw"):
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def make_term_index(vectors: np.ndarray) -> Any:
    """The vocabulary's search index: exact up to ``EXACT_SEARCH_LIMIT`` words, HNSW above.

    Its graph keeps float32 vectors: the term matcher's floor and its order of tied words are
    those of the exact float32 product, which the graph's similarities then equal.
    """
    index = make_faiss_index(vectors, float16=False)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = TERM_EF_SEARCH
    return index


def document_centroids(search: VectorSearch, owners: np.ndarray, documents: int, step: int = 20_000) -> np.ndarray:
    """Each document's mean chunk vector, normalised: what the document as a whole is about.

    ``owners[row]`` is the document (0 .. ``documents`` - 1) of each row of ``search``. A
    document's chunks are consecutive rows, so the vectors are summed run by run.
    """
    sums = np.zeros((documents, search.dimension), dtype=np.float32)
    for start in range(0, search.size, step):
        rows = np.arange(start, min(start + step, search.size), dtype=np.int64)
        block_owners = owners[rows]
        runs = np.flatnonzero(np.diff(block_owners, prepend=-1))
        run_sums = np.add.reduceat(search.reconstruct(rows), runs, axis=0)
        np.add.at(sums, block_owners[runs], run_sums)  # a document split across two steps is summed twice
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def kind_of(count: int) -> str:
    """The manifest's name for the FAISS index of ``count`` chunks."""
    return "flat" if count <= EXACT_SEARCH_LIMIT else "hnsw-fp16"


def write_faiss(index: Any, path: Path) -> None:
    _faiss().write_index(index, str(path))


def read_faiss(path: Path, *, mmap: bool = True) -> Any:
    """Read a FAISS index; with ``mmap``, its vectors and graph stay in the file's pages (zero copy).

    Memory-mapped, the pages are the page cache's: server worker processes that load
    the same build share them instead of each holding a copy (the whole library's
    HNSW index is 0.37 GB), and loading reads nothing it does not search. Build
    files are never rewritten in place (``store``: a new build is a new folder).
    """
    faiss = _faiss()
    flag = getattr(faiss, "IO_FLAG_MMAP_IFC", None) if mmap else None
    if flag is not None:
        return faiss.read_index(str(path), flag)
    return faiss.read_index(str(path))


class VectorSearch:
    """Nearest rows of a FAISS index by inner product, optionally among allowed rows only."""

    def __init__(self, index: Any, ef_search: int = HNSW_EF_SEARCH) -> None:
        self.index = index
        if hasattr(index, "hnsw"):  # a build keeps the efSearch it was made with; searches use today's
            index.hnsw.efSearch = ef_search

    @classmethod
    def exact(cls, vectors: np.ndarray) -> VectorSearch:
        """Exact search over ``vectors`` (e.g. a baseline's chunks)."""
        return cls(make_faiss_index(vectors, exact=True))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the ``k`` best, best first (``allowed``: search only those rows)."""
        k = min(k, self.size)
        if allowed is not None:
            if len(allowed) == 0 or k == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if len(allowed) <= EXACT_ALLOWED_LIMIT:
                # A few documents' rows (a question's cued documents): exact over them is faster
                # than HNSW, which must walk past every row the filter refuses, and misses none.
                rows = np.asarray(allowed, dtype=np.int64)
                scores = self.reconstruct(rows) @ vector
                best = np.lexsort((rows, -scores))[:k]
                return rows[best], scores[best]
            faiss = _faiss()
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            scores, rows = self.index.search(vector[None, :], min(k, len(allowed)), params=params)
        else:
            if k == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            scores, rows = self.index.search(vector[None, :], k)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def reconstruct(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows``."""
        return self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))
