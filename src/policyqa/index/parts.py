"""The pieces of a build that a full build and an extension share: chunks, vectors, BM25 tokens, records, manifest.

Above ``COMPOSED_PASSAGES_ABOVE`` chunks, a chunk's vector is composed from its
sentences' encoder states (``embed.ComposableEncoder``) and the states are cached
instead of encoding every chunk again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import IO

import numpy as np

from ..chunk import Chunk, ChunkedDocument, Sentence, chunk_document
from ..documents import Document
from ..embed import ComposableEncoder, Encoder, shared_encoder_name
from ..lexical import TokenIds, tokenize, tokenize_joined
from ..settings import Settings
from ..types import DocumentInfo, SkippedFile
from .cache import EmbeddingCache, ProgressFn, cache_folder, new_array_file, release_pages
from .manifest import (
    CENTROID_VECTORS_FILE,
    INDEX_FILES,
    TERM_INDEX_FILE,
    TITLE_VECTORS_FILE,
    corpus_state,
    manifest_base,
    sha256_file,
)
from .store import publish_build
from .table import TABLE_FOLDER, PassageTable
from .vectors import EXACT_SEARCH_LIMIT, VectorSearch, document_centroids, make_term_index, write_faiss
from .workers import worker_count, write_rows

# Above this many chunks, chunk vectors are composed from the states of their
# sentences and headings (embedded anyway, and cached) instead of encoding every
# chunk again, which took ~2/3 of a build's encoder time and ~20 ms per chunk
# (docs/performance.md); on the gold set both gave the same retrieval quality.
COMPOSED_PASSAGES_ABOVE = 5_000
# Passages (and sentences) composed per step: the encoder's own block size, so the
# vectors are the same as composing all at once, and the states read per step stay small.
COMPOSE_BLOCK = 4096

Chunked = list[tuple[Document, ChunkedDocument]]


def chunk_documents(documents: Sequence[Document], settings: Settings, progress: ProgressFn | None) -> Chunked:
    chunked: Chunked = []
    for i, doc in enumerate(documents):
        chunked.append((doc, chunk_document(doc, settings.chunk_chars, settings.chunk_overlap_sentences)))
        if progress:
            progress("chunk", i + 1, len(documents))
    return chunked


def composes(chunk_count: int, encoder: Encoder) -> bool:
    """Whether a build of ``chunk_count`` chunks composes their vectors (``COMPOSED_PASSAGES_ABOVE``)."""
    return chunk_count > COMPOSED_PASSAGES_ABOVE and isinstance(encoder, ComposableEncoder) and encoder.can_compose


def embedding_cache(settings: Settings, encoder: Encoder) -> EmbeddingCache:
    """The cache of the encoder's vectors, by text hash, under the index folder."""
    encoder_name, processes = shared_encoder_name(settings.encoder, encoder), worker_count()
    return EmbeddingCache(
        cache_folder(settings.index_dir, encoder), encoder.dimension, encoder_name=encoder_name, processes=processes
    )


def embed_chunked(
    settings: Settings,
    encoder: Encoder,
    cache: EmbeddingCache,
    chunked: Chunked,
    composed: bool,
    sentence_file: Path,
    progress: ProgressFn | None,
) -> np.ndarray:
    """The chunk vectors of ``chunked``; its sentence vectors are written to ``sentence_file`` (``.npy``)."""
    if composed:
        assert isinstance(encoder, ComposableEncoder)
        states = EmbeddingCache(
            cache.folder.with_name(cache.folder.name + "-states"),
            encoder.state_dimension,
            encoder_name=cache.encoder_name,
            processes=cache.processes,
        )
        return _composed_vectors(settings, encoder, states, chunked, progress, sentence_file)
    chunks = [c for _, cd in chunked for c in cd.chunks]
    sentences = [s for _, cd in chunked for s in cd.sentences]
    passage_vectors = cache.embed(
        encoder, [c.retrieval_text(settings.passage_context) for c in chunks], progress, "embed passages"
    )
    sentence_vectors = cache.embed(encoder, [s.text for s in sentences], progress, "embed sentences")
    np.save(sentence_file, sentence_vectors.astype(np.float32), allow_pickle=False)
    return passage_vectors


def write_records(out: IO[str], chunked: Chunked) -> None:
    """The documents, sentences and passages of ``chunked`` as lines of ``passages.jsonl``.

    Documents first, then every sentence, then every passage, each in corpus order:
    the loader numbers sentences and passages in file order (their vector rows).
    """
    for doc, cd in chunked:
        info = DocumentInfo(
            doc_id=doc.doc_id,
            title=doc.title,
            path=doc.path,
            sha256=doc.sha256,
            chars=len(doc.text),
            chunks=len(cd.chunks),
            metadata=doc.metadata,
            sections=tuple(dict.fromkeys(c.section for c in cd.chunks if c.kind == "body")),
            pages=doc.pages,
        )
        # Its sentence count lets the loader find each document's sentences without reading them.
        record = {"type": "document", **asdict(info), "sentences": len(cd.sentences)}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    # vars(), not asdict(): the same fields in the same order, without asdict's deep copy
    # (a fifth of a 100,000-passage build).
    for _, cd in chunked:
        for s in cd.sentences:
            out.write(json.dumps({"type": "sentence", **vars(s)}, ensure_ascii=False) + "\n")
    for _, cd in chunked:
        for c in cd.chunks:
            out.write(json.dumps({"type": "passage", **vars(c)}, ensure_ascii=False) + "\n")


def save_title_vectors(
    folder: Path, cache: EmbeddingCache, encoder: Encoder, titles: dict[str, str], progress: ProgressFn | None
) -> None:
    """Each document's title embedded, in sorted document id order: the retriever encoded them at every load."""
    ordered = [titles[doc_id] for doc_id in sorted(titles)]
    vectors = cache.embed(encoder, ordered, progress, "embed titles")
    np.save(folder / TITLE_VECTORS_FILE, np.asarray(vectors, dtype=np.float32), allow_pickle=False)


def save_centroids(folder: Path, search: VectorSearch, chunk_counts: dict[str, int]) -> None:
    """Each document's mean chunk vector, in sorted document id order (``chunk_counts`` in row order)."""
    position = {doc_id: i for i, doc_id in enumerate(sorted(chunk_counts))}
    owners = np.repeat(np.asarray([position[d] for d in chunk_counts], dtype=np.int64), list(chunk_counts.values()))
    centroids = document_centroids(search, owners, len(position))
    np.save(folder / CENTROID_VECTORS_FILE, centroids.astype(np.float32), allow_pickle=False)


def save_terms(folder: Path, terms: list[str], vectors: np.ndarray) -> None:
    np.save(folder / "term_vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    if len(terms) > EXACT_SEARCH_LIMIT:
        write_faiss(make_term_index(vectors), folder / TERM_INDEX_FILE)
    (folder / "terms.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")


def finish_build(
    home: Path,
    build_name: str,
    tmp: Path,
    settings: Settings,
    encoder: Encoder,
    *,
    skipped: Sequence[SkippedFile],
    counts: dict[str, int],
    composed: bool,
    faiss_kind: str,
    started: float,
    corpus: list[dict[str, object]] | None = None,
    extra: dict[str, object] | None = None,
    base_table: PassageTable | None = None,
) -> Path:
    """Write the manifest (checksums of every file) and make the build live.

    ``corpus``: the corpus files' state the build was made from, when the caller read it already;
    ``base_table``: the table of the store's first lines (an extension's live store), read no more.
    """
    PassageTable.of_store(tmp / "passages.jsonl", base_table).save(tmp)
    optional = (TITLE_VECTORS_FILE, CENTROID_VECTORS_FILE, TERM_INDEX_FILE)
    files = {name: sha256_file(tmp / name) for name in (*INDEX_FILES, *optional) if (tmp / name).exists()}
    for folder in ("bm25", TABLE_FOLDER):
        files.update({f"{folder}/{p.name}": sha256_file(p) for p in sorted((tmp / folder).iterdir())})
    manifest = {
        **manifest_base(settings, encoder),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpus": corpus if corpus is not None else corpus_state(settings),
        "skipped": [asdict(s) for s in skipped],
        "counts": counts,
        "faiss": faiss_kind,
        "passage_vectors": "composed" if composed else "encoded",
        **(extra or {}),
        "files": files,
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return publish_build(home, build_name, tmp)


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


def passage_tokens(
    chunked: list[tuple[Document, ChunkedDocument]], context: str, progress: ProgressFn | None = None
) -> Iterator[list[str]]:
    """BM25 tokens of every passage's retrieval text, in order; a document's sentences and headings cut once.

    Yielded one passage at a time, for ``TokenIds.from_tokens`` to keep as ids: the whole
    library's token lists held at once were ~1 GB of a build's peak memory. Sentences and
    headings repeat within a document (overlapping passages), so the cuts are kept per document.
    """
    for i, (_, cd) in enumerate(chunked):
        if progress:
            progress("BM25 tokens", i + 1, len(chunked))
        cache: dict[str, list[str]] = {}
        for chunk in cd.chunks:
            parts, separators = _passage_parts(chunk, cd.sentences, context)
            text = chunk.retrieval_text(context)
            if "".join(p + s for p, s in zip(parts, [*separators, ""], strict=True)) != text:
                yield tokenize(text)  # not its parts joined: cut the text itself
            else:
                yield tokenize_joined(parts, separators, cache)


def passage_token_ids(
    chunked: list[tuple[Document, ChunkedDocument]], context: str, progress: ProgressFn | None = None
) -> TokenIds:
    """Every passage's BM25 tokens as ids (``passage_tokens`` kept as ids as they are cut)."""
    return TokenIds.from_tokens(passage_tokens(chunked, context, progress))


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
    sentence_file: Path,
    block: int = COMPOSE_BLOCK,
) -> np.ndarray:
    """Passage vectors from the states of sentences and headings, each distinct text encoded once.

    A passage is its headings and sentences joined (``Chunk.retrieval_text``), so its
    vector is composed from theirs instead of running the encoder over it again. The
    sentence vectors are written to ``sentence_file`` a block at a time; the states
    are read from the memory-mapped cache a block at a time, never all at once.
    """
    sentences = [s.text for _, cd in chunked for s in cd.sentences]
    headings = {c.chunk_id: _heading_parts(c, settings.passage_context) for _, cd in chunked for c in cd.chunks}
    heading_texts = sorted({h for parts in headings.values() for h in parts})
    rows = states.rows(
        encoder.encode_states, sentences + heading_texts, progress, "embed sentences", method="encode_states"
    )
    sentence_rows = rows[: len(sentences)]
    heading_row = dict(zip(heading_texts, rows[len(sentences) :].tolist(), strict=True))
    del rows, sentences

    data_offset = new_array_file(sentence_file, (len(sentence_rows), encoder.dimension))
    fd = os.open(sentence_file, os.O_WRONLY)

    def sentence_block(start: int, stop: int) -> None:
        # Repeated sentences (boilerplate) share a state: run the head once per distinct one.
        distinct, inverse = np.unique(sentence_rows[start:stop], return_inverse=True)
        vectors = encoder.vectors_from_states(np.asarray(states.vectors[distinct]))[inverse]
        write_rows(fd, data_offset, start, vectors.astype(np.float32, copy=False))
        release_pages(states.vectors)

    try:
        _in_blocks(sentence_block, len(sentence_rows), block, progress, "sentence vectors")
    finally:
        os.close(fd)

    parts: list[int] = []
    starts: list[int] = []
    base = 0
    for _, cd in chunked:
        for chunk in cd.chunks:
            starts.append(len(parts))
            parts.extend(heading_row[h] for h in headings[chunk.chunk_id])
            parts.extend(sentence_rows[base + chunk.sentence_start : base + chunk.sentence_end].tolist())
        base += len(cd.sentences)
    all_parts = np.asarray(parts, dtype=np.int64)
    bounds = np.append(np.asarray(starts, dtype=np.int64), len(all_parts))
    del parts, starts
    count = len(bounds) - 1
    passage_vectors = np.empty((count, encoder.dimension), dtype=np.float32)

    def passage_block(first: int, last: int) -> None:
        lo, hi = int(bounds[first]), int(bounds[last])
        passage_vectors[first:last] = encoder.compose(states.vectors, all_parts[lo:hi], bounds[first:last] - lo)
        release_pages(states.vectors)

    _in_blocks(passage_block, count, block, progress, "compose passages")
    return passage_vectors


def _in_blocks(
    step: Callable[[int, int], None], count: int, block: int, progress: ProgressFn | None, label: str
) -> None:
    """``step(first, last)`` over ``range(count)`` in blocks, on a thread per core.

    The steps are matrix products on one BLAS thread each, which release the GIL: two
    threads took the library's sentence vectors and passages in about half the time (a
    core otherwise idle after encoding, docs/performance.md). Progress is reported in order.
    """
    starts = range(0, count, block)
    with ThreadPoolExecutor(max_workers=max(1, min(worker_count(), len(starts)))) as pool:
        done = pool.map(lambda first: step(first, min(first + block, count)), starts)
        for first, _ in zip(starts, done, strict=True):
            if progress:
                progress(label, min(first + block, count), count)
