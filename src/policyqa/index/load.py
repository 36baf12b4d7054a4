"""Loading the live build: compatibility and integrity first, then FAISS, arrays, BM25 and the store.

Only the documents of ``passages.jsonl`` are parsed at load: the file is memory-mapped, and a
sentence or a passage is read from its line when asked for (``table.SentenceRecords``,
``table.ChunkRecords``), found by the passage table the build wrote (``table``), which also
holds the columns a search reads of every passage. A question reads a few hundred of the
library's 426,000 sentences and 158,000 passages; parsing them all took most of a cold start
and their objects a third of a serving process's private memory. The file's pages are the
page cache's, shared by every worker that loads the same build.
"""

from __future__ import annotations

import json
import mmap
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import orjson

from ..chunk import Chunk, Sentence, join_sentences
from ..embed import Encoder
from ..errors import IndexCorruptError
from ..lexical import LexicalIndex
from ..settings import Settings
from ..types import DocumentInfo
from .integrity import check_declared_sizes, verify_files
from .manifest import (
    CENTROID_VECTORS_FILE,
    TERM_INDEX_FILE,
    TITLE_VECTORS_FILE,
    check_compatible,
    read_manifest,
)
from .rows import NpyRows
from .store import current_build
from .table import (
    DOCUMENT,
    PASSAGE,
    SENTENCE,
    ChunkRecords,
    PassageTable,
    SentenceRecords,
)
from .vectors import TERM_EF_SEARCH, VectorSearch, read_faiss

# How many documents' whole texts a loaded index keeps (``LoadedIndex.document_text``).
DOCUMENT_TEXTS_KEPT = 32
READ_THROUGH_BYTES = 1 << 20


def read_through(folder: Path) -> float:
    """Read every file of a build once, so that timing starts with them in the page cache; the seconds it took.

    "Warm" latency is that of a server that has run a while: its index's pages are in the cache.
    Right after a build, or when the machine has reclaimed the cache, the first questions wait for
    the disk instead; that is the cold start's cost, measured apart.
    """
    started = time.perf_counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            while handle.read(READ_THROUGH_BYTES):
                pass
    return round(time.perf_counter() - started, 2)


@dataclass
class LoadedIndex:
    """A build in memory: chunks, sentences, documents, the FAISS search over chunk vectors, and BM25."""

    folder: Path
    manifest: dict[str, object]
    chunks: Sequence[Chunk]
    sentences: Sequence[Sentence]
    documents: dict[str, DocumentInfo]
    chunk_vectors: VectorSearch
    sentence_vectors: NpyRows  # rows read when indexed (``rows``): np.asarray() for the whole matrix
    lexical: LexicalIndex
    sentence_doc_offsets: dict[str, int]
    terms: list[str]
    term_vectors: np.ndarray
    # Every passage's document, section, kind and sentences as columns, and where each record lies.
    table: PassageTable
    # Each document's title embedded and its mean chunk vector, in sorted document id order
    # (None: a build made before they were kept).
    title_vectors: np.ndarray | None = field(default=None)
    centroid_vectors: np.ndarray | None = field(default=None)
    # The vocabulary's HNSW index (None: a small vocabulary, or a build made before it was kept).
    term_search: VectorSearch | None = field(default=None)
    _texts: OrderedDict[str, str] = field(default_factory=OrderedDict, init=False, repr=False)
    _texts_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def generation(self) -> str:
        """The build's name: changes whenever a new build goes live."""
        return self.folder.name

    @cached_property
    def document_rows(self) -> dict[str, np.ndarray]:
        """Each document's passage rows, in row order (documents without passages left out)."""
        doc_column = self.table.doc
        order = np.argsort(doc_column, kind="stable")
        bounds = np.searchsorted(doc_column[order], np.arange(len(self.documents) + 1))
        return {
            doc_id: order[bounds[i] : bounds[i + 1]].astype(np.int64)
            for i, doc_id in enumerate(self.documents)
            if bounds[i + 1] > bounds[i]
        }

    def passage_rows(self, doc_ids: Collection[str], kind: str | None = None) -> np.ndarray:
        """Rows of the passages of these documents (only those of ``kind``, if given), in row order."""
        every = self.document_rows
        parts = [every[doc_id] for doc_id in set(doc_ids) if doc_id in every]
        rows = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        return rows[self.table.of_kind(kind)[rows]] if kind is not None else rows

    def articles_of(self, doc_id: str) -> np.ndarray:
        """The article number of each of a document's passages (0 for none), in row order, from the table."""
        rows = self.document_rows.get(doc_id)
        return self.table.article[rows] if rows is not None else np.zeros(0, dtype=np.int64)

    def document_text(self, doc_id: str) -> str:
        """A document's whole text: its passages joined (a sentence two passages share comes twice).

        Verification reads the whole of a document a question names; the last few read are kept,
        as a law's passages are parsed one by one (the Civil Code has thousands).
        """
        with self._texts_lock:
            text = self._texts.get(doc_id)
            if text is not None:
                self._texts.move_to_end(doc_id)
                return text
        text = "\n".join(self.chunks[row].text for row in self.passage_rows((doc_id,)).tolist())
        with self._texts_lock:
            self._texts[doc_id] = text
            while len(self._texts) > DOCUMENT_TEXTS_KEPT:
                self._texts.popitem(last=False)
        return text

    def sentence_index(self, chunk: Chunk) -> range:
        """Global sentence rows of a chunk."""
        base = self.sentence_doc_offsets[chunk.doc_id]
        return range(base + chunk.sentence_start, base + chunk.sentence_end)

    def joined_sentences(self, rows: range) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The text of consecutive sentence rows as the source has them, and their source spans."""
        sentences = [self.sentences[r] for r in rows]
        return join_sentences(sentences), tuple(span for s in sentences for span in s.spans)


def load_index(settings: Settings, encoder: Encoder) -> LoadedIndex:
    """Load the live build, checking compatibility and checksums before reading anything."""
    folder = current_build(settings)
    manifest = read_manifest(folder)
    check_compatible(manifest, settings, encoder)
    verify_files(folder, manifest)
    check_declared_sizes(folder, manifest, encoder.dimension)
    try:
        vectors = VectorSearch(read_faiss(folder / "vectors.faiss"))
        sentence_vectors = NpyRows(folder / "sentence_vectors.npy")
        term_vectors = np.asarray(np.load(folder / "term_vectors.npy", mmap_mode="r", allow_pickle=False))
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        files = manifest.get("files")
        term_search = (
            VectorSearch(read_faiss(folder / TERM_INDEX_FILE), ef_search=TERM_EF_SEARCH)
            if isinstance(files, dict) and TERM_INDEX_FILE in files
            else None
        )
        lexical = LexicalIndex.load(folder / "bm25")
    except (RuntimeError, ValueError, OSError) as exc:
        raise IndexCorruptError(f"{folder} cannot be read ({exc}).") from exc
    if not isinstance(terms, list) or len(terms) != len(term_vectors):
        raise IndexCorruptError(f"{folder}: terms.json does not match term_vectors.npy.")
    if term_search is not None and (term_search.size != len(terms) or term_search.dimension != encoder.dimension):
        raise IndexCorruptError(f"{folder}: {TERM_INDEX_FILE} does not match term_vectors.npy.")
    try:
        chunks, sentences, documents, offsets, table = _read_store(folder, manifest)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError, IndexError, OverflowError, OSError) as exc:
        raise IndexCorruptError(f"{folder}/passages.jsonl cannot be parsed ({exc}).") from exc
    title_vectors = _document_vectors(folder, manifest, TITLE_VECTORS_FILE, len(documents), encoder.dimension)
    centroids = _document_vectors(folder, manifest, CENTROID_VECTORS_FILE, len(documents), encoder.dimension)
    if vectors.size != len(chunks) or vectors.dimension != encoder.dimension or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"{folder}: vector counts do not match the passage store.")
    return LoadedIndex(
        folder,
        manifest,
        chunks,
        sentences,
        documents,
        vectors,
        sentence_vectors,
        lexical,
        offsets,
        terms,
        term_vectors,
        table,
        title_vectors,
        centroids,
        term_search,
    )


def _document_vectors(
    folder: Path, manifest: dict[str, object], name: str, documents: int, dimension: int
) -> np.ndarray | None:
    """One vector a document from the file ``name``, when the build has it (its checksum was verified)."""
    files = manifest.get("files")
    if not isinstance(files, dict) or name not in files:
        return None
    try:
        vectors = np.load(folder / name, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise IndexCorruptError(f"{folder}/{name} cannot be read ({exc}).") from exc
    if vectors.shape != (documents, dimension) or vectors.dtype != np.float32:
        raise IndexCorruptError(f"{folder}/{name} does not hold one vector a document.")
    return vectors


def _read_store(
    folder: Path, manifest: dict[str, object]
) -> tuple[ChunkRecords, Sequence[Sentence], dict[str, DocumentInfo], dict[str, int], PassageTable]:
    """Documents parsed; sentences and passages found by the passage table and parsed when read."""
    path = folder / "passages.jsonl"
    with path.open("rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if path.stat().st_size else b""
    # A build made before the table was kept (or before one of its arrays): its store is read through to make it.
    table = PassageTable.kept_by(folder, manifest) or PassageTable.scan(data)
    table.check_lines(len(data))
    documents: dict[str, DocumentInfo] = {}
    sentence_counts: dict[str, int] = {}
    for start, end in zip(*(a.tolist() for a in table.lines_of(DOCUMENT)), strict=True):
        record = orjson.loads(data[start:end])
        if record.pop("type", None) != "document":
            raise ValueError(f"the line at byte {start} is no document record")
        if "sentences" in record:
            sentence_counts[record["doc_id"]] = record.pop("sentences")
        record["sections"] = tuple(record["sections"])
        record["pages"] = tuple(tuple(p) for p in record.get("pages", ()))
        documents[record["doc_id"]] = DocumentInfo(**record)
    sentences = SentenceRecords(data, *table.lines_of(SENTENCE))
    if len(sentence_counts) == len(documents):
        # Documents and their sentences are written in the same order (``parts.write_records``).
        firsts = np.concatenate([[0], np.cumsum(list(sentence_counts.values()))]).tolist()
        if firsts[-1] != len(sentences):
            raise ValueError("the documents' sentence counts do not match the sentence records")
        offsets = dict(zip(sentence_counts, firsts, strict=False))
    else:  # a build made before documents counted their sentences: read each sentence's document
        offsets = {}
        for row in range(len(sentences)):
            offsets.setdefault(sentences[row].doc_id, row)
        firsts = [*(offsets.get(d, 0) for d in documents), len(sentences)]
    table.check_passages(np.diff(firsts).tolist())
    chunks = ChunkRecords(data, *table.lines_of(PASSAGE))
    return chunks, sentences, documents, offsets, table
