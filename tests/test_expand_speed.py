"""Cross-lingual term matching: the fast selection returns what the plain float32 computation returns."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import policyqa.index.vectors as vectors_module
from policyqa.embed import Encoder
from policyqa.expand import TermMatcher, english_phrases
from policyqa.index.vectors import TERM_EF_SEARCH, VectorSearch, make_term_index

DIMENSION = 512
CONCEPTS = 40
TERMS_PER_CONCEPT = 60
# Exact copies of a concept's first term: words the encoder cannot tell apart tie.
COPIES = 3

QUESTIONS = [
    "How does technology transfer reward the inventors of a patent?",
    "What share of operating profit goes to the research team each year?",
    "Which provincial regulation differs from national law on rewards?",
    "Describe the innovation system and its funding levels.",
    "What obligations does the university have when a patent is unused?",
    "Who approves the licence, and how long is the reward period?",
]


def _concept_centres() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((CONCEPTS, DIMENSION)).astype(np.float32)


class _ConceptEncoder(Encoder):
    """Places each phrase near one of the concepts (chosen by its CRC-32), with noise of its own."""

    encoder_id = "concepts-512"
    dimension = DIMENSION

    def __init__(self) -> None:
        self.centres = _concept_centres()

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        rows = []
        for text in texts:
            seed = zlib.crc32(text.encode("utf-8"))
            noise = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            rows.append(self.centres[seed % CONCEPTS] + 0.8 * noise)
        return np.stack(rows)


class _FixedEncoder(Encoder):
    """Embeds every phrase as one given vector."""

    encoder_id = "fixed"
    dimension = DIMENSION

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        return np.repeat(self.vector[None, :], len(texts), axis=0)


def _term_vocabulary() -> tuple[list[str], np.ndarray]:
    """Words around each concept (many above the floor for a phrase near it), and exact copies."""
    rng = np.random.default_rng(11)
    centres = _concept_centres()
    vectors = [
        centre + rng.uniform(0.3, 1.5) * rng.standard_normal((TERMS_PER_CONCEPT, DIMENSION)) for centre in centres
    ]
    vectors.append(rng.standard_normal((500, DIMENSION)))  # words near no concept
    matrix = np.concatenate(vectors).astype(np.float32)
    matrix = np.concatenate([matrix, np.repeat(matrix[::TERMS_PER_CONCEPT][:CONCEPTS], COPIES, axis=0)])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    order = rng.permutation(len(matrix))  # copies anywhere in the vocabulary, as in a real one
    return [f"词{i}" for i in range(len(matrix))], np.ascontiguousarray(matrix[order])


def _brute_force(matcher: TermMatcher, question: str) -> list[tuple[str, float]]:
    """The plain computation: every phrase against every word in float32, a full partition per phrase."""
    phrases = english_phrases(question)
    unique = list(dict.fromkeys(phrases))
    similarities = matcher.encoder.encode_documents(unique) @ matcher.vectors.T
    k = min(matcher.per_phrase, len(matcher.terms))
    per_phrase = {}
    for phrase, row in zip(unique, similarities, strict=True):
        best = np.argpartition(-row, k - 1)[:k]
        per_phrase[phrase] = [(matcher.terms[j], float(row[j])) for j in best[np.argsort(-row[best])]]
    found: dict[str, float] = {}
    for phrase in phrases:
        for term, similarity in per_phrase[phrase]:
            if similarity >= matcher.floor:
                found[term] = max(found.get(term, 0.0), similarity)
    return list(found.items())


@pytest.mark.parametrize(("per_phrase", "floor"), [(3, 0.5), (1, 0.5), (10, 0.3), (3, -1.0), (3, 0.99)])
def test_matches_equal_the_plain_float32_computation(per_phrase: int, floor: float) -> None:
    terms, vectors = _term_vocabulary()
    matcher = TermMatcher(_ConceptEncoder(), terms, vectors, per_phrase, floor)

    for question in QUESTIONS:
        expected = _brute_force(matcher, question)
        matcher._cache.clear()
        assert matcher.matches(question) == expected
        assert matcher.matches(question) == expected  # from the phrase cache


def test_the_questions_meet_ties_and_many_words_above_the_floor() -> None:
    # What the comparison above must cover: phrases with hundreds of words above the floor,
    # and exact ties among a phrase's best words.
    terms, vectors = _term_vocabulary()
    encoder = _ConceptEncoder()
    phrases = list(dict.fromkeys(p for q in QUESTIONS for p in english_phrases(q)))
    similarities = encoder.encode_documents(phrases) @ vectors.T

    assert (similarities >= 0.3).sum(axis=1).max() >= 50
    best = -np.sort(-similarities, axis=1)[:, :4]
    assert np.any(best[:, 1:] == best[:, :-1])


def test_words_tied_with_the_best_keep_the_order_of_the_full_partition() -> None:
    terms, vectors = _term_vocabulary()
    twins = np.repeat(vectors[:1], 5, axis=0)
    matcher = TermMatcher(_FixedEncoder(vectors[0]), [*terms, *"甬岷鳌舱苫"], np.concatenate([vectors, twins]), 3, 0.5)
    question = "Which regulation covers the river?"

    assert matcher.matches(question) == _brute_force(matcher, question)


def test_matches_through_the_vocabularys_hnsw_index_equal_the_exact_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # At the library the vocabulary gets an HNSW index (``vectors.make_term_index``); on this
    # vocabulary of 2,400 words its efSearch finds what the full product finds, ties aside.
    monkeypatch.setattr(vectors_module, "EXACT_SEARCH_LIMIT", 10)
    terms, vectors = _term_vocabulary()
    index = make_term_index(vectors)
    assert hasattr(index, "hnsw")
    search = VectorSearch(index, ef_search=TERM_EF_SEARCH)
    exact = TermMatcher(_ConceptEncoder(), terms, vectors, 3, 0.5)
    searched = TermMatcher(_ConceptEncoder(), terms, vectors, 3, 0.5, search)
    for question in QUESTIONS:
        expected, found = dict(exact.matches(question)), dict(searched.matches(question))
        # FAISS's and numpy's float32 products may differ in the last place (by the CPU's vector unit).
        np.testing.assert_allclose(sorted(found.values()), sorted(expected.values()), atol=1e-5)
        for term in found.keys() - expected.keys():  # only a tied twin may stand for another word
            twin = vectors[terms.index(term)]
            assert any(np.array_equal(twin, vectors[terms.index(t)]) for t in expected.keys() - found.keys())
