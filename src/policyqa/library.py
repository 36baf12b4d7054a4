"""The managed corpus folder: documents added and removed by ``policyqa add`` / ``remove``.

``Settings.managed_dir`` (``var/documents`` by default) is one more corpus folder.
``DocumentLibrary.add`` checks each file with ``documents.load_document`` (a bad file
gets a one-line reason and nothing is copied for it), skips content that any corpus
folder already holds, copies the rest in under their content hash
(``<sha256[:16]><suffix>``, with a ``.meta.json`` sidecar keeping the original name)
and rebuilds the index, which embeds only the new passages (the embedding cache).

Safety: adds and removes are serialised across processes by ``fcntl.flock`` on
``<index_dir>/.library.lock``, held around the copy and the build. A file goes in
under a hidden temporary name, is flushed and then renamed; the build is written
aside and switched atomically (``index.store``). A crash at any point leaves the
previous index live and every file that was there; the next add or remove clears
what the crash left.

Example:
    >>> report = DocumentLibrary(Settings.from_env()).add([Path("办法.pdf")])
    >>> print("\\n".join(row.line() for row in report.files))
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .documents import SUFFIXES, Document, doc_id_for, list_corpus_files, load_document
from .embed import Encoder, get_encoder
from .errors import ConfigError
from .index import ProgressFn, build_index, load_index, read_manifest
from .index.manifest import sha256_file
from .settings import Settings
from .types import BuildReport, DocumentInfo

ADDED = "added"
DUPLICATE = "duplicate"
ERROR = "error"
# Characters of the SHA-256 that name a managed file: 64 bits, no collision in any real corpus.
HASH_CHARS = 16
LOCK_NAME = ".library.lock"
_TMP_SUFFIX = ".tmp"
_REMOVING = ".removing"
_SIDECAR = ".meta.json"


class DocumentNotFoundError(ConfigError):
    """No corpus file has the document id given."""


class NotManagedError(ConfigError):
    """The document lies outside the managed folder, so policyqa does not remove it."""


@dataclass(frozen=True)
class AddedFile:
    """What ``add`` did with one file: ``added`` as ``doc_id``, ``duplicate`` of ``doc_id``, or ``error``."""

    source: str
    status: str
    doc_id: str | None = None
    reason: str | None = None

    def line(self) -> str:
        """One line for a person: ``PATH: added as ID`` / ``duplicate of ID`` / ``error: REASON``."""
        if self.status == ADDED:
            return f"{self.source}: added as {self.doc_id}"
        if self.status == DUPLICATE:
            return f"{self.source}: duplicate of {self.doc_id}"
        return f"{self.source}: error: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "status": self.status, "doc_id": self.doc_id, "reason": self.reason}


@dataclass(frozen=True)
class AddReport:
    """Every file's outcome, in the order given, and the build that took the new ones in (None: no build)."""

    files: tuple[AddedFile, ...]
    build: BuildReport | None = None

    @property
    def added(self) -> tuple[AddedFile, ...]:
        return tuple(f for f in self.files if f.status == ADDED)

    @property
    def duplicates(self) -> tuple[AddedFile, ...]:
        return tuple(f for f in self.files if f.status == DUPLICATE)

    @property
    def errors(self) -> tuple[AddedFile, ...]:
        return tuple(f for f in self.files if f.status == ERROR)

    @property
    def ok(self) -> bool:
        """True when a file went in, or every file was already there; False when nothing went in and one failed."""
        return bool(self.added) or not self.errors

    def to_dict(self) -> dict[str, object]:
        return {"files": [f.to_dict() for f in self.files], "indexed": self.build is not None}


@dataclass(frozen=True)
class RemoveReport:
    """The document removed and the build that no longer holds it."""

    doc_id: str
    path: str
    build: BuildReport


@dataclass(frozen=True)
class LibraryDocument:
    """One row of ``DocumentLibrary.list``: an indexed document, ``added`` only for managed ones."""

    doc_id: str
    title: str
    kind: str
    pages: int | None
    chunks: int
    added: datetime | None
    path: str

    @property
    def managed(self) -> bool:
        return self.added is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "kind": self.kind,
            "pages": self.pages,
            "chunks": self.chunks,
            "added": None if self.added is None else self.added.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "path": self.path,
        }


class DocumentLibrary:
    """Adds documents to the managed folder, removes them, lists the indexed ones; rebuilds the index.

    Example:
        >>> library = DocumentLibrary(Settings.from_env())
        >>> [row.line() for row in library.add([Path("a.pdf"), Path("b.docx")]).files]
    """

    def __init__(self, settings: Settings, encoder: Encoder | None = None) -> None:
        if settings.managed_dir is None:
            raise ConfigError("managed_dir is not set: there is no folder to add documents to.")
        self.managed_dir: Path = settings.managed_dir
        self._settings = settings
        self._encoder = encoder

    @property
    def settings(self) -> Settings:
        """The settings as of now: with the managed folder among the corpus folders once it exists."""
        return self._settings.replace()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = get_encoder(self._settings.encoder)
        return self._encoder

    @property
    def lock_path(self) -> Path:
        return self._settings.index_dir / LOCK_NAME

    def add(self, paths: Iterable[str | Path], progress: ProgressFn | None = None) -> AddReport:
        """Copy the usable, new files into the managed folder and rebuild the index.

        Each file is checked first; a bad one is reported with its reason and the others
        still go in. Content already in a corpus folder is a duplicate and is not copied.
        When the build fails, the files copied by this call are taken out again.
        """
        outcomes: list[AddedFile | None] = []
        checked: list[tuple[int, Path, Document, bytes]] = []
        for source in paths:
            path = Path(source)
            try:
                doc, raw = _check(path)
            except (OSError, ValueError) as exc:
                outcomes.append(AddedFile(str(source), ERROR, reason=_one_line(exc)))
                continue
            checked.append((len(outcomes), path, doc, raw))
            outcomes.append(None)
        build: BuildReport | None = None
        if checked:
            with self._locked():
                known = _hashes(self.settings.corpus_dirs)
                written: list[Path] = []
                for slot, path, doc, raw in checked:
                    if doc.sha256 in known:
                        outcomes[slot] = AddedFile(str(path), DUPLICATE, doc_id=known[doc.sha256])
                        continue
                    target = self._copy_in(path, doc, raw)
                    written.append(target)
                    known[doc.sha256] = doc_id_for(target)
                    outcomes[slot] = AddedFile(str(path), ADDED, doc_id=doc_id_for(target))
                if written:
                    try:
                        build = self._build(progress)
                    except BaseException:
                        for target in written:
                            _sidecar_of(target).unlink(missing_ok=True)
                            target.unlink(missing_ok=True)
                        raise
        files = tuple(o for o in outcomes if o is not None)
        return AddReport(files, build)

    def remove(self, doc_id: str, progress: ProgressFn | None = None) -> RemoveReport:
        """Take a document added by ``add`` out of the managed folder and rebuild the index.

        Raises NotManagedError for a document of another corpus folder and
        DocumentNotFoundError for an id no corpus file has.
        """
        with self._locked():
            target = next((p for p in _corpus_files(self.managed_dir) if doc_id_for(p) == doc_id), None)
            if target is None:
                elsewhere = next(
                    (p for p in list_corpus_files(self.settings.corpus_dirs) if doc_id_for(p) == doc_id), None
                )
                if elsewhere is not None:
                    raise NotManagedError(
                        f"{doc_id!r} is {elsewhere}: only documents added with policyqa add can be removed."
                    )
                raise DocumentNotFoundError(f"No document has the id {doc_id!r}.")
            # Out of the corpus under a hidden name while the build runs; back in if it fails
            # (and after a crash, by the next add or remove).
            parked = target.with_name(f".{target.name}{_REMOVING}{_TMP_SUFFIX}")
            os.replace(target, parked)
            try:
                build = self._build(progress)
            except BaseException:
                os.replace(parked, target)
                raise
            parked.unlink()
            _sidecar_of(target).unlink(missing_ok=True)
            _fsync_folder(self.managed_dir)
            return RemoveReport(doc_id, str(target), build)

    def list(self, documents: Iterable[DocumentInfo] | None = None) -> list[LibraryDocument]:
        """The indexed documents (of the live build, or ``documents`` as a caller loaded them)."""
        if documents is None:
            documents = load_index(self.settings, self.encoder).documents.values()
        managed = self.managed_dir.resolve()
        rows = []
        for info in documents:
            path = Path(info.path)
            added = None
            if path.resolve().parent == managed:
                try:
                    added = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
                except OSError:  # removed since the build
                    added = None
            rows.append(
                LibraryDocument(
                    doc_id=info.doc_id,
                    title=info.title,
                    kind=info.kind,
                    pages=len(info.pages) or None,
                    chunks=info.chunks,
                    added=added,
                    path=info.path,
                )
            )
        return rows

    # --- inside the lock ------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the library lock (other processes wait), with the managed folder ready and tidy."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                self.managed_dir.mkdir(parents=True, exist_ok=True)
                self._clear_leftovers()
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _clear_leftovers(self) -> None:
        """Undo what a crashed add or remove left: half-copied files go, parked documents come back.

        Only called under the lock, so no living process is writing any of them.
        """
        for path in self.managed_dir.glob(f".*{_TMP_SUFFIX}"):
            name = path.name[1 : -len(_TMP_SUFFIX)]
            if name.endswith(_REMOVING):
                original = path.with_name(name[: -len(_REMOVING)])
                if not original.exists():
                    os.replace(path, original)
                    continue
            path.unlink(missing_ok=True)

    def _copy_in(self, source: Path, doc: Document, raw: bytes) -> Path:
        """Write the sidecar, then the file, each under a temporary name first; return the file's path."""
        target = self.managed_dir / f"{doc.sha256[:HASH_CHARS]}{source.suffix.lower()}"
        meta = _source_sidecar(source)
        meta["source_name"] = source.name
        if doc.title == source.stem and not meta.get("title"):
            # The document states no title: without one the hashed file name would be its title.
            meta["title"] = source.stem
        # The sidecar first: a crash between the two leaves a sidecar without its file, not
        # a document titled by its hash.
        _write_atomically(_sidecar_of(target), json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        _write_atomically(target, raw)
        return target

    def _build(self, progress: ProgressFn | None) -> BuildReport:
        folder, skipped = build_index(self.settings, self.encoder, progress)
        manifest = read_manifest(folder)
        counts = manifest["counts"]
        return BuildReport(
            folder=str(folder),
            documents=int(counts["documents"]),  # type: ignore[index]
            chunks=int(counts["chunks"]),  # type: ignore[index]
            seconds=float(manifest["build_seconds"]),  # type: ignore[arg-type]
            skipped=tuple(skipped),
            extended="extended_from" in manifest,
        )


def documents_table(rows: Iterable[LibraryDocument], title_width: int = 40) -> str:
    """A plain-text table of ``list`` rows: id, title, kind, pages, chunks, added (UTC)."""
    header = ("id", "title", "kind", "pages", "chunks", "added")
    cells = [header] + [
        (
            row.doc_id,
            _clip(row.title, title_width),
            row.kind,
            "–" if row.pages is None else str(row.pages),
            str(row.chunks),
            "–" if row.added is None else row.added.strftime("%Y-%m-%d %H:%M"),
        )
        for row in rows
    ]
    widths = [max(_width(line[i]) for line in cells) for i in range(len(header))]
    right = {3, 4}  # numbers
    lines = []
    for line in cells:
        parts = []
        for i, cell in enumerate(line):
            pad = " " * (widths[i] - _width(cell))
            parts.append(pad + cell if i in right else cell + pad)
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    if _width(text) <= width:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _check(path: Path) -> tuple[Document, bytes]:
    """The document and its bytes, or ValueError with the reason it cannot be added."""
    if not path.exists():
        raise ValueError("no such file")
    if not path.is_file():
        raise ValueError("not a regular file")
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"unsupported format {path.suffix or '(no suffix)'!r}; policyqa reads {', '.join(SUFFIXES)}")
    doc = load_document(path)
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != doc.sha256:
        raise ValueError("the file changed while it was being read; add it again")
    return doc, raw


def _corpus_files(folder: Path) -> list[Path]:
    return list_corpus_files([folder]) if folder.is_dir() else []


def _hashes(corpus_dirs: Iterable[Path]) -> dict[str, str]:
    """SHA-256 of every corpus file's bytes → its document id (the first file's, as the loader keeps it)."""
    known: dict[str, str] = {}
    for path in list_corpus_files(corpus_dirs):
        try:
            digest = sha256_file(path)
        except OSError:  # unreadable: the loader skips it too
            continue
        known.setdefault(digest, doc_id_for(path))
    return known


def _source_sidecar(source: Path) -> dict[str, object]:
    """The metadata sidecar beside the original file, carried over when it is a JSON object."""
    sidecar = _sidecar_of(source)
    try:
        loaded = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # load_document already warned about it
    return dict(loaded) if isinstance(loaded, dict) else {}


def _sidecar_of(path: Path) -> Path:
    return path.with_name(path.stem + _SIDECAR)


def _write_atomically(target: Path, data: bytes) -> None:
    """Write under a hidden temporary name, flush to disk, rename into place, flush the folder."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}{_TMP_SUFFIX}")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    _publish_file(tmp, target)
    _fsync_folder(target.parent)


def _publish_file(tmp: Path, target: Path) -> None:
    """The rename that makes a copied file part of the corpus (a seam for the crash tests)."""
    os.replace(tmp, target)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _one_line(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
