"""HTML converter (trafilatura): the main text of a saved web page, its title and date.

Nothing is fetched and nothing runs: the bytes are parsed as they are, scripts, styles, frames
and forms are dropped before extraction, and link lists (a portal's department menus) are
pruned. When trafilatura finds no main text, the body's text (minus navigation) is used.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from . import _meta
from .layout import fix_radicals, heading_lines, normalise_whitespace
from .record import ExtractedText

_DROP_TAGS = (
    "script", "style", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet",
    "form", "select", "button", "input", "textarea", "template", "svg", "canvas", "nav", "aside",
)  # fmt: skip
_LINK_LIST_MIN_ITEMS = 5
_LINK_DENSITY = 0.5
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_TITLE_SUFFIX = re.compile(r"\s*[-_|–—]\s*[^-_|–—]{2,30}(?:网站|门户网站|网|官网|政府)$")
_TITLE_PREFIX = re.compile(r"^[^-_|–—]{2,30}(?:网站|门户网站|网|官网)\s*[-_|–—]\s*")


def decode_html(raw: bytes) -> str:
    """Decode by BOM, then the declared charset, then UTF-8, then GB18030."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    declared = _CHARSET.search(raw[:4096])
    candidates = [declared.group(1).decode("ascii").lower()] if declared else []
    candidates += ["utf-8", "gb18030"]
    for encoding in candidates:
        if encoding in ("gb2312", "gbk"):
            encoding = "gb18030"
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("utf-8", errors="replace")


def _clean_tree(html: str) -> Any:
    """The parsed page minus active content, hidden elements and link-list menus."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except Exception as exc:  # lxml raises ParserError or ValueError on empty or broken input
        raise CorpusError(f"not readable HTML ({exc})") from exc
    for element in list(tree.iter(*_DROP_TAGS)):
        element.drop_tree()
    for element in list(tree.iter()):
        if not isinstance(element.tag, str):  # comments and processing instructions
            if element.getparent() is not None:
                element.drop_tree()
            continue
        style = (element.get("style") or "").replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style or element.get("hidden") is not None:
            element.drop_tree()
    for element in list(tree.iter("ul", "ol", "div", "table")):
        if element.getparent() is None:
            continue
        items = element.findall(".//li") or element.findall(".//a")
        text = element.text_content().strip()
        if len(items) < _LINK_LIST_MIN_ITEMS or not text:
            continue
        linked = sum(len(a.text_content().strip()) for a in element.iter("a"))
        short_items = sum(1 for li in items if len(li.text_content().strip()) <= 20)
        if linked / len(text) > _LINK_DENSITY and short_items >= 0.8 * len(items):
            element.drop_tree()
    return tree


def _fallback_text(tree: Any) -> str:
    body = tree.find("body")
    node = body if body is not None else tree
    for element in list(node.iter("header", "footer")):
        element.drop_tree()
    return "\n".join(line for line in (normalise_whitespace(t) for t in node.itertext()) if line)


def _title(meta_title: str | None, tree: Any) -> str | None:
    for name in ("ArticleTitle", "title", "og:title"):
        found = tree.xpath(f'//meta[@name="{name}" or @property="{name}"]/@content')
        if found and str(found[0]).strip():
            return normalise_whitespace(str(found[0]))
    if meta_title:
        title = _TITLE_SUFFIX.sub("", _TITLE_PREFIX.sub("", meta_title.strip()))
        return normalise_whitespace(title) or None
    return None


def extract_html(path: Path) -> ExtractedText:
    """Convert a saved HTML page; CorpusError when it has no readable text."""
    try:
        import trafilatura
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("trafilatura is not available - install trafilatura to read HTML files") from exc
    html = decode_html(path.read_bytes())
    if not html.strip():
        raise CorpusError("empty HTML")
    tree = _clean_tree(html)
    import lxml.html

    cleaned = lxml.html.tostring(tree, encoding="unicode")
    # A string in, no URL: trafilatura parses and never fetches.
    document = trafilatura.bare_extraction(
        cleaned,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
    )
    text = getattr(document, "text", None) or ""
    page_title = getattr(document, "title", None)
    page_date = getattr(document, "date", None)
    if not text.strip():
        text = _fallback_text(tree)
    lines = [normalise_whitespace(fix_radicals(line)) for line in text.splitlines()]
    lines = [re.sub(r"^[-•·]\s+", "", line) for line in lines if line]
    if not lines:
        raise CorpusError("no readable text in the HTML")
    title = _title(page_title, tree)
    if title and title not in "".join(lines[:5]):
        lines.insert(0, title)
    panel = [normalise_whitespace(t) for t in tree.itertext()]
    panel_lines = _panel_lines(panel)
    # The document's own statements first; the portal's panel fills what they leave out.
    meta = _meta.stated_metadata(lines, title=title)
    for key, value in _meta.labelled_fields(panel_lines).items():
        meta.setdefault(key, value)
    if "date" not in meta and page_date and (iso := _meta.iso_date(str(page_date))):
        meta["date"] = iso
    meta["format"] = "html"
    return ExtractedText(text="\n".join(lines), headings=heading_lines(lines), metadata=meta)


def _panel_lines(texts: list[str]) -> list[str]:
    """Label/value pairs of a portal's metadata panel, which HTML splits over two text nodes."""
    out: list[str] = []
    pending = ""
    for text in texts:
        if not text:
            continue
        if pending:
            out.append(pending + text)
            pending = ""
        elif re.fullmatch(r"[\u4e00-\u9fff][\u4e00-\u9fff \u3000]{0,8}[:：]", text):
            pending = text
        else:
            out.append(text)
    return out
