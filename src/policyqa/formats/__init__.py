"""Format converters: PDF, DOCX and HTML files to plain text with page structure and stated metadata.

``extract(path)`` sniffs the file's bytes, checks them against its suffix and hands the file to
one converter per format (``pdf.py`` with pypdfium2, ``docx.py`` with python-docx, ``html.py``
with trafilatura); each returns the same :class:`ExtractedText`. Every refusal (encrypted,
image-only, corrupt, zip bomb, content that is not what the suffix says) is a
:class:`policyqa.errors.CorpusError` whose message is the one-line reason alone (the caller names
the file, as the load stage's "PATH: skipped (REASON)" warning does).

Example:
    >>> record = extract(Path("civil-code.pdf"))
    >>> record.text[slice(*record.pages[20])]  # the text of page 21
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import CorpusError
from .layout import fix_radicals
from .record import ExtractedText

__all__ = ["SUPPORTED_SUFFIXES", "ExtractedText", "extract", "fix_radicals", "sniff_format"]

SUPPORTED_SUFFIXES = frozenset({".pdf", ".docx", ".html", ".htm"})
_SUFFIX_FORMAT = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
_SNIFF_BYTES = 4096


def sniff_format(path: Path) -> str | None:
    """``pdf``, ``docx`` or ``html`` from the file's first bytes, or None when none fits."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return "docx"  # a zip header: let the DOCX converter say what is wrong with it
        return "docx" if "word/document.xml" in names else None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<!doctype html") or b"<html" in text[:1024] or text.startswith((b"<!--", b"<head")):
        if b"<html" in text or text.startswith(b"<!doctype html") or b"<body" in text:
            return "html"
    return None


def extract(path: Path) -> ExtractedText:
    """Convert one PDF, DOCX or HTML file; CorpusError with the reason when it cannot be used."""
    path = Path(path)
    expected = _SUFFIX_FORMAT.get(path.suffix.lower())
    if expected is None:
        raise CorpusError(f"unsupported suffix {path.suffix!r} (supported: {sorted(SUPPORTED_SUFFIXES)})")
    try:
        if path.stat().st_size == 0:
            raise CorpusError("empty file")
        found = sniff_format(path)
    except OSError as exc:
        raise CorpusError(f"cannot be read ({exc.strerror or exc})") from exc
    if found != expected:
        what = f"looks like {found.upper()}" if found else "matches no supported format"
        raise CorpusError(f"content does not match its extension ({what}, suffix {path.suffix})")
    if found == "pdf":
        from .pdf import extract_pdf

        return extract_pdf(path)
    if found == "docx":
        from .docx import extract_docx

        return extract_docx(path)
    from .html import extract_html

    return extract_html(path)
