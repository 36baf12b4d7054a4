"""Extending the live build with documents added to the corpus, instead of building everything again.

A full build of the whole library re-reads, re-chunks and re-scores 3,500 documents and
rebuilds an HNSW graph of 158,000 vectors to add one PDF (minutes). When the corpus only
gained files, the new build is the live one with the new documents appended:

* their chunks and sentences are embedded as a full build would (the same cache, the
  same composed or encoded vectors), and their vectors are added to a copy of the FAISS
  index and appended to the sentence vectors;
* BM25 is computed again over every passage, exactly as a full build would, from the
  token ids the live build kept (``lexical.TokenIds``): only the new passages are cut;
* the new Chinese words of the vocabulary are embedded, the others' vectors copied;
* the new records are appended to a copy of ``passages.jsonl``.

The result answers as a full build of the same corpus would, except that the new
documents come after the others (ties between equal scores may order differently) and
the HNSW graph holds the new vectors as inserted rather than as built together.

Anything else (a file changed or removed, a build without token ids, a new document that
repeats an indexed one, a corpus crossing the size at which vectors are composed or FAISS
switches to HNSW) gets a full build: ``extend_build`` returns ``None``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..documents import load_files
from ..embed import Encoder
from ..errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from ..lexical import LexicalIndex, TokenIds, vocabulary_terms
from ..settings import Settings
from ..types import SkippedFile
from . import parts
from .cache import EmbeddingCache, ProgressFn, new_array_file, release_pages
from .integrity import check_declared_sizes, verify_files
from .manifest import check_compatible, corpus_state, read_manifest
from .store import current_build, index_home, new_build_folder
from .table import DOCUMENT, PassageTable, parse_record
from .vectors import VectorSearch, kind_of, read_faiss, write_faiss
from .workers import write_rows

log = logging.getLogger("policyqa")

# Rows of the live build's sentence vectors copied per step into the new build.
_COPY_BLOCK = 16_384


def extend_build(
    settings: Settings, encoder: Encoder, progress: ProgressFn | None = None
) -> tuple[Path, list[SkippedFile]] | None:
    """Append the corpus's new files to the live build as a new build; ``None`` when a full build is needed."""
    started = time.perf_counter()
    try:
        live = current_build(settings)
        manifest = read_manifest(live)
        check_compatible(manifest, settings, encoder)
    except (IndexMissingError, IndexCorruptError, IndexMismatchError):
        return None
    files = manifest.get("files")
    if not isinstance(files, dict) or "bm25/token_ids.npy" not in files:
        return None  # built before the token ids were kept
    corpus = corpus_state(settings)
    new_paths = _added_paths(manifest, corpus)
    if not new_paths:
        return None
    try:
        verify_files(live, manifest)
        check_declared_sizes(live, manifest, encoder.dimension)
        base_table = PassageTable.kept_by(live, manifest)
        known = _indexed_documents(live / "passages.jsonl", base_table)  # id -> (content hash, title, chunks)
        base_tokens = TokenIds.load(live / "bm25")
    except (IndexCorruptError, ValueError, OSError) as exc:
        log.warning("The live build cannot be extended (%s); building afresh.", exc)
        return None

    documents, skipped = load_files(new_paths)
    hashes = {sha256 for sha256, _, _ in known.values()}
    if any(d.doc_id in known or d.sha256 in hashes for d in documents):
        return None  # a full build decides which of the two copies it keeps
    counts = {name: int(manifest["counts"][name]) for name in ("documents", "chunks", "sentences")}  # type: ignore[index]
    if base_tokens.passages != counts["chunks"]:
        return None
    chunked = parts.chunk_documents(documents, settings, progress)
    new_chunks = sum(len(cd.chunks) for _, cd in chunked)
    new_sentences = sum(len(cd.sentences) for _, cd in chunked)
    total = counts["chunks"] + new_chunks
    composed = manifest.get("passage_vectors") == "composed"
    if composed != parts.composes(total, encoder) or manifest.get("faiss") != kind_of(total):
        return None  # the full build of this corpus is made another way

    home = index_home(settings)
    build_name, tmp = new_build_folder(home)
    try:
        added_sentences = tmp / ".added_sentence_vectors.npy"
        cache = parts.embedding_cache(settings, encoder)
        passage_vectors = parts.embed_chunked(settings, encoder, cache, chunked, composed, added_sentences, progress)
        _append_rows(live / "sentence_vectors.npy", added_sentences, tmp / "sentence_vectors.npy")
        added_sentences.unlink()

        if progress:
            progress("FAISS index", 0, 1)
        faiss_index = read_faiss(live / "vectors.faiss", mmap=False)
        if len(passage_vectors):
            faiss_index.add(np.ascontiguousarray(passage_vectors, dtype=np.float32))
        write_faiss(faiss_index, tmp / "vectors.faiss")
        chunk_counts = {doc_id: chunks for doc_id, (_, _, chunks) in known.items()}
        chunk_counts.update((doc.doc_id, len(cd.chunks)) for doc, cd in chunked)
        parts.save_centroids(tmp, VectorSearch(faiss_index), chunk_counts)
        del faiss_index, passage_vectors
        if progress:
            progress("FAISS index", 1, 1)

        tokens = TokenIds.from_tokens(parts.passage_tokens(chunked, settings.passage_context, progress), base_tokens)
        lexical = LexicalIndex.build_from_ids(tokens)
        lexical.save(tmp / "bm25")
        terms = vocabulary_terms(lexical.vocabulary())
        parts.save_terms(tmp, terms, _term_vectors(cache, encoder, live, terms, progress))
        titles = {doc_id: title for doc_id, (_, title, _) in known.items()} | {d.doc_id: d.title for d in documents}
        parts.save_title_vectors(tmp, cache, encoder, titles, progress)

        shutil.copyfile(live / "passages.jsonl", tmp / "passages.jsonl")
        with (tmp / "passages.jsonl").open("a", encoding="utf-8") as out:
            parts.write_records(out, chunked)

        recorded = manifest.get("skipped")
        previous = [SkippedFile(**entry) for entry in recorded] if isinstance(recorded, list) else []
        folder = parts.finish_build(
            home,
            build_name,
            tmp,
            settings,
            encoder,
            skipped=previous + skipped,
            counts={
                "documents": counts["documents"] + len(documents),
                "chunks": total,
                "sentences": counts["sentences"] + new_sentences,
            },
            composed=composed,
            faiss_kind=kind_of(total),
            started=started,
            corpus=corpus,
            extra={"extended_from": live.name, "extended_with": len(documents)},
            base_table=base_table,
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("Extended %s with %d documents into %s.", live.name, len(documents), folder.name)
    return folder, previous + skipped


def _added_paths(manifest: dict[str, object], corpus: list[dict[str, object]]) -> list[Path]:
    """The files of ``corpus`` new since the build; none when any indexed file changed or went away."""
    indexed = manifest.get("corpus")
    if not isinstance(indexed, list):
        return []
    now = {str(entry["path"]): entry for entry in corpus}
    for entry in indexed:
        if not isinstance(entry, dict) or now.get(str(entry.get("path"))) != entry:
            return []
    before = {str(entry["path"]) for entry in indexed}
    return [Path(path) for path in sorted(now) if path not in before]


def _indexed_documents(store: Path, table: PassageTable | None) -> dict[str, tuple[str, str, int]]:
    """The id, content hash, title and chunk count of every document of a build's store, in its order.

    With the build's passage table only the document lines are read; without it, every line.
    """
    found: dict[str, tuple[str, str, int]] = {}

    def keep(record: dict[str, object]) -> None:
        found[str(record["doc_id"])] = (str(record["sha256"]), str(record["title"]), int(record["chunks"]))  # type: ignore[call-overload]

    if table is not None:
        with store.open("rb") as data:
            for start, end in zip(*(a.tolist() for a in table.lines_of(DOCUMENT)), strict=True):
                data.seek(start)
                keep(parse_record(data.read(end - start), 0, end - start, "document"))
        return found
    with store.open(encoding="utf-8") as text:
        for line in text:
            if line.startswith('{"type": "document"'):
                keep(json.loads(line))
    return found


def _append_rows(base: Path, added: Path, target: Path) -> None:
    """``target`` = the rows of the ``.npy`` file ``base`` followed by those of ``added``, streamed."""
    old = np.load(base, mmap_mode="r", allow_pickle=False)
    new = np.load(added, mmap_mode="r", allow_pickle=False)
    offset = new_array_file(target, (len(old) + len(new), old.shape[1]))
    fd = os.open(target, os.O_WRONLY)
    try:
        for source, first in ((old, 0), (new, len(old))):
            for start in range(0, len(source), _COPY_BLOCK):
                write_rows(fd, offset, first + start, np.asarray(source[start : start + _COPY_BLOCK]))
                release_pages(source)
    finally:
        os.close(fd)


def _term_vectors(
    cache: EmbeddingCache, encoder: Encoder, live: Path, terms: list[str], progress: ProgressFn | None
) -> np.ndarray:
    """Vectors of ``terms``: the live build's for the words it had, the encoder's (cached) for new ones."""
    old_terms = json.loads((live / "terms.json").read_text(encoding="utf-8"))
    old_vectors = np.load(live / "term_vectors.npy", mmap_mode="r", allow_pickle=False)
    row_of = {term: row for row, term in enumerate(old_terms)}
    vectors = np.empty((len(terms), old_vectors.shape[1]), dtype=np.float32)
    missing = [i for i, term in enumerate(terms) if term not in row_of]
    known = [i for i, term in enumerate(terms) if term in row_of]
    vectors[known] = old_vectors[[row_of[terms[i]] for i in known]]
    if missing:
        vectors[missing] = cache.embed(encoder, [terms[i] for i in missing], progress, "embed vocabulary")
    return vectors
