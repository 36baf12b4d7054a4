"""Loading the live build: compatibility and integrity first, then FAISS, arrays, BM25 and the store.

Sentences (three quarters of ``passages.jsonl``) are not parsed at load: the file is
memory-mapped and a sentence is read from its line when asked for (:class:`SentenceRecords`).
A question reads a few hundred of the library's 426,000; parsing them all took half of a
cold start and their objects a third of a serving process's private memory. The file's
pages are the page cache's, shared by every worker that loads the same build.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import numpy as np
import orjson

from ..chunk import Chunk, Sentence, join_sentences
from ..embed import Encoder
from ..errors import IndexCorruptError
from ..lexical import LexicalIndex
from ..settings import Settings
from ..types import DocumentInfo
from .integrity import check_declared_sizes, verify_files
from .manifest import CENTROID_VECTORS_FILE, TITLE_VECTORS_FILE, check_compatible, read_manifest
from .store import current_build
from .vectors import VectorSearch, read_faiss


@dataclass
class LoadedIndex:
    """A build in memory: chunks, sentences, documents, the FAISS search over chunk vectors, and BM25."""

    folder: Path
    manifest: dict[str, object]
    chunks: list[Chunk]
    sentences: Sequence[Sentence]
    documents: dict[str, DocumentInfo]
    chunk_vectors: VectorSearch
    sentence_vectors: np.ndarray
    lexical: LexicalIndex
    sentence_doc_offsets: dict[str, int]
    terms: list[str]
    term_vectors: np.ndarray
    # Each document's title embedded and its mean chunk vector, in sorted document id order
    # (None: a build made before they were kept).
    title_vectors: np.ndarray | None = field(default=None)
    centroid_vectors: np.ndarray | None = field(default=None)

    @property
    def generation(self) -> str:
        """The build's name: changes whenever a new build goes live."""
        return self.folder.name

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
        # A plain array over the mapping: indexing a np.memmap runs Python code per call.
        sentence_vectors = np.asarray(np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False))
        term_vectors = np.asarray(np.load(folder / "term_vectors.npy", mmap_mode="r", allow_pickle=False))
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        lexical = LexicalIndex.load(folder / "bm25")
    except (RuntimeError, ValueError, OSError) as exc:
        raise IndexCorruptError(f"{folder} cannot be read ({exc}).") from exc
    if not isinstance(terms, list) or len(terms) != len(term_vectors):
        raise IndexCorruptError(f"{folder}: terms.json does not match term_vectors.npy.")
    try:
        chunks, sentences, documents, offsets = _read_store(folder / "passages.jsonl")
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError, IndexError) as exc:
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
        title_vectors,
        centroids,
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


# Every line of passages.jsonl opens with one of these; the byte after ``{"type": "`` tells which.
_OPENINGS = (b'{"type": "document", ', b'{"type": "sentence", ', b'{"type": "passage", ')
_KIND_AT = len('{"type": "')


def _read_store(
    path: Path,
) -> tuple[list[Chunk], Sequence[Sentence], dict[str, DocumentInfo], dict[str, int]]:
    """Documents and passages parsed; sentences indexed by line, parsed when read."""
    with path.open("rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if path.stat().st_size else b""
    raw = np.frombuffer(data, dtype=np.uint8) if len(data) else np.zeros(0, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.zeros(0, dtype=np.int64)
    _check_openings(raw, starts, ends)
    kinds = raw[starts + _KIND_AT] if len(starts) else np.zeros(0, dtype=np.uint8)
    documents: dict[str, DocumentInfo] = {}
    sentence_counts: dict[str, int] = {}
    chunks: list[Chunk] = []

    def lines(kind: str) -> zip[tuple[int, int]]:
        chosen = kinds == ord(kind)
        return zip(starts[chosen].tolist(), ends[chosen].tolist(), strict=True)

    for start, end in lines("d"):
        record = orjson.loads(data[start:end])
        del record["type"]
        if "sentences" in record:
            sentence_counts[record["doc_id"]] = record.pop("sentences")
        record["sections"] = tuple(record["sections"])
        record["pages"] = tuple(tuple(p) for p in record.get("pages", ()))
        documents[record["doc_id"]] = DocumentInfo(**record)
    for start, end in lines("p"):
        record = orjson.loads(data[start:end])
        del record["type"]
        record["spans"] = tuple(tuple(s) for s in record["spans"])
        chunks.append(Chunk(**record))
    is_sentence = kinds == ord("s")
    sentences = SentenceRecords(data, starts[is_sentence], ends[is_sentence])
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
    return chunks, sentences, documents, offsets


def _check_openings(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Every line opens as a document, sentence or passage record (what a line is read as is decided by it)."""
    longest = max(len(opening) for opening in _OPENINGS)
    if np.any(ends - starts < longest):
        raise ValueError("a line is too short to be a record")
    heads = raw[starts[:, None] + np.arange(longest)]
    known = np.zeros(len(starts), dtype=bool)
    for opening in _OPENINGS:
        known |= np.all(heads[:, : len(opening)] == np.frombuffer(opening, dtype=np.uint8), axis=1)
    if not known.all():
        raise ValueError(f"line {int(np.flatnonzero(~known)[0]) + 1} is no document, sentence or passage record")


@dataclass(frozen=True, eq=False)
class SentenceRecords(Sequence[Sentence]):
    """The sentence lines of a memory-mapped ``passages.jsonl``, each parsed when it is read."""

    data: mmap.mmap | bytes
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, row: int) -> Sentence: ...

    @overload
    def __getitem__(self, row: slice) -> list[Sentence]: ...

    def __getitem__(self, row: int | slice) -> Sentence | list[Sentence]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        line = self.data[int(self.starts[row]) : int(self.ends[row])]
        try:
            record = orjson.loads(line)
            return Sentence(
                doc_id=record["doc_id"],
                block=record["block"],
                text=record["text"],
                spans=tuple(tuple(span) for span in record["spans"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:  # checksummed, so a foreign index's
            raise IndexCorruptError(f"passages.jsonl: sentence {row} is no sentence record ({exc}).") from exc
