"""Loading the live build: compatibility and integrity first, then FAISS, arrays, BM25 and the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..chunk import Chunk, Sentence, join_sentences
from ..embed import Encoder
from ..errors import IndexCorruptError
from ..lexical import LexicalIndex
from ..settings import Settings
from ..types import DocumentInfo
from .integrity import check_declared_sizes, verify_files
from .manifest import check_compatible, read_manifest
from .store import current_build
from .vectors import VectorSearch, read_faiss


@dataclass
class LoadedIndex:
    """A build in memory: chunks, sentences, documents, the FAISS search over chunk vectors, and BM25."""

    folder: Path
    manifest: dict[str, object]
    chunks: list[Chunk]
    sentences: list[Sentence]
    documents: dict[str, DocumentInfo]
    chunk_vectors: VectorSearch
    sentence_vectors: np.ndarray
    lexical: LexicalIndex
    sentence_doc_offsets: dict[str, int]
    terms: list[str]
    term_vectors: np.ndarray

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
                    record["pages"] = tuple(tuple(p) for p in record.get("pages", ()))
                    documents[record["doc_id"]] = DocumentInfo(**record)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:  # a line that is no record
        raise IndexCorruptError(f"{folder}/passages.jsonl cannot be parsed ({exc}).") from exc
    if vectors.size != len(chunks) or vectors.dimension != encoder.dimension or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"{folder}: vector counts do not match the passage store.")
    return LoadedIndex(
        folder, manifest, chunks, sentences, documents, vectors, sentence_vectors, lexical, offsets, terms, term_vectors
    )
