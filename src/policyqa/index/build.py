"""Building an index: extend the live build with added documents, or chunk and embed the corpus afresh.

A full build chunks the corpus, embeds what the cache lacks, and writes FAISS, BM25
and the store. When the corpus only gained files since the live build, ``extend``
appends them to a copy of it instead, which at the whole library takes seconds
rather than minutes (docs/performance.md).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..documents import load_corpus
from ..embed import Encoder
from ..errors import CorpusError
from ..lexical import LexicalIndex, vocabulary_terms
from ..settings import Settings
from ..types import SkippedFile
from . import parts
from .cache import ProgressFn
from .extend import extend_build
from .store import index_home, new_build_folder
from .vectors import VectorSearch, kind_of, make_faiss_index, write_faiss


def build_index(
    settings: Settings, encoder: Encoder, progress: ProgressFn | None = None, *, full: bool = False
) -> tuple[Path, list[SkippedFile]]:
    """Build the index for ``settings`` and make it live; return its folder and the skipped files.

    When the corpus only gained files since the live build, the build is extended with
    them (``extend.extend_build``); otherwise, or with ``full``, it is built afresh.
    """
    if not full and (extended := extend_build(settings, encoder, progress)) is not None:
        return extended
    return _build_full(settings, encoder, progress)


def _build_full(settings: Settings, encoder: Encoder, progress: ProgressFn | None) -> tuple[Path, list[SkippedFile]]:
    started = time.perf_counter()
    documents, skipped = load_corpus(settings.corpus_dirs)
    chunked = parts.chunk_documents(documents, settings, progress)
    chunk_count = sum(len(cd.chunks) for _, cd in chunked)
    sentence_count = sum(len(cd.sentences) for _, cd in chunked)
    if not chunk_count:  # BM25 cannot index an empty corpus; say why instead of failing inside it
        names = ", ".join(str(f) for f in settings.corpus_dirs)
        raise CorpusError(f"No passage to index in {names}: the documents hold only headings or markers.")

    composed = parts.composes(chunk_count, encoder)
    cache = parts.embedding_cache(settings, encoder)
    home = index_home(settings)
    build_name, tmp = new_build_folder(home)
    try:
        # BM25's jieba cuts run in a thread of this process while the encoder's workers use the
        # cores: the parent would otherwise only wait for them (docs/performance.md).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bm25-tokens") as background:
            tokens = background.submit(parts.passage_token_ids, chunked, settings.passage_context, progress)
            passage_vectors = parts.embed_chunked(
                settings, encoder, cache, chunked, composed, tmp / "sentence_vectors.npy", progress
            )
            lexical = LexicalIndex.build_from_ids(tokens.result())
        terms = vocabulary_terms(lexical.vocabulary())
        term_vectors = cache.embed(encoder, terms, progress, "embed vocabulary")
        # The passages' graph builds on FAISS's threads while this thread writes the rest, which
        # is mostly Python on one core (docs/performance.md); the encoder's workers are gone by now.
        if progress:
            progress("FAISS index", 0, 1)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="faiss-graph") as background:
            graph = background.submit(make_faiss_index, passage_vectors)
            parts.save_terms(tmp, terms, np.asarray(term_vectors))
            del term_vectors
            lexical.save(tmp / "bm25")
            del lexical, tokens
            parts.save_title_vectors(tmp, cache, encoder, {d.doc_id: d.title for d in documents}, progress)
            with (tmp / "passages.jsonl").open("w", encoding="utf-8") as out:
                parts.write_records(out, chunked)
            chunk_counts = {doc.doc_id: len(cd.chunks) for doc, cd in chunked}
            counts = {"documents": len(documents), "chunks": chunk_count, "sentences": sentence_count}
            del chunked, documents
            faiss_index = graph.result()
        del passage_vectors
        write_faiss(faiss_index, tmp / "vectors.faiss")
        parts.save_centroids(tmp, VectorSearch(faiss_index), chunk_counts)
        del faiss_index
        if progress:
            progress("FAISS index", 1, 1)
        folder = parts.finish_build(
            home,
            build_name,
            tmp,
            settings,
            encoder,
            skipped=skipped,
            counts=counts,
            composed=composed,
            faiss_kind=kind_of(chunk_count),
            started=started,
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder, skipped
