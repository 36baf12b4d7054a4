"""Lexical stage: BM25 over jieba tokens (``bm25s``), built once and persisted.

The index is saved as JSON and ``.npy`` arrays (never pickle) and loaded
memory-mapped, so a query only tokenises the question and reads scores.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

_TOKEN_RE = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+(?:[.%][a-z0-9]+)*", re.I)
# Function words that would otherwise dominate short Chinese queries.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 为 对 等 中 将 以 其 并 而 也 都 由 从 向 于 之 被 把 这 那 该 有 个 "
    "什么 哪些 如何 怎样 怎么 多少 哪个 吗 呢 吧 哪 谁 为什么 是否 应当 可以 "
    "the a an of and or to in on for is are what which how who does do did with by as at from that this "
    "be it its into about".split()
)


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


@lru_cache(maxsize=1)
def _bm25s():  # type: ignore[no-untyped-def]
    import bm25s

    # bm25s sets its logger to DEBUG when imported, overriding the level the CLI chose,
    # so every build printed "DEBUG: Building index from tokens".
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def tokenize(text: str) -> list[str]:
    """Words for BM25: jieba's segmentation, lower-cased, without punctuation and function words."""
    tokens: list[str] = []
    for word in _jieba().lcut(text.lower()):
        word = word.strip()
        if not word or word in STOPWORDS or not _TOKEN_RE.search(word):
            continue
        tokens.append(word)
    return tokens


class LexicalIndex:
    """BM25 scores for every passage of the index."""

    def __init__(self, model: object) -> None:
        self._model = model
        self._vocab: dict[str, int] = model.vocab_dict  # type: ignore[attr-defined]

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        model = _bm25s().BM25()
        corpus_tokens = [tokenize(t) or [""] for t in texts]
        model.index(corpus_tokens, show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        self._model.save(str(folder), show_progress=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        return cls(_bm25s().BM25.load(str(folder), mmap=True, allow_pickle=False))

    def idf(self, tokens: list[str]) -> np.ndarray:
        """Inverse document frequency of each token (0 for a token the corpus lacks)."""
        num_docs = int(self._model.scores["num_docs"])  # type: ignore[attr-defined]
        indptr = self._model.scores["indptr"]  # type: ignore[attr-defined]
        out = np.zeros(len(tokens), dtype=np.float32)
        for i, token in enumerate(tokens):
            if (j := self._vocab.get(token)) is not None:
                df = int(indptr[j + 1] - indptr[j])
                out[i] = np.log(1 + (num_docs - df + 0.5) / (df + 0.5))
        return out

    def vocabulary(self) -> list[str]:
        return list(self._vocab)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (zeros if none is known)."""
        ids = [self._vocab[t] for t in query_tokens if t in self._vocab]
        num_docs = int(self._model.scores["num_docs"])  # type: ignore[attr-defined]
        if not ids:
            return np.zeros(num_docs, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)  # type: ignore[attr-defined]
