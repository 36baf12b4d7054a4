"""FAISS search through ``VectorSearch``: HNSW for everything, exact among a few allowed rows."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MINI_DIR

import policyqa.index.vectors as vectors_module
from policyqa import Assistant
from policyqa.expand import QueryPreparer
from policyqa.index import build_index, load_index, parts, read_manifest
from policyqa.index.manifest import TERM_INDEX_FILE
from policyqa.index.vectors import (
    EXACT_ALLOWED_LIMIT,
    HNSW_EF_SEARCH,
    TERM_EF_SEARCH,
    VectorSearch,
    make_faiss_index,
)
from policyqa.settings import Settings


def _vectors(rows: int, seed: int = 3) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal((rows, 32)).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


def test_a_search_among_few_allowed_rows_is_exact_and_ordered() -> None:
    vectors = _vectors(25_000)
    search = VectorSearch(make_faiss_index(vectors))  # HNSW above the exact-search limit
    assert hasattr(search.index, "hnsw") and search.index.hnsw.efSearch == HNSW_EF_SEARCH
    # The graph keeps its vectors as float16: exact among allowed rows is exact over those.
    stored = vectors.astype(np.float16).astype(np.float32)
    assert np.array_equal(search.reconstruct(np.arange(100)), stored[:100])
    query = vectors[126]  # an allowed row
    allowed = np.arange(0, 25_000, 9)  # 2,778 rows scattered over the graph
    assert len(allowed) <= EXACT_ALLOWED_LIMIT
    rows, scores = search.search(query, 10, allowed)
    expected = allowed[np.argsort(-(stored[allowed] @ query), kind="stable")[:10]]
    assert rows.tolist() == expected.tolist()
    np.testing.assert_allclose(scores, stored[rows] @ query, rtol=1e-5)
    assert rows[0] == 126
    # More rows than asked for: all of them, best first.
    few = np.asarray([5, 40, 300])
    rows, scores = search.search(query, 10, few)
    assert sorted(rows.tolist()) == [5, 40, 300] and list(scores) == sorted(scores, reverse=True)


def test_a_search_among_many_allowed_rows_keeps_to_them() -> None:
    vectors = _vectors(25_000, seed=4)
    search = VectorSearch(make_faiss_index(vectors))
    allowed = np.arange(0, 25_000, 2)  # above the exact limit: HNSW with a selector
    assert len(allowed) > EXACT_ALLOWED_LIMIT
    rows, _ = search.search(vectors[10], 20, allowed)
    assert len(rows) == 20 and set(rows.tolist()) <= set(allowed.tolist()) and rows[0] == 10


def test_a_large_vocabulary_is_searched_through_its_own_index(
    tmp_path, monkeypatch: pytest.MonkeyPatch, use_encoder
) -> None:
    # The whole library's 48,000 words get an HNSW index; the mini corpus's few hundred would
    # not, so the limit is lowered for this build.
    monkeypatch.setattr(parts, "EXACT_SEARCH_LIMIT", 10)
    monkeypatch.setattr(vectors_module, "EXACT_SEARCH_LIMIT", 10)
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=tmp_path / "index")
    folder, _ = build_index(settings, use_encoder)
    assert TERM_INDEX_FILE in read_manifest(folder)["files"]
    index = load_index(settings, use_encoder)
    assert index.term_search is not None and index.term_search.size == len(index.terms) > 10
    assert index.term_search.index.hnsw.efSearch == TERM_EF_SEARCH
    question = "How are patent rewards shared between the university and the inventors?"
    searched = QueryPreparer(use_encoder, index.terms, index.term_vectors, settings, index.term_search)
    exact = QueryPreparer(use_encoder, index.terms, index.term_vectors, settings)  # as for a small vocabulary
    assert set(searched.prepare(question).expansion) == set(exact.prepare(question).expansion)
    assert Assistant(settings, encoder=use_encoder, auto_build=False)._current().preparer._matcher.search is not None


def test_the_graphs_float16_vectors_find_what_exact_float32_search_finds() -> None:
    vectors = _vectors(25_000, seed=5)
    search = VectorSearch(make_faiss_index(vectors))
    assert type(search.index).__name__ == "IndexHNSWSQ"
    queries = _vectors(50, seed=6)
    found = 0
    for query in queries:
        rows, scores = search.search(query, 10)
        exact = np.argsort(-(vectors @ query), kind="stable")[:10]
        found += len(set(rows.tolist()) & set(exact.tolist()))
        # Scores are the float16 vectors' products: within a rounding of the float32 ones.
        np.testing.assert_allclose(scores, vectors[rows] @ query, atol=2e-3)
    assert found / (10 * len(queries)) >= 0.95
