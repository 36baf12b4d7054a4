"""Cleaning stage: page-break repair, labelled blocks, section paths, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MINI_LAW, MINI_PAPER, PAPER, POLICY_TEXTS, needs_policy_texts

from policyqa.clean import ENGLISH_SUMMARY, FRONT_MATTER, REFERENCES, Block, clean, heading_level
from policyqa.documents import Document, load_document

TROUGH_SECTION = (
    "四、科技创新和产业创新深度融合的政策需求框架",
    "(一) 基于时间维度的政策需求框架",
    "2. 政策需求的动态设计与协同",
)


def _law_files() -> list[Path]:
    if not POLICY_TEXTS.is_dir():
        return [POLICY_TEXTS / "missing"]  # one case, which needs_policy_texts fails under CI and skips locally
    return sorted(p for p in POLICY_TEXTS.glob("*.md") if p.name not in {"README.md", "SOURCES.md"})


@pytest.fixture(scope="module")
def paper() -> Document:
    return load_document(PAPER)


@pytest.fixture(scope="module")
def paper_blocks(paper: Document) -> list[Block]:
    return clean(paper)


def _blocks_containing(blocks: list[Block], needle: str) -> list[Block]:
    return [b for b in blocks if needle in b.text]


def _assert_no_line_lost(doc: Document, blocks: list[Block]) -> None:
    """Every non-blank source line (except a ``<!-- … -->`` marker) lies in exactly one block span."""
    owner: dict[int, int] = {}
    for i, block in enumerate(blocks):
        pieces = []
        for start, end in block.spans:
            pieces.append(doc.text[start:end])
            for pos in range(start, end):
                assert pos not in owner, f"character {pos} is in blocks {owner[pos]} and {i}"
                owner[pos] = i
        assert block.text == "".join(pieces), "a block's text must be its spans joined"
    pos = 0
    for line in doc.text.split("\n"):
        stripped = line.strip()
        if stripped and not (stripped.startswith("<!--") and stripped.endswith("-->")):
            start = pos + line.index(stripped)
            lost = [p for p in range(start, start + len(stripped)) if p not in owner]
            assert not lost, f"line {stripped[:30]!r} is not covered by any block"
        pos += len(line) + 1


# --- the real paper -----------------------------------------------------------------------


def test_paragraph_broken_by_page_footer_is_rejoined(paper: Document, paper_blocks: list[Block]) -> None:
    [block] = _blocks_containing(paper_blocks, "尚未实现创新链")

    assert block.kind == "body"
    assert block.section == ("一、问题的提出",)
    assert len(block.spans) == 2
    # The footer lies between the two pieces in the source, but not in the block.
    between = paper.text[block.spans[0][1] : block.spans[1][0]]
    assert "收稿日期" in between
    assert "收稿日期" not in block.text


def test_word_split_across_page_break_is_rejoined(paper_blocks: list[Block]) -> None:
    [block] = _blocks_containing(paper_blocks, "规避盲目")

    assert block.kind == "body"
    assert len(block.spans) == 2


@pytest.mark.parametrize("prefix", ["收稿日期", "基金项目", "作者简介", "陈晓英(1996-)", "宋培(通讯作者)"])
def test_page_footer_lines_are_front_matter(paper_blocks: list[Block], prefix: str) -> None:
    [block] = [b for b in paper_blocks if b.text.startswith(prefix)]

    assert block.kind == "front_matter"
    assert block.section == (FRONT_MATTER,)


def test_references_are_their_own_kind(paper_blocks: list[Block]) -> None:
    references = [b for b in paper_blocks if b.kind == "references"]

    assert len(references) == 30
    assert all(b.text.startswith("- [") and b.section == (REFERENCES,) for b in references)
    assert not [b for b in paper_blocks if b.kind == "body" and b.text.startswith("- [")]


def test_english_summary_is_labelled(paper_blocks: list[Block]) -> None:
    summary = [b for b in paper_blocks if b.kind == "summary"]

    assert summary, "the English summary must be found"
    assert all(b.section == (ENGLISH_SUMMARY,) for b in summary)
    assert any(b.text.startswith("Summary:") for b in summary)
    assert not [b for b in paper_blocks if b.kind == "body" and b.text.startswith("Summary:")]


def test_trough_paragraph_has_full_section_path(paper_blocks: list[Block]) -> None:
    [block] = _blocks_containing(paper_blocks, "当技术处于泡沫破裂低谷期")

    assert block.kind == "body"
    assert block.section == TROUGH_SECTION


def test_affiliation_numbers_before_first_heading_are_not_sections(paper_blocks: list[Block]) -> None:
    [block] = [b for b in paper_blocks if b.text.startswith("3. 上海交通大学")]

    assert block.kind == "front_matter"


def test_no_line_of_the_paper_is_lost(paper: Document, paper_blocks: list[Block]) -> None:
    _assert_no_line_lost(paper, paper_blocks)


# --- the mini corpus ------------------------------------------------------------------------


def test_mini_paper_footer_and_split_word_are_repaired() -> None:
    doc = load_document(MINI_PAPER)
    blocks = clean(doc)

    [intro] = _blocks_containing(blocks, "使用效率不高")
    [trough] = _blocks_containing(blocks, "跨越难关")
    assert intro.section == ("一、引言",) and len(intro.spans) == 2
    assert trough.section == ("二、政策需求分析", "(二) 泡沫破裂低谷阶段", "1. 托底与重启")
    assert {b.kind for b in blocks if b.text.startswith(("收稿日期", "基金项目", "作者简介", "李华("))} == {
        "front_matter"
    }
    assert [b.kind for b in blocks if b.text.startswith("- [")] == ["references", "references"]
    _assert_no_line_lost(doc, blocks)


def test_mini_law_articles_and_history() -> None:
    doc = load_document(MINI_LAW)
    blocks = clean(doc)

    sections = {b.text[:3]: b.section for b in blocks if b.kind == "body" and b.text.startswith("第")}
    assert sections == {
        "第一条": ("第一章 总则", "第一条"),
        "第二条": ("第一章 总则", "第二条"),
        "第三条": ("第一章 总则", "第三条"),
        "第四条": ("第二章 技术权益", "第四条"),
        "第五条": ("第二章 技术权益", "第五条"),
    }
    # The second paragraph of an article stays in that article.
    [second] = _blocks_containing(blocks, "百分之五十")
    assert second.section == ("第二章 技术权益", "第四条")
    history = [b for b in blocks if "人民代表大会常务委员会" in b.text]
    assert len(history) == 2 and {b.kind for b in history} == {"front_matter"}
    assert blocks[0].kind == "heading" and blocks[0].section == ("示范市科技成果转化促进条例",)
    assert not _blocks_containing(blocks, "INFO END")
    _assert_no_line_lost(doc, blocks)


def test_articles_numbered_past_a_thousand_are_articles() -> None:
    # The Civil Code's later books: 婚姻家庭编 opens at 第一千零四十条, 侵权责任编 at 第一千一百六十四条.
    text = (
        "# 中华人民共和国民法典\n\n# 侵权责任编\n\n## 第一章  一般规定\n\n"
        "第一千一百六十四条 本编调整因侵害民事权益产生的民事关系。\n\n"
        "第一千一百六十五条 行为人因过错侵害他人民事权益造成损害的，应当承担侵权责任。\n\n"
        "第一千一百六十六条 行为人造成他人民事权益损害，不论行为人有无过错，法律规定应当承担侵权责任的，依照其规定。\n"
    )
    blocks = clean(Document("d", "t", "d.md", text, ""))
    sections = [b.section for b in blocks if b.kind == "body" and b.text.startswith("第一千")]
    assert sections == [
        ("第一章  一般规定", "第一千一百六十四条"),
        ("第一章  一般规定", "第一千一百六十五条"),
        ("第一章  一般规定", "第一千一百六十六条"),
    ]


def test_markdown_without_marker_has_no_front_matter() -> None:
    doc = Document("d", "t", "d.md", "# 标题\n\n第一段正文。\n\n## 第一章 总则\n\n第一条 内容。\n", "")

    blocks = clean(doc)

    assert [b.kind for b in blocks] == ["heading", "body", "heading", "body"]
    assert blocks[-1].section == ("第一章 总则", "第一条")


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("一、问题的提出", 1),
        ("(二) 内在机制", 2),
        ("（三）空间维度", 2),
        ("2. 政策需求的动态设计与协同", 3),
        ("3 科技创新和产业创新深度融合的动态机制", 3),
        ("一、这是一个以句号结尾的句子。", None),
        ("2024年7月, 党的二十届三中全会审议通过", None),
        ("正文段落", None),
    ],
)
def test_heading_levels(line: str, level: int | None) -> None:
    assert heading_level(line) == level


# --- the shared law texts (read in place, never copied) ----------------------------------------


@needs_policy_texts
def test_law_articles_have_chapter_and_article_sections() -> None:
    doc = load_document(POLICY_TEXTS / "law-promoting-tech-transfer-2015.md")
    blocks = clean(doc)

    [article] = [b for b in blocks if b.text.startswith("第四十五条")]
    assert article.kind == "body"
    assert " > ".join(article.section) == "第四章 技术权益 > 第四十五条"
    # The numbered items under the article belong to it.
    following = blocks[blocks.index(article) + 1]
    assert following.section == article.section
    [first] = [b for b in blocks if b.text.startswith("第一条")]
    assert first.section == ("第一章 总则", "第一条")


@needs_policy_texts
def test_law_legislative_history_is_front_matter() -> None:
    doc = load_document(POLICY_TEXTS / "law-promoting-tech-transfer-2015.md")
    blocks = clean(doc)

    history = [b for b in blocks if "全国人民代表大会常务委员会" in b.text and "会议" in b.text[:40]]
    assert len(history) >= 2
    assert all(b.kind == "front_matter" and b.section == (FRONT_MATTER,) for b in history[:2])
    marker = doc.text.index("<!-- INFO END -->")
    assert all(b.kind != "front_matter" for b in blocks if b.spans[0][0] > marker)


@needs_policy_texts
@pytest.mark.parametrize("path", _law_files(), ids=lambda p: p.name)
def test_no_line_of_a_law_is_lost(path: Path) -> None:
    doc = load_document(path)
    blocks = clean(doc)

    _assert_no_line_lost(doc, blocks)
    articles = [b for b in blocks if b.kind == "body" and b.text.startswith("第") and "条" in b.text[:8]]
    assert articles and all(b.section[-1].endswith("条") or "条之" in b.section[-1] for b in articles)
