"""The build's encoding: rows written in place, the cache kept on disk, worker processes, the query cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import CountingEncoder, FakeEncoder

import policyqa.index.workers as workers
from policyqa.embed import Encoder
from policyqa.index.cache import EmbeddingCache, new_array_file
from policyqa.index.workers import by_length, encode_into

TEXTS = [f"第{i}条 科技成果转化{'。' * (i % 7)}收益{i * 37 % 11}" for i in range(700)]


def test_rows_are_written_where_they_belong(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    path = tmp_path / "rows.npy"
    offset = new_array_file(path, (len(TEXTS) + 3, encoder.dimension))
    done = list(
        encode_into(TEXTS, path, offset, 3, encode=encoder.encode_documents, encoder_name=None, method="", processes=1)
    )
    assert done[-1] == len(TEXTS)
    written = np.load(path, allow_pickle=False)
    np.testing.assert_array_equal(written[3:], encoder.encode_documents(TEXTS))
    np.testing.assert_array_equal(written[:3], 0.0)


def test_length_order_is_shortest_first() -> None:
    order = by_length(["ccc", "a", "bb", ""])
    assert order == [3, 1, 2, 0]


def test_cache_appends_each_distinct_text_once_and_stays_memory_mapped(tmp_path: Path) -> None:
    encoder = CountingEncoder(FakeEncoder())
    cache = EmbeddingCache(tmp_path / "cache", encoder.dimension)
    first = cache.embed(encoder, TEXTS[:400] + TEXTS[:10], None, "embed")
    assert encoder.texts_encoded == 400
    again = EmbeddingCache(tmp_path / "cache", encoder.dimension)
    assert isinstance(again.vectors, np.memmap)
    both = again.embed(encoder, TEXTS, None, "embed")
    assert encoder.texts_encoded == len(TEXTS)  # only the 300 new ones were encoded
    np.testing.assert_array_equal(both[:400], first[:400])
    np.testing.assert_allclose(both, FakeEncoder().encode_documents(TEXTS), atol=1e-7)


@pytest.mark.slow
def test_worker_processes_give_the_vectors_of_this_process(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "POOL_MIN_TEXTS", 10)
    monkeypatch.setattr(workers, "BATCH_TEXTS", 64)
    texts = TEXTS[:300]
    path = tmp_path / "rows.npy"
    offset = new_array_file(path, (len(texts), use_encoder.dimension))
    list(
        encode_into(
            texts,
            path,
            offset,
            0,
            encode=use_encoder.encode_documents,
            encoder_name="use-multilingual-v3",
            method="encode_documents",
            processes=2,
        )
    )
    np.testing.assert_allclose(np.load(path), use_encoder.encode_documents(texts), atol=1e-5)


def test_query_vectors_are_cached_and_copied() -> None:
    encoder = CountingEncoder(FakeEncoder())
    first = encoder.encode_query("研发费用加计扣除")
    first[:] = 0.0  # a caller's change must not reach the cache
    second = encoder.encode_query("研发费用加计扣除")
    assert encoder.texts_encoded == 1
    np.testing.assert_array_equal(second, FakeEncoder().encode_query("研发费用加计扣除"))


class _FailingEncoder(FakeEncoder):
    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if any("收益5" in t for t in texts):
            raise RuntimeError("encoder failed")
        return super()._encode(texts, is_query=is_query)


def test_a_failed_encoding_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache", FakeEncoder.dimension)
    cache.embed(FakeEncoder(), TEXTS[:5], None, "embed")
    with pytest.raises(RuntimeError):
        cache.embed(_FailingEncoder(), TEXTS, None, "embed")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["keys.json", "vectors.npy"]
    assert len(EmbeddingCache(tmp_path / "cache", FakeEncoder.dimension)) == 5
