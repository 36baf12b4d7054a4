"""Cleaning stage: turn a document's raw text into labelled blocks.

The paper is a PDF extraction: page breaks drop the journal footer and author
notes into the middle of a sentence ("尚未实 … 收稿日期 … 现创新链") and split words
across pages ("规 / 避盲目"). This stage rejoins those paragraphs and labels the
footer material as front matter, so that it stays citable but does not pollute
body passages. Nothing is dropped: every non-blank line of the source ends up in
exactly one block, except the Markdown template marker ``<!-- … -->``.

A block keeps the source spans it was cut from, so every passage built from it
can be traced back to the exact characters of the original file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .documents import Document
from .metadata import LEGAL_KINDS
from .text import CHINESE_NUMERAL_CHARS, cjk_count
from .types import KIND_PAPER

FRONT_MATTER = "前置信息 (front matter)"
REFERENCES = "参考文献 (references)"
ENGLISH_SUMMARY = "English summary"
ABSTRACT = "摘要"

_CN_NUM = CHINESE_NUMERAL_CHARS
_HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^[{_CN_NUM}]+、\s*\S")),
    (2, re.compile(rf"^[(（][{_CN_NUM}]+[)）]\s*\S")),
    (3, re.compile(r"^\d{1,2}(?:[.．、]\s*|\s+)[^\d\s.．]")),
)
_MAX_HEADING_CHARS = 40
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_ARTICLE = re.compile(rf"^第[{_CN_NUM}\d]+条(?:之[{_CN_NUM}]+)?")
_CHAPTER = re.compile(rf"^第[{_CN_NUM}\d]+(章|节|编)")
_TEMPLATE_MARKER = re.compile(r"^<!--.*-->$")

# Journal material that a PDF page break drops into the body text.
_PAGE_ARTEFACTS = (
    re.compile(r"^收稿日期[:：]"),
    re.compile(r"^基金项目[:：]"),
    re.compile(r"^作者简介[:：]"),
    re.compile(r"^[\u4e00-\u9fff]{2,4}(?:\(通讯作者\)|（通讯作者）)?[(（]\d{4}-[)）]"),
    re.compile(r"^[(（]责任编辑[:：]"),
    re.compile(r"^\[DOI\]"),
    re.compile(r"^·.{1,20}·$"),
    re.compile(r"^\[引用格式\]"),
)
_FRONT_LINES = (re.compile(r"^关键词[:：]"), re.compile(r"^中图分类号"), re.compile(r"^Key ?words:", re.I))
_ABSTRACT = re.compile(r"^摘\s*要[:：]")
_REFERENCES_HEADING = re.compile(r"^参考文献[:：]?$")
# A paragraph that ends in one of these is complete; one that ends in a letter,
# digit or CJK character was cut by a page break when body text follows.
_COMPLETE_END = re.compile(r"[。！？；：:!?;…”’」』）)\]】.]$")


@dataclass(frozen=True)
class Block:
    """A paragraph (or a paragraph rejoined across a page break) with its place in the document."""

    kind: str  # body | heading | front_matter | references | summary
    section: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    text: str


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each non-blank line, trimmed of surrounding whitespace."""
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            start = pos + line.index(stripped)
            yield start, start + len(stripped)
        pos += len(line) + 1


def heading_level(line: str) -> int | None:
    """The level of a Chinese numbered heading, or None for a body paragraph."""
    if len(line) > _MAX_HEADING_CHARS or line.endswith(("。", "；", ";")):
        return None
    for level, pattern in _HEADING_PATTERNS:
        if pattern.match(line):
            return level
    return None


def _is_page_artefact(line: str) -> bool:
    return any(p.match(line) for p in _PAGE_ARTEFACTS)


def _mostly_latin(line: str) -> bool:
    letters = sum(1 for ch in line if ch.isascii() and ch.isalpha())
    cjk = cjk_count(line)
    return letters > 20 and cjk * 4 < letters


class _Builder:
    """Accumulates blocks and rejoins body paragraphs cut by page breaks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks: list[Block] = []
        self._open_body: int | None = None  # index of a body block awaiting its continuation

    def add(self, kind: str, section: tuple[str, ...], span: tuple[int, int]) -> None:
        piece = self.text[span[0] : span[1]]
        if kind == "body" and self._open_body is not None:
            prev = self.blocks[self._open_body]
            if prev.section == section:
                joined = Block("body", section, prev.spans + (span,), prev.text + piece)
                self.blocks[self._open_body] = joined
                self._open_body = None if _COMPLETE_END.search(piece) else self._open_body
                return
        if kind != "front_matter":
            # Front matter may stand inside a broken paragraph; anything else closes it.
            self._open_body = None
        self.blocks.append(Block(kind, section, (span,), piece))
        if kind == "body" and not _COMPLETE_END.search(piece):
            self._open_body = len(self.blocks) - 1


def clean_paper(doc: Document) -> list[Block]:
    """Blocks of a journal paper extracted from PDF (Chinese numbered headings)."""
    text = doc.text
    builder = _Builder(text)
    headings: list[tuple[int, str]] = []
    zone = "front"  # front -> body -> references -> summary
    for start, end in _paragraphs(text):
        line = text[start:end]
        if _is_page_artefact(line) or any(p.match(line) for p in _FRONT_LINES):
            builder.add("front_matter", (FRONT_MATTER,), (start, end))
            continue
        if zone in ("front", "body") and _REFERENCES_HEADING.match(line):
            zone = "references"
            builder.add("heading", (REFERENCES,), (start, end))
            continue
        if zone == "references":
            if _mostly_latin(line) and not line.startswith(("- [", "[")):
                zone = "summary"
            else:
                builder.add("references", (REFERENCES,), (start, end))
                continue
        if zone == "summary":
            builder.add("summary", (ENGLISH_SUMMARY,), (start, end))
            continue
        if _ABSTRACT.match(line):
            builder.add("body", (ABSTRACT,), (start, end))
            continue
        level = heading_level(line)
        if level is not None and (zone == "body" or level == 1):
            # Before the first top-level heading, "3. …" is an affiliation, not a section.
            zone = "body"
            headings = [(lvl, h) for lvl, h in headings if lvl < level] + [(level, line)]
            builder.add("heading", tuple(h for _, h in headings), (start, end))
            continue
        if zone == "front":
            builder.add("front_matter", (FRONT_MATTER,), (start, end))
            continue
        builder.add("body", tuple(h for _, h in headings), (start, end))
    return builder.blocks


def clean_markdown(doc: Document) -> list[Block]:
    """Blocks of a Markdown text: ``#`` headings, law chapters (第X章) and articles (第X条).

    Text between the title and the template marker ``<!-- INFO END -->`` (the
    legislative history of a law) is labelled front matter.
    """
    text = doc.text
    builder = _Builder(text)
    headings: list[tuple[int, str]] = []
    article: str | None = None
    has_marker = "<!-- INFO END -->" in text
    in_front = has_marker
    for start, end in _paragraphs(text):
        line = text[start:end]
        if _TEMPLATE_MARKER.match(line):
            in_front = False
            continue
        if match := _MARKDOWN_HEADING.match(line):
            level = len(match.group(1))
            heading = match.group(2)
            if level == 1:
                # The document title is its citation title, not a section.
                builder.add("heading", (heading,), (start, end))
                continue
            headings = [(lvl, h) for lvl, h in headings if lvl < level] + [(level, heading)]
            article = None
            builder.add("heading", tuple(h for _, h in headings), (start, end))
            continue
        if in_front:
            builder.add("front_matter", (FRONT_MATTER,), (start, end))
            continue
        if _CHAPTER.match(line) and len(line) <= _MAX_HEADING_CHARS and not _COMPLETE_END.search(line):
            headings = [(2, line)]
            article = None
            builder.add("heading", (line,), (start, end))
            continue
        if match := _ARTICLE.match(line):
            article = match.group(0)
        section = tuple(h for _, h in headings) + ((article,) if article else ())
        builder.add("body", section, (start, end))
    return builder.blocks


def clean_text(doc: Document) -> list[Block]:
    """Blocks of a plain text file: Chinese numbered headings, otherwise paragraphs."""
    return clean_paper(doc) if doc.kind == KIND_PAPER else _clean_plain(doc)


def _clean_plain(doc: Document) -> list[Block]:
    text = doc.text
    builder = _Builder(text)
    headings: list[tuple[int, str]] = []
    for start, end in _paragraphs(text):
        line = text[start:end]
        level = heading_level(line)
        if level is not None:
            headings = [(lvl, h) for lvl, h in headings if lvl < level] + [(level, line)]
            builder.add("heading", tuple(h for _, h in headings), (start, end))
            continue
        builder.add("body", tuple(h for _, h in headings), (start, end))
    return builder.blocks


def clean(doc: Document) -> list[Block]:
    """Dispatch on the document's kind."""
    if doc.is_markdown or doc.kind in LEGAL_KINDS or _has_articles(doc.text):
        return clean_markdown(doc)
    return clean_text(doc)


# Measures, rules and notices often number their provisions like laws (第一条 …) whatever
# their kind; a few such lines make the article the unit of a section.
_MIN_ARTICLES = 3
_ARTICLE_LINE = re.compile(rf"^\s*第[{_CN_NUM}\d]+条", re.M)


def _has_articles(text: str) -> bool:
    return len(_ARTICLE_LINE.findall(text, 0, 200_000)) >= _MIN_ARTICLES
