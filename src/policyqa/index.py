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
embeds only passages whose text changed. Above ``COMPOSED_PASSAGES_ABOVE``
passages, a passage's vector is composed from its sentences' encoder states
(``embed.ComposableEncoder``) and the states are cached instead.
Sentence vectors are memory-mapped when loaded: at 100,000 passages they are
~0.5 GB, of which a question reads a few hundred rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import __version__
from .chunk import CHUNKER_VERSION, Chunk, ChunkedDocument, Sentence, chunk_document
from .documents import Document, SkippedFile, list_corpus_files, load_corpus
from .embed import ComposableEncoder, Encoder
from .errors import CorpusError, IndexCorruptError, IndexMismatchError, IndexMissingError
from .expand import vocabulary_terms
from .lexical import LexicalIndex, tokenize, tokenize_joined
from .settings import Settings

log = logging.getLogger("policyqa")

FORMAT_VERSION = 2
# Exact search is fast and exact below this many passages; above it HNSW. Measured on
# 2 cores (docs/performance.md): exact search takes 1.5 ms at 20,000 passages and 6.3 ms
# at 100,000; HNSW with these parameters 2-3 ms with recall@10 0.99 against exact at
# 100,000 (efSearch 128 gave 0.90; efConstruction 200 doubled the build for the same recall).
EXACT_SEARCH_LIMIT = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 1024
# Above this many passages, passage vectors are composed from the states of their
# sentences and headings (embedded anyway, and cached) instead of encoding every
# passage again, which took ~2/3 of a build's encoder time and ~20 ms per passage
# (docs/performance.md); on the gold set both gave the same retrieval quality.
COMPOSED_PASSAGES_ABOVE = 5_000
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
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
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

    @property
    def vectors(self) -> np.ndarray:
        """Every cached row; ``rows`` indexes into it."""
        return self._vectors

    def embed(self, encoder: Encoder, texts: list[str], progress: ProgressFn | None, label: str) -> np.ndarray:
        """The encoder's vectors of ``texts``, embedding only those not cached."""
        rows = self.rows(encoder.encode_documents, texts, progress, label)
        return self._vectors[rows]

    def rows(
        self, encode: Callable[[list[str]], np.ndarray], texts: list[str], progress: ProgressFn | None, label: str
    ) -> np.ndarray:
        """Row of each text in ``vectors``, after embedding (each distinct text once) those not cached."""
        keys = [self.key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}.items())
        batch = 256
        new_vectors = []
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            new_vectors.append(encode([t for _, t in part]))
            if progress:
                progress(label, min(start + batch, len(missing)), len(missing))
        if missing:
            base = len(self._rows)
            self._vectors = np.vstack([self._vectors, *new_vectors])
            for offset, (k, _) in enumerate(missing):
                self._rows[k] = base + offset
            self._save()
        return np.fromiter((self._rows[k] for k in keys), dtype=np.int64, count=len(keys))

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = [k for k, _ in sorted(self._rows.items(), key=lambda kv: kv[1])]
        tmp_keys, tmp_vectors = (
            self.folder / f".keys.{os.getpid()}.tmp",
            self.folder / f".vectors.{os.getpid()}.tmp.npy",
        )
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
    state: list[dict[str, object]] = []
    for path in list_corpus_files(settings.corpus_dirs):
        try:
            size, digest = path.stat().st_size, _sha256_file(path)
        except OSError:  # unreadable: load_corpus skips it with a warning; it changes if it becomes readable
            size, digest = None, None
        state.append({"path": str(path.resolve()), "bytes": size, "sha256": digest})
    return sorted(state, key=lambda entry: str(entry["path"]))


def _manifest_base(settings: Settings, encoder: Encoder) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,
        "policyqa_version": __version__,
        "encoder": {"id": encoder.encoder_id, "version": encoder.version, "dimension": encoder.dimension},
        "chunker": {
            "version": CHUNKER_VERSION,
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

    cache_folder = (
        settings.index_dir / "cache" / f"{encoder.encoder_id.replace('/', '_').replace(':', '_')}-{encoder.version}"
    )
    cache = EmbeddingCache(cache_folder, encoder.dimension)
    composed = len(chunks) > COMPOSED_PASSAGES_ABOVE and isinstance(encoder, ComposableEncoder) and encoder.can_compose
    if composed:
        assert isinstance(encoder, ComposableEncoder)
        states = EmbeddingCache(cache_folder.with_name(cache_folder.name + "-states"), encoder.state_dimension)
        passage_vectors, sentence_vectors = _composed_vectors(settings, encoder, states, chunked, progress)
    else:
        passage_vectors = cache.embed(
            encoder, [c.retrieval_text(settings.passage_context) for c in chunks], progress, "embed passages"
        )
        sentence_vectors = cache.embed(encoder, [s.text for s in sentences], progress, "embed sentences")
    lexical = LexicalIndex.build_from_tokens(_passage_tokens(chunked, settings.passage_context))
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
        # vars(), not asdict(): the same fields in the same order, without asdict's deep copy
        # (a fifth of a 100,000-passage build).
        for s in sentences:
            out.write(json.dumps({"type": "sentence", **vars(s)}, ensure_ascii=False) + "\n")
        for c in chunks:
            out.write(json.dumps({"type": "passage", **vars(c)}, ensure_ascii=False) + "\n")
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
        "passage_vectors": "composed" if composed else "encoded",
        "files": files,
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(tmp)
    os.replace(tmp, home / build_name)
    _write_current(home, build_name)
    _remove_old_builds(home, keep=build_name)
    return home / build_name, skipped


def _passage_parts(chunk: Chunk, sentences: Sequence[Sentence], context: str) -> tuple[list[str], list[str]]:
    """A passage's retrieval text as parts (headings, sentences) and the separators between them."""
    parts = _heading_parts(chunk, context)
    separators = ["\n"] * len(parts)
    own = sentences[chunk.sentence_start : chunk.sentence_end]
    for i, sentence in enumerate(own):
        parts.append(sentence.text)
        if i + 1 < len(own):
            separators.append("\n" if own[i + 1].block != sentence.block else "")
    return parts, separators


def _passage_tokens(chunked: list[tuple[Document, ChunkedDocument]], context: str) -> list[list[str]]:
    """BM25 tokens of every passage's retrieval text, each distinct sentence and heading cut once."""
    cache: dict[str, list[str]] = {}
    out = []
    for _, cd in chunked:
        for chunk in cd.chunks:
            parts, separators = _passage_parts(chunk, cd.sentences, context)
            text = chunk.retrieval_text(context)
            if "".join(p + s for p, s in zip(parts, [*separators, ""], strict=True)) != text:
                out.append(tokenize(text))  # not its parts joined: cut the text itself
            else:
                out.append(tokenize_joined(parts, separators, cache))
    return out


def _heading_parts(chunk: Chunk, context: str) -> list[str]:
    """The lines that ``retrieval_text`` puts above the passage (its title and headings)."""
    text = chunk.retrieval_text(context)
    return [line for line in text[: len(text) - len(chunk.text)].split("\n") if line]


def _composed_vectors(
    settings: Settings,
    encoder: ComposableEncoder,
    states: EmbeddingCache,
    chunked: list[tuple[Document, ChunkedDocument]],
    progress: ProgressFn | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Passage and sentence vectors from the states of sentences and headings, each distinct text encoded once.

    A passage is its headings and sentences joined (``Chunk.retrieval_text``), so its
    vector is composed from theirs instead of running the encoder over it again.
    """
    sentences = [s.text for _, cd in chunked for s in cd.sentences]
    headings = {c.chunk_id: _heading_parts(c, settings.passage_context) for _, cd in chunked for c in cd.chunks}
    heading_texts = sorted({h for parts in headings.values() for h in parts})
    rows = states.rows(encoder.encode_states, sentences + heading_texts, progress, "embed sentences")
    sentence_rows, heading_row = (
        rows[: len(sentences)],
        dict(zip(heading_texts, rows[len(sentences) :].tolist(), strict=True)),
    )
    # Resampled or boilerplate sentences repeat: run the head once per distinct state.
    distinct, inverse = np.unique(sentence_rows, return_inverse=True)
    sentence_vectors = encoder.vectors_from_states(states.vectors[distinct])[inverse]
    parts: list[int] = []
    starts: list[int] = []
    base = 0
    for _, cd in chunked:
        for chunk in cd.chunks:
            starts.append(len(parts))
            parts.extend(heading_row[h] for h in headings[chunk.chunk_id])
            parts.extend(sentence_rows[base + chunk.sentence_start : base + chunk.sentence_end].tolist())
        base += len(cd.sentences)
    passage_vectors = encoder.compose(
        states.vectors, np.asarray(parts, dtype=np.int64), np.asarray(starts, dtype=np.int64)
    )
    if progress:
        progress("compose passages", len(starts), len(starts))
    return passage_vectors, sentence_vectors


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


# --- declared sizes -------------------------------------------------------------------------
# Checksums prove that the files are the ones the manifest names, not that the manifest is
# ours: a foreign index whose checksums were rewritten can declare billions of rows, and FAISS
# reserves and zero-fills what a header declares before it reads a byte of data (a flat index
# claiming 3 million rows of 64 floats costs 770 MB before the read fails). So every size that
# numpy, FAISS or the loader will act on is checked against the bytes on disk and the
# manifest's counts first; reading the headers costs a few hundred bytes.

# The shortest line of passages.jsonl, ``{"type":"…"}`` and a newline, bounds the records it can hold.
_MIN_RECORD_BYTES = 16
_FAISS_FLAT = (b"IxFI", b"IxF2", b"IxFl")
_FAISS_HNSW_FLAT = b"IHNf"
# After the fourcc: d (int32), ntotal (int64), two int64 placeholders, is_trained (bool), metric (int32).
_FAISS_HEADER = struct.Struct("<iqqq?i")
# The vectors of an HNSW graph, in the order faiss writes them, with their element sizes.
_HNSW_VECTORS = (("assign_probas", 8), ("cum_nneighbor_per_level", 4), ("levels", 4), ("offsets", 8), ("neighbors", 4))
_HNSW_SCALARS = 5 * 4  # entry_point, max_level, efConstruction, efSearch, a placeholder


def _check_declared_sizes(folder: Path, manifest: dict[str, object], dimension: int) -> None:
    """Refuse an index whose declared sizes disagree with its files, before anything allocates for them."""
    counts = manifest.get("counts")
    names = ("documents", "passages", "sentences")
    if not isinstance(counts, dict) or not all(type(counts.get(name)) is int and counts[name] >= 0 for name in names):
        raise IndexCorruptError(f"{folder}/manifest.json gives no valid counts of documents, passages and sentences.")
    records = sum(int(counts[name]) for name in names)
    store = (folder / "passages.jsonl").stat().st_size
    if records * _MIN_RECORD_BYTES > store:
        raise IndexCorruptError(
            f"{folder}/manifest.json declares {records:,} records, but passages.jsonl has only {store:,} bytes."
        )
    _check_npy(folder / "sentence_vectors.npy", (int(counts["sentences"]), dimension))
    _check_npy(folder / "term_vectors.npy", (None, dimension))
    _check_faiss_file(folder / "vectors.faiss", int(counts["passages"]), dimension)
    _check_bm25_files(folder / "bm25", int(counts["passages"]))


def _check_npy(path: Path, shape: tuple[int | None, ...]) -> tuple[int, ...]:
    """The shape a ``.npy`` header declares, checked against ``shape`` (None: any) and the file's size."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                declared, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                declared, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            offset = handle.tell()
    except (OSError, ValueError, SyntaxError) as exc:
        raise IndexCorruptError(f"{path} has no readable .npy header ({exc}).") from exc
    if dtype.hasobject:
        raise IndexCorruptError(f"{path} holds Python objects (a pickle), which an index never does.")
    mismatch = any(want is not None and got != want for got, want in zip(declared, shape, strict=False))
    if len(declared) != len(shape) or mismatch:
        expected = tuple("any" if want is None else want for want in shape)
        raise IndexCorruptError(f"{path} declares shape {declared}, but the manifest and encoder need {expected}.")
    size = path.stat().st_size
    if offset + math.prod(declared) * dtype.itemsize != size:
        raise IndexCorruptError(
            f"{path} declares {math.prod(declared):,} values of {dtype.itemsize} bytes, "
            f"but the file has {size:,} bytes."
        )
    return tuple(int(n) for n in declared)


def _check_faiss_file(path: Path, rows: int, dimension: int) -> None:
    """Walk a FAISS file's headers (flat, or HNSW over flat) and check every declared length fits the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        fourcc = handle.read(4)
        if fourcc == _FAISS_HNSW_FLAT:
            _check_faiss_header(path, handle, rows, dimension)
            for name, item in _HNSW_VECTORS:
                (length,) = struct.unpack("<Q", _read_exactly(path, handle, 8))
                expected = {"levels": rows, "offsets": rows + 1}.get(name)
                if (expected is not None and length != expected) or length * item > size - handle.tell():
                    raise IndexCorruptError(
                        f"{path}: the HNSW graph declares {length:,} {name} for {rows:,} passages "
                        f"in a file of {size:,} bytes."
                    )
                handle.seek(length * item, os.SEEK_CUR)
            handle.seek(_HNSW_SCALARS, os.SEEK_CUR)
            fourcc = handle.read(4)
        if fourcc not in _FAISS_FLAT:
            raise IndexCorruptError(f"{path} is not a FAISS flat or HNSW index (it starts with {fourcc!r}).")
        _check_faiss_header(path, handle, rows, dimension)
        (floats,) = struct.unpack("<Q", _read_exactly(path, handle, 8))
        if floats != rows * dimension or handle.tell() + 4 * floats != size:
            raise IndexCorruptError(
                f"{path} declares {floats:,} stored values for {rows:,} passages of dimension {dimension}, "
                f"in a file of {size:,} bytes."
            )


def _check_faiss_header(path: Path, handle: BinaryIO, rows: int, dimension: int) -> None:
    d, ntotal, _, _, _, metric = _FAISS_HEADER.unpack(_read_exactly(path, handle, _FAISS_HEADER.size))
    if metric > 1:  # metrics other than inner product and L2 carry an argument; ours never do
        raise IndexCorruptError(f"{path} uses FAISS metric {metric}, which policyqa never writes.")
    if d != dimension or ntotal != rows:
        raise IndexCorruptError(
            f"{path} declares {ntotal:,} vectors of dimension {d}, "
            f"but the manifest and encoder need {rows:,} of dimension {dimension}."
        )


def _read_exactly(path: Path, handle: BinaryIO, count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise IndexCorruptError(f"{path} is truncated.")
    return data


def _check_bm25_files(folder: Path, passages: int) -> None:
    """The BM25 arrays (a token x passage matrix in CSC form) agree with each other and with the passages."""
    try:
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise IndexCorruptError(f"{folder}/params.index.json cannot be read ({exc}).") from exc
    if not isinstance(params, dict) or params.get("num_docs") != passages:
        declared = params.get("num_docs") if isinstance(params, dict) else None
        raise IndexCorruptError(f"{folder} declares {declared!r} passages for BM25, but the manifest has {passages:,}.")
    (data,) = _check_npy(folder / "data.csc.index.npy", (None,))
    (indices,) = _check_npy(folder / "indices.csc.index.npy", (None,))
    (pointers,) = _check_npy(folder / "indptr.csc.index.npy", (None,))
    if data != indices or pointers < 1:
        raise IndexCorruptError(f"{folder}: the BM25 arrays disagree ({data:,} scores, {indices:,} rows).")
    indptr = np.load(folder / "indptr.csc.index.npy", mmap_mode="r", allow_pickle=False)
    rows = np.load(folder / "indices.csc.index.npy", mmap_mode="r", allow_pickle=False)
    outside = data > 0 and (int(rows.min()) < 0 or int(rows.max()) >= passages)
    if indptr[0] != 0 or indptr[-1] != data or np.any(np.diff(indptr) < 0) or outside:
        raise IndexCorruptError(f"{folder}: the BM25 arrays point outside the {passages:,} passages.")


def load_index(settings: Settings, encoder: Encoder) -> LoadedIndex:
    """Load the live build, checking compatibility and checksums before reading anything."""
    folder = current_build(settings)
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, encoder)
    _verify_files(folder, manifest)
    _check_declared_sizes(folder, manifest, encoder.dimension)
    faiss = _faiss()
    try:
        vectors = faiss.read_index(str(folder / "vectors.faiss"))
        # A plain array over the mapping: indexing a np.memmap runs Python code per call.
        sentence_vectors = np.asarray(np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False))
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
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:  # a line that is no record
        raise IndexCorruptError(f"{folder}/passages.jsonl cannot be parsed ({exc}).") from exc
    if vectors.ntotal != len(chunks) or vectors.d != encoder.dimension or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"{folder}: vector counts do not match the passage store.")
    return LoadedIndex(
        folder, manifest, chunks, sentences, documents, vectors, sentence_vectors, lexical, offsets, terms, term_vectors
    )
