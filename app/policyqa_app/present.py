"""Presentation helpers shared by the HTTP stream and the UI: sentences, escaped HTML, plain text.

Everything that goes into HTML here is escaped first: answers and passages come from
documents the server does not control, so they must show as text, never as markup.
Characters that hide text (zero-width, direction overrides, Unicode tags) are shown as
visible markers, so a passage cannot display something other than what it holds.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote, urlencode

from policyqa.answer import split_lead
from policyqa.documents import HIDDEN_CHARACTERS
from policyqa.metadata import kind_label

# An answer is "sentence[1] sentence[2] ...": each sentence ends with its citation marker.
_ANSWER_SENTENCE = re.compile(r".+?\[\d+\](?:\s+|$)|.+$", re.S)
_MARKER = re.compile(r"\[(\d+)\]")
CONTEXT_RADIUS_CHARS = 600
# The UI's routes for a PDF page and an original file (``ui.mount_ui`` serves them); relative,
# so they resolve under the path the UI is served at.
PAGE_ROUTE = "ui/page/{doc_id}/{page}.png"
FILE_ROUTE = "ui/file/{doc_id}"
MAX_PAGE_QUOTES = 4
NOT_COVERED_LABEL = "语料未涵盖 · Not covered by the corpus"
PARTIAL_LABEL = "部分涵盖 · Partly covered by the corpus"
_HIDDEN_RUN = re.compile(f"(?:{HIDDEN_CHARACTERS.pattern})+")
_MAX_LISTED_CODES = 8
# A short title's width in columns: a CJK character counts two, so 28 is fourteen characters.
SHORT_TITLE_COLUMNS = 28
SECTION_LABEL_COLUMNS = 32
_STATE_PREFIX = "中华人民共和国"
# "（2020年修正）", "(2019修订)": the version note after a law's name.
_VERSION_NOTE = re.compile(r"\s*[（(][^（）()]*(?:修正|修订|试行|草案|\d{4}年?版?)[）)]\s*$")
# A citation link in the chat: "#pq-cite-TURN-N" (Gradio's sanitiser keeps href, drops data-* attributes).
CITE_HREF = "#pq-cite-{turn}-{n}"


def answer_sentences(answer: str) -> list[str]:
    """Split an answer after each citation marker; an answer without markers is one piece."""
    return [m.group(0).strip() for m in _ANSWER_SENTENCE.finditer(answer) if m.group(0).strip()]


def _hidden_marker(match: re.Match[str]) -> str:
    run = match.group(0)
    codes = [f"U+{ord(ch):04X}" for ch in dict.fromkeys(run)]
    listed = ", ".join(codes[:_MAX_LISTED_CODES]) + (", …" if len(codes) > _MAX_LISTED_CODES else "")
    label = codes[0] if len(run) == 1 else f"{len(run)} hidden characters"
    return f'<span class="pq-hidden" title="hidden characters: {listed}">⟦{label}⟧</span>'


def escape_text(text: str) -> str:
    """Escape text for HTML, keep its line breaks and show hidden characters as markers."""
    escaped = html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")
    return _HIDDEN_RUN.sub(_hidden_marker, escaped)


def answer_html(
    answer: str,
    abstained: bool,
    turn: int | None = None,
    citations: Sequence[Mapping[str, object]] = (),
    english: bool = False,
    partial: bool = False,
) -> str:
    """The answer for the chat window: escaped, markers emphasised, abstention and partial answer flagged.

    A ``partial`` answer's first line (what the texts do not state) stands under its label.

    With ``turn`` (the answer's place in the chat), each ``[n]`` that names one of ``citations``
    is a link to that answer's card n, and the answer ends with its list of sources, so every
    answer keeps its own citations. The links carry only numbers (``#pq-cite-TURN-N``); the
    page's click handler (``ui.CITE_JS``) opens the card.
    """
    if abstained:
        label = html.escape(NOT_COVERED_LABEL)
        return f'<p class="pq-not-covered"><strong>⚠ {label}</strong></p><p>{escape_text(answer)}</p>'
    numbers = {int(c["n"]) for c in citations}  # type: ignore[call-overload]

    def marker(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if turn is None or n not in numbers:
            return f'<strong class="pq-marker">[{n}]</strong>'
        return f'<a class="pq-marker" href="{CITE_HREF.format(turn=int(turn), n=n)}"><strong>[{n}]</strong></a>'

    flag = ""
    if partial:
        lead, answer = split_lead(answer)
        flag = f'<p class="pq-partial"><strong>◐ {html.escape(PARTIAL_LABEL)}</strong><br>{escape_text(lead)}</p>'
    body = flag + f"<p>{_MARKER.sub(marker, escape_text(answer))}</p>"
    if turn is None or not citations:
        return body
    links = "".join(
        f'<li><a class="pq-cite" href="{CITE_HREF.format(turn=int(turn), n=int(c["n"]))}">'  # type: ignore[call-overload]
        f"{html.escape(citation_label(c, english))}</a></li>"
        for c in citations
    )
    return f'{body}<div class="pq-sources">来源 Sources<ul>{links}</ul></div>'


def _merged(spans: Iterable[Sequence[int]], length: int) -> list[tuple[int, int]]:
    clean = sorted((max(0, int(s)), min(length, int(e))) for s, e in spans if int(e) > int(s))
    merged: list[tuple[int, int]] = []
    for start, end in clean:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif start < end:
            merged.append((start, end))
    return merged


def highlighted(text: str, spans: Iterable[Sequence[int]]) -> str:
    """Escaped text with the given character spans wrapped in ``<mark>``."""
    parts: list[str] = []
    cursor = 0
    for start, end in _merged(spans, len(text)):
        parts.append(escape_text(text[cursor:start]))
        parts.append(f"<mark>{escape_text(text[start:end])}</mark>")
        cursor = end
    parts.append(escape_text(text[cursor:]))
    return "".join(parts)


def columns(text: str) -> int:
    """Display width: wide (CJK, full-width) characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def clip(text: str, max_columns: int) -> str:
    """``text`` cut to ``max_columns`` display columns, an ellipsis marking the cut."""
    if columns(text) <= max_columns:
        return text
    kept, width = [], 1  # the ellipsis takes one column
    for ch in text:
        width += columns(ch)
        if width > max_columns:
            break
        kept.append(ch)
    return "".join(kept).rstrip() + "…"


def short_title(title: str, max_columns: int = SHORT_TITLE_COLUMNS) -> str:
    """A document's title as a label shows it: 《中华人民共和国专利法（2020年修正）》 → 专利法.

    The state's name and a version note go; a title still too long keeps its start and an ellipsis.
    """
    short = title.strip().strip("《》").strip()
    short = _VERSION_NOTE.sub("", short)
    if short.startswith(_STATE_PREFIX) and len(short) > len(_STATE_PREFIX):
        short = short[len(_STATE_PREFIX) :]
    return clip(short, max_columns) if short else clip(title.strip(), max_columns)


def pages_label(page: object, page_end: object = None) -> str:
    """ "p. 3", "pp. 3–4", or "" for a source without pages."""
    if not isinstance(page, int):
        return ""
    if isinstance(page_end, int) and page_end > page:
        return f"pp. {page}–{page_end}"
    return f"p. {page}"


def kind_text(kind: object, english: bool = False) -> str:
    """The kind's label: 法律; with ``english`` both, 法律 Law (as the UI's other labels)."""
    kind = str(kind or "")
    if not kind:
        return ""
    chinese = kind_label(kind, chinese=True)
    other = kind_label(kind, chinese=False)
    return f"{chinese} {other}" if english and other != chinese else chinese


def section_tail(section: object, max_columns: int = SECTION_LABEL_COLUMNS) -> str:
    """The last step of a section path ("第二章 > 第十二条" → 第十二条), clipped."""
    return clip(str(section or "").rsplit(" > ", 1)[-1].strip(), max_columns)


def citation_label(citation: Mapping[str, object], english: bool = False) -> str:
    """Plain-text label of a citation: [n] short title · kind · section · page.

    "[1] 专利法 · 法律 · 第十二条 · p. 3"; for an English reader the kind in both languages.
    """
    parts = [
        short_title(str(citation.get("title") or citation.get("doc_id") or "")),
        kind_text(citation.get("kind"), english),
        section_tail(citation.get("section")),
        pages_label(citation.get("page"), citation.get("page_end")),
    ]
    return f"[{citation['n']}] " + " · ".join(p for p in parts if p)


def page_image_url(citation: Mapping[str, object]) -> str | None:
    """The URL of the citation's first page, rendered with its quotes highlighted; None without pages."""
    page = citation.get("page")
    if not isinstance(page, int):
        return None
    doc_id = quote(str(citation.get("doc_id", "")), safe="")
    query = urlencode([("q", q) for q in list(citation.get("quotes") or [])[:MAX_PAGE_QUOTES]])  # type: ignore[call-overload]
    return f"{PAGE_ROUTE.format(doc_id=doc_id, page=page)}" + (f"?{query}" if query else "")


def file_url(citation: Mapping[str, object]) -> str:
    """The URL of the citation's original file (same access control as the UI)."""
    return FILE_ROUTE.format(doc_id=quote(str(citation.get("doc_id", "")), safe=""))


def citation_card_html(
    citation: Mapping[str, object],
    context: str | None = None,
    *,
    english: bool = False,
    glosses: Sequence[tuple[str, Sequence[tuple[str, str]]]] = (),
    with_page: bool = False,
    with_file: bool = False,
    grounded: Sequence[tuple[str, str]] = (),
) -> str:
    """The card for one citation: where it is from, the passage with its quotes highlighted.

    It leads with the document's short title and kind, then the section and the page, as
    the citation's label does. ``context`` is the surrounding source text, already rendered
    by :func:`context_html`; ``glosses`` are (quote, [(word, English)]) pairs for an English
    reader; ``with_page`` adds the rendered page of a PDF, ``with_file`` a link to the file;
    ``grounded`` are (generated sentence, the passage sentence it rests on) pairs of a generated
    answer, so that a reader checks each written sentence against the words it came from.
    """
    n = int(citation.get("n", 0))  # type: ignore[call-overload]
    title = str(citation.get("title", ""))
    section = html.escape(str(citation.get("section", "")))
    pages = pages_label(citation.get("page"), citation.get("page_end"))
    text = str(citation.get("text", ""))
    highlights = citation.get("highlights") or []
    meta = (
        f"{html.escape(str(citation.get('doc_id', '')))} · "
        f"字符 chars {int(citation.get('char_start', 0))}–{int(citation.get('char_end', 0))} · "  # type: ignore[call-overload]
        f"相关度 score {float(citation.get('score', 0.0)):.3f}"  # type: ignore[arg-type]
    )
    kind = kind_text(citation.get("kind"), english=True)
    parts = [
        f'<div class="pq-card" data-n="{n}">',
        '<div class="pq-card-head">'
        f'<span class="pq-card-n">[{n}]</span> '
        f'<span class="pq-card-doc">{escape_text(short_title(title))}</span>'
        + (f' <span class="pq-card-kind">{html.escape(kind)}</span>' if kind else "")
        + "</div>",
        f'<div class="pq-card-section">{section}'
        + (f' · <span class="pq-card-pages">{html.escape(pages)}</span>' if pages else "")
        + "</div>",
        f'<div class="pq-card-title">{escape_text(title)}</div>',
        f'<div class="pq-card-meta">{meta}</div>',
        f'<div class="pq-card-passage">{highlighted(text, highlights)}</div>',  # type: ignore[arg-type]
    ]
    if grounded:
        parts.append(
            '<div class="pq-card-grounded"><div class="pq-card-grounded-label">'
            "生成的句子及其依据 Generated sentences and what they rest on</div><ul>"
        )
        for written, source in grounded:
            parts.append(
                f'<li><div class="pq-grounded-written">{escape_text(written)}</div>'
                f'<div class="pq-grounded-source" lang="zh">← {escape_text(source)}</div></li>'
            )
        parts.append("</ul></div>")
    if glosses:
        parts.append('<div class="pq-card-glosses"><div class="pq-card-glosses-label">Key terms</div>')
        for quote_text, words in glosses:
            if not words:
                continue
            items = "".join(
                f'<li><span class="pq-gloss-word" lang="zh">{escape_text(word)}</span> — {escape_text(gloss)}</li>'
                for word, gloss in words
            )
            parts.append(
                f'<div class="pq-gloss-quote" lang="zh">{escape_text(clip(quote_text, 60))}</div><ul>{items}</ul>'
            )
        parts.append("</div>")
    if with_page and (url := page_image_url(citation)):
        page_no = int(citation["page"])  # type: ignore[call-overload]
        parts.append(
            f'<figure class="pq-card-page"><img src="{html.escape(url)}" '
            f'alt="第 {page_no} 页，引文已高亮 Page {page_no}, quotes highlighted" loading="lazy">'
            f"<figcaption>第 {page_no} 页 Page {page_no}</figcaption></figure>"
        )
    if with_file:
        parts.append(
            f'<div class="pq-card-file"><a href="{html.escape(file_url(citation))}" target="_blank" '
            'rel="noopener noreferrer">原文件 Original file</a></div>'
        )
    if context is not None:
        parts.append(
            '<div class="pq-card-context-label">完整上下文 Full context</div>'
            f'<div class="pq-card-context">{context}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def context_window(source: str, start: int, end: int, radius: int = CONTEXT_RADIUS_CHARS) -> tuple[str, str, str]:
    """The text before, of and after a span of the source, ``radius`` characters each side."""
    start = max(0, min(start, len(source)))
    end = max(start, min(end, len(source)))
    left = max(0, start - radius)
    right = min(len(source), end + radius)
    before = ("…" if left > 0 else "") + source[left:start]
    after = source[end:right] + ("…" if right < len(source) else "")
    return before, source[start:end], after


def context_html(source: str, start: int, end: int, radius: int = CONTEXT_RADIUS_CHARS) -> str:
    before, passage, after = context_window(source, start, end, radius)
    return f'{escape_text(before)}<span class="pq-context-passage">{escape_text(passage)}</span>{escape_text(after)}'


def placeholder_card_html(message: str) -> str:
    return f'<div class="pq-card pq-card-empty">{escape_text(message)}</div>'


def copy_text(answer: Mapping[str, object]) -> str:
    """The answer with its numbered sources, as plain text for the clipboard."""
    lines = [str(answer.get("answer", ""))]
    citations = answer.get("citations") or []
    if citations:
        lines.append("")
        lines.append("来源 Sources:")
    for c in citations:  # type: ignore[attr-defined]
        where = [
            kind_text(c.get("kind"), english=True),
            str(c.get("section") or ""),
            pages_label(c.get("page"), c.get("page_end")),
        ]
        lines.append(f"[{c['n']}] {c.get('title', '')} — " + ", ".join(w for w in where if w))
    return "\n".join(lines)


DOCUMENT_COLUMNS = (
    "编号 ID",
    "标题 Title",
    "类型 Kind",
    "地区 Region",
    "年份 Year",
    "页 Pages",
    "段落 Passages",
    "添加 Added",
)


def _cell(value: object) -> str:
    return "" if value is None or value == "" else html.escape(str(value))


def documents_html(documents: Sequence[Mapping[str, object]]) -> str:
    """The corpus as an escaped HTML table (``Service.document_listing`` rows), sections on demand."""
    if not documents:
        return placeholder_card_html("没有符合条件的文档。No document matches.")
    rows = []
    for doc in documents:
        sections = [str(s) for s in doc.get("sections") or []]  # type: ignore[attr-defined]
        meta = doc.get("metadata") or {}
        extra = [html.escape(str(meta[k])) for k in ("title_en", "journal", "doi") if meta.get(k)]  # type: ignore[attr-defined,index]
        added = str(doc.get("added") or "")
        title = (
            f'<span class="pq-doc-title">{_cell(doc.get("title"))}</span>'
            + (f'<div class="pq-doc-meta">{" · ".join(extra)}</div>' if extra else "")
            + (
                f"<details><summary>章节 Sections ({len(sections)})</summary><ul>"
                + "".join(f"<li>{html.escape(s)}</li>" for s in sections)
                + "</ul></details>"
                if sections
                else ""
            )
        )
        cells = [
            f'<td class="pq-doc-id"><code>{_cell(doc.get("doc_id"))}</code></td>',
            f"<td>{title}</td>",
            f"<td>{_cell(kind_text(doc.get('kind'), english=True))}</td>",
            f"<td>{_cell(doc.get('region'))}</td>",
            f"<td>{_cell(doc.get('year'))}</td>",
            f"<td>{_cell(doc.get('pages'))}</td>",
            f"<td>{_cell(doc.get('passages'))}</td>",
            f"<td>{_cell(added[:10])}</td>",  # the date; the API gives the full time
        ]
        rows.append(f'<tr class="pq-doc">{"".join(cells)}</tr>')
    head = "".join(f"<th>{html.escape(c)}</th>" for c in DOCUMENT_COLUMNS)
    return f'<table class="pq-doc-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def filter_text(
    kinds: Sequence[str] = (), regions: Sequence[str] = (), years: str | None = None, documents: int = 0
) -> str:
    """What a search was restricted to, in words ("" when to nothing): 类型 法律 Law · 地区 北京 · 年份 2015-2021."""
    parts = []
    if kinds:
        parts.append("类型 Kind: " + ", ".join(kind_text(k, english=True) for k in kinds))
    if regions:
        parts.append("地区 Region: " + ", ".join(regions))
    if years and years.strip():
        parts.append(f"年份 Years: {years.strip()}")
    if documents:
        parts.append(f"文档 Documents: {documents}")
    return " · ".join(parts)


def filter_html(text: str) -> str:
    """The answer's line naming its filters, escaped."""
    return f'<p class="pq-filters">筛选 Filtered: {html.escape(text)}</p>' if text else ""


def add_report_html(lines: Sequence[tuple[str, str]], live: str | None) -> str:
    """What an upload did, one escaped line per file (status, text), and the build now live."""
    items = "".join(f'<li class="pq-add-{html.escape(status)}">{html.escape(text)}</li>' for status, text in lines)
    note = f'<p class="pq-live">{html.escape(live)}</p>' if live else ""
    return f'<div class="pq-add-report"><ul>{items}</ul>{note}</div>'
