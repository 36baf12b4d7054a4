"""Load stage: find the corpus files, decode them, attach their metadata.

A corpus folder holds ``.txt`` and ``.md`` files, and PDF, DOCX and HTML files that
``formats`` converts to text with their pages. ``NAME.meta.json`` beside a file
gives its title, authors, journal, year, DOI and language; without one the title
comes from the file, and what the text states about itself fills the rest
(``metadata``). One bad file is skipped with a warning that names it; it never
stops the others.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError
from .formats import SUPPORTED_SUFFIXES as CONVERTED_SUFFIXES
from .formats import extract
from .metadata import infer_metadata
from .text import CHINESE_NUMERAL_CHARS
from .types import SkippedFile, document_kind

log = logging.getLogger("policyqa")

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (*TEXT_SUFFIXES, *sorted(CONVERTED_SUFFIXES))
MAX_FILE_BYTES = 20 * 1024 * 1024
# Folder documentation, not corpus content (README, SOURCES, and the _index.md section
# files of static-site collections).
_FOLDER_DOCS = frozenset({"README.MD", "SOURCES.MD", "_INDEX.MD"})
# Characters that hide text from a reader (zero-width, bidi overrides, soft hyphens, and the
# Unicode tag block that "ASCII smuggling" spells invisible instructions in): legal in Unicode
# but a known way to smuggle instructions into a retrieval corpus.
HIDDEN_CHARACTERS = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)


@dataclass(frozen=True)
class Document:
    """One source file, decoded, with its metadata."""

    doc_id: str
    title: str
    path: str
    text: str
    sha256: str
    encoding: str = "utf-8"
    metadata: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    # [start, end) of each 1-based page in ``text``, for paged formats (PDF); empty otherwise.
    pages: tuple[tuple[int, int], ...] = ()

    @property
    def kind(self) -> str:
        """``paper``, ``law``, ``text`` or a kind its metadata declares (``types.document_kind``)."""
        return document_kind(self.metadata, self.path)

    @property
    def is_markdown(self) -> bool:
        """Markdown source: headings are ``#`` lines."""
        return self.path.lower().endswith(".md")


def _text_entries(folder: Path) -> Iterator[Path]:
    """Every path under ``folder`` named like a corpus file, whether it is a file or not, in a stable order."""
    if not folder.is_dir():
        raise CorpusError(f"Corpus folder {str(folder)!r} does not exist or is not a folder.")
    for path in sorted(folder.rglob("*")):
        # Hidden files and anything under a hidden folder (.git, .github, .ipynb_checkpoints).
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() in SUFFIXES and path.name.upper() not in _FOLDER_DOCS:
            yield path


def list_corpus_files(corpus_dirs: Iterable[Path]) -> list[Path]:
    """All candidate files of the corpus folders, in a stable order."""
    return [path for folder in corpus_dirs for path in _text_entries(folder) if path.is_file()]


def _not_files(corpus_dirs: Iterable[Path]) -> list[SkippedFile]:
    """Entries named like corpus files that cannot be read as files: folders, broken links, devices."""
    skipped = []
    for folder in corpus_dirs:
        for path in _text_entries(folder):
            if path.is_file():
                continue
            if path.is_symlink() and not path.exists():
                reason = "a broken symbolic link"
            elif path.is_dir():
                reason = "a folder, not a file"
            else:
                reason = "not a regular file"
            skipped.append(SkippedFile(str(path), reason))
    return skipped


# Control characters other than line breaks, tabs and form feeds: many of them mean a binary file.
# Counted by a regular expression: a loop over characters was 5 s of the whole library's 8 s of loading.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def decode_bytes(raw: bytes) -> tuple[str, str]:
    """Decode a corpus file: UTF-8 first, then GB18030 (common in Chinese government files).

    Raises ValueError when the bytes are binary or neither encoding fits.
    """
    if b"\x00" in raw[:65536]:
        raise ValueError("binary content (NUL bytes)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:65536]
        if len(_CONTROL_CHARACTER.findall(sample)) > max(8, len(sample) // 100):
            raise ValueError("binary content (control characters)")
        return text.replace("\r\n", "\n").replace("\r", "\n"), "utf-8" if encoding == "utf-8-sig" else encoding
    raise ValueError("neither UTF-8 nor GB18030 text")


# A first line that is a chapter or article heading is no title ("第一章 总则"); the file name is.
_STRUCTURE_LINE = re.compile(rf"^(?:第[{CHINESE_NUMERAL_CHARS}\d]+[编章节条]|[一二三四五六七八九十]+、)")


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# "):
            return line[2:].strip()
        if line:
            # A salutation ("各位代表：") opens a speech; it names nothing.
            return fallback if _STRUCTURE_LINE.match(line) or line.endswith(("：", ":")) else line[:80]
    return fallback


def doc_id_for(path: Path) -> str:
    """A document's id is its file name without the suffix: stable and readable in citations."""
    return path.stem


def load_document(path: Path) -> Document:
    """Read and decode one file; raises ValueError with the reason when it cannot be used."""
    size = path.stat().st_size
    if size == 0:
        raise ValueError("empty file")
    if size > MAX_FILE_BYTES:
        raise ValueError(f"file of {size:,} bytes exceeds the {MAX_FILE_BYTES:,}-byte limit")
    raw = path.read_bytes()
    pages: tuple[tuple[int, int], ...] = ()
    stated: dict[str, object] = {}
    if path.suffix.lower() in CONVERTED_SUFFIXES:
        try:
            record = extract(path)
        except CorpusError as exc:
            raise ValueError(str(exc)) from exc
        text, encoding, pages = record.text, record.metadata.get("format", "converted"), record.pages
        stated = {k: v for k, v in record.metadata.items() if v}
        if isinstance(stated.get("date"), str) and str(stated["date"])[:4].isdigit():
            stated.setdefault("year", int(str(stated["date"])[:4]))
    else:
        text, encoding = decode_bytes(raw)
    if not text.strip():
        raise ValueError("no text (only whitespace)")
    if hidden := len(HIDDEN_CHARACTERS.findall(text)):
        log.warning(
            "%s: %d hidden characters (zero-width, direction, soft hyphen or tag); they are indexed as they are.",
            path,
            hidden,
        )
    metadata: dict[str, object] = {}
    sidecar = path.with_name(path.stem + ".meta.json")
    if sidecar.is_file():
        try:
            loaded = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("%s: metadata sidecar ignored (%s).", sidecar, exc)
        else:
            if isinstance(loaded, dict):
                metadata = loaded
    title = metadata.get("title") or stated.get("title")
    if not isinstance(title, str) or not title.strip():
        title = _title_from_text(text, path.stem)
    # What the text states about itself; a converter's reading of the file's own fields
    # (文号, 发文机关) next; the sidecar wins where any of them speak.
    metadata = {**infer_metadata(title, text, str(path)), **stated, **metadata}
    return Document(
        doc_id=doc_id_for(path),
        title=title,
        path=str(path),
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
        metadata=metadata,
        pages=pages,
    )


def load_corpus(corpus_dirs: Iterable[Path]) -> tuple[list[Document], list[SkippedFile]]:
    """Load every usable file; report the others. Raises CorpusError if nothing is usable."""
    folders = list(corpus_dirs)
    skipped: list[SkippedFile] = []
    for entry in _not_files(folders):
        log.warning("%s: skipped (%s).", entry.path, entry.reason)
        skipped.append(entry)
    documents, unusable = load_files(list_corpus_files(folders))
    skipped.extend(unusable)
    if not documents:
        names = ", ".join(str(f) for f in folders)
        raise CorpusError(f"No readable document ({', '.join(SUFFIXES)}) in {names}.")
    return documents, skipped


def load_files(paths: Iterable[Path]) -> tuple[list[Document], list[SkippedFile]]:
    """The documents of ``paths`` in order, skipping (and reporting) unusable files and repeats of an earlier one."""
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    seen: dict[str, str] = {}
    seen_content: dict[str, str] = {}
    for path in paths:
        try:
            doc = load_document(path)
        except (OSError, ValueError) as exc:
            log.warning("%s: skipped (%s).", path, exc)
            skipped.append(SkippedFile(str(path), str(exc)))
            continue
        if doc.doc_id in seen:
            reason = f"same document id as {seen[doc.doc_id]}"
        elif doc.sha256 in seen_content:
            # A collection often repeats a text another folder already holds: index it once.
            reason = f"same content as {seen_content[doc.sha256]}"
        else:
            seen[doc.doc_id] = seen_content[doc.sha256] = str(path)
            documents.append(doc)
            continue
        log.warning("%s: skipped (%s).", path, reason)
        skipped.append(SkippedFile(str(path), reason))
    return documents, skipped
