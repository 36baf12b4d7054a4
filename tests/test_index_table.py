"""The passage table: the loader reads passages from it as a full parse of the store would, and refuses forged ones."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import BuiltIndex, FakeEncoder

from policyqa import Assistant
from policyqa.articles import article_of
from policyqa.chunk import Chunk
from policyqa.errors import IndexCorruptError
from policyqa.index import build_index, current_build, load_index
from policyqa.index.table import TABLE_FOLDER, PassageTable
from policyqa.settings import Settings

QUESTIONS = ("科技成果转化收益如何分配？", "What must a university report each year?")


def _records(folder: Path, record_type: str) -> list[dict[str, object]]:
    lines = (folder / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.pop("type") == record_type]


def _copy(built: BuiltIndex, tmp_path: Path) -> tuple[Settings, Path]:
    """A writable copy of a built index: its settings and its live build folder."""
    index_dir = tmp_path / "index"
    shutil.copytree(built.settings.index_dir, index_dir)
    settings = Settings(corpus_dirs=built.settings.corpus_dirs, index_dir=index_dir)
    return settings, current_build(settings)


def _rewrite_checksums(folder: Path, drop: str | None = None) -> None:
    """Make the manifest agree with the files, as a forger with write access would (``drop``: unlist a folder)."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    names = [n for n in manifest["files"] if drop is None or not n.startswith(f"{drop}/")]
    manifest["files"] = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_passages_read_through_the_table_are_those_of_the_store(mini_index: BuiltIndex) -> None:
    index = load_index(mini_index.settings, mini_index.encoder)
    parsed = _records(mini_index.folder, "passage")
    assert len(index.chunks) == len(parsed) > 0
    for row, record in enumerate(parsed):
        record["spans"] = tuple(tuple(s) for s in record["spans"])  # type: ignore[union-attr]
        assert index.chunks[row] == Chunk(**record)  # type: ignore[arg-type]
    table = index.table
    assert table.chunk_id_list() == [r["chunk_id"] for r in parsed]
    sections = table.section_list()
    assert [sections[s] for s in table.section] == [r["section"] for r in parsed]
    for kind in ("body", "front_matter"):
        assert table.of_kind(kind).tolist() == [r["kind"] == kind for r in parsed]
    doc_ids = list(index.documents)
    assert [doc_ids[d] for d in table.doc] == [r["doc_id"] for r in parsed]
    assert table.sentence_end.tolist() == [r["sentence_end"] for r in parsed]
    assert [table.row_of(r["chunk_id"]) for r in parsed] == list(range(len(parsed)))
    assert table.row_of("no such passage") is None
    assert table.article.tolist() == [article_of(r["section"]) or 0 for r in parsed]
    assert any(table.article)
    assert [index.sentences[r].text for r in range(3)] == [
        s["text"] for s in _records(mini_index.folder, "sentence")[:3]
    ]


def test_the_saved_table_is_a_scan_of_the_store(mini_index: BuiltIndex) -> None:
    saved = PassageTable.load(mini_index.folder)
    scanned = PassageTable.of_store(mini_index.folder / "passages.jsonl")
    for name in ("lines", "line_types", "passages", "chunk_order", "chunk_ids", "sections", "kinds"):
        assert np.array_equal(getattr(saved, name), getattr(scanned, name)), name


def test_a_build_without_a_table_is_read_by_scanning_its_store(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings, folder = _copy(mini_index, tmp_path)
    shutil.rmtree(folder / TABLE_FOLDER)
    _rewrite_checksums(folder, drop=TABLE_FOLDER)
    older = Assistant(settings, encoder=mini_index.encoder, auto_build=False)
    current = Assistant(mini_index.settings, encoder=mini_index.encoder, auto_build=False)
    for question in QUESTIONS:
        assert older.search(question, k=5).to_dict() == current.search(question, k=5).to_dict()
    assert np.array_equal(older.index.table.passages, current.index.table.passages)


def test_a_table_of_an_earlier_layout_is_made_again_from_the_store(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings, folder = _copy(mini_index, tmp_path)
    (folder / TABLE_FOLDER / "chunk_order.npy").unlink()  # an array later layouts added
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"][f"{TABLE_FOLDER}/chunk_order.npy"]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    index = load_index(settings, mini_index.encoder)
    assert np.array_equal(index.table.chunk_order, PassageTable.load(mini_index.folder).chunk_order)


def test_a_store_without_a_table_whose_numbers_overflow_is_refused(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings, folder = _copy(mini_index, tmp_path)
    shutil.rmtree(folder / TABLE_FOLDER)
    lines = (folder / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith('{"type": "passage"'))
    record = json.loads(lines[row])
    record["sentence_end"] = 2**40
    lines[row] = json.dumps(record, ensure_ascii=False)
    (folder / "passages.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _rewrite_checksums(folder, drop=TABLE_FOLDER)
    with pytest.raises(IndexCorruptError, match="cannot be parsed"):
        load_index(settings, mini_index.encoder)


def _forge_document_column(table: PassageTable) -> None:
    table.passages[0, 0] = 10_000


def _forge_sentence_end(table: PassageTable) -> None:
    table.passages[0, 4] = 10_000


def _forge_chunk_order(table: PassageTable) -> None:
    table.chunk_order[[0, 1]] = table.chunk_order[[1, 0]]


def _forge_line_gap(table: PassageTable) -> None:
    table.lines[1, 0] += 1


def _forge_short_lines(table: PassageTable) -> None:
    table.lines[-1, 1] -= 1


@pytest.mark.parametrize(
    ("forge", "refusal"),
    [
        (_forge_document_column, "document outside the store"),
        (_forge_sentence_end, "sentences lie outside its document"),
        (_forge_chunk_order, "not a sorting"),
        (_forge_line_gap, "do not follow one another"),
        (_forge_short_lines, "does not cover passages.jsonl"),
    ],
)
def test_a_forged_table_is_refused(mini_index: BuiltIndex, tmp_path: Path, forge, refusal: str) -> None:
    settings, folder = _copy(mini_index, tmp_path)
    table = PassageTable.load(folder)
    table = PassageTable(**{name: np.array(getattr(table, name)) for name in table.__dataclass_fields__})
    forge(table)
    table.save(folder)
    _rewrite_checksums(folder)
    with pytest.raises(IndexCorruptError, match=refusal):
        load_index(settings, mini_index.encoder)


def test_a_line_appended_to_the_store_is_refused(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings, folder = _copy(mini_index, tmp_path)
    with (folder / "passages.jsonl").open("a", encoding="utf-8") as out:
        out.write('{"type": "passage", "chunk_id": "unlisted"}\n')
    _rewrite_checksums(folder)
    with pytest.raises(IndexCorruptError, match="does not cover"):
        load_index(settings, mini_index.encoder)


def test_a_record_of_the_wrong_type_is_refused_when_read(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 甲条例\n\n第一条 为了促进科技成果转化，制定本条例。\n", encoding="utf-8")
    settings = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index", encoder=FakeEncoder.encoder_id)
    folder, _ = build_index(settings, FakeEncoder())
    table = PassageTable.load(folder)
    sentence, passage = (np.flatnonzero(table.line_types == ord(c))[0] for c in "sp")
    types = np.array(table.line_types)
    types[[sentence, passage]] = types[[passage, sentence]]  # each line now claims the other's type
    PassageTable(**{**{n: getattr(table, n) for n in table.__dataclass_fields__}, "line_types": types}).save(folder)
    _rewrite_checksums(folder)
    with pytest.raises(IndexCorruptError):
        index = load_index(settings, FakeEncoder())
        _ = index.chunks[0]
