"""Chunking stage: sentences and passages with exact source spans.

Passages never cross a section (a heading of the paper, an article of a law) and
end on sentence boundaries (。！？；). Each passage records its section path and
the character spans of the source it quotes; its text is those spans joined,
so it differs from the source only by whitespace and removed page-break
artefacts. Ids hash the passage text, so they survive edits elsewhere in a file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from .clean import Block, clean
from .documents import Document

SECTION_SEPARATOR = " > "
# Bumped whenever cleaning or chunking rules change, so that indexes cut by the
# old rules are rebuilt instead of silently reused.
CHUNKER_VERSION = 5  # 5: articles numbered past a thousand (第一千零四十条, the Civil Code's later books)
_SENTENCE_END = re.compile(r"[。！？；!?;]+[”’」』）)\]]*")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a block, with the source spans it covers."""

    doc_id: str
    block: int
    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Chunk:
    """A passage: consecutive sentences of one section, quoted verbatim."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    kind: str
    text: str
    char_start: int
    char_end: int
    spans: tuple[tuple[int, int], ...]
    sentence_start: int  # index into the document's sentence list
    sentence_end: int  # exclusive

    def retrieval_text(self, context: str = "section") -> str:
        """What the encoders and BM25 see: the passage, optionally under its headings and title.

        Headings carry the topic ("合肥模式", "第四十五条") that a passage's own
        sentences often leave implicit; the cited text stays the verbatim passage.
        """
        if context == "none":
            return self.text
        parts = self.section.split(SECTION_SEPARATOR)[-2:]
        if context == "title+section":
            parts.insert(0, self.title)
        return "\n".join([*parts, self.text])


@dataclass(frozen=True)
class ChunkedDocument:
    """The sentences and passages of one document."""

    doc_id: str
    sentences: tuple[Sentence, ...]
    chunks: tuple[Chunk, ...]


def _block_offsets(block: Block) -> list[int]:
    """Source offset of every character of the block's text."""
    offsets: list[int] = []
    for start, end in block.spans:
        offsets.extend(range(start, end))
    return offsets


def _spans_of(offsets: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Collapse a run of source offsets into contiguous (start, end) spans."""
    spans: list[tuple[int, int]] = []
    for pos in offsets:
        if spans and spans[-1][1] == pos:
            spans[-1] = (spans[-1][0], pos + 1)
        else:
            spans.append((pos, pos + 1))
    return tuple(spans)


def split_sentences(text: str, max_chars: int) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each sentence of ``text``, without surrounding whitespace.

    A sentence longer than ``max_chars`` (a run of text with no punctuation) is
    cut into pieces of ``max_chars`` so that no passage grows without bound.
    """
    start = 0
    bounds = [m.end() for m in _SENTENCE_END.finditer(text)]
    if not bounds or bounds[-1] != len(text):
        bounds.append(len(text))
    for end in bounds:
        while start < end and text[start].isspace():
            start += 1
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        while stop - start > max_chars:
            yield start, start + max_chars
            start += max_chars
            while start < stop and text[start].isspace():
                start += 1
        if stop > start:
            yield start, stop
        start = end


def sentences_of(doc_id: str, block_index: int, block: Block, max_chars: int) -> list[Sentence]:
    """The sentences of one block, each mapped back to the source."""
    offsets = _block_offsets(block)
    return [
        Sentence(doc_id, block_index, block.text[a:b], _spans_of(offsets[a:b]))
        for a, b in split_sentences(block.text, max_chars)
    ]


def join_sentences(sentences: Sequence[Sentence]) -> str:
    """Passage text of consecutive sentences: a line break between paragraphs, nothing within one."""
    parts: list[str] = []
    for i, sentence in enumerate(sentences):
        if i and sentence.block != sentences[i - 1].block:
            parts.append("\n")
        parts.append(sentence.text)
    return "".join(parts)


def _windows(lengths: Sequence[int], max_chars: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Greedy sentence windows of at most ``max_chars`` that overlap by ``overlap`` sentences."""
    n = len(lengths)
    start = 0
    while start < n:
        end, size = start, 0
        while end < n and (end == start or size + lengths[end] <= max_chars):
            size += lengths[end]
            end += 1
        yield start, end
        if end >= n:
            return
        start = max(start + 1, end - overlap)


def chunk_document(doc: Document, chunk_chars: int, overlap_sentences: int) -> ChunkedDocument:
    """Clean a document and cut it into passages."""
    blocks = clean(doc)
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    indexed = [(i, b) for i, b in enumerate(blocks) if b.kind != "heading"]
    for (kind, section), group in groupby(indexed, key=lambda ib: (ib[1].kind, ib[1].section)):
        first = len(sentences)
        for block_index, block in group:
            sentences.extend(sentences_of(doc.doc_id, block_index, block, chunk_chars))
        group_sentences = sentences[first:]
        lengths = [len(s.text) for s in group_sentences]
        for a, b in _windows(lengths, chunk_chars, overlap_sentences):
            window = group_sentences[a:b]
            text = join_sentences(window)
            spans = tuple(span for s in window for span in s.spans)
            digest = hashlib.sha1(f"{section}\n{text}".encode()).hexdigest()[:10]
            chunk_id = f"{doc.doc_id}#{digest}"
            suffix = 1
            while chunk_id in seen_ids:  # identical passages in one document
                suffix += 1
                chunk_id = f"{doc.doc_id}#{digest}-{suffix}"
            seen_ids.add(chunk_id)
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=SECTION_SEPARATOR.join(section),
                    kind=kind,
                    text=text,
                    char_start=spans[0][0],
                    char_end=spans[-1][1],
                    spans=spans,
                    sentence_start=first + a,
                    sentence_end=first + b,
                )
            )
    return ChunkedDocument(doc.doc_id, tuple(sentences), tuple(chunks))
