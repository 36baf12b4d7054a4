"""The public entry point and the one place the pipeline runs: ``Assistant``.

retrieve → relevance floor → verify → answer. ``ask`` and ``search`` serve the CLI,
the HTTP API and the UI; ``trace`` is the same run with every step kept, and is what
the evaluation and the comparison measure, so what is measured is what is served.

Example:
    >>> assistant = Assistant(Settings.from_env())
    >>> print(assistant.ask("What policy fits a technology in the trough of disillusionment?").answer)
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace

from .answer import compose_answer, not_covered, partial
from .dictionary import is_chinese_word
from .documents import HIDDEN_CHARACTERS
from .embed import Encoder, get_encoder
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexUnusableError, QuestionError
from .expand import QueryPreparer
from .followup import resolve_follow_up
from .generate import MODE_EXTRACTIVE, MODE_LLM, LlmAnswerer, check_mode
from .index import LoadedIndex, ProgressFn, build_index, current_build, is_stale, load_index
from .lexical import nouns
from .retrieve import Retriever
from .scope import GENERAL_QUESTION, scope_model_for
from .settings import Settings, check_top_k
from .stores import open_store
from .types import (
    NOT_COVERED,
    PARTIAL,
    Answer,
    BuildReport,
    DocumentInfo,
    GroundedSentence,
    Passage,
    Query,
    SearchFilter,
    SearchResult,
    Trace,
)
from .verify import check, in_force_first, never_said, some_words_unknown_to_corpus

log = logging.getLogger("policyqa")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
BELOW_FLOOR = "no passage is close enough to the question"
# Asked once before the first real question; the English one loads CC-CEDICT's index and the term matcher.
WARM_UP_QUESTIONS = ("预热 warm-up", "warm-up of the policy index")


def clean_question(question: object, max_chars: int) -> str:
    """Validate a question; return it without control characters and lone surrogates."""
    if not isinstance(question, str):
        raise QuestionError(f"A question must be text. Currently, it is {type(question).__name__}.")
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", question)).strip()
    # Zero-width, direction and tag characters alone ask nothing.
    if not HIDDEN_CHARACTERS.sub("", text).strip():
        raise QuestionError("The question is empty.")
    if len(text) > max_chars:
        raise QuestionError(f"The question has {len(text):,} characters; the limit is {max_chars:,}.")
    return text


class _Loaded:
    """An index with the query-time objects built on it; replaced as a whole when a new build loads."""

    def __init__(self, index: LoadedIndex, encoder: Encoder, settings: Settings, publish: bool = True) -> None:
        self.index = index
        self.preparer = QueryPreparer(
            encoder,
            index.terms,
            index.term_vectors,
            settings,
            index.term_search,
            index.lexical,
            [document.title for document in index.documents.values()],
        )
        # POLICYQA_STORE=milvus…: candidates come from Milvus, which gets the build first when it
        # lacks it and publishing is allowed (as a missing local index is built when auto_build is on).
        store = open_store(settings.store, index, publish=publish)
        self.retriever = Retriever(index, encoder, settings, store)
        self.scope = scope_model_for(encoder.encoder_id)


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
        self._loaded: _Loaded | None = None
        self._llm: LlmAnswerer | None = None

    @property
    def llm(self) -> LlmAnswerer:
        """The generator of ``mode="llm"`` answers (``generate``), made on first use; replaceable in tests."""
        if self._llm is None:
            from .grounding import Grounder, default_lookup

            self._llm = LlmAnswerer(self.settings, Grounder(self.encoder, lookup=default_lookup()))
        return self._llm

    @llm.setter
    def llm(self, value: LlmAnswerer) -> None:
        self._llm = value

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self.settings.encoder)
        return self._encoder

    def build(self, progress: ProgressFn | None = None, *, full: bool = False) -> BuildReport:
        """(Re)build the index from the corpus and load it (extended with added files, unless ``full``)."""
        with self._lock:
            folder, skipped = build_index(self.settings, self.encoder, progress, full=full)
            index = self._load(publish=True)
            counts = index.manifest["counts"]
            return BuildReport(
                folder=str(folder),
                documents=int(counts["documents"]),  # type: ignore[index]
                chunks=int(counts["chunks"]),  # type: ignore[index]
                seconds=float(index.manifest["build_seconds"]),  # type: ignore[arg-type]
                skipped=tuple(skipped),
                extended="extended_from" in index.manifest,
            )

    def _load(self, publish: bool | None = None) -> LoadedIndex:
        index = load_index(self.settings, self.encoder)
        publish = self.auto_build if publish is None else publish
        self._loaded = _Loaded(index, self.encoder, self.settings, publish)
        return index

    @property
    def index(self) -> LoadedIndex:
        """The loaded index (built first when missing or stale and ``auto_build`` is on)."""
        return self._current().index

    def _current(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._ensure_loaded()
                loaded = self._loaded
        assert loaded is not None
        return loaded

    def _ensure_loaded(self) -> None:
        try:
            index = self._load()
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
        if is_stale(index.manifest, self.settings):
            if not self.auto_build:
                raise IndexMismatchError("The corpus changed since the index was built.")
            log.warning("The corpus changed since the index was built. Rebuilding the changed parts.")
            build_index(self.settings, self.encoder)
            self._load()

    @property
    def generation(self) -> str:
        """The name of the loaded build (``LoadedIndex.generation``); loads the index on first use."""
        return self._current().index.generation

    @property
    def loaded(self) -> bool:
        """True once an index build is loaded (``index``, ``search`` or ``ask`` load it on first use)."""
        return self._loaded is not None

    def has_new_build(self) -> bool:
        """True when a newer build than the loaded one is live (one read of ``CURRENT``); False before any load."""
        loaded = self._loaded
        if loaded is None:
            return False
        try:
            return current_build(self.settings.replace()).name != loaded.index.generation
        except (IndexMissingError, IndexCorruptError):  # a missing or broken pointer: keep serving the loaded build
            return False

    def refresh(self) -> bool:
        """Load the live build if another one went live since the loaded one; True when it did.

        Cheap when nothing changed: one read of the ``CURRENT`` pointer. The new index
        replaces the old as a whole, so a question in flight finishes on the generation
        it started with and the next one gets the new. Before the first load it does
        nothing (the first question loads the live build anyway) and returns False.
        """
        loaded = self._loaded
        if loaded is None:
            return False
        before = loaded.index.generation
        # The managed folder may have appeared since these settings were made (the first
        # ``policyqa add``); a fresh copy lists it among the corpus folders.
        settings = self.settings.replace()
        for _ in range(3):
            live = current_build(settings).name
            if live == loaded.index.generation:
                break
            with self._lock:
                loaded = self._loaded
                assert loaded is not None
                if live == loaded.index.generation:  # another thread refreshed meanwhile
                    break
                try:
                    index = load_index(settings, self.encoder)
                except IndexUnusableError:
                    # A newer build went live and removed this one while it loaded: load that.
                    if current_build(settings).name != live:
                        continue
                    raise
                self.settings = settings
                self._loaded = loaded = _Loaded(index, self.encoder, settings, self.auto_build)
                break
        return loaded.index.generation != before

    @property
    def retriever(self) -> Retriever:
        return self._current().retriever

    def prepare(self, question: str) -> Query:
        """The question checked and prepared for retrieval (vector, tokens, expansion)."""
        return self._prepare(self._current(), question)

    def _prepare(self, loaded: _Loaded, question: str) -> Query:
        return loaded.preparer.prepare(clean_question(question, self.settings.max_question_chars))

    def warm_up(self) -> None:
        """Load the index, the encoder and every table a first question would load, so that it is fast."""
        for question in WARM_UP_QUESTIONS:
            self.ask(question, k=1)
        nouns(WARM_UP_QUESTIONS[0])  # jieba's part-of-speech tables, for questions that name a document
        # CC-CEDICT's headwords, for the words jieba lacks in a Chinese question that names a
        # document: read at their first use, they held up that question by 0.2-0.3 s.
        is_chinese_word(WARM_UP_QUESTIONS[0][:2])

    def forget_questions(self) -> None:
        """Forget the questions asked so far (their vectors, their named documents): benchmarks time each as new."""
        self.encoder.forget_queries()
        self.retriever.forget_questions()

    def search(
        self,
        question: str,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
        where: SearchFilter | None = None,
    ) -> SearchResult:
        """The ``k`` best passages for the question, best first (``doc_ids``, ``where``: only those documents)."""
        top_k = check_top_k(self.settings.top_k if k is None else k)
        loaded = self._current()
        query = self._prepare(loaded, question)
        return SearchResult(query.text, tuple(loaded.retriever.search(query, top_k, _combined(where, doc_ids))))

    def ask(
        self,
        question: str,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
        where: SearchFilter | None = None,
        earlier: Sequence[str] = (),
        mode: str = MODE_EXTRACTIVE,
    ) -> Answer:
        """An extractive answer with numbered citations, or an abstention.

        ``earlier``: the conversation's previous questions (latest last); a short follow-up
        ("What about the growth stage?") is resolved against them (``followup``) and the
        answer's ``resolved_question`` says what was searched. ``mode="llm"``: an answer
        written by the configured LLM in the question's language, every sentence verified
        against its citation, else the extractive one with a note (``generate``).
        """
        return self.trace(question, k, doc_ids, where=where, earlier=earlier, mode=mode).answer

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
        where: SearchFilter | None = None,
        earlier: Sequence[str] = (),
        mode: str = MODE_EXTRACTIVE,
    ) -> Iterator[GroundedSentence | Answer]:
        """``ask`` as a stream: verified generated sentences as they come, then the ``Answer``.

        The question is checked and the passages retrieved before this returns, so a bad
        question raises here, not while the stream is read. In extractive mode the stream
        holds the answer alone.
        """
        check_mode(mode)
        trace = self.trace(question, k, doc_ids, where=where, earlier=earlier)
        if mode != MODE_LLM:
            return iter((trace.answer,))
        asked = trace.answer.question
        return self.llm.stream(asked, list(trace.passages), trace.answer)

    def trace(
        self,
        question: str,
        k: int | None = None,
        doc_ids: Collection[str] | None = None,
        depth: int | None = None,
        where: SearchFilter | None = None,
        earlier: Sequence[str] = (),
        mode: str = MODE_EXTRACTIVE,
    ) -> Trace:
        """``ask`` with every step kept: the ranking to ``depth`` (at least ``k``), relevance, the answer.

        The answer uses the first ``k`` passages of the ranking, exactly as ``ask`` does:
        ranking deeper only adds passages after them.
        """
        top_k = check_top_k(self.settings.top_k if k is None else k)
        check_mode(mode)
        loaded = self._current()
        asked = clean_question(question, self.settings.max_question_chars)
        resolved = resolve_follow_up(asked, [q for q in earlier if isinstance(q, str) and q.strip()])
        query = self._prepare(loaded, resolved or asked)
        ranked = loaded.retriever.search(query, max(top_k, depth or 0), _combined(where, doc_ids))
        passages = ranked[:top_k]
        relevance = loaded.retriever.relevance(query, passages)
        answer = self._answer(query, passages, relevance, loaded)
        if resolved is not None:
            answer = replace(answer, question=asked, resolved_question=resolved)
        if mode == MODE_LLM:
            # The asker's own words decide the language; the passages are those just retrieved.
            answer = self.llm.answer(asked, passages, answer)
        return Trace(query, tuple(ranked), top_k, relevance, answer)

    def _answer(self, query: Query, passages: list[Passage], relevance: float, loaded: _Loaded) -> Answer:
        if not passages or relevance < self.settings.abstain_threshold:
            return not_covered(query, passages, BELOW_FLOOR)
        index = loaded.index
        if relevance < self.settings.unknown_word_floor and (unknown := some_words_unknown_to_corpus(query, index)):
            # A word no text uses and a weak best passage: the question is about something else.
            return not_covered(query, passages, never_said(query, unknown))
        named = loaded.retriever.named_documents(query.text)
        passages = in_force_first(query, passages, index, named)
        general = self._asks_general(query, loaded)
        # A word no text uses ("nephew", 亲戚) says a question is about something else when its best
        # passage is weak or it reads as general knowledge; a close passage to a question of the law's
        # scope says the word only tells the asker's story ("My nephew just turned 16 …").
        judge_unknown_words = relevance < self.settings.unknown_word_floor or general
        verdict = check(
            query,
            passages,
            index,
            self.settings.max_missing_content,
            self.settings.check_names,
            named,
            judge_unknown_words,
        )
        if verdict.outcome == NOT_COVERED:
            return not_covered(query, passages, verdict.reason or "")
        if relevance < self.settings.general_question_relevance and general:
            # "How many hours of sleep does an adult need?": its words are in a detention centre's
            # rules, and only a weak passage holds them.
            return not_covered(query, passages, GENERAL_QUESTION)
        answer = compose_answer(query, passages, index, self.settings)
        if verdict.outcome == PARTIAL:
            return partial(
                query, answer, verdict.missing or "", verdict.reason or "", verdict.unmentioned, verdict.versions
            )
        return answer

    def _asks_general(self, query: Query, loaded: _Loaded) -> bool:
        """Whether the scope model takes the question for general knowledge or advice (``scope.py``)."""
        scope = loaded.scope
        return scope is not None and scope.general_probability(query.vector) >= self.settings.general_question_floor

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents with their sections."""
        return list(self.index.documents.values())


def _combined(where: SearchFilter | None, doc_ids: Collection[str] | None) -> SearchFilter | None:
    """One filter from a filter and a list of document ids (the older argument)."""
    if doc_ids is None:
        return where
    base = where or SearchFilter()
    ids = tuple(doc_ids) if not base.doc_ids else tuple(d for d in base.doc_ids if d in set(doc_ids))
    # An empty list of ids admits nothing, as before (no document chosen).
    return replace(base, doc_ids=ids or ("",))
