"""What the API and the UI share: the assistant, the app settings, feedback, access control, readiness.

Both front ends reach the core through one ``Service``, so the corpus is listed in one
place and both see the same readiness.

Example:
    >>> service = Service.create(Assistant(Settings.from_env()), AppSettings.from_env())
    >>> service.document_listing()[0]["doc_id"]
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from policyqa import Assistant, ConfigError, DocumentInfo, PolicyQAError
from policyqa.index import ProgressFn
from policyqa.library import AddReport, DocumentLibrary, RemoveReport

from .config import AppSettings
from .feedback import FeedbackBackend, open_feedback_store
from .security import Authenticator
from .state import SharedSessionStore, SharedState, StateUnavailableError

log = logging.getLogger("policyqa.app")

# How often a request looks for a build another process published (``policyqa add``).
REFRESH_INTERVAL_SECONDS = 1.0
# Retrieval and extractive answers are Python under the GIL: more threads of one process doing them
# at once only take turns at it, each turn costing a switch. One worker, 8 clients at the library over HTTP:
# 61 searches/s with 8 threads at once, 80 with 3, 96 with 2, 70 with 1 (docs/performance.md).
# Generated answers wait on the model's server, not the CPU, and are not counted.
CPU_THREADS_PER_PROCESS = 2


@dataclass
class Service:
    """The assistant with the app's settings, feedback store, authenticator and readiness."""

    assistant: Assistant
    settings: AppSettings
    feedback: FeedbackBackend
    authenticator: Authenticator
    refresh_interval: float = REFRESH_INTERVAL_SECONDS
    refreshed_at: float = field(default=float("-inf"), repr=False)
    refreshing: threading.Lock = field(default_factory=threading.Lock, repr=False)
    ready: threading.Event = field(default_factory=threading.Event)
    load_error: str | None = None
    page_images: PageImages = field(default_factory=lambda: PageImages())
    # Shared with the other workers and replicas (sessions, limits, the index signal); None: in-process.
    state: SharedState | None = None
    # This process's turns at the CPU for retrieval and extractive answers (the API's worker threads).
    cpu_turns: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(CPU_THREADS_PER_PROCESS))

    @classmethod
    def create(cls, assistant: Assistant, settings: AppSettings, state: SharedState | None = None) -> Service:
        """A service for ``assistant``, with the feedback store and authenticator ``settings`` describe.

        ``state``: sessions live there, so a sign-in on one worker or replica holds on all.
        """
        sessions = SharedSessionStore(state, settings.session_ttl_seconds) if state is not None else None
        authenticator = Authenticator(settings, sessions)  # type: ignore[arg-type]
        return cls(assistant, settings, open_feedback_store(settings), authenticator, state=state)

    def warm_up(self) -> None:
        """Load (or build) the index and the encoder, so the first question is fast."""
        try:
            self.assistant.warm_up()
            self.load_error = None
            self.ready.set()
        except Exception as exc:  # reported by /readyz; requests retry the load themselves
            log.error("Loading the index failed: %s", exc)
            self.load_error = str(exc) if isinstance(exc, PolicyQAError) else f"{type(exc).__name__}: {exc}"

    def start_warm_up(self) -> None:
        """Warm up in a background thread: the server answers /healthz and /readyz meanwhile."""
        threading.Thread(target=self.warm_up, name="policyqa-warmup", daemon=True).start()

    def refresh_index(self, force: bool = False) -> bool:
        """Serve the build another process (``policyqa add``) or replica published.

        Requests call it (in a worker thread) before they use the index: at most once per
        ``refresh_interval`` it reads the ``CURRENT`` pointer (and, with shared ``state``, the
        build another replica announced), and when another build is live it loads it in a
        background thread. That request and the ones after it are answered from the loaded
        build until the new one is in memory (~6 s at the whole library), so no request waits
        for a load. ``force``: load now and wait, for a load in progress too (after an add or
        remove of this process, so that the next request is answered from its build); True
        when a new build went live. A failed load is logged; the loaded build stays in service.
        """
        if force:
            with self.refreshing:
                return self._load_live_build()
        if time.monotonic() - self.refreshed_at < self.refresh_interval:
            return False
        self.refreshed_at = time.monotonic()
        if not (self.assistant.has_new_build() or self._announced_elsewhere()):
            return False
        if self.refreshing.acquire(blocking=False):  # else a load is under way
            threading.Thread(target=self._load_in_background, name="policyqa-refresh", daemon=True).start()
        return False

    def _load_in_background(self) -> None:
        try:
            self._load_live_build()
        finally:
            self.refreshing.release()

    def _load_live_build(self) -> bool:
        self.refreshed_at = time.monotonic()
        try:
            changed = self.assistant.refresh()
        except Exception as exc:  # the loaded build keeps answering; the next check tries again
            log.error("Loading the new index build failed: %s", exc)
            return False
        if changed:
            log.info("Serving index build %s.", self.assistant.generation)
            self._announce()
        return changed

    def _announced_elsewhere(self) -> bool:
        """True when the shared signal names a build other than the one served."""
        if self.state is None or not self.ready.is_set():
            return False
        try:
            announced = self.state.generation()
        except StateUnavailableError:
            return False  # the CURRENT pointer is still read below
        return announced is not None and announced != self.assistant.generation

    def _announce(self) -> None:
        if self.state is None or self.settings.read_only:
            return
        try:
            self.state.publish_generation(self.assistant.generation)
        except StateUnavailableError as exc:  # replicas still find the build by its CURRENT pointer
            log.warning("Announcing index build %s failed: %s", self.assistant.generation, exc)

    def document_ids(self) -> set[str]:
        return {d.doc_id for d in self.assistant.documents()}

    def document_listing(self) -> list[dict[str, object]]:
        """The indexed documents as the API and the UI list them.

        ``added`` (UTC, ISO 8601) is set for documents of the managed folder only, as
        ``DocumentLibrary.list`` finds it. The server's file paths stay out: the listing
        goes to every client.
        """
        documents = self.assistant.documents()
        library = self.library()
        added = {row.doc_id: row.to_dict()["added"] for row in library.list(documents)} if library else {}
        return [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "kind": d.kind,
                "region": d.metadata.get("region"),
                "year": d.metadata.get("year"),
                "pages": len(d.pages) or None,
                "chars": d.chars,
                "passages": d.passages,
                "added": added.get(d.doc_id),
                "sha256": d.sha256,
                "metadata": d.metadata,
                "sections": list(d.sections),
            }
            for d in documents
        ]

    def library(self) -> DocumentLibrary | None:
        """The managed folder's library (documents added and removed here), or None when there is none."""
        settings = self.assistant.settings
        if settings.managed_dir is None:
            return None
        return DocumentLibrary(settings, self.assistant.encoder)

    def add_documents(self, paths: Sequence[Path], progress: ProgressFn | None = None) -> AddReport:
        """Add files through the library (checked, duplicates skipped, index rebuilt), then serve the new build.

        The API's upload and the UI's Documents tab both come here. Raises ConfigError when
        the server has no managed folder.
        """
        library = self.library()
        if library is None:
            raise ConfigError("The server has no managed folder (POLICYQA_MANAGED_DIR).")
        report = library.add(paths, progress)
        if report.added:
            self.refresh_index(force=True)
        return report

    def remove_document(self, doc_id: str, progress: ProgressFn | None = None) -> RemoveReport:
        """Remove a document added through the library and serve the build without it.

        Raises ConfigError (no managed folder), DocumentNotFoundError or NotManagedError.
        """
        library = self.library()
        if library is None:
            raise ConfigError("The server has no managed folder (POLICYQA_MANAGED_DIR).")
        report = library.remove(doc_id, progress)
        self.refresh_index(force=True)
        return report

    def indexed_document(self, doc_id: str) -> tuple[str, DocumentInfo | None]:
        """The generation of the loaded index and its record of ``doc_id``, both read from the same index.

        Read together, so that a rebuild going live between the two cannot pair one index's
        generation with another's record.
        """
        index = self.assistant.index
        return index.generation, index.documents.get(doc_id)

    def page_png(self, doc_id: str, page: int, quotes: list[str]) -> bytes:
        """Page ``page`` of the indexed PDF ``doc_id`` as PNG, ``quotes`` highlighted."""
        generation, document = self.indexed_document(doc_id)
        if document is None:
            raise PageNotFoundError(f"{doc_id} is not in the index")
        return self.page_images.png(generation, document, page, quotes)

    def original_file(self, doc_id: str) -> DocumentInfo:
        """The indexed document ``doc_id`` whose file still holds the indexed bytes; else :class:`PageNotFoundError`."""
        generation, document = self.indexed_document(doc_id)
        if document is None:
            raise PageNotFoundError(f"{doc_id} is not in the index")
        self.page_images.verified_path(generation, document)
        return document


def indexed_file_bytes(document: DocumentInfo) -> bytes | None:
    """The document's file when it still holds the bytes the index recorded (None: gone or changed).

    Serving a file (the API's ``/file``, the UI's page images and originals) goes through here:
    a file replaced after indexing must not be shown as the cited source.
    """
    import hashlib
    from pathlib import Path

    try:
        raw = Path(document.path).read_bytes()
    except OSError:
        return None
    return raw if hashlib.sha256(raw).hexdigest() == document.sha256 else None


# --- For the UI's citation cards: English glosses of a quote's terms, rendered PDF pages. ---

MAX_GLOSSED_TERMS = 4
MAX_GLOSSES_PER_TERM = 2
PAGE_CACHE_PAGES = 16
PAGE_PIXELS_WIDE = 1100  # a page is rendered this wide at most (A4 at about 1.85×) ...
PAGE_MAX_PIXELS = 1100 * 1600  # ... and never larger than this in all
MAX_QUOTE_CHARS = 600
_MIN_PARTIAL_QUOTE = 8  # a quote that runs onto the next page is found by its longest start of at least this
HIGHLIGHT_RGB = (253, 224, 71)  # multiplied in: black text stays black on the yellow


def key_term_glosses(text: str, limit: int = MAX_GLOSSED_TERMS) -> list[tuple[str, str]]:
    """English glosses of the longest dictionary words of ``text``: [(净收入, "net income; net profit"), …].

    Candidates are jieba's words of the text (full mode, so compounds such as 科研人员 are
    seen) that do not straddle a word of its ordinary segmentation (no 并联 out of 并|联合);
    longest first, rarer first, each looked up in CC-CEDICT. Numbers, very common words and
    the parts of a word already chosen are passed over. At most ``limit``, in text order.
    """
    from policyqa.dictionary import english_glosses
    from policyqa.lexical import jieba_module

    jieba = jieba_module()  # its dictionary cache in a private folder

    bounds = [0]
    for token in jieba.lcut(text):
        bounds.append(bounds[-1] + len(token))
    edges = set(bounds)

    def fits(word: str) -> bool:
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            token_end = next(b for b in bounds if b > at)
            if end <= token_end or (at in edges and end in edges):
                return True
            at = text.find(word, at + 1)
        return False

    candidates = {
        w
        for w in jieba.lcut(text, cut_all=True)
        if len(w) >= 2 and _CJK_WORD.match(w) and not _NUMBER_WORD.match(w) and fits(w)
    }
    found: dict[str, str] = {}
    for word in sorted(candidates, key=lambda w: (-len(w), jieba.get_FREQ(w) or 0)):
        if (jieba.get_FREQ(word) or 0) > COMMON_WORD_FREQUENCY or any(word in chosen for chosen in found):
            continue
        glosses = _glosses(word, english_glosses)
        if glosses:
            found[word] = "; ".join(glosses[:MAX_GLOSSES_PER_TERM])
            if len(found) >= limit:
                break
    return sorted(found.items(), key=lambda item: text.find(item[0]))


_CJK_WORD = re.compile("^[\u4e00-\u9fff]+$")
_NUMBER_WORD = re.compile("^[〇零一二三四五六七八九十百千万亿两之第]+$")
COMMON_WORD_FREQUENCY = 20_000  # jieba's count of 但是 is 28,055, 技术 37,664: no help to a reader


_GLOSS_CACHE: dict[str, list[str]] = {}
_GLOSS_CACHE_SIZE = 4096


def _glosses(word: str, lookup) -> list[str]:  # type: ignore[no-untyped-def]
    cached = _GLOSS_CACHE.get(word)
    if cached is None:
        cached = lookup(word)
        if len(_GLOSS_CACHE) >= _GLOSS_CACHE_SIZE:
            _GLOSS_CACHE.clear()
        _GLOSS_CACHE[word] = cached
    return cached


class PageNotFoundError(LookupError):
    """No such page to render: the document is not indexed, not a PDF, changed, or has no such page."""


@dataclass
class _RenderedPage:
    image: object  # PIL.Image.Image, RGB
    scale: float
    height_pt: float
    text: str  # the page's characters without whitespace, NFKC-folded, one per char index below
    indexes: list[int]
    boxes: dict[int, tuple[float, float, float, float]]


class PageImages:
    """PDF pages rendered to PNG with quoted sentences highlighted, for the citation cards.

    Renders (pypdfium2) are kept in a small LRU by (index generation, doc_id, page); the
    highlight is drawn per request from the characters' boxes. A page is rendered only for
    a document of the loaded index whose file still has the bytes the index recorded, and
    only for a page it has. PDFium is not thread-safe: one lock serialises every call into it.
    """

    def __init__(self, capacity: int = PAGE_CACHE_PAGES) -> None:
        from collections import OrderedDict

        self._lock = threading.Lock()
        self._capacity = capacity
        self._pages: OrderedDict[tuple[str, str, int], _RenderedPage] = OrderedDict()
        self._verified: dict[tuple[str, str], bool] = {}

    def verified_path(self, generation: str, document: DocumentInfo) -> str:
        """The document's file when it holds the bytes the index recorded; else :class:`PageNotFoundError`."""
        key = (generation, document.doc_id)
        ok = self._verified.get(key)
        if ok is None:
            ok = indexed_file_bytes(document) is not None
            if len(self._verified) > 1024:
                self._verified.clear()
            self._verified[key] = ok
        if not ok:
            raise PageNotFoundError(f"{document.doc_id}: the file is gone or changed since it was indexed")
        return document.path

    def png(self, generation: str, document: DocumentInfo, page: int, quotes: list[str]) -> bytes:
        """The page (1-based) as PNG, the quotes' characters highlighted."""
        import io

        if not document.path.lower().endswith(".pdf"):
            raise PageNotFoundError(f"{document.doc_id} is not a PDF")
        if not 1 <= page <= max(len(document.pages), 1):
            raise PageNotFoundError(f"{document.doc_id} has no page {page}")
        path = self.verified_path(generation, document)
        rendered = self._rendered(generation, document.doc_id, path, page)
        image = rendered.image.copy()  # type: ignore[attr-defined]
        rectangles = [r for q in quotes for r in _quote_rectangles(rendered, q[:MAX_QUOTE_CHARS])]
        if rectangles:
            from PIL import Image, ImageChops, ImageDraw

            overlay = Image.new("RGB", image.size, (255, 255, 255))
            draw = ImageDraw.Draw(overlay)
            for left, top, right, bottom in rectangles:
                draw.rectangle((left, top, right, bottom), fill=HIGHLIGHT_RGB)
            image = ImageChops.multiply(image, overlay)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()

    def _rendered(self, generation: str, doc_id: str, path: str, page: int) -> _RenderedPage:
        key = (generation, doc_id, page)
        with self._lock:
            cached = self._pages.get(key)
            if cached is not None:
                self._pages.move_to_end(key)
                return cached
            rendered = _render(path, page)
            self._pages[key] = rendered
            while len(self._pages) > self._capacity:
                self._pages.popitem(last=False)
            return rendered


def _render(path: str, page_no: int) -> _RenderedPage:
    import unicodedata

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page_no <= len(pdf):
            raise PageNotFoundError(f"{path} has no page {page_no}")
        page = pdf[page_no - 1]
        width, height = page.get_size()
        scale = min(PAGE_PIXELS_WIDE / max(width, 1.0), (PAGE_MAX_PIXELS / max(width * height, 1.0)) ** 0.5, 4.0)
        image = page.render(scale=scale).to_pil().convert("RGB")
        textpage = page.get_textpage()
        chars: list[str] = []
        indexes: list[int] = []
        boxes: dict[int, tuple[float, float, float, float]] = {}
        if page.get_rotation() == 0:  # char boxes are in unrotated page space
            for index in range(max(textpage.count_chars(), 0)):
                code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
                ch = chr(code) if 0 < code < 0x110000 else ""
                if not ch or ch.isspace() or ch in "\x00\x02\ufffe\uffff":
                    continue
                folded = unicodedata.normalize("NFKC", ch)
                chars.append(folded if len(folded) == 1 else ch)
                indexes.append(index)
                boxes[index] = textpage.get_charbox(index)
        textpage.close()
        page.close()
        return _RenderedPage(image, scale, height, "".join(chars), indexes, boxes)
    finally:
        pdf.close()


def _fold(text: str) -> str:
    import unicodedata

    out = []
    for ch in text:
        if ch.isspace():
            continue
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


def _quote_rectangles(page: _RenderedPage, quote: str) -> list[tuple[float, float, float, float]]:
    """Pixel rectangles (left, top, right, bottom) covering the quote's characters, one per line.

    The quote is looked for whitespace-insensitively; one that runs onto the next page is
    found by its longest start on this page (or its longest end, when it began on the last).
    """
    needle = _fold(quote)
    if not needle or not page.text:
        return []
    start, length = page.text.find(needle), len(needle)
    if start < 0:
        start, length = _partial(page.text, needle)
    if start < 0:
        return []
    rectangles: list[list[float]] = []
    for index in page.indexes[start : start + length]:
        left, bottom, right, top = page.boxes[index]
        box = [left * page.scale, (page.height_pt - top) * page.scale, right * page.scale]
        box.append((page.height_pt - bottom) * page.scale)
        if rectangles:
            last = rectangles[-1]
            line = max(last[3] - last[1], box[3] - box[1])
            same_line = abs((last[1] + last[3]) / 2 - (box[1] + box[3]) / 2) < 0.5 * line
            if same_line and box[0] >= last[0] - line:
                last[0], last[1] = min(last[0], box[0]), min(last[1], box[1])
                last[2], last[3] = max(last[2], box[2]), max(last[3], box[3])
                continue
        rectangles.append(box)
    pad = 2.0
    return [(a - pad, b - pad, c + pad, d + pad) for a, b, c, d in rectangles]


def _partial(text: str, needle: str) -> tuple[int, int]:
    """The longest start of ``needle`` that ends ``text``'s passage, or its longest end at the top; (-1, 0)."""
    for size in range(len(needle) - 1, _MIN_PARTIAL_QUOTE - 1, -1):
        at = text.find(needle[:size])
        if at >= 0:
            return at, size
        at = text.find(needle[-size:])
        if at >= 0:
            return at, size
    return -1, 0
