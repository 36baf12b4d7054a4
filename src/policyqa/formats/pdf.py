"""PDF converter (pypdfium2): text per page, in reading order, without running headers and page numbers.

PDFium gives each character and its box; this module rebuilds lines from the boxes, orders
two-column pages by a vertical gutter, drops lines repeated at the same place on many pages
(running headers and footers) and page-number lines at the top or bottom, and rejoins lines
broken by the layout into paragraphs, with no space put between CJK characters.
"""

from __future__ import annotations

import logging
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError
from . import _meta
from .layout import (
    PARAGRAPH_END,
    PARAGRAPH_START,
    fix_radicals,
    heading_lines,
    is_page_number,
    join_lines,
    normalise_whitespace,
    repeated_lines,
)
from .record import ExtractedText

log = logging.getLogger("policyqa")

NO_TEXT_LAYER = "no text layer: OCR is not supported"
_MARGIN_SHARE = 0.12  # top and bottom share of the page where running lines and page numbers live
_EOF_WINDOW = 2048


@dataclass
class _Line:
    text: str
    left: float
    bottom: float
    right: float
    top: float
    height: float
    column: int = 0  # 0 single column or spanning, 1 left, 2 right

    @property
    def middle(self) -> float:
        return (self.bottom + self.top) / 2


def _open(path: Path):  # type: ignore[no-untyped-def]
    try:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("pypdfium2 is not available - install pypdfium2 to read PDF files") from exc
    raw = path.read_bytes()
    if b"%%EOF" not in raw[-_EOF_WINDOW:]:
        raise CorpusError("truncated PDF (no %EOF marker at the end)")
    try:
        pdf = pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            reason = "encrypted PDF: a password is required"
        elif code == pdfium_c.FPDF_ERR_SECURITY:
            reason = "encrypted PDF with an unsupported security handler"
        else:
            reason = "not a readable PDF (corrupt or truncated)"
        raise CorpusError(reason) from exc
    return pdf


def _page_lines(textpage) -> list[_Line]:  # type: ignore[no-untyped-def]
    """Lines of one page rebuilt from character boxes, in content-stream order."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    lines: list[_Line] = []
    chars: list[tuple[str, float, float, float, float]] = []
    pending_space: bool | str = False
    rect = pdfium_c.FS_RECTF()

    def flush() -> None:
        nonlocal chars
        if chars:
            text = "".join(c[0] for c in chars)
            boxes = [c for c in chars if not c[0].isspace()]
            if boxes and text.strip():
                lines.append(
                    _Line(
                        text=text,
                        left=min(c[1] for c in boxes),
                        bottom=min(c[2] for c in boxes),
                        right=max(c[3] for c in boxes),
                        top=max(c[4] for c in boxes),
                        height=statistics.median(c[4] - c[2] for c in boxes),
                    )
                )
        chars = []

    count = pdfium_c.FPDFText_CountChars(textpage.raw)
    for index in range(max(count, 0)):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
        ch = chr(code) if 0 < code < 0x110000 else ""
        if ch == "\x02":  # PDFium's mark for a hyphen it takes for a soft one
            ch = "-"
        if not ch or ch in "\r\n\x00\ufffe\uffff":
            continue
        if ch.isspace():
            # PDFium generates spaces for wide gaps, which justified CJK lines are full of:
            # keep those only between non-CJK characters.
            generated = pdfium_c.FPDFText_IsGenerated(textpage.raw, index) == 1
            if chars:
                pending_space = "generated" if generated and pending_space != "real" else "real"
            continue
        if not pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, index, ctypes.byref(rect)):
            continue
        left, bottom, right, top = rect.left, min(rect.bottom, rect.top), rect.right, max(rect.bottom, rect.top)
        height = max(top - bottom, 1.0)
        if chars:
            prev = chars[-1]
            prev_height = max(prev[4] - prev[2], 1.0)
            size = max(height, prev_height)
            same_row = abs((bottom + top) / 2 - (prev[2] + prev[4]) / 2) < 0.5 * size
            gap = left - prev[3]
            if not same_row or gap > 2.5 * size or left < prev[1] - size:
                flush()
                pending_space = False
            elif (
                pending_space == "real"
                or (pending_space and gap >= 0.5 * size)  # a half-width space or wider, not justification
                or ((pending_space or gap > 0.25 * size) and not (CJK_CHAR.match(ch) or CJK_CHAR.match(prev[0])))
            ):
                chars.append((" ", prev[3], prev[2], left, prev[4]))
        pending_space = False
        chars.append((ch, left, bottom, right, top))
    flush()
    for line in lines:
        line.text = normalise_whitespace(fix_radicals(line.text))
    return [line for line in lines if line.text]


CJK_CHAR = re.compile("[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


def _order_columns(lines: list[_Line], page_width: float) -> list[_Line]:
    """Reading order: top to bottom, and on a two-column band the left column before the right."""
    if len(lines) < 6:
        return sorted(lines, key=lambda ln: (-ln.top, ln.left))
    best_x, best_cover = None, len(lines) + 1
    for step in range(30, 71):
        x = page_width * step / 100
        cover = sum(1 for ln in lines if ln.left < x < ln.right)
        if cover < best_cover:
            best_x, best_cover = x, cover
    assert best_x is not None
    left = [ln for ln in lines if ln.right <= best_x]
    right = [ln for ln in lines if ln.left >= best_x]
    spanning = [ln for ln in lines if ln.left < best_x < ln.right]
    two_columns = (
        len(left) >= 3
        and len(right) >= 3
        and len(right) >= 0.25 * (len(left) + len(right))
        and len(spanning) <= 0.3 * len(lines)
        and min(ln.top for ln in right) < max(ln.top for ln in left)
        and max(ln.top for ln in right) > min(ln.top for ln in left)
    )
    if not two_columns:
        return sorted(lines, key=lambda ln: (-ln.top, ln.left))
    for ln in left:
        ln.column = 1
    for ln in right:
        ln.column = 2
    ordered: list[_Line] = []
    band: list[_Line] = []
    for ln in sorted(lines, key=lambda ln: (-ln.top, ln.left)):
        if ln.column == 0:
            ordered.extend(sorted(band, key=lambda b: (b.column, -b.top, b.left)))
            band = []
            ordered.append(ln)
        else:
            band.append(ln)
    ordered.extend(sorted(band, key=lambda b: (b.column, -b.top, b.left)))
    return ordered


def _strip_running(pages: list[list[_Line]], heights: list[float]) -> None:
    """Drop running headers/footers and page numbers from the pages' line lists, in place."""
    candidates: list[list[tuple[str, float]]] = []
    candidate_lines: list[list[_Line]] = []
    for lines, height in zip(pages, heights, strict=True):
        if not lines:
            candidates.append([])
            candidate_lines.append([])
            continue
        top_line = max(lines, key=lambda ln: ln.top)
        bottom_line = min(lines, key=lambda ln: ln.bottom)
        chosen = [
            ln
            for ln in lines
            if ln.top > height * (1 - _MARGIN_SHARE)
            or ln.bottom < height * _MARGIN_SHARE
            or ln is top_line
            or ln is bottom_line
        ]
        candidates.append([(ln.text, ln.middle) for ln in chosen])
        candidate_lines.append(chosen)
    running = repeated_lines(candidates, tolerance=max(heights, default=800) * 0.015)
    for page_index, lines in enumerate(pages):
        drop = {id(candidate_lines[page_index][i]) for p, i in running if p == page_index}
        for ln in candidate_lines[page_index]:
            if is_page_number(ln.text):
                drop.add(id(ln))
        pages[page_index] = [ln for ln in lines if id(ln) not in drop]


def _column_metrics(lines: list[_Line]) -> dict[int, tuple[float, float, float]]:
    """Per column: left edge, right edge and the typical character height."""
    metrics = {}
    for column in {ln.column for ln in lines}:
        members = [ln for ln in lines if ln.column == column]
        metrics[column] = (
            min(ln.left for ln in members),
            max(ln.right for ln in members),
            statistics.median(ln.height for ln in members),
        )
    return metrics


def _title(pdf, first_lines: list[_Line], body: float) -> str | None:  # type: ignore[no-untyped-def]
    """The /Title when it is a real title, else the largest-type lines at the top of the first page."""
    raw = (pdf.get_metadata_value("Title") or "").strip()
    if re.fullmatch(r"<[0-9A-Fa-f]+>", raw):  # a hex string PDFium did not decode (GBK /Title)
        data = bytes.fromhex(raw[1:-1])
        for encoding in ("utf-16", "gb18030") if data[:2] in (b"\xfe\xff", b"\xff\xfe") else ("gb18030",):
            try:
                raw = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    raw = re.sub(r"^Microsoft Word - ", "", raw)
    raw = re.sub(r"\.(docx?|wps|rtf)$", "", raw, flags=re.I).strip()
    if raw and CJK_CHAR.search(raw):
        return raw
    if not first_lines:
        return None
    head = first_lines[:8]
    biggest = max(ln.height for ln in head)
    if biggest < 1.15 * body:
        return None
    title = [ln.text for ln in head if ln.height >= 0.95 * biggest]
    text = "".join(title)
    return text if 2 <= len(text) <= 80 else None


def extract_pdf(path: Path) -> ExtractedText:
    """Convert a PDF with a text layer; CorpusError for encrypted, image-only or broken files."""
    pdf = _open(path)
    try:
        pages: list[list[_Line]] = []
        heights: list[float] = []
        for index in range(len(pdf)):
            page = pdf[index]
            width, height = page.get_size()
            textpage = page.get_textpage()
            lines = _page_lines(textpage)
            pages.append(lines)
            heights.append(height)
            textpage.close()
            page.close()
            pages[-1] = _order_columns(lines, width) if lines else []
        if not any(pages):
            raise CorpusError(NO_TEXT_LAYER)
        first_with_text = next(p for p in pages if p)
        body = statistics.median(ln.height for lines in pages for ln in lines)
        title = _title(pdf, list(first_with_text), body)
    finally:
        pdf.close()
    _strip_running(pages, heights)
    text, offsets = _assemble(pages)
    if not text.strip():
        raise CorpusError(NO_TEXT_LAYER)
    meta = _meta.stated_metadata(text.splitlines(), title=title)
    meta["format"] = "pdf"
    return ExtractedText(text=text, pages=tuple(offsets), headings=heading_lines(text.splitlines()), metadata=meta)


def _assemble(pages: list[list[_Line]]) -> tuple[str, list[tuple[int, int]]]:
    """Paragraph text of all pages and each page's [start, end) in it."""
    parts: list[str] = []  # finished paragraphs
    current = ""  # the paragraph being built
    length = 0  # characters in "\n".join(parts) + "\n" (when parts) so far
    starts: list[int] = []
    open_paragraph = False

    def position() -> int:
        return length + len(current)

    all_metrics = [_column_metrics(lines) if lines else {} for lines in pages]
    indented = sum(
        1
        for lines, metrics in zip(pages, all_metrics, strict=True)
        for ln in lines
        if ln.left > metrics[ln.column][0] + 1.2 * metrics[ln.column][2]
    )
    # Where paragraphs open with an indent, a full line that happens to end in 。 does not
    # close its paragraph: the next line's indent (or a short line) says where one ends.
    uses_indent = indented >= 0.03 * max(1, sum(len(lines) for lines in pages))
    for lines, metrics in zip(pages, all_metrics, strict=True):
        page_start: int | None = None
        for index, ln in enumerate(lines):
            col_left, col_right, size = metrics[ln.column]
            starts_new = not open_paragraph or bool(PARAGRAPH_START.match(ln.text)) or ln.left > col_left + 1.2 * size
            if starts_new and current:
                parts.append(current)
                length += len(current) + 1
                current = ""
            if page_start is None:
                page_start = position()
            current = join_lines(current, ln.text) if current else ln.text
            next_line = lines[index + 1] if index + 1 < len(lines) else None  # None: the page's last line
            short = ln.right < col_right - 1.5 * size
            ends = bool(PARAGRAPH_END.search(ln.text)) and (not uses_indent or next_line is None)
            open_paragraph = not (ends or short)
        starts.append(position() if page_start is None else page_start)
    if current:
        parts.append(current)
    text = "\n".join(parts)
    offsets = [(start, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, start in enumerate(starts)]
    return text, offsets
