"""Chunking stage: sentences and passages that map back to the exact source characters."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest
from conftest import MINI_LAW, MINI_PAPER, PAPER, squash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyqa.chunk import SECTION_SEPARATOR, ChunkedDocument, chunk_document, split_sentences
from policyqa.clean import clean
from policyqa.documents import Document, load_document


def _source_of(doc: Document, spans: tuple[tuple[int, int], ...]) -> str:
    return "".join(doc.text[a:b] for a, b in spans)


def _chunked(doc: Document, chunk_chars: int = 320, overlap: int = 1) -> ChunkedDocument:
    return chunk_document(doc, chunk_chars, overlap)


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return [load_document(PAPER), load_document(MINI_PAPER), load_document(MINI_LAW)]


@pytest.mark.parametrize("chunk_chars", [60, 320])
def test_every_passage_maps_back_to_its_source_spans(documents: list[Document], chunk_chars: int) -> None:
    for doc in documents:
        for chunk in _chunked(doc, chunk_chars).chunks:
            assert squash(chunk.text) == squash(_source_of(doc, chunk.spans)), chunk.chunk_id
            assert chunk.char_start == chunk.spans[0][0] and chunk.char_end == chunk.spans[-1][1]
            assert all(a < b for a, b in chunk.spans)
            assert all(b1 <= a2 for (_, b1), (a2, _) in pairwise(chunk.spans)), "spans in order"


@pytest.mark.parametrize("chunk_chars", [60, 120, 320])
def test_passages_stay_within_chunk_chars(documents: list[Document], chunk_chars: int) -> None:
    for doc in documents:
        for chunk in _chunked(doc, chunk_chars).chunks:
            # Line breaks between paragraphs are added by the chunker; they are not source text.
            size = len(chunk.text) - chunk.text.count("\n")
            single_sentence = chunk.sentence_end - chunk.sentence_start == 1
            assert size <= chunk_chars or single_sentence, (chunk.chunk_id, size)


def test_passages_never_cross_sections(documents: list[Document]) -> None:
    for doc in documents:
        blocks = clean(doc)
        chunked = _chunked(doc, 120)
        for chunk in chunked.chunks:
            sentences = chunked.sentences[chunk.sentence_start : chunk.sentence_end]
            assert {SECTION_SEPARATOR.join(blocks[s.block].section) for s in sentences} == {chunk.section}
            assert {blocks[s.block].kind for s in sentences} == {chunk.kind}


def test_footer_never_enters_a_body_passage(documents: list[Document]) -> None:
    paper = documents[0]
    chunks = _chunked(paper).chunks

    [broken] = [c for c in chunks if "尚未实现创新链" in c.text]
    assert broken.kind == "body"
    assert "收稿日期" not in broken.text
    assert any(c.kind == "front_matter" and "收稿日期" in c.text for c in chunks)


def test_trough_passage_keeps_its_section_path(documents: list[Document]) -> None:
    [chunk] = [c for c in _chunked(documents[0]).chunks if "当技术处于泡沫破裂低谷期" in c.text]

    assert chunk.section == (
        "四、科技创新和产业创新深度融合的政策需求框架 > (一) 基于时间维度的政策需求框架 > 2. 政策需求的动态设计与协同"
    )


def test_retrieval_text_carries_headings_but_citation_text_is_verbatim(documents: list[Document]) -> None:
    law = documents[2]
    [chunk] = [c for c in _chunked(law).chunks if c.text.startswith("第五条")]

    assert chunk.retrieval_text("none") == chunk.text
    assert chunk.retrieval_text("section") == "第二章 技术权益\n第五条\n" + chunk.text
    assert chunk.retrieval_text("title+section").startswith("示范市科技成果转化促进条例\n第二章 技术权益\n")


def test_sentences_end_at_chinese_punctuation() -> None:
    text = "第一句。第二句！第三句？第四句；没有结尾"

    pieces = [text[a:b] for a, b in split_sentences(text, 100)]

    assert pieces == ["第一句。", "第二句！", "第三句？", "第四句；", "没有结尾"]


def test_closing_quote_stays_with_its_sentence() -> None:
    text = "他说：“要推动融合。”随后离开。"

    assert [text[a:b] for a, b in split_sentences(text, 100)] == ["他说：“要推动融合。”", "随后离开。"]


def test_ids_are_stable_across_runs(documents: list[Document]) -> None:
    for doc in documents:
        first = [c.chunk_id for c in _chunked(doc).chunks]
        second = [c.chunk_id for c in _chunked(doc).chunks]
        assert first == second
        assert len(set(first)) == len(first), "ids are unique within a document"
        assert all(i.startswith(doc.doc_id + "#") for i in first)


def test_ids_survive_an_edit_of_a_later_paragraph(documents: list[Document]) -> None:
    paper = documents[0]
    target = "深圳在科技创新和产业创新深度融合的实践中"
    assert target in paper.text
    edited = replace(paper, text=paper.text.replace(target, "深圳在科技与产业深度融合的长期实践中"))

    before = _chunked(paper).chunks
    after = _chunked(edited).chunks
    edit_at = paper.text.index(target)

    earlier = [c.chunk_id for c in before if c.char_end < edit_at and c.kind == "body"]
    assert len(earlier) > 20
    assert set(earlier) <= {c.chunk_id for c in after}
    changed = {c.chunk_id for c in before} - {c.chunk_id for c in after}
    assert changed and all(any(target in c.text for c in before if c.chunk_id == i) for i in changed)


def test_text_without_punctuation_is_cut_into_bounded_pieces() -> None:
    text = ("科技创新产业创新深度融合" * 1000)[:10_000]
    doc = Document("long", "long", "long.txt", text, "")

    chunked = chunk_document(doc, 320, 1)

    assert chunked.chunks
    assert all(len(c.text) <= 320 for c in chunked.chunks)
    covered = sorted({pos for c in chunked.chunks for a, b in c.spans for pos in range(a, b)})
    assert covered == list(range(10_000)), "every character is in some passage"


def test_overlap_repeats_one_sentence_between_neighbours(documents: list[Document]) -> None:
    chunks = _chunked(documents[0], 120, 1).chunks
    # Consecutive passages of one run of blocks (front matter inside a section starts a new run).
    neighbours = [(a, b) for a, b in pairwise(chunks) if (a.kind, a.section) == (b.kind, b.section)]

    assert neighbours
    for a, b in neighbours:
        assert b.sentence_start in (a.sentence_end - 1, a.sentence_end)
    assert any(b.sentence_start == a.sentence_end - 1 for a, b in neighbours)


def test_no_overlap_gives_disjoint_passages(documents: list[Document]) -> None:
    chunks = _chunked(documents[0], 120, 0).chunks

    for a, b in pairwise(chunks):
        assert b.sentence_start == a.sentence_end


# --- property: arbitrary text ----------------------------------------------------------------

_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(list("科技成果转化第一二三条章、。！？；;!?，,“”（）()[]—…# \n\n\t\u3000")),
    st.sampled_from(["\n\n", "一、", "(一) ", "1. ", "## 第一章 总则\n", "第一条 ", "收稿日期: ", "参考文献:\n- [1] "]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(_ALPHABET, max_size=80).map("".join),
    suffix=st.sampled_from([".txt", ".md"]),
    kind=st.sampled_from([None, "paper"]),
    chunk_chars=st.integers(min_value=50, max_value=120),
    overlap=st.integers(min_value=0, max_value=3),
)
def test_arbitrary_text_chunks_lie_within_and_quote_the_source(
    text: str, suffix: str, kind: str | None, chunk_chars: int, overlap: int
) -> None:
    doc = Document("h", "h", "h" + suffix, text, "", metadata={"kind": kind} if kind else {})

    for chunk in chunk_document(doc, chunk_chars, overlap).chunks:
        assert chunk.spans
        assert all(0 <= a < b <= len(text) for a, b in chunk.spans)
        assert squash(chunk.text) == squash(_source_of(doc, chunk.spans))
        assert squash(chunk.text), "a passage is never blank"


@settings(max_examples=200, deadline=None)
@given(text=st.text(), chunk_chars=st.integers(min_value=50, max_value=400))
def test_plain_st_text_chunks_quote_the_source(text: str, chunk_chars: int) -> None:
    doc = Document("p", "p", "p.txt", text, "")

    for chunk in chunk_document(doc, chunk_chars, 1).chunks:
        assert all(0 <= a < b <= len(text) for a, b in chunk.spans)
        assert squash(chunk.text) == squash(_source_of(doc, chunk.spans))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.lists(_ALPHABET, max_size=80).map("".join),
    suffix=st.sampled_from([".txt", ".md"]),
    chunk_chars=st.integers(min_value=50, max_value=120),
)
def test_arbitrary_text_loses_no_character_outside_headings(text: str, suffix: str, chunk_chars: int) -> None:
    doc = Document("h", "h", "h" + suffix, text, "")
    needed = {
        pos
        for block in clean(doc)
        if block.kind != "heading"
        for a, b in block.spans
        for pos in range(a, b)
        if not text[pos].isspace()
    }

    covered = {
        pos for chunk in chunk_document(doc, chunk_chars, 1).chunks for a, b in chunk.spans for pos in range(a, b)
    }

    assert needed <= covered
