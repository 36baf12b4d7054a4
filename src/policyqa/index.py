"""Index stage: FAISS vectors, the passage store and BM25, persisted with a manifest.

Layout under ``<index_dir>/<fingerprint>/``::

    CURRENT                 name of the live build (replaced atomically)
    build-<time>-<pid>/     one complete build
        manifest.json       encoder, dimension, chunker, corpus hashes, versions, file checksums
        vectors.faiss       FAISS index of the passages (FAISS's own format)
        sentence_vectors.npy  sentence embeddings, for scoring and answer extraction
        terms.json, term_vectors.npy  the Chinese words of the corpus, embedded (query expansion)
        passages.jsonl      passages, sentences and documents as JSON
        bm25/               bm25s arrays (.npy, JSON)

A build is written into a fresh folder and made live by replacing ``CURRENT``,
so a crash at any point leaves the previous build loadable. Nothing is pickled;
every file's SHA-256 is checked against the manifest before it is read.
Embeddings are cached by text hash under ``<index_dir>/cache/``, so a rebuild
embeds only passages whose text changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .chunk import Chunk, ChunkedDocument, Sentence, chunk_document
from .documents import Document, SkippedFile, list_corpus_files, load_corpus
from .embed import Encoder
from .expand import vocabulary_terms
from .errors import CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError
from .lexical import LexicalIndex
from .settings import Settings

log = logging.getLogger("policyqa")

FORMAT_VERSION = 2
# Exact search is fast and exact below this many passages; above it HNSW.
EXACT_SEARCH_LIMIT = 20_000
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_CURRENT = "CURRENT"
_FILES = ("vectors.faiss", "sentence_vectors.npy", "passages.jsonl", "terms.json", "term_vectors.npy")

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DocumentInfo:
    """What the index remembers of a source document."""

    doc_id: str
    title: str
    path: str
    sha256: str
    chars: int
    passages: int
    metadata: dict[str, object]
    sections: tuple[str, ...]


@dataclass
class LoadedIndex:
    """A build in memory: passages, sentences, documents, FAISS and BM25."""

    folder: Path
    manifest: dict[str, object]
    chunks: list[Chunk]
    sentences: list[Sentence]
    documents: dict[str, DocumentInfo]
    vectors: object  # faiss.Index
    sentence_vectors: np.ndarray
    lexical: LexicalIndex
    sentence_doc_offsets: dict[str, int]
    terms: list[str]
    term_vectors: np.ndarray

    def sentence_index(self, chunk: Chunk) -> range:
        """Global sentence rows of a passage."""
        base = self.sentence_doc_offsets[chunk.doc_id]
        return range(base + chunk.sentence_start, base + chunk.sentence_end)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError("FAISS is not available - install faiss-cpu") from exc
    return faiss


def make_faiss_index(vectors: np.ndarray) -> object:
    """Exact inner-product search for small corpora, HNSW above ``EXACT_SEARCH_LIMIT``."""
    faiss = _faiss()
    dimension = vectors.shape[1]
    if len(vectors) <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


class EmbeddingCache:
    """Embeddings by text hash for one encoder version: ``keys.json`` + ``vectors.npy``."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self.dimension = dimension
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        keys_file, vectors_file = folder / "keys.json", folder / "vectors.npy"
        if keys_file.is_file() and vectors_file.is_file():
            try:
                keys = json.loads(keys_file.read_text(encoding="utf-8"))
                vectors = np.load(vectors_file, allow_pickle=False)
                if vectors.shape == (len(keys), dimension):
                    self._rows = {k: i for i, k in enumerate(keys)}
                    self._vectors = vectors.astype(np.float32, copy=False)
            except (OSError, ValueError, json.JSONDecodeError):
                log.warning("Embedding cache %s is unreadable; embedding from scratch.", folder)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(self, encoder: Encoder, texts: list[str], progress: ProgressFn | None, label: str) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._rows}.items())
        batch = 256
        new_vectors = []
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            new_vectors.append(encoder.encode_documents([t for _, t in part]))
            if progress:
                progress(label, min(start + batch, len(missing)), len(missing))
        if missing:
            base = len(self._rows)
            self._vectors = np.vstack([self._vectors, *new_vectors])
            for offset, (k, _) in enumerate(missing):
                self._rows[k] = base + offset
            self._save()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._vectors[[self._rows[k] for k in keys]]

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = [k for k, _ in sorted(self._rows.items(), key=lambda kv: kv[1])]
        tmp_keys, tmp_vectors = self.folder / f".keys.{os.getpid()}.tmp", self.folder / f".vectors.{os.getpid()}.tmp.npy"
        tmp_keys.write_text(json.dumps(keys), encoding="utf-8")
        np.save(tmp_vectors, self._vectors, allow_pickle=False)
        # Vectors first: a crash between the two leaves keys that no longer match
        # the vectors' shape, which the loader detects and discards.
        os.replace(tmp_vectors, self.folder / "vectors.npy")
        os.replace(tmp_keys, self.folder / "keys.json")


def index_home(settings: Settings) -> Path:
    return settings.index_dir / settings.index_fingerprint()


def _corpus_state(settings: Settings) -> list[dict[str, object]]:
    """Path, size and hash of every corpus file: what decides whether an index is stale.

    Paths are resolved and sorted, as in ``Settings.index_fingerprint``: ``corpus`` and
    ``/abs/corpus`` (or folders in another order) share one index and must not make it stale.
    """
    state = []
    for path in list_corpus_files(settings.corpus_dirs):
        state.append({"path": str(path.resolve()), "bytes": path.stat().st_size, "sha256": _sha256_file(path)})
    return sorted(state, key=lambda entry: str(entry["path"]))


def _manifest_base(settings: Settings, encoder: Encoder) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,
        "policyqa_version": __version__,
        "encoder": {"id": encoder.encoder_id, "version": encoder.version, "dimension": encoder.dimension},
        "chunker": {
            "chunk_chars": settings.chunk_chars,
            "overlap_sentences": settings.chunk_overlap_sentences,
            "passage_context": settings.passage_context,
        },
    }


def build_index(
    settings: Settings, encoder: Encoder, progress: ProgressFn | None = None
) -> tuple[Path, list[SkippedFile]]:
    """Build the index for ``settings`` and make it live; return its folder and the skipped files."""
    started = time.perf_counter()
    documents, skipped = load_corpus(settings.corpus_dirs)
    chunked: list[tuple[Document, ChunkedDocument]] = []
    for i, doc in enumerate(documents):
        chunked.append((doc, chunk_document(doc, settings.chunk_chars, settings.chunk_overlap_sentences)))
        if progress:
            progress("chunk", i + 1, len(documents))
    chunks = [c for _, cd in chunked for c in cd.chunks]
    sentences = [s for _, cd in chunked for s in cd.sentences]
    if not chunks:  # bm25s cannot index an empty corpus; say why instead of a ValueError from it
        names = ", ".join(str(f) for f in settings.corpus_dirs)
        raise CorpusError(f"No passage to index in {names}: the documents hold only headings or markers.")

    cache = EmbeddingCache(
        settings.index_dir / "cache" / f"{encoder.encoder_id.replace('/', '_').replace(':', '_')}-{encoder.version}",
        encoder.dimension,
    )
    passage_vectors = cache.embed(encoder, [c.retrieval_text(settings.passage_context) for c in chunks], progress, "embed passages")
    sentence_vectors = cache.embed(encoder, [s.text for s in sentences], progress, "embed sentences")
    lexical = LexicalIndex.build([c.retrieval_text(settings.passage_context) for c in chunks])
    terms = vocabulary_terms(lexical.vocabulary())
    term_vectors = cache.embed(encoder, terms, progress, "embed vocabulary")

    home = index_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(home)
    build_name = f"build-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    tmp = home / f".{build_name}.tmp"
    tmp.mkdir()
    faiss = _faiss()
    faiss.write_index(make_faiss_index(passage_vectors), str(tmp / "vectors.faiss"))
    np.save(tmp / "sentence_vectors.npy", sentence_vectors.astype(np.float32), allow_pickle=False)
    np.save(tmp / "term_vectors.npy", term_vectors.astype(np.float32), allow_pickle=False)
    (tmp / "terms.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    with (tmp / "passages.jsonl").open("w", encoding="utf-8") as out:
        for doc, cd in chunked:
            info = DocumentInfo(
                doc_id=doc.doc_id,
                title=doc.title,
                path=doc.path,
                sha256=doc.sha256,
                chars=len(doc.text),
                passages=len(cd.chunks),
                metadata=doc.metadata,
                sections=tuple(dict.fromkeys(c.section for c in cd.chunks if c.kind == "body")),
            )
            out.write(json.dumps({"type": "document", **asdict(info)}, ensure_ascii=False) + "\n")
        for s in sentences:
            out.write(json.dumps({"type": "sentence", **asdict(s)}, ensure_ascii=False) + "\n")
        for c in chunks:
            out.write(json.dumps({"type": "passage", **asdict(c)}, ensure_ascii=False) + "\n")
    lexical.save(tmp / "bm25")

    files = {name: _sha256_file(tmp / name) for name in _FILES}
    files.update({f"bm25/{p.name}": _sha256_file(p) for p in sorted((tmp / "bm25").iterdir())})
    manifest = {
        **_manifest_base(settings, encoder),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpus": _corpus_state(settings),
        "skipped": [asdict(s) for s in skipped],
        "counts": {"documents": len(documents), "passages": len(chunks), "sentences": len(sentences)},
        "faiss": "flat" if len(chunks) <= EXACT_SEARCH_LIMIT else "hnsw",
        "files": files,
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(tmp)
    os.replace(tmp, home / build_name)
    _write_current(home, build_name)
    _remove_old_builds(home, keep=build_name)
    return home / build_name, skipped


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def _write_current(home: Path, build_name: str) -> None:
    tmp = home / f".{_CURRENT}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(build_name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, home / _CURRENT)


def _remove_abandoned_builds(home: Path) -> None:
    """Remove half-written builds of crashed runs (only those whose process is gone)."""
    for path in home.glob(".*.tmp"):
        pid_text = path.name.split("-")[2] if path.name.startswith(".build-") else ""
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_old_builds(home: Path, keep: str) -> None:
    for path in home.glob("build-*"):
        if path.name != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def current_build(settings: Settings) -> Path:
    """The live build's folder; IndexMissingError when none was built."""
    home = index_home(settings)
    pointer = home / _CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"No index for this configuration under {home}.")
    name = pointer.read_text(encoding="utf-8").strip()
    if not name.startswith("build-") or "/" in name or "\\" in name or ".." in name:
        raise IndexCorruptError(f"{pointer} names no build ({name[:40]!r}).")
    folder = home / name
    if not folder.is_dir():
        raise IndexCorruptError(f"{pointer} names {name}, which does not exist.")
    return folder


def read_manifest(folder: Path) -> dict[str, object]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise IndexCorruptError(f"{path} is missing.")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise IndexCorruptError(f"{path} is larger than {MAX_MANIFEST_BYTES:,} bytes.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is not valid JSON ({exc}).") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{path} is not a JSON object.")
    return manifest


def check_compatible(manifest: dict[str, object], settings: Settings, encoder: Encoder) -> None:
    """Raise IndexMismatchError if the build was made by another encoder, chunker or format."""
    expected = _manifest_base(settings, encoder)
    for key in ("format_version", "encoder", "chunker"):
        if manifest.get(key) != expected[key]:
            raise IndexMismatchError(
                f"The index was built with {key} = {json.dumps(manifest.get(key), ensure_ascii=False)}, "
                f"but this configuration needs {json.dumps(expected[key], ensure_ascii=False)}."
            )


def is_stale(manifest: dict[str, object], settings: Settings) -> bool:
    """True when corpus files were added, removed or changed since the build."""
    return manifest.get("corpus") != _corpus_state(settings)


def _verify_files(folder: Path, manifest: dict[str, object]) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(_FILES) <= set(files):
        raise IndexCorruptError(f"{folder}/manifest.json lists no checksums for the index files.")
    for name, expected in files.items():
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:
            raise IndexCorruptError(f"{folder}/manifest.json names a file outside the index: {name!r}.")
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing.")
        if _sha256_file(path) != expected:
            raise IndexCorruptError(f"{path} does not match its checksum in the manifest (truncated or changed).")


def load_index(settings: Settings, encoder: Encoder) -> LoadedIndex:
    """Load the live build, checking compatibility and checksums before reading anything."""
    folder = current_build(settings)
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, encoder)
    _verify_files(folder, manifest)
    faiss = _faiss()
    try:
        vectors = faiss.read_index(str(folder / "vectors.faiss"))
        sentence_vectors = np.load(folder / "sentence_vectors.npy", allow_pickle=False)
        term_vectors = np.load(folder / "term_vectors.npy", allow_pickle=False)
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        lexical = LexicalIndex.load(folder / "bm25")
    except (RuntimeError, ValueError, OSError) as exc:
        raise IndexCorruptError(f"{folder} cannot be read ({exc}).") from exc
    if not isinstance(terms, list) or len(terms) != len(term_vectors):
        raise IndexCorruptError(f"{folder}: terms.json does not match term_vectors.npy.")
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    documents: dict[str, DocumentInfo] = {}
    offsets: dict[str, int] = {}
    try:
        with (folder / "passages.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                kind = record.pop("type")
                if kind == "passage":
                    record["spans"] = tuple(tuple(s) for s in record["spans"])
                    chunks.append(Chunk(**record))
                elif kind == "sentence":
                    record["spans"] = tuple(tuple(s) for s in record["spans"])
                    offsets.setdefault(record["doc_id"], len(sentences))
                    sentences.append(Sentence(**record))
                elif kind == "document":
                    record["sections"] = tuple(record["sections"])
                    documents[record["doc_id"]] = DocumentInfo(**record)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{folder}/passages.jsonl cannot be parsed ({exc}).") from exc
    if vectors.ntotal != len(chunks) or vectors.d != encoder.dimension or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"{folder}: vector counts do not match the passage store.")
    return LoadedIndex(
        folder, manifest, chunks, sentences, documents, vectors, sentence_vectors, lexical, offsets, terms, term_vectors
    )
