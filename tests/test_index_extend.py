"""Extending the live build with added documents (``policyqa.index.extend``): the same index as a full build.

Real encoder, real FAISS (exact search at this size, so rankings compare exactly) and BM25
over the mini corpus plus one added regulation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import MINI_DIR

import policyqa.index.extend as index_extend
import policyqa.index.parts as index_parts
from policyqa.embed import Encoder
from policyqa.index import build_index, document_centroids, load_index, read_manifest
from policyqa.index.extend import extend_build
from policyqa.index.load import LoadedIndex
from policyqa.index.table import TABLE_ARRAYS, PassageTable
from policyqa.lexical import tokenize
from policyqa.settings import Settings

ADDED_TEXT = """# 示范市数据要素流通办法

第一章 总则

第一条 为促进数据要素依法有序流通，释放数据要素价值，制定本办法。

第二条 数据交易场所应当公开交易规则、收费标准和交易信息，接受社会监督。

第二章 流通交易

第三条 数据提供方应当对数据来源的合法性负责，保存数据来源记录不少于三年。

第四条 鼓励科研机构与企业共建数据实验室，开展人工智能训练数据的共享与交易。
"""
QUERIES = [
    "数据交易场所应当公开什么？",
    "数据来源记录保存多久？",
    "高校可以自主决定转让科技成果吗？",
    "What must a data exchange publish?",
    "泡沫破裂低谷期政府应该怎么做？",
]


def _settings(tmp_path: Path, name: str) -> Settings:
    corpus = tmp_path / f"{name}-corpus"
    shutil.copytree(MINI_DIR, corpus)
    return Settings(corpus_dirs=(corpus,), index_dir=tmp_path / f"{name}-index")


def _add_file(settings: Settings, name: str = "数据要素流通办法.md", text: str = ADDED_TEXT) -> Path:
    path = settings.corpus_dirs[0] / name
    path.write_text(text, encoding="utf-8")
    return path


def _by_chunk(index: LoadedIndex) -> dict[str, int]:
    return {c.chunk_id: row for row, c in enumerate(index.chunks)}


def assert_same_index(extended: LoadedIndex, full: LoadedIndex, encoder: Encoder) -> None:
    """Same documents, passages, vectors, BM25 scores, vocabulary and rankings, whatever the row order."""
    assert extended.documents.keys() == full.documents.keys()
    ext_rows, full_rows = _by_chunk(extended), _by_chunk(full)
    assert ext_rows.keys() == full_rows.keys()
    order = [ext_rows[chunk_id] for chunk_id in full_rows]  # extended rows in the full build's order
    np.testing.assert_allclose(
        extended.chunk_vectors.reconstruct(np.asarray(order)),
        full.chunk_vectors.reconstruct(np.arange(len(order))),
        atol=1e-6,
    )
    ext_sentences = {(s.doc_id, s.spans): row for row, s in enumerate(extended.sentences)}
    sentence_order = [ext_sentences[(s.doc_id, s.spans)] for s in full.sentences]
    np.testing.assert_allclose(extended.sentence_vectors[sentence_order], full.sentence_vectors, atol=1e-6)
    assert extended.title_vectors is not None and full.title_vectors is not None
    np.testing.assert_allclose(extended.title_vectors, full.title_vectors, atol=1e-6)
    assert extended.centroid_vectors is not None and full.centroid_vectors is not None
    np.testing.assert_allclose(extended.centroid_vectors, full.centroid_vectors, atol=1e-5)
    assert extended.terms == full.terms
    np.testing.assert_allclose(extended.term_vectors, full.term_vectors, atol=1e-6)
    for question in QUERIES:
        tokens = tokenize(question)
        np.testing.assert_allclose(
            extended.lexical.scores(tokens)[order], full.lexical.scores(tokens), rtol=1e-5, atol=1e-6
        )
        vector = encoder.encode_query(question)
        ext_hits, ext_scores = extended.chunk_vectors.search(vector, 5)
        full_hits, full_scores = full.chunk_vectors.search(vector, 5)
        assert [extended.chunks[r].chunk_id for r in ext_hits] == [full.chunks[r].chunk_id for r in full_hits]
        np.testing.assert_allclose(ext_scores, full_scores, atol=1e-5)


def test_an_added_file_extends_the_live_build_into_the_index_a_full_build_makes(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    settings = _settings(tmp_path, "extended")
    first, _ = build_index(settings, use_encoder)
    _add_file(settings)
    extended_folder, skipped = build_index(settings, use_encoder)
    manifest = read_manifest(extended_folder)
    assert manifest["extended_from"] == first.name and manifest["extended_with"] == 1
    assert skipped == []

    reference = _settings(tmp_path, "full")
    _add_file(reference)
    build_index(reference, use_encoder)
    full = load_index(reference, use_encoder)
    extended = load_index(settings, use_encoder)
    assert "extended_from" not in full.manifest
    assert extended.manifest["counts"] == full.manifest["counts"]
    assert_same_index(extended, full, use_encoder)
    # A second extension keeps working from the first one's token ids.
    _add_file(settings, "第二份.md", ADDED_TEXT.replace("三年", "五年").replace("示范市", "样板市"))
    again, _ = build_index(settings, use_encoder)
    assert read_manifest(again)["extended_from"] == extended_folder.name
    assert load_index(settings, use_encoder).manifest["counts"]["documents"] == 4  # type: ignore[index]
    # The table of an extension (here of an extension) is the live one with the appended lines: that of its store.
    kept, scanned = PassageTable.load(again), PassageTable.of_store(again / "passages.jsonl")
    for name in TABLE_ARRAYS:
        assert np.array_equal(getattr(kept, name), getattr(scanned, name)), name


def test_composed_vectors_are_extended_as_a_composed_full_build_makes_them(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_parts, "COMPOSED_PASSAGES_ABOVE", 0)
    settings = _settings(tmp_path, "extended")
    build_index(settings, use_encoder)
    _add_file(settings)
    build_index(settings, use_encoder)
    reference = _settings(tmp_path, "full")
    _add_file(reference)
    build_index(reference, use_encoder)
    extended, full = load_index(settings, use_encoder), load_index(reference, use_encoder)
    assert extended.manifest["passage_vectors"] == full.manifest["passage_vectors"] == "composed"
    assert "extended_from" in extended.manifest
    assert_same_index(extended, full, use_encoder)


def test_a_changed_or_removed_file_or_a_forced_build_is_built_afresh(tmp_path: Path, use_encoder: Encoder) -> None:
    settings = _settings(tmp_path, "corpus")
    build_index(settings, use_encoder)
    assert extend_build(settings, use_encoder) is None  # nothing added
    _add_file(settings)
    law = settings.corpus_dirs[0] / "model-transfer-regulation.md"
    law.write_text(law.read_text(encoding="utf-8") + "\n第九十九条 本条例自公布之日起施行。\n", encoding="utf-8")
    assert extend_build(settings, use_encoder) is None
    folder, _ = build_index(settings, use_encoder)
    assert "extended_from" not in read_manifest(folder)
    (settings.corpus_dirs[0] / "tech-maturity-policy.txt").unlink()
    _add_file(settings, "另一份.md", ADDED_TEXT.replace("三年", "五年"))
    assert extend_build(settings, use_encoder) is None
    _add_file(settings, "tech-maturity-policy.txt", (MINI_DIR / "tech-maturity-policy.txt").read_text("utf-8"))
    build_index(settings, use_encoder)
    _add_file(settings, "再一份.md", ADDED_TEXT.replace("三年", "十年"))
    forced, _ = build_index(settings, use_encoder, full=True)
    assert "extended_from" not in read_manifest(forced)


def test_a_build_without_token_ids_or_an_added_repeat_is_built_afresh(tmp_path: Path, use_encoder: Encoder) -> None:
    settings = _settings(tmp_path, "corpus")
    live, _ = build_index(settings, use_encoder)
    # An index built before the token ids were kept: its manifest does not list them.
    manifest = read_manifest(live)
    del manifest["files"]["bm25/token_ids.npy"]  # type: ignore[attr-defined]
    (live / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _add_file(settings)
    assert extend_build(settings, use_encoder) is None
    build_index(settings, use_encoder)
    # The same text as an indexed document, under another name: a full build picks which to keep.
    _add_file(settings, "copy-of-law.md", (MINI_DIR / "model-transfer-regulation.md").read_text("utf-8"))
    assert extend_build(settings, use_encoder) is None


def test_a_bad_added_file_is_skipped_and_the_good_ones_still_go_in(tmp_path: Path, use_encoder: Encoder) -> None:
    settings = _settings(tmp_path, "corpus")
    build_index(settings, use_encoder)
    _add_file(settings)
    (settings.corpus_dirs[0] / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    folder, skipped = build_index(settings, use_encoder)
    assert "extended_from" in read_manifest(folder)
    assert [Path(s.path).name for s in skipped] == ["broken.pdf"]
    assert "PDF" in skipped[0].reason
    assert len(load_index(settings, use_encoder).documents) == 3


def test_a_crash_while_extending_leaves_the_live_build_serving(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, "corpus")
    live, _ = build_index(settings, use_encoder)
    _add_file(settings)

    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(index_extend, "write_faiss", crash)
    with pytest.raises(OSError, match="disk full"):
        build_index(settings, use_encoder)
    assert load_index(settings, use_encoder).folder == live
    assert not list(live.parent.glob(".build-*"))  # the half-written build is gone
    monkeypatch.undo()
    folder, _ = build_index(settings, use_encoder)
    assert read_manifest(folder)["extended_from"] == live.name


def test_the_stored_document_vectors_are_what_the_retriever_computes_without_them(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    settings = _settings(tmp_path, "corpus")
    build_index(settings, use_encoder)
    index = load_index(settings, use_encoder)
    doc_ids = sorted(index.documents)
    position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    owners = np.asarray([position[c.doc_id] for c in index.chunks], dtype=np.int64)
    assert index.centroid_vectors is not None and index.title_vectors is not None
    computed = document_centroids(index.chunk_vectors, owners, len(doc_ids))
    np.testing.assert_allclose(index.centroid_vectors, computed, atol=1e-6)
    titles = use_encoder.encode_documents([index.documents[d].title for d in doc_ids])
    np.testing.assert_allclose(index.title_vectors, titles, atol=1e-6)
    # Summed block by block, a document split across two blocks comes out the same.
    np.testing.assert_allclose(
        document_centroids(index.chunk_vectors, owners, len(doc_ids), step=7), computed, atol=1e-6
    )
