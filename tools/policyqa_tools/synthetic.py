"""A synthetic corpus: the real corpus's sentences resampled with a fixed seed to a given number of passages.

Real words and sentence lengths, new passages: large enough to measure an index of
100,000 passages when the shipped corpus holds a few hundred.

The count of passages is the chunker's own, which only the core's internals give today:
``policyqa.documents`` (``load_corpus``, ``Document``) and ``policyqa.chunk.chunk_document``.
They are used in this module and nowhere else in the tools.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from policyqa import Passage, Settings

SYNTHETIC_SEED = 20_260_501
PASSAGES_PER_FILE = 1_000
PARAGRAPHS_PER_SECTION = 20
MIN_SENTENCE_CHARS = 8


def real_sentences(corpus_dirs: Sequence[Path]) -> list[str]:
    """The distinct body sentences of the corpus (no headings, no short fragments), sorted."""
    from policyqa.chunk import chunk_document
    from policyqa.documents import load_corpus

    settings = Settings()
    documents, _ = load_corpus(corpus_dirs)
    texts: set[str] = set()
    for doc in documents:
        chunked = chunk_document(doc, settings.chunk_chars, settings.chunk_overlap_sentences)
        body_rows = {r for c in chunked.chunks if c.kind == "body" for r in range(c.sentence_start, c.sentence_end)}
        texts.update(chunked.sentences[r].text for r in sorted(body_rows))
    return sorted(t for t in texts if len(t) >= MIN_SENTENCE_CHARS and not t.startswith("#"))


def _passages_in(doc_id: str, title: str, text: str, settings: Settings) -> int:
    """How many passages the index's chunker cuts from one Markdown text."""
    from policyqa.chunk import chunk_document
    from policyqa.documents import Document

    doc = Document(doc_id=doc_id, title=title, path=f"{doc_id}.md", text=text, sha256="")
    return len(chunk_document(doc, settings.chunk_chars, settings.chunk_overlap_sentences).chunks)


def synthetic_corpus(
    corpus_dirs: Sequence[Path], folder: Path, chunks: int, seed: int = SYNTHETIC_SEED
) -> dict[str, int]:
    """Write Markdown files of real sentences, resampled with a fixed seed, until they hold ``chunks`` passages.

    Each file is a title, sections of twenty paragraphs, paragraphs of two to six
    sentences drawn at random. Sections are chunked as they are written (passages
    never cross a section), so the count is the index's own.

    Returns:
        ``files``, ``passages`` (a little above ``chunks``), ``source_sentences`` and ``sentences_written``.

    Raises:
        ValueError: the corpus has no sentence to resample.
    """
    settings = Settings()
    sentences = real_sentences(corpus_dirs)
    if not sentences:
        raise ValueError(f"the corpus {', '.join(str(p) for p in corpus_dirs)} has no sentence to resample")
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = files = sentence_count = 0
    while total <= chunks:
        files += 1
        doc_id = f"synthetic-{files:04d}"
        title = f"合成语料第{files:04d}号"
        lines = [f"# {title}", ""]
        file_chunks = 0
        section = 0
        while file_chunks < PASSAGES_PER_FILE and total + file_chunks <= chunks:
            section += 1
            part = [f"## 第{section}部分", ""]
            for _ in range(PARAGRAPHS_PER_SECTION):
                paragraph = [rng.choice(sentences) for _ in range(rng.randint(2, 6))]
                sentence_count += len(paragraph)
                part += ["".join(paragraph), ""]
            file_chunks += _passages_in(doc_id, title, "\n".join([f"# {title}", "", *part]), settings)
            lines += part
        (folder / f"{doc_id}.md").write_text("\n".join(lines), encoding="utf-8")
        total += file_chunks
    return {"files": files, "passages": total, "source_sentences": len(sentences), "sentences_written": sentence_count}


def baseline_chunks(corpus_dirs: Sequence[Path]) -> list[Passage]:
    """The LangChain baseline's chunks of a corpus (``policyqa.compare.langchain_passages``), not embedded."""
    from policyqa.compare import langchain_passages
    from policyqa.documents import load_corpus

    documents, _ = load_corpus(corpus_dirs)
    return langchain_passages(documents)
