"""The records that flow between the stages, frozen and JSON-ready.

Stages import these types, never each other's modules. A *chunk* (``chunk.Chunk``)
is a unit cut and indexed at build time; a *passage* is what a search returns:
one chunk, or several overlapping chunks of a section merged into one verbatim
stretch (``Passage.chunk_ids``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

# Document kinds that the retrieval cues know ("the paper says", "本法").
KIND_PAPER = "paper"
KIND_LAW = "law"
KIND_TEXT = "text"


def document_kind(metadata: dict[str, object], path: str) -> str:
    """A document's kind: declared by its metadata, else ``law`` for Markdown files, else ``text``.

    The corpus's Markdown files are law texts (第X章/第X条 under Markdown headings);
    a sidecar's ``kind`` overrides that for any file.
    """
    declared = metadata.get("kind")
    if isinstance(declared, str) and declared:
        return declared
    return KIND_LAW if path.lower().endswith(".md") else KIND_TEXT


def page_at(pages: tuple[tuple[int, int], ...], offset: int) -> int | None:
    """The 1-based page whose [start, end) range holds ``offset``; None without pages."""
    if not pages:
        return None
    starts = [start for start, _ in pages]
    return max(1, min(len(pages), bisect_right(starts, offset)))


@dataclass(frozen=True)
class Located:
    """Something quoted from a source: the document, its section path and the exact character span.

    ``char_start``/``char_end`` index the document's text (for a converted file, the
    extracted text); ``page``/``page_end`` are the 1-based pages of a paged source (PDF)
    where it starts and ends, and ``page_char_start`` the offset of its start in that
    page's text. ``kind`` is the document's kind (law, local_regulation, paper …).
    """

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    char_start: int
    char_end: int
    score: float
    kind: str = field(default="", kw_only=True)
    page: int | None = field(default=None, kw_only=True)
    page_end: int | None = field(default=None, kw_only=True)
    page_char_start: int | None = field(default=None, kw_only=True)

    def location_fields(self) -> dict[str, object]:
        """The JSON fields that locate it in its source (CLI, API, evaluation)."""
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "kind": self.kind,
            "section": self.section,
            "text": self.text,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "page": self.page,
            "page_end": self.page_end,
            "page_char_start": self.page_char_start,
            "score": round(self.score, 4),
        }

    def to_dict(self) -> dict[str, object]:
        return self.location_fields()


@dataclass(frozen=True)
class Passage(Located):
    """A retrieved passage with its scores.

    ``chunk_id`` is the best-ranked chunk the passage grew from; ``chunk_ids`` lists
    every chunk merged into it, in reading order.
    """

    dense_score: float
    lexical_score: float
    sentence_rows: tuple[int, ...] = field(repr=False)
    spans: tuple[tuple[int, int], ...] = field(repr=False)
    chunk_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation(Located):
    """A numbered source of an answer: the passage and the sentences quoted from it."""

    n: int
    quotes: tuple[str, ...]
    highlights: tuple[tuple[int, int], ...]  # offsets of the quoted sentences within ``text``

    @classmethod
    def of(cls, n: int, passage: Passage, quotes: Sequence[str]) -> Citation:
        """Citation ``n`` of ``passage``, its ``quotes`` highlighted where the passage holds them."""
        highlights = []
        for quote in quotes:
            start = passage.text.find(quote)
            if start >= 0:
                highlights.append((start, start + len(quote)))
        located = {f.name: getattr(passage, f.name) for f in fields(Located)}
        return cls(n=n, quotes=tuple(quotes), highlights=tuple(highlights), **located)

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            **self.location_fields(),
            "quotes": list(self.quotes),
            "highlights": [list(h) for h in self.highlights],
        }


@dataclass(frozen=True)
class Query:
    """A question prepared for retrieval: its vector and its lexical tokens."""

    text: str
    vector: np.ndarray
    tokens: tuple[str, ...]
    glossary_terms: tuple[str, ...]  # the glossary's Chinese terms for the question's phrases, or in its text
    expansion: tuple[str, ...]  # all Chinese terms added for BM25 (glossary and cross-lingual matches)
    chinese: bool
    own_tokens: tuple[str, ...] = ()  # the question's words and its glossary terms, without cross-lingual matches
    lexical: tuple[str, ...] = ()  # the BM25 query: tokens, and synonym sets of one English phrase's renderings
    # An English question's phrases and the Chinese words found for each (dictionary and vocabulary matcher).
    renderings: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Of those, the corpus words the encoder puts closest to each phrase (``close_word_floor``):
    # verification takes them as renderings, where the dictionary's senses miss the corpus's word.
    close_words: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # An English question's vector moved by the learned query map (``query_map.py``): what ranks
    # passages by similarity. None where there is no map; ``vector`` is what every check reads.
    ranking_vector: np.ndarray | None = None


ANSWERED = "answered"
PARTIAL = "partial"
NOT_COVERED = "not_covered"


@dataclass(frozen=True)
class Verdict:
    """What verification found: the evidence answers, answers in part, or does not cover the question.

    ``missing`` names what the texts do not state, for a partial answer: the kind of figure
    asked for, or (``unmentioned``) the words of the question the named document never uses
    (with no document, ``missing`` empty: the terms it quotes that no text says),
    or (``versions``: the earlier version's date and the one in force) the article asked for,
    which only an earlier version of the document has.
    """

    outcome: str
    reason: str | None = None
    missing: str | None = None
    unmentioned: tuple[str, ...] = ()
    versions: tuple[str, str] | None = None


@dataclass(frozen=True)
class GroundedSentence:
    """A generated sentence the verifier kept: its text with ``[n]`` markers and what it rests on.

    ``source`` is the passage sentence (Chinese) closest to it among those it cites, in the
    citation ``source_n``; ``similarity`` their cosine in the encoder's space.
    """

    text: str
    citations: tuple[int, ...]
    source: str
    source_n: int
    similarity: float

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "citations": list(self.citations),
            "source": {"n": self.source_n, "sentence": self.source},
            "similarity": round(self.similarity, 4),
        }


@dataclass(frozen=True)
class Generation:
    """How a generated answer went: the sentences kept, how many were dropped and why, a note.

    ``fallback`` is true when the answer shown is the extractive one (the endpoint failed,
    or no generated sentence passed verification); ``note`` then says why, for the reader.
    """

    model: str
    kept: tuple[GroundedSentence, ...] = ()
    dropped: int = 0
    dropped_reasons: tuple[str, ...] = ()
    fallback: bool = False
    note: str | None = None
    # The share of generated sentences written in the question's language (None: none generated).
    language_match: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "kept": len(self.kept),
            "dropped": self.dropped,
            "dropped_reasons": list(self.dropped_reasons),
            "fallback": self.fallback,
            "note": self.note,
            "language_match": None if self.language_match is None else round(self.language_match, 3),
            "sentences": [k.to_dict() for k in self.kept],
        }


@dataclass(frozen=True)
class Answer:
    """The result of ``Assistant.ask``.

    ``outcome`` is ``answered``, ``partial`` (the answer first says what the texts do not
    state, then quotes what they do) or ``not_covered`` (``abstained``).
    """

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    abstain_reason: str | None = None
    outcome: str = ANSWERED
    resolved_question: str | None = None  # what was searched, when a follow-up was resolved
    # ``llm`` when a generated answer was asked for (``generation`` says how it went).
    mode: str = "extractive"
    generation: Generation | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "question": self.question,
            "resolved_question": self.resolved_question,
            "answer": self.answer,
            "outcome": self.outcome,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "citations": [c.to_dict() for c in self.citations],
        }
        # An extractive answer keeps the JSON it always had.
        if self.mode != "extractive" or self.generation is not None:
            out["mode"] = self.mode
            out["generation"] = None if self.generation is None else self.generation.to_dict()
        return out


@dataclass(frozen=True)
class SearchResult:
    """The result of ``Assistant.search``."""

    question: str
    passages: tuple[Passage, ...]

    def to_dict(self) -> dict[str, object]:
        return {"question": self.question, "passages": [p.to_dict() for p in self.passages]}


@dataclass(frozen=True)
class Trace:
    """One run of the pipeline, step by step: what ``Assistant.trace`` returns.

    ``ranked`` goes to the depth asked for (evaluation ranks to 10); the answer uses
    its first ``k`` passages. ``relevance`` is the measure the abstention floor compares.
    """

    query: Query
    ranked: tuple[Passage, ...]
    k: int
    relevance: float
    answer: Answer

    @property
    def passages(self) -> tuple[Passage, ...]:
        """The passages the answer was composed from."""
        return self.ranked[: self.k]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.query.text,
            "expansion": list(self.query.expansion),
            "relevance": round(self.relevance, 4),
            "abstain_reason": self.answer.abstain_reason,
            "candidates": [
                {
                    **p.to_dict(),
                    "dense_score": round(p.dense_score, 4),
                    "lexical_score": round(p.lexical_score, 4),
                    "chunk_ids": list(p.chunk_ids),
                }
                for p in self.ranked
            ],
            "answer": self.answer.to_dict(),
        }


@dataclass(frozen=True)
class SearchFilter:
    """Which documents a search may return: by id, kind, region (Chinese name, 北京) and year range.

    Empty fields admit everything; a document must pass every field that is set.
    """

    doc_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.doc_ids or self.kinds or self.regions) and self.year_from is None and self.year_to is None

    def admits(self, document: DocumentInfo) -> bool:
        if self.doc_ids and document.doc_id not in self.doc_ids:
            return False
        if self.kinds and document.kind not in self.kinds:
            return False
        if self.regions and document.metadata.get("region") not in self.regions:
            return False
        if self.year_from is not None or self.year_to is not None:
            year = document.metadata.get("year")
            if not isinstance(year, int):
                return False
            if (self.year_from is not None and year < self.year_from) or (
                self.year_to is not None and year > self.year_to
            ):
                return False
        return True

    def to_dict(self) -> dict[str, object]:
        return {
            "doc_ids": list(self.doc_ids),
            "kinds": list(self.kinds),
            "regions": list(self.regions),
            "year_from": self.year_from,
            "year_to": self.year_to,
        }


def admitted(where: SearchFilter | None, document: DocumentInfo) -> bool:
    """Whether an optional filter lets ``document`` through (no filter, or an empty one, lets all)."""
    return where is None or where.is_empty or where.admits(document)


@dataclass(frozen=True)
class SkippedFile:
    """A corpus file that could not be indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BuildReport:
    """What ``Assistant.build`` did."""

    folder: str
    documents: int
    chunks: int
    seconds: float
    skipped: tuple[SkippedFile, ...]
    # The live build was extended with added files rather than built afresh (``index.extend``).
    extended: bool = False

    @property
    def passages(self) -> int:
        """The chunks indexed (the name of earlier releases)."""
        return self.chunks


@dataclass(frozen=True)
class DocumentInfo:
    """What the index remembers of a source document."""

    doc_id: str
    title: str
    path: str
    sha256: str
    chars: int
    chunks: int
    metadata: dict[str, object]
    sections: tuple[str, ...]
    pages: tuple[tuple[int, int], ...] = ()  # [start, end) of each page of a paged source

    @property
    def kind(self) -> str:
        return document_kind(self.metadata, self.path)

    @property
    def passages(self) -> int:
        """The chunks cut from it (the name of earlier releases)."""
        return self.chunks

    def locate(self, char_start: int, char_end: int) -> dict[str, int | None]:
        """``page``, ``page_end`` and ``page_char_start`` of a span of this document's text."""
        page = page_at(self.pages, char_start)
        if page is None:
            return {"page": None, "page_end": None, "page_char_start": None}
        return {
            "page": page,
            "page_end": page_at(self.pages, max(char_start, char_end - 1)),
            "page_char_start": char_start - self.pages[page - 1][0],
        }
