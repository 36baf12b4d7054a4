"""Candidate stores: where retrieval finds its candidate rows, in this process or on Milvus.

The retriever asks a store for the rows nearest a question's vector and the rows
with the best BM25 scores for its tokens, each under a ``SearchFilter`` and, for the
documents a question singles out, within those documents; and for the BM25 scores
of the rows it will rank. Everything after (the dense score with the best sentence,
fusion, document cues, merging into passages, answers) is the same whichever
store answered. A row is a chunk's position in the build (``LoadedIndex.chunks``).

    CandidateStore          the Protocol
    ├── LocalStore          FAISS and bm25s over the loaded build (``faiss``, the default)
    └── MilvusStore         a Milvus collection published from the build (``milvus://…``,
                            ``milvus-lite:…``), in ``stores.milvus``, the only module that imports pymilvus

Both pass the same tests (``tests/test_milvus_store.py``, parametrised over backends).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..index import LoadedIndex
from ..types import SearchFilter
from .local import LocalStore


class CandidateStore(Protocol):
    """Rows of a build by vector or by BM25, under a filter; what ``Retriever`` searches."""

    def count(self) -> int:
        """The rows the store holds."""
        ...

    def dense(
        self, vector: np.ndarray, k: int, where: SearchFilter | None, documents: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner products of the ``k`` rows nearest ``vector``, best first.

        ``where`` admits documents by id, kind, region and year; ``documents``, when
        given, narrows the search to those document ids as well.
        """
        ...

    def lexical(
        self, tokens: Sequence[str], k: int, where: SearchFilter | None, documents: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and BM25 scores of the ``k`` best rows for ``tokens`` (only rows scoring above 0), best first."""
        ...

    def lexical_scores(self, tokens: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        """The BM25 score of each of ``rows`` for ``tokens`` (0 where none of them occurs)."""
        ...


def open_store(store: str, index: LoadedIndex, *, publish: bool = False) -> CandidateStore:
    """The store that ``store`` (``Settings.store``) names, over the loaded build.

    A Milvus store must hold this build (``policyqa index`` publishes it); with
    ``publish`` a missing or older collection is published first, as a missing local
    index is built first when ``auto_build`` is on.
    """
    if store == "faiss":
        return LocalStore(index)
    from .milvus import MilvusStore

    milvus = MilvusStore.connect(store)
    if publish:
        milvus.publish(index)
    milvus.attach(index)
    return milvus


__all__ = ["CandidateStore", "LocalStore", "open_store"]
