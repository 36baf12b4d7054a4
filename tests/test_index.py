"""Index stage: real FAISS + manifest, checksums, staleness, the embedding cache, atomic builds."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import MINI_DIR, BuiltIndex, CountingEncoder, FakeEncoder

import policyqa.index as index_module
import policyqa.index.load as index_load
import policyqa.index.parts as index_parts
import policyqa.index.store as index_store
import policyqa.index.vectors as index_vectors
from policyqa.chunk import chunk_document, join_sentences
from policyqa.documents import load_corpus
from policyqa.errors import CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError
from policyqa.index import build_index, current_build, index_home, is_stale, load_index, read_manifest
from policyqa.lexical import LexicalIndex
from policyqa.settings import Settings

QUERIES = [
    "高校可以自主决定转让科技成果吗？",
    "泡沫破裂低谷期政府应该怎么做？",
    "What should the government do in the trough of disillusionment?",
    "reward for researchers from commercialisation income",
    "参考文献",
]


def _copy_index(built: BuiltIndex, tmp_path: Path) -> Settings:
    """A private copy of a built index, safe to tamper with."""
    target = tmp_path / "index-copy"
    shutil.copytree(built.settings.index_dir, target)
    return built.settings.replace(index_dir=target)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# --- the real index of the mini corpus --------------------------------------------------------


def test_build_then_load_mini_corpus(mini_index: BuiltIndex) -> None:
    loaded = load_index(mini_index.settings, mini_index.encoder)

    documents, _ = load_corpus([MINI_DIR])
    expected = [c.chunk_id for d in documents for c in chunk_document(d, 320, 1).chunks]
    assert loaded.folder == mini_index.folder == current_build(mini_index.settings)
    assert [c.chunk_id for c in loaded.chunks] == expected
    assert set(loaded.documents) == {"tech-maturity-policy", "model-transfer-regulation"}
    assert loaded.chunk_vectors.size == len(loaded.chunks) and loaded.chunk_vectors.dimension == 512
    assert loaded.sentence_vectors.shape == (len(loaded.sentences), 512)
    law = loaded.documents["model-transfer-regulation"]
    assert law.title == "示范市科技成果转化促进条例"
    assert "第二章 技术权益 > 第四条" in law.sections


def test_loaded_passages_are_their_sentences_joined(mini_index: BuiltIndex) -> None:
    loaded = load_index(mini_index.settings, mini_index.encoder)

    for chunk in loaded.chunks:
        rows = loaded.sentence_index(chunk)
        assert join_sentences([loaded.sentences[r] for r in rows]) == chunk.text
        assert all(loaded.sentences[r].doc_id == chunk.doc_id for r in rows)


def test_a_documents_whole_text_holds_every_passage_and_few_are_kept(
    mini_index: BuiltIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load_index(mini_index.settings, mini_index.encoder)
    for doc_id in loaded.document_rows:
        text = loaded.document_text(doc_id)
        rows = loaded.passage_rows((doc_id,)).tolist()
        assert rows and all(loaded.chunks[row].text in text for row in rows)
        assert loaded.document_text(doc_id) is text  # kept, not read again
    monkeypatch.setattr(index_load, "DOCUMENT_TEXTS_KEPT", 1)
    loaded = load_index(mini_index.settings, mini_index.encoder)
    first, second = list(loaded.document_rows)[:2]
    loaded.document_text(first)
    loaded.document_text(second)
    assert list(loaded._texts) == [second]


def test_faiss_top1_equals_brute_force_cosine(mini_index: BuiltIndex) -> None:
    settings, encoder = mini_index.settings, mini_index.encoder
    loaded = load_index(settings, encoder)
    # Brute force from freshly embedded passages, normalised here rather than trusted.
    raw = np.asarray(encoder.embed_documents([c.retrieval_text(settings.passage_context) for c in loaded.chunks]))
    passages = raw / np.linalg.norm(raw, axis=1, keepdims=True)

    for question in QUERIES:
        query = np.asarray(encoder.embed_query(question))
        cosine = passages @ (query / np.linalg.norm(query))
        rows, scores = loaded.chunk_vectors.search(encoder.encode_query(question), 3)
        assert rows[0] == int(np.argmax(cosine)), question
        np.testing.assert_allclose(scores, np.sort(cosine)[::-1][:3], atol=1e-4)


def test_manifest_describes_the_build(mini_index: BuiltIndex) -> None:
    manifest = read_manifest(mini_index.folder)

    assert manifest["encoder"] == {"id": "use-multilingual-v3", "version": mini_index.encoder.version, "dimension": 512}
    assert manifest["chunker"]["chunk_chars"] == 320
    assert manifest["chunker"]["overlap_sentences"] == 1
    assert manifest["format_version"] == index_module.FORMAT_VERSION
    corpus = {Path(entry["path"]).name: entry for entry in manifest["corpus"]}
    assert set(corpus) == {"tech-maturity-policy.txt", "model-transfer-regulation.md"}
    for name, entry in corpus.items():
        data = (MINI_DIR / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    files = manifest["files"]
    assert {"vectors.faiss", "sentence_vectors.npy", "passages.jsonl"} <= set(files)
    assert any(name.startswith("bm25/") for name in files)
    for name, checksum in files.items():
        assert hashlib.sha256((mini_index.folder / name).read_bytes()).hexdigest() == checksum
    counts = manifest["counts"]
    assert counts["documents"] == 2 and counts["chunks"] > 5 and counts["sentences"] >= counts["chunks"]
    assert manifest["created_at"] and manifest["skipped"] == []


def test_fresh_index_is_not_stale(mini_index: BuiltIndex) -> None:
    assert not is_stale(read_manifest(mini_index.folder), mini_index.settings)


@pytest.mark.parametrize("name", ["vectors.faiss", "passages.jsonl", "sentence_vectors.npy", "bm25"])
def test_tampered_file_is_a_corrupt_index(mini_index: BuiltIndex, tmp_path: Path, name: str) -> None:
    settings = _copy_index(mini_index, tmp_path)
    folder = current_build(settings)
    target = folder / name if name != "bm25" else sorted((folder / "bm25").glob("*.npy"))[0]
    _flip_byte(target)

    with pytest.raises(IndexCorruptError, match="policyqa index") as excinfo:
        load_index(settings, mini_index.encoder)
    assert target.name in str(excinfo.value)


def test_truncated_file_is_a_corrupt_index(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings = _copy_index(mini_index, tmp_path)
    path = current_build(settings) / "passages.jsonl"
    path.write_bytes(path.read_bytes()[:100])

    with pytest.raises(IndexCorruptError, match="policyqa index"):
        load_index(settings, mini_index.encoder)


def test_missing_file_is_a_corrupt_index(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings = _copy_index(mini_index, tmp_path)
    (current_build(settings) / "vectors.faiss").unlink()

    with pytest.raises(IndexCorruptError, match="missing"):
        load_index(settings, mini_index.encoder)


@pytest.mark.parametrize("pointer", ["build-that-does-not-exist", "../../etc", ""])
def test_current_pointer_to_nowhere_is_a_corrupt_index(mini_index: BuiltIndex, tmp_path: Path, pointer: str) -> None:
    settings = _copy_index(mini_index, tmp_path)
    (index_home(settings) / "CURRENT").write_text(pointer + "\n", encoding="utf-8")

    with pytest.raises(IndexCorruptError, match="policyqa index"):
        load_index(settings, mini_index.encoder)


def test_unreadable_manifest_is_a_corrupt_index(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings = _copy_index(mini_index, tmp_path)
    (current_build(settings) / "manifest.json").write_text("{ not json", encoding="utf-8")

    with pytest.raises(IndexCorruptError, match="manifest.json"):
        load_index(settings, mini_index.encoder)


def test_manifest_from_another_encoder_is_a_mismatch(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings = _copy_index(mini_index, tmp_path)
    path = current_build(settings) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["encoder"] = {"id": "e5-small-q4", "version": "0.3.0", "dimension": 384}
    path.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(IndexMismatchError, match="e5-small-q4") as excinfo:
        load_index(settings, mini_index.encoder)
    assert "policyqa index" in str(excinfo.value)


def test_index_built_by_another_encoder_is_a_mismatch(fake_settings: Settings, use_encoder) -> None:  # type: ignore[no-untyped-def]
    build_index(fake_settings, FakeEncoder())

    with pytest.raises(IndexMismatchError, match="fake-bigrams-64"):
        load_index(fake_settings, use_encoder)


def test_manifest_with_other_chunker_is_a_mismatch(fake_settings: Settings) -> None:
    encoder = FakeEncoder()
    folder, _ = build_index(fake_settings, encoder)
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["chunker"]["chunk_chars"] = 999
    path.write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(IndexMismatchError, match="chunker"):
        load_index(fake_settings, encoder)


def test_no_index_yet_is_missing(fake_settings: Settings) -> None:
    with pytest.raises(IndexMissingError, match="policyqa index"):
        load_index(fake_settings, FakeEncoder())


# --- plumbing with the fake encoder -----------------------------------------------------------


def test_corpus_edit_makes_the_index_stale(fake_settings: Settings, corpus_copy: Path) -> None:
    folder, _ = build_index(fake_settings, FakeEncoder())
    manifest = read_manifest(folder)
    assert not is_stale(manifest, fake_settings)

    law = corpus_copy / "model-transfer-regulation.md"
    law.write_text(law.read_text(encoding="utf-8").replace("百分之五十", "百分之七十"), encoding="utf-8")

    assert is_stale(manifest, fake_settings)


@pytest.mark.parametrize("change", ["add", "remove"])
def test_added_or_removed_file_makes_the_index_stale(fake_settings: Settings, corpus_copy: Path, change: str) -> None:
    folder, _ = build_index(fake_settings, FakeEncoder())
    if change == "add":
        (corpus_copy / "new-notice.txt").write_text("关于开展技术转移试点的通知。\n", encoding="utf-8")
    else:
        (corpus_copy / "model-transfer-regulation.md").unlink()

    assert is_stale(read_manifest(folder), fake_settings)


def test_same_corpus_named_another_way_is_not_stale(
    fake_settings: Settings, corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "notice.txt").write_text("关于开展技术转移试点的通知。\n", encoding="utf-8")
    settings = fake_settings.replace(corpus_dirs=(corpus_copy, extra))
    folder, _ = build_index(settings, FakeEncoder())
    manifest = read_manifest(folder)
    monkeypatch.chdir(tmp_path)

    # A relative spelling and another folder order share the index (same fingerprint) ...
    for other in (
        settings.replace(corpus_dirs=(Path("corpus"), Path("extra"))),
        settings.replace(corpus_dirs=(extra, corpus_copy)),
    ):
        assert index_home(other) == index_home(settings)
        # ... so they must not see it as stale and rebuild it on every switch.
        assert not is_stale(manifest, other)


def test_corpus_without_any_passage_is_a_corpus_error(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "title-only.md").write_text("# 只有标题的文件\n\n<!-- INFO END -->\n", encoding="utf-8")

    with pytest.raises(CorpusError, match="No passage"):
        build_index(Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index"), FakeEncoder())


def test_second_build_reuses_the_embedding_cache(fake_settings: Settings, corpus_copy: Path) -> None:
    encoder = CountingEncoder(FakeEncoder())

    folder, _ = build_index(fake_settings, encoder)
    first = [t for batch in encoder.batches for t in batch]
    loaded = load_index(fake_settings, encoder)
    assert len(first) == len(set(first)), "no text is embedded twice in one build"
    assert {c.retrieval_text(fake_settings.passage_context) for c in loaded.chunks} <= set(first)
    assert {s.text for s in loaded.sentences} <= set(first)

    encoder.batches.clear()
    second, _ = build_index(fake_settings, encoder)
    assert encoder.texts_encoded == 0
    assert second != folder and not folder.exists(), "the old build is removed once the new one is live"

    law = corpus_copy / "model-transfer-regulation.md"
    law.write_text(law.read_text(encoding="utf-8").replace("百分之五十", "百分之七十"), encoding="utf-8")
    build_index(fake_settings, encoder)
    # Only new text is embedded: the edited sentence, the passage holding it (and any new word).
    again = [t for batch in encoder.batches for t in batch]
    assert not set(again) & set(first)
    assert len([t for t in again if "百分之七十" in t and len(t) > 20]) == 2
    assert len(again) <= 5


def test_rebuilt_index_matches_a_fresh_build(fake_settings: Settings, tmp_path: Path) -> None:
    encoder = FakeEncoder()
    build_index(fake_settings, encoder)
    build_index(fake_settings, encoder)  # from the cache
    cached = load_index(fake_settings, encoder)
    fresh_settings = fake_settings.replace(index_dir=tmp_path / "fresh")
    build_index(fresh_settings, encoder)
    fresh = load_index(fresh_settings, encoder)

    assert [c.chunk_id for c in cached.chunks] == [c.chunk_id for c in fresh.chunks]
    np.testing.assert_array_equal(cached.sentence_vectors, fresh.sentence_vectors)
    ids = np.arange(cached.chunk_vectors.size)
    np.testing.assert_array_equal(cached.chunk_vectors.reconstruct(ids), fresh.chunk_vectors.reconstruct(ids))


def test_unreadable_embedding_cache_is_rebuilt(fake_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    encoder = CountingEncoder(FakeEncoder())
    build_index(fake_settings, encoder)
    [cache] = (fake_settings.index_dir / "cache").iterdir()
    (cache / "vectors.npy").write_bytes(b"garbage")
    encoder.batches.clear()

    with caplog.at_level(logging.WARNING, logger="policyqa"):
        build_index(fake_settings, encoder)

    assert "unreadable" in caplog.text
    assert encoder.texts_encoded > 0
    load_index(fake_settings, encoder)


@pytest.mark.parametrize("step", ["LexicalIndex.save", "_fsync_tree", "_write_current"])
def test_build_failing_midway_leaves_previous_build_loadable(
    fake_settings: Settings, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    encoder = FakeEncoder()
    first, _ = build_index(fake_settings, encoder)
    before = [c.chunk_id for c in load_index(fake_settings, encoder).chunks]
    law = corpus_copy / "model-transfer-regulation.md"
    law.write_text(law.read_text(encoding="utf-8").replace("百分之五十", "百分之七十"), encoding="utf-8")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    with monkeypatch.context() as patch:
        if step == "LexicalIndex.save":
            patch.setattr(LexicalIndex, "save", fail)
        else:
            patch.setattr(index_store, step, fail)
        with pytest.raises(OSError, match="No space left"):
            build_index(fake_settings, encoder)

    loaded = load_index(fake_settings, encoder)
    assert loaded.folder == first
    assert [c.chunk_id for c in loaded.chunks] == before
    assert not any("百分之七十" in c.text for c in loaded.chunks)
    # The next build succeeds and replaces it.
    build_index(fake_settings, encoder)
    assert any("百分之七十" in c.text for c in load_index(fake_settings, encoder).chunks)
    assert [p.name for p in index_home(fake_settings).glob("build-*")] == [current_build(fake_settings).name]


def test_skipped_files_are_recorded_in_the_manifest(fake_settings: Settings, corpus_copy: Path) -> None:
    (corpus_copy / "empty.txt").write_bytes(b"")

    folder, skipped = build_index(fake_settings, FakeEncoder())

    assert [Path(s.path).name for s in skipped] == ["empty.txt"]
    assert [Path(s["path"]).name for s in read_manifest(folder)["skipped"]] == ["empty.txt"]


def test_progress_is_reported_per_stage(fake_settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []

    build_index(fake_settings, FakeEncoder(), progress=lambda stage, done, total: seen.append((stage, done, total)))

    stages = {stage for stage, _, _ in seen}
    assert {"chunk", "embed passages", "embed sentences"} <= stages
    assert ("chunk", 2, 2) in seen


def test_no_file_of_the_index_is_a_pickle(fake_settings: Settings) -> None:
    build_index(fake_settings, FakeEncoder())
    faiss = index_vectors._faiss()

    files = sorted(p for p in fake_settings.index_dir.rglob("*") if p.is_file())
    suffixes = {p.suffix for p in files}
    assert suffixes <= {".npy", ".json", ".jsonl", ".faiss", ""}, suffixes
    for path in files:
        head = path.read_bytes()[:2]
        assert not (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")), path
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                json.loads(line)
        elif path.suffix == ".faiss":
            assert faiss.read_index(str(path)).ntotal > 0
        else:
            assert path.name == "CURRENT" and path.read_text(encoding="utf-8").startswith("build-")


# --- large-corpus paths: composed passage vectors, BM25 tokens from sentences ----------------------


def test_large_corpus_composes_passage_vectors_from_sentences(
    mini_index: BuiltIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_parts, "COMPOSED_PASSAGES_ABOVE", 0)
    settings = mini_index.settings.replace(index_dir=tmp_path / "composed")

    build_index(settings, mini_index.encoder)
    composed = load_index(settings, mini_index.encoder)
    encoded = load_index(mini_index.settings, mini_index.encoder)

    assert composed.manifest["passage_vectors"] == "composed"
    assert encoded.manifest["passage_vectors"] == "encoded"
    assert [c.chunk_id for c in composed.chunks] == [c.chunk_id for c in encoded.chunks]
    np.testing.assert_allclose(composed.sentence_vectors, encoded.sentence_vectors, atol=1e-6)
    n = encoded.chunk_vectors.size
    cosine = np.sum(
        composed.chunk_vectors.reconstruct(np.arange(n)) * encoded.chunk_vectors.reconstruct(np.arange(n)), axis=1
    )
    assert float(np.median(cosine)) > 0.97 and float(cosine.min()) > 0.8


def test_bm25_from_sentence_tokens_equals_bm25_of_the_passage_texts(mini_index: BuiltIndex) -> None:
    from policyqa.lexical import LexicalIndex, tokenize

    loaded = load_index(mini_index.settings, mini_index.encoder)
    context = mini_index.settings.passage_context
    direct = LexicalIndex.build([c.retrieval_text(context) for c in loaded.chunks])

    for query in QUERIES:
        tokens = tokenize(query)
        np.testing.assert_array_equal(loaded.lexical.scores(tokens), direct.scores(tokens))
