"""Text fixes shared by the converters: radical look-alikes, running lines, page numbers, line joining.

Every fix here maps one code point to one code point or works on whole lines, so offsets
computed on the fixed text stay exact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# CJK Radicals Supplement characters that NFKC leaves alone but PDF fonts emit for ordinary
# (mostly simplified) ideographs: a document that shows 门 may hold ⻔ in its text layer.
_SUPPLEMENT_RADICALS = {
    "\u2ea0": "民",  # ⺠ CIVILIAN
    "\u2ec4": "西",  # ⻄ WEST TWO
    "\u2ec5": "见",  # ⻅ C-SIMPLIFIED SEE
    "\u2ec6": "角",  # ⻆ SIMPLIFIED HORN
    "\u2ec8": "讠",  # ⻈ C-SIMPLIFIED SPEECH
    "\u2ec9": "贝",  # ⻉ C-SIMPLIFIED SHELL
    "\u2ecb": "车",  # ⻋ C-SIMPLIFIED CART
    "\u2ed0": "钅",  # ⻐ C-SIMPLIFIED GOLD
    "\u2ed3": "长",  # ⻓ C-SIMPLIFIED LONG
    "\u2ed4": "门",  # ⻔ C-SIMPLIFIED GATE
    "\u2ed8": "青",  # ⻘ BLUE
    "\u2ed9": "韦",  # ⻙ C-SIMPLIFIED TANNED LEATHER
    "\u2eda": "页",  # ⻚ C-SIMPLIFIED LEAF
    "\u2edb": "风",  # ⻛ C-SIMPLIFIED WIND
    "\u2edc": "飞",  # ⻜ C-SIMPLIFIED FLY
    "\u2edd": "食",  # ⻝ EAT ONE
    "\u2ee0": "饣",  # ⻠ C-SIMPLIFIED EAT
    "\u2ee2": "马",  # ⻢ C-SIMPLIFIED HORSE
    "\u2ee5": "鱼",  # ⻥ C-SIMPLIFIED FISH
    "\u2ee6": "鸟",  # ⻦ C-SIMPLIFIED BIRD
    "\u2ee7": "卤",  # ⻧ C-SIMPLIFIED SALT
    "\u2ee8": "麦",  # ⻨ SIMPLIFIED WHEAT
    "\u2ee9": "黄",  # ⻩ SIMPLIFIED YELLOW
    "\u2eec": "齐",  # ⻬ C-SIMPLIFIED EVEN
    "\u2eee": "齿",  # ⻮ C-SIMPLIFIED TOOTH
    "\u2ef0": "龙",  # ⻰ C-SIMPLIFIED DRAGON
    "\u2ef3": "龟",  # ⻳ C-SIMPLIFIED TURTLE
}
_RADICALS = re.compile("[\u2e80-\u2eff\u2f00-\u2fdf]")

CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A line that starts a new paragraph whatever came before: 第X章/节/条/编, 一、, （一）, (1), 1.
_CN_DIGITS = "一二三四五六七八九十百千零〇两"
PARAGRAPH_START = re.compile(
    rf"^\s*(?:第[{_CN_DIGITS}\d]+(?:分编|[编章节条款])|[{_CN_DIGITS}]+、|[(（][{_CN_DIGITS}\d]+[)）]|\d{{1,3}}[.．、](?!\d)"
    r"|[①-⑳]|附件|附表)"
)
# Punctuation that closes a paragraph when a line ends with it.
PARAGRAPH_END = re.compile(r"[。：；！？:;!?]$")
_PAGE_NUMBER = re.compile(
    r"^(?:第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?|共\s*\d+\s*页\s*第\s*\d+\s*页"
    r"|[-–—－]\s*\d+\s*[-–—－]|\d+\s*/\s*\d+|\d{1,4}|[Pp]age\s*\d+(?:\s*of\s*\d+)?)$"
)


def fix_radicals(text: str) -> str:
    """Map Kangxi radicals and CJK supplement radicals to the ideographs they stand for.

    One code point becomes one code point, so offsets do not move.
    """

    def _one(match: re.Match[str]) -> str:
        ch = match.group(0)
        if ch in _SUPPLEMENT_RADICALS:
            return _SUPPLEMENT_RADICALS[ch]
        mapped = unicodedata.normalize("NFKC", ch)
        return mapped if len(mapped) == 1 else ch

    return _RADICALS.sub(_one, text)


def is_page_number(line: str) -> bool:
    """A line that is only a page number: 第3页, 第3页 共10页, - 3 -, 3/10, 3, Page 3."""
    return bool(_PAGE_NUMBER.match(line.strip()))


def running_key(line: str) -> str:
    """A line's identity for running header/footer detection: digits folded, spaces dropped."""
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def repeated_lines(
    pages: Sequence[Sequence[tuple[str, float]]], tolerance: float, min_share: float = 0.5
) -> set[tuple[int, int]]:
    """Running headers and footers: lines repeated at the same position on many pages.

    ``pages`` holds, for each page, its candidate lines as ``(text, position)``; a line is
    running when the same text (digits folded, so "第3页" matches "第4页") stands within
    ``tolerance`` of the same position on at least ``min_share`` of the pages, and on at least
    two. Returns ``(page index, line index)`` pairs.
    """
    counted = sum(1 for page in pages if page)
    needed = max(2, int(counted * min_share + 0.999))
    groups: dict[str, list[tuple[int, int, float]]] = {}
    for page_index, page in enumerate(pages):
        for line_index, (text, position) in enumerate(page):
            key = running_key(text)
            if key:
                groups.setdefault(key, []).append((page_index, line_index, position))
    found: set[tuple[int, int]] = set()
    for members in groups.values():
        if len({p for p, _, _ in members}) < needed:
            continue
        for _, _, anchor in members:
            near = [(p, i) for p, i, pos in members if abs(pos - anchor) <= tolerance]
            if len({p for p, _ in near}) >= needed:
                found.update(near)
    return found


def join_lines(left: str, right: str) -> str:
    """Join two pieces of a paragraph broken by layout: no space between CJK, one between words."""
    if not left or not right:
        return left + right
    a, b = left[-1], right[0]
    if (a.isascii() and a.isalnum() or a in ",.;:)%") and b.isascii() and b.isalnum():
        return left + " " + right
    return left + right


def normalise_whitespace(line: str) -> str:
    """Strip a line and fold runs of spaces (ideographic spaces used as indents included)."""
    return re.sub(r"[ \t\u00a0\u3000]+", " ", line).strip()


_HEADING = re.compile(rf"^(?:第[{_CN_DIGITS}\d]+(?:分编|[编章节])|[{_CN_DIGITS}]+、)\s*\S")


def heading_lines(lines: Sequence[str], max_chars: int = 40) -> tuple[str, ...]:
    """Structural headings in order: 第X编/分编/章/节 and 一、 lines that read as titles, not sentences."""
    return tuple(
        line
        for line in lines
        if len(line) <= max_chars and _HEADING.match(line) and not PARAGRAPH_END.search(line) and "。" not in line
    )
