"""The public entry point: ``Assistant.ask`` and ``Assistant.search``.

Example:
    >>> assistant = Assistant(Settings.from_env())
    >>> print(assistant.ask("What policy fits a technology in the trough of disillusionment?").answer)
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass

from .answer import Answer, compose_answer
from .documents import SkippedFile
from .embed import Encoder, get_encoder
from .errors import IndexMismatchError, IndexMissingError, QuestionError
from .index import DocumentInfo, LoadedIndex, ProgressFn, build_index, is_stale, load_index
from .retrieve import Passage, Retriever
from .settings import Settings, check_top_k

log = logging.getLogger("policyqa")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class SearchResult:
    """The result of ``Assistant.search``."""

    question: str
    passages: tuple[Passage, ...]

    def to_dict(self) -> dict[str, object]:
        return {"question": self.question, "passages": [p.to_dict() for p in self.passages]}


@dataclass(frozen=True)
class BuildReport:
    """What ``Assistant.build`` did."""

    folder: str
    documents: int
    passages: int
    seconds: float
    skipped: tuple[SkippedFile, ...]


def clean_question(question: object, max_chars: int) -> str:
    """Validate a question; return it without control characters and lone surrogates."""
    if not isinstance(question, str):
        raise QuestionError(f"A question must be text. Currently, it is {type(question).__name__}.")
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", question)).strip()
    if not text:
        raise QuestionError("The question is empty.")
    if len(text) > max_chars:
        raise QuestionError(f"The question has {len(text):,} characters; the limit is {max_chars:,}.")
    return text


class Assistant:
    """Answers questions from the indexed corpus, with citations.

    The index is loaded on first use, and built first when it is missing or the
    corpus changed (``auto_build``). An index made by another encoder or
    version is an error unless ``auto_build`` is on, in which case it is rebuilt.
    """

    def __init__(self, settings: Settings | None = None, *, encoder: Encoder | None = None, auto_build: bool = True):
        self.settings = settings or Settings.from_env()
        self._encoder = encoder
        self.auto_build = auto_build
        self._lock = threading.Lock()
        self._index: LoadedIndex | None = None
        self._retriever: Retriever | None = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self.settings.encoder)
        return self._encoder

    def build(self, progress: ProgressFn | None = None) -> BuildReport:
        """(Re)build the index from the corpus and load it."""
        with self._lock:
            folder, skipped = build_index(self.settings, self.encoder, progress)
            self._load()
            assert self._index is not None
            counts = self._index.manifest["counts"]
            return BuildReport(
                folder=str(folder),
                documents=int(counts["documents"]),  # type: ignore[index]
                passages=int(counts["passages"]),  # type: ignore[index]
                seconds=float(self._index.manifest["build_seconds"]),  # type: ignore[arg-type]
                skipped=tuple(skipped),
            )

    def _load(self) -> None:
        self._index = load_index(self.settings, self.encoder)
        self._retriever = Retriever(self._index, self.encoder, self.settings)

    @property
    def index(self) -> LoadedIndex:
        """The loaded index (built first when missing or stale and ``auto_build`` is on)."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._ensure_loaded()
        assert self._index is not None
        return self._index

    def _ensure_loaded(self) -> None:
        try:
            self._load()
        except (IndexMissingError, IndexMismatchError) as exc:
            if not self.auto_build:
                raise
            if isinstance(exc, IndexMissingError):
                log.warning("Building the index (first use; later runs load it).")
            else:
                log.warning("%s Rebuilding the index.", exc.args[0])
            build_index(self.settings, self.encoder)
            self._load()
            return
        assert self._index is not None
        if is_stale(self._index.manifest, self.settings):
            if not self.auto_build:
                raise IndexMismatchError("The corpus changed since the index was built.")
            log.warning("The corpus changed since the index was built. Rebuilding the changed parts.")
            build_index(self.settings, self.encoder)
            self._load()

    @property
    def retriever(self) -> Retriever:
        _ = self.index
        assert self._retriever is not None
        return self._retriever

    def _passages(self, question: str, k: int | None, doc_ids: Collection[str] | None):  # type: ignore[no-untyped-def]
        text = clean_question(question, self.settings.max_question_chars)
        top_k = check_top_k(self.settings.top_k if k is None else k)
        retriever = self.retriever
        query = retriever.prepare(text)
        return query, retriever.search(query, top_k, doc_ids)

    def search(self, question: str, k: int | None = None, doc_ids: Collection[str] | None = None) -> SearchResult:
        """The ``k`` best passages for the question, best first."""
        query, passages = self._passages(question, k, doc_ids)
        return SearchResult(query.text, tuple(passages))

    def ask(self, question: str, k: int | None = None, doc_ids: Collection[str] | None = None) -> Answer:
        """An extractive answer with numbered citations, or an abstention."""
        query, passages = self._passages(question, k, doc_ids)
        relevance = self.retriever.relevance(query, passages)
        return compose_answer(query, passages, self.index, self.settings, relevance)

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents with their sections."""
        return list(self.index.documents.values())
