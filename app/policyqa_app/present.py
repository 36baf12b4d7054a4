"""Presentation helpers shared by the HTTP stream and the UI: sentences, escaped HTML, plain text.

Everything that goes into HTML here is escaped first: answers and passages come from
documents the server does not control, so they must show as text, never as markup.
Characters that hide text (zero-width, direction overrides, Unicode tags) are shown as
visible markers, so a passage cannot display something other than what it holds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from policyqa.documents import HIDDEN_CHARACTERS

# An answer is "sentence[1] sentence[2] ...": each sentence ends with its citation marker.
_ANSWER_SENTENCE = re.compile(r".+?\[\d+\](?:\s+|$)|.+$", re.S)
_MARKER = re.compile(r"\[(\d+)\]")
CONTEXT_RADIUS_CHARS = 600
NOT_COVERED_LABEL = "语料未涵盖 · Not covered by the corpus"
_HIDDEN_RUN = re.compile(f"(?:{HIDDEN_CHARACTERS.pattern})+")
_MAX_LISTED_CODES = 8


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


def answer_html(answer: str, abstained: bool) -> str:
    """The answer for the chat window: escaped, markers emphasised, abstention flagged."""
    if abstained:
        label = html.escape(NOT_COVERED_LABEL)
        return f'<p class="pq-not-covered"><strong>⚠ {label}</strong></p><p>{escape_text(answer)}</p>'
    body = _MARKER.sub(lambda m: f'<strong class="pq-marker">[{m.group(1)}]</strong>', escape_text(answer))
    return f"<p>{body}</p>"


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


def citation_label(citation: Mapping[str, object]) -> str:
    """Short plain-text label of a citation, for buttons and lists."""
    section = str(citation.get("section") or "")
    tail = section.rsplit(" > ", 1)[-1]
    if len(tail) > 40:
        tail = tail[:39] + "…"
    return f"[{citation['n']}] {tail}" if tail else f"[{citation['n']}] {citation.get('title', '')}"


def citation_card_html(citation: Mapping[str, object], context: str | None = None) -> str:
    """The card for one citation: title, section path, passage with the quoted sentences highlighted.

    ``context`` is the surrounding source text, already rendered by :func:`context_html`.
    """
    title = html.escape(str(citation.get("title", "")))
    section = html.escape(str(citation.get("section", "")))
    text = str(citation.get("text", ""))
    highlights = citation.get("highlights") or []
    meta = (
        f"{html.escape(str(citation.get('doc_id', '')))} · "
        f"字符 chars {int(citation.get('char_start', 0))}–{int(citation.get('char_end', 0))} · "  # type: ignore[call-overload]
        f"相关度 score {float(citation.get('score', 0.0)):.3f}"  # type: ignore[arg-type]
    )
    parts = [
        f'<div class="pq-card" data-n="{int(citation.get("n", 0))}">',  # type: ignore[call-overload]
        f'<div class="pq-card-n">[{int(citation.get("n", 0))}]</div>',  # type: ignore[call-overload]
        f'<div class="pq-card-title">{title}</div>',
        f'<div class="pq-card-section">{section}</div>',
        f'<div class="pq-card-meta">{meta}</div>',
        f'<div class="pq-card-passage">{highlighted(text, highlights)}</div>',  # type: ignore[arg-type]
    ]
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
        lines.append(
            f"[{c['n']}] {c.get('title', '')} — {c.get('section', '')} "
            f"({c.get('doc_id', '')}, chars {c.get('char_start')}–{c.get('char_end')})"
        )
    return "\n".join(lines)


def documents_html(documents: Sequence[Mapping[str, object]]) -> str:
    """The corpus as an escaped HTML list: title, id, size, passages, and the sections on demand."""
    if not documents:
        return placeholder_card_html("索引中没有文档。The index holds no documents.")
    rows = []
    for doc in documents:
        sections = "".join(f"<li>{html.escape(str(s))}</li>" for s in doc.get("sections") or [])  # type: ignore[attr-defined]
        meta = doc.get("metadata") or {}
        extra = []
        for key in ("title_en", "journal", "year", "doi"):
            if meta.get(key):  # type: ignore[attr-defined]
                extra.append(html.escape(str(meta[key])))  # type: ignore[index]
        rows.append(
            '<div class="pq-doc">'
            f'<div class="pq-doc-title">{html.escape(str(doc.get("title", "")))}</div>'
            f'<div class="pq-doc-meta">{html.escape(str(doc.get("doc_id", "")))} · '
            f"{int(doc.get('chars', 0)):,} 字符 chars · {int(doc.get('passages', 0))} 段落 passages"  # type: ignore[call-overload]
            f"{' · ' + ' · '.join(extra) if extra else ''}</div>"
            f"<details><summary>章节 Sections ({len(doc.get('sections') or [])})</summary><ul>{sections}</ul></details>"  # type: ignore[arg-type]
            "</div>"
        )
    return "".join(rows)
