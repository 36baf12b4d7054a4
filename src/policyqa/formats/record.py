"""The one record every format converter returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExtractedText:
    """Plain text of one converted file, with its page structure and stated metadata.

    ``text`` holds one paragraph per line (``"\\n"`` between paragraphs). ``pages`` gives, for a
    paged format (PDF), the ``[start, end)`` offsets of each 1-based page in ``text``: page ``n``
    is ``text[pages[n - 1][0] : pages[n - 1][1]]``; the ranges are contiguous and a paragraph
    that runs across a page break is split between them. Formats without pages leave it empty.

    ``headings`` lists the structural heading lines (第X编/章/节, 一、…) in document order.
    ``metadata`` holds only what the document itself states (a missing key means "not stated"):
    ``title``, ``date`` (ISO ``YYYY-MM-DD``), ``issuer`` (发文机关), ``doc_number`` (文号, e.g.
    ``国发〔2017〕15号``), ``status`` (e.g. ``现行有效``), ``region``, ``effective_date``,
    ``expiry_date``, and ``format`` (``pdf``, ``docx`` or ``html``, always set).

    Example:
        >>> record = extract(Path("国发〔2017〕15号.docx"))
        >>> record.metadata["doc_number"], record.text.splitlines()[0]
    """

    text: str
    pages: tuple[tuple[int, int], ...] = ()
    headings: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def page_of(self, offset: int) -> int | None:
        """The 1-based page that holds the character at ``offset``, or None for a format without pages."""
        for number, (start, end) in enumerate(self.pages, start=1):
            if start <= offset < end:
                return number
        return None
