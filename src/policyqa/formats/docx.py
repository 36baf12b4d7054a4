"""DOCX converter (python-docx): body paragraphs and tables in document order, with Word's auto-numbering.

Chapter and article labels (第一章, 第一条, 一、) often live only in ``numbering.xml``: the
paragraph holds "总则" and Word draws "第一章" in front of it. This module renders those labels
the way Word counts them, so the structure survives in the text. Page headers and footers
(where a legal database puts "第N页 总共M页") are separate parts and are never read. The zip is
checked against a decompression bound before anything is parsed.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from . import _meta
from .layout import fix_radicals, heading_lines, normalise_whitespace
from .record import ExtractedText

MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200  # for members over 1 MB: XML compresses ~10-30x; 200x is a bomb
MAX_MEMBERS = 10_000

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_CN_DIGITS = "零一二三四五六七八九"
_TIANGAN = "甲乙丙丁戊己庚辛壬癸"
_DIZHI = "子丑寅卯辰巳午未申酉戌亥"
_LEGAL = "零壹贰叁肆伍陆柒捌玖"


def check_zip(path: Path) -> None:
    """Refuse a corrupt zip or a zip bomb before any member is decompressed."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorpusError(f"not a valid DOCX (corrupt or truncated zip: {exc})") from exc
    if len(members) > MAX_MEMBERS:
        raise CorpusError(f"DOCX zip holds {len(members):,} members (limit {MAX_MEMBERS:,})")
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise CorpusError(
            f"DOCX unpacks to {total:,} bytes, over the {MAX_UNCOMPRESSED_BYTES:,}-byte bound (zip bomb?)"
        )
    for member in members:
        if member.file_size > 1024 * 1024 and member.file_size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1):
            raise CorpusError(
                f"DOCX member {member.filename} expands {member.file_size // max(member.compress_size, 1)}x (zip bomb?)"
            )
    if "word/document.xml" not in {m.filename for m in members}:
        raise CorpusError("not a DOCX (no word/document.xml in the zip)")


def _chinese_counting(n: int, thousand: bool = True) -> str:
    """Word's chineseCounting: 1 一, 10 十, 11 十一, 21 二十一, 101 一百零一, 110 一百一十."""
    if n <= 0:
        return str(n)
    if n >= 10000:
        return str(n)
    digits = [(n // 1000) % 10, (n // 100) % 10, (n // 10) % 10, n % 10]
    units = ["千", "百", "十", ""]
    out = ""
    zero = False
    for digit, unit in zip(digits, units, strict=True):
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (unit == "十" and digit == 1 and not out) else _CN_DIGITS[digit]) + unit
    return out


def _roman(n: int) -> str:
    values = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc")]
    values += [(50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
    out = ""
    for value, letters in values:
        while n >= value:
            out += letters
            n -= value
    return out


def format_number(n: int, fmt: str) -> str:
    """One counter in a Word numFmt."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting"):
        return _chinese_counting(n)
    if fmt == "ideographTraditional":
        return _TIANGAN[(n - 1) % 10]
    if fmt == "ideographZodiac":
        return _DIZHI[(n - 1) % 12]
    if fmt == "chineseLegalSimplified":
        return "".join(_LEGAL[int(d)] for d in str(n))
    if fmt == "decimalFullWidth":
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt == "decimalEnclosedCircle" or fmt == "decimalEnclosedCircleChinese":
        return chr(0x2460 + n - 1) if 1 <= n <= 20 else str(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        return _roman(n).upper() if fmt == "upperRoman" else _roman(n)
    if fmt in ("bullet", "none"):
        return ""
    return str(n)


class _Numbering:
    """Word list counters: labels such as 第一章 from w:numPr and numbering.xml."""

    def __init__(self, numbering: Any, styles: Any) -> None:
        self._abstract: dict[str, dict[int, dict[str, str | int]]] = {}
        self._num: dict[str, tuple[str, dict[int, int]]] = {}
        self._style_num: dict[str, tuple[str, int]] = {}
        self._counters: dict[str, dict[int, int]] = {}
        self._started: set[str] = set()
        if numbering is not None:
            for abstract in numbering.iter(f"{_W}abstractNum"):
                levels: dict[int, dict[str, str | int]] = {}
                for lvl in abstract.iter(f"{_W}lvl"):
                    levels[int(lvl.get(f"{_W}ilvl", "0"))] = {
                        "start": int(_val(lvl, "start") or 1),
                        "fmt": _val(lvl, "numFmt") or "decimal",
                        "text": _val(lvl, "lvlText") or "",
                        "suff": _val(lvl, "suff") or "tab",
                    }
                self._abstract[abstract.get(f"{_W}abstractNumId", "")] = levels
            for num in numbering.iter(f"{_W}num"):
                overrides: dict[int, int] = {}
                for override in num.iter(f"{_W}lvlOverride"):
                    start = _val(override, "startOverride")
                    if start is not None:
                        overrides[int(override.get(f"{_W}ilvl", "0"))] = int(start)
                self._num[num.get(f"{_W}numId", "")] = (_val(num, "abstractNumId") or "", overrides)
        if styles is not None:
            for style in styles.iter(f"{_W}style"):
                num_pr = style.find(f"{_W}pPr/{_W}numPr")
                if num_pr is not None and (num_id := _val(num_pr, "numId")):
                    self._style_num[style.get(f"{_W}styleId", "")] = (num_id, int(_val(num_pr, "ilvl") or 0))

    def label(self, paragraph: Any) -> str:
        """The rendered list label of a paragraph ('' when it is not numbered), counting it."""
        ppr = paragraph.find(f"{_W}pPr")
        num_id, ilvl = None, 0
        if ppr is not None:
            num_pr = ppr.find(f"{_W}numPr")
            style = _val(ppr, "pStyle")
            if num_pr is not None:
                num_id = _val(num_pr, "numId")
                ilvl = int(_val(num_pr, "ilvl") or 0)
                if num_id is not None and _val(num_pr, "ilvl") is None and style in self._style_num:
                    ilvl = self._style_num[style][1]
            elif style in self._style_num:
                num_id, ilvl = self._style_num[style]
        if not num_id or num_id == "0" or num_id not in self._num:
            return ""
        abstract_id, overrides = self._num[num_id]
        levels = self._abstract.get(abstract_id, {})
        if ilvl not in levels:
            return ""
        # Lists that share an abstract definition continue one count, as Word does, unless
        # a num restarts it with a startOverride (counted from its first paragraph).
        counters = self._counters.setdefault(abstract_id, {})
        if overrides and num_id not in self._started:
            self._started.add(num_id)
            for level, start in overrides.items():
                counters[level] = start - 1
        counters[ilvl] = counters.get(ilvl, int(levels[ilvl]["start"]) - 1) + 1
        for deeper in [lvl for lvl in counters if lvl > ilvl]:
            del counters[deeper]
        current = levels[ilvl]
        if current["fmt"] in ("bullet", "none"):
            return ""

        def _counter(match: re.Match[str]) -> str:
            k = int(match.group(1)) - 1
            spec = levels.get(k)
            if spec is None:
                return ""
            value = counters.get(k, int(spec["start"]))
            return format_number(value, str(spec["fmt"]))

        text = re.sub(r"%([1-9])", _counter, str(current["text"]))
        if not text.strip():
            return ""
        return text + ("" if current["suff"] == "nothing" else " ")


def _val(element: Any, tag: str) -> str | None:
    child = element.find(f"{_W}{tag}")
    return None if child is None else child.get(f"{_W}val")


def _run_text(paragraph: Any) -> Iterator[str]:
    """Visible text of a paragraph: runs in insertions and hyperlinks, line breaks as newlines."""
    for element in paragraph.iter():
        tag = element.tag
        if tag == f"{_W}t":
            if not _inside(element, paragraph, (f"{_W}del", _MC_FALLBACK, f"{_W}txbxContent")):
                yield element.text or ""
        elif tag in (f"{_W}br", f"{_W}cr"):
            if element.get(f"{_W}type") not in ("page", "column") and not _inside(element, paragraph, (_MC_FALLBACK,)):
                yield "\n"
        elif tag == f"{_W}tab":
            if element.getparent() is not None and element.getparent().tag == f"{_W}r":
                yield " "
        elif tag == f"{_W}noBreakHyphen":
            yield "-"


def _inside(element: Any, stop: Any, tags: tuple[str, ...]) -> bool:
    parent = element.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


def _blocks(body: Any, numbering: _Numbering) -> Iterator[str]:
    """Paragraph and table-row texts in document order; content controls are opened."""
    for child in body.iterchildren():
        tag = child.tag
        if tag == f"{_W}p":
            label = numbering.label(child)
            text = "".join(_run_text(child))
            if not text.strip():
                continue  # an empty numbered paragraph is not drawn with content
            for index, line in enumerate(text.split("\n")):
                line = normalise_whitespace(line)
                if index == 0 and label:
                    line = label + line
                if line:
                    yield line
        elif tag == f"{_W}tbl":
            for row in child.iter(f"{_W}tr"):
                cells = []
                for cell in row.iterchildren(f"{_W}tc"):
                    cell_text = " ".join(
                        normalise_whitespace("".join(_run_text(p))) for p in cell.iter(f"{_W}p")
                    ).strip()
                    if cell_text:
                        cells.append(cell_text)
                if cells:
                    yield " | ".join(cells)
        elif tag == f"{_W}sdt":
            content = child.find(f"{_W}sdtContent")
            if content is not None:
                yield from _blocks(content, numbering)


def extract_docx(path: Path) -> ExtractedText:
    """Convert a DOCX; CorpusError for a corrupt file or a zip bomb."""
    check_zip(path)
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("python-docx is not available - install python-docx to read DOCX files") from exc
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors, PackageNotFoundError
        raise CorpusError(f"not a readable DOCX ({type(exc).__name__}: {exc})") from exc
    try:
        numbering_xml = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        numbering_xml = None
    try:
        styles_xml = document.styles.element
    except (KeyError, NotImplementedError, AttributeError):
        styles_xml = None
    lines = [fix_radicals(line) for line in _blocks(document.element.body, _Numbering(numbering_xml, styles_xml))]
    text = "\n".join(lines)
    if not text.strip():
        raise CorpusError("DOCX without text")
    core_title = (document.core_properties.title or "").strip()
    title = core_title or _first_title(lines)
    meta = _meta.stated_metadata(lines, title=title)
    meta["format"] = "docx"
    return ExtractedText(text=text, headings=heading_lines(lines), metadata=meta)


_STRUCTURE = re.compile(
    r"^(第[一二三四五六七八九十百千零〇\d]+[编章节条]|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十]+[)）])"
)


def _first_title(lines: list[str]) -> str | None:
    """The first line when it reads like a title: short, not a numbered part, no closing stop."""
    if not lines:
        return None
    first = lines[0]
    if len(first) > 60 or _STRUCTURE.match(first) or first.endswith(("。", "；", "：", ":")):
        return None
    if re.search(r"[:：]", first):
        return None
    return first
