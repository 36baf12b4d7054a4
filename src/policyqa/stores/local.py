"""The default store: FAISS and bm25s over the loaded build, in this process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..index import LoadedIndex
from ..types import SearchFilter, admitted

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


class LocalStore:
    """Candidate rows from the build's FAISS index and BM25 arrays; the fastest path on one machine.

    Example:
        >>> store = LocalStore(assistant.index)
        >>> rows, scores = store.lexical(["专利"], 10, SearchFilter(kinds=("law",)))
    """

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self._doc_rows = index.document_rows
        self._doc_ids = sorted(index.documents)
        # One question asks for BM25 scores up to four times (candidates, the cued documents,
        # the ranked rows): every row's scores are computed once per token list.
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None

    def count(self) -> int:
        return len(self.index.chunks)

    def dense(
        self, vector: np.ndarray, k: int, where: SearchFilter | None, documents: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        allowed = self._allowed_rows(where, documents)
        if allowed is not None and len(allowed) == 0:
            return _EMPTY
        return self.index.chunk_vectors.search(vector, k, allowed)

    def lexical(
        self, tokens: Sequence[str], k: int, where: SearchFilter | None, documents: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = self._scores(tokens)
        allowed = self._allowed_rows(where, documents)
        # Only passages sharing a token with the question: BM25 gives the others 0.
        pool = np.flatnonzero(scores > 0) if allowed is None else allowed[scores[allowed] > 0]
        best = pool[top_rows(scores[pool], k)]
        return best.astype(np.int64), scores[best]

    def lexical_scores(self, tokens: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        return self._scores(tokens)[np.asarray(rows, dtype=np.int64)]

    def _scores(self, tokens: Sequence[str]) -> np.ndarray:
        key = tuple(tokens)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        scores = self.index.lexical.scores(list(key))
        self._last = (key, scores)
        return scores

    def _allowed_rows(self, where: SearchFilter | None, documents: Sequence[str] | None) -> np.ndarray | None:
        """The rows a search may return, sorted; None when every row may."""
        if (where is None or where.is_empty) and documents is None:
            return None
        documents_by_id = self.index.documents
        # The named documents alone when there are some (a question's few cued ones), in id order.
        candidates = self._doc_ids if documents is None else sorted(set(documents) & self._doc_rows.keys())
        parts = [self._doc_rows[d] for d in candidates if d in self._doc_rows and admitted(where, documents_by_id[d])]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, highest first, equal scores in position order.

    A partition then a sort of the ``k``: sorting all 158k passages' BM25 scores for 50 of
    them took 3.6 ms a search at the whole library, this 1.3 ms.
    """
    if k <= 0 or len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    if k < len(scores):
        # Every position scoring at least the k-th best, so that ties at the cut are decided by position.
        kth = -np.partition(-scores, k - 1)[k - 1]
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(len(scores))
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]
