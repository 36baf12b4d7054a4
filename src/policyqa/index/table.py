"""The passage table: where each record of ``passages.jsonl`` lies, and what a search reads of every passage.

A search needs, for every one of the library's 158,000 passages, only its document, section,
kind and sentence rows (and its id, to find a cited passage again); the text of a passage is
read for the few dozen candidates of a question. Parsing every passage line for those columns
took ~3 s of a cold start, so a build writes them once, beside the store, as plain ``.npy``
arrays in ``table/`` (memory-mapped when loaded, never pickled), together with the byte range
of every line. The loader then parses only the documents' lines; a passage or a sentence is
parsed from its line when it is read (:class:`ChunkRecords`, :class:`SentenceRecords`).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, overload

import numpy as np
import orjson

from ..articles import article_of
from ..chunk import Chunk, Sentence
from ..errors import IndexCorruptError

T = TypeVar("T")
TABLE_FOLDER = "table"
DOCUMENT, SENTENCE, PASSAGE = (ord(c) for c in "dsp")
# Every line opens with ``{"type": "`` and the first letter of its type.
_TYPE_AT = len('{"type": "')
# The table's arrays: name -> (dtype kind, dimensions).
TABLE_ARRAYS = {
    "lines": ("i", 2),  # start and end byte of every line (its newline excluded)
    "line_types": ("u", 1),  # D, S or P by line
    "passages": ("i", 2),  # per passage: document, section, kind, first and end sentence, article number
    "chunk_order": ("i", 1),  # the passages in the order of their ids, to find one by its id
    # Strings as UTF-8 bytes: a quarter of numpy's UTF-32 for the ASCII ids.
    "chunk_ids": ("S", 1),
    "sections": ("S", 1),  # every distinct section, indexed by the passages' column
    "kinds": ("S", 1),
}
_SCAN_BLOCK = 64 << 20
_COLUMNS = 6
_DOCUMENT_COLUMN, _SECTION_COLUMN, _KIND_COLUMN, _START_COLUMN, _END_COLUMN, _ARTICLE_COLUMN = range(_COLUMNS)


@dataclass(frozen=True)
class PassageTable:
    """The lines of a store and the per-passage columns, as arrays.

    ``doc`` is a passage's document as its position among the store's document lines.
    """

    lines: np.ndarray
    line_types: np.ndarray
    passages: np.ndarray
    chunk_order: np.ndarray
    chunk_ids: np.ndarray
    sections: np.ndarray
    kinds: np.ndarray

    @property
    def doc(self) -> np.ndarray:
        return self.passages[:, _DOCUMENT_COLUMN]

    @property
    def section(self) -> np.ndarray:
        return self.passages[:, _SECTION_COLUMN]

    @property
    def kind(self) -> np.ndarray:
        return self.passages[:, _KIND_COLUMN]

    @property
    def sentence_start(self) -> np.ndarray:
        return self.passages[:, _START_COLUMN]

    @property
    def sentence_end(self) -> np.ndarray:
        return self.passages[:, _END_COLUMN]

    @property
    def article(self) -> np.ndarray:
        """The number of the article a passage's section ends in (第二十三条 → 23), 0 for none."""
        return self.passages[:, _ARTICLE_COLUMN]

    def row_of(self, chunk_id: str) -> int | None:
        """The row of the passage with this id, or None."""
        key = chunk_id.encode("utf-8")
        at = int(np.searchsorted(self.chunk_ids, key, sorter=self.chunk_order))
        if at < len(self.chunk_order) and self.chunk_ids[self.chunk_order[at]] == key:
            return int(self.chunk_order[at])
        return None

    def chunk_id_list(self) -> list[str]:
        return _decoded(self.chunk_ids)

    def section_list(self) -> list[str]:
        return _decoded(self.sections)

    def of_kind(self, kind: str) -> np.ndarray:
        """Whether each passage is of ``kind`` (body, front_matter …)."""
        return self.kinds[self.kind] == kind.encode("utf-8")

    def lines_of(self, line_type: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end bytes of the lines of one type, in file order."""
        chosen = self.lines[self.line_types == line_type]
        return chosen[:, 0], chosen[:, 1]

    @classmethod
    def scan(cls, data: mmap.mmap | bytes, base: PassageTable | None = None) -> PassageTable:
        """The table of a store's bytes: every line found, the passage lines parsed (a build's one pass).

        With ``base``, the table of the store's first bytes (an extended build's store is the
        live one with lines appended), only the bytes after it are read.
        """
        offset = int(base.lines[-1, 1]) + 1 if base is not None and len(base.lines) else 0
        raw = np.frombuffer(data, dtype=np.uint8)[offset:] if len(data) else np.zeros(0, dtype=np.uint8)
        # By blocks: one comparison over a library's 0.5 GB store would hold as many bytes again.
        ends = np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [np.flatnonzero(raw[at : at + _SCAN_BLOCK] == ord("\n")) + at for at in range(0, len(raw), _SCAN_BLOCK)]
        )
        starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.zeros(0, dtype=np.int64)
        if np.any(ends - starts <= _TYPE_AT):
            raise ValueError("a line is too short to be a record")
        line_types = raw[starts + _TYPE_AT] if len(starts) else np.zeros(0, dtype=np.uint8)
        if not np.isin(line_types, (DOCUMENT, SENTENCE, PASSAGE)).all():
            raise ValueError("a line is no document, sentence or passage record")
        starts, ends = starts + offset, ends + offset

        def lines(line_type: int) -> zip[tuple[int, int]]:
            chosen = line_types == line_type
            return zip(starts[chosen].tolist(), ends[chosen].tolist(), strict=True)

        documents = int(np.sum(base.line_types == DOCUMENT)) if base is not None else 0
        position: dict[str, int] = {}
        for start, end in lines(DOCUMENT):
            position[parse_record(data, start, end, "document")["doc_id"]] = documents + len(position)
        sections = {name: i for i, name in enumerate(base.section_list())} if base is not None else {}
        kinds = {name: i for i, name in enumerate(_decoded(base.kinds))} if base is not None else {}
        articles: dict[str, int] = {}
        columns: list[tuple[int, int, int, int, int, int]] = []
        chunk_ids: list[str] = []
        for start, end in lines(PASSAGE):
            record = parse_record(data, start, end, "passage")
            name = record["section"]
            if (article := articles.get(name)) is None:
                article = articles[name] = article_of(name) or 0
            columns.append(
                (
                    position[record["doc_id"]],
                    sections.setdefault(name, len(sections)),
                    kinds.setdefault(record["kind"], len(kinds)),
                    record["sentence_start"],
                    record["sentence_end"],
                    article,
                )
            )
            chunk_ids.append(record["chunk_id"])
        new_lines = np.stack([starts, ends], axis=1).astype(np.int64) if len(starts) else np.zeros((0, 2), np.int64)
        new_passages = np.asarray(columns, dtype=np.int32).reshape(-1, _COLUMNS)
        if base is not None:
            new_lines = np.concatenate([base.lines, new_lines])
            line_types = np.concatenate([base.line_types, line_types])
            new_passages = np.concatenate([base.passages, new_passages])
            ids = np.concatenate([base.chunk_ids, _strings(chunk_ids)]) if chunk_ids else np.asarray(base.chunk_ids)
        else:
            ids = _strings(chunk_ids)
        return cls(
            lines=new_lines,
            line_types=line_types.astype(np.uint8),
            passages=new_passages,
            chunk_order=np.argsort(ids, kind="stable").astype(np.int32),
            chunk_ids=ids,
            sections=_strings(list(sections)),
            kinds=_strings(list(kinds)),
        )

    @classmethod
    def of_store(cls, path: Path, base: PassageTable | None = None) -> PassageTable:
        """The table of the store file at ``path`` (``base``: that of its first bytes, as in ``scan``)."""
        with path.open("rb") as handle:
            if not path.stat().st_size:
                return cls.scan(b"")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return cls.scan(data, base)

    def save(self, folder: Path) -> None:
        (folder / TABLE_FOLDER).mkdir(exist_ok=True)
        for name in TABLE_ARRAYS:
            np.save(folder / TABLE_FOLDER / f"{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def kept_by(cls, folder: Path, manifest: dict[str, object]) -> PassageTable | None:
        """The table a build kept, or None for a build made before it (or before one of its arrays)."""
        files = manifest.get("files")
        if isinstance(files, dict) and all(f"{TABLE_FOLDER}/{name}.npy" in files for name in TABLE_ARRAYS):
            return cls.load(folder)
        return None

    @classmethod
    def load(cls, folder: Path) -> PassageTable:
        """The table a build wrote, memory-mapped; ValueError when an array has the wrong type or shape."""
        arrays = {}
        for name, (kind, dimensions) in TABLE_ARRAYS.items():
            # Memory-mapped: an array declaring more rows than its file holds is refused, never allocated.
            array = np.asarray(np.load(folder / TABLE_FOLDER / f"{name}.npy", mmap_mode="r", allow_pickle=False))
            if array.dtype.kind != kind or array.ndim != dimensions:
                raise ValueError(f"{TABLE_FOLDER}/{name}.npy holds {array.dtype} in {array.ndim} dimensions")
            arrays[name] = array
        return cls(**arrays)

    def check_lines(self, store_bytes: int) -> None:
        """Refuse (ValueError) a table whose lines are not those of a store of ``store_bytes``.

        Checked at load, before any line is read, so that no record is read from outside its line.
        """
        lines = self.lines
        if lines.shape[1:] != (2,) or len(self.line_types) != len(lines):
            raise ValueError("the line table's arrays do not fit together")
        # The lines cover the file exactly, one after the other: a byte outside them (a line
        # appended to a checksummed store) would be a record nobody checked.
        if len(lines) and (
            lines[0, 0] != 0 or np.any(lines[:, 1] <= lines[:, 0]) or np.any(lines[1:, 0] != lines[:-1, 1] + 1)
        ):
            raise ValueError("the line table's byte ranges do not follow one another")
        if (lines[-1, 1] + 1 if len(lines) else 0) != store_bytes:
            raise ValueError("the line table does not cover passages.jsonl")
        if not np.isin(self.line_types, (DOCUMENT, SENTENCE, PASSAGE)).all():
            raise ValueError("the line table names an unknown record type")

    def check_passages(self, sentence_counts: Sequence[int]) -> None:
        """Refuse (ValueError) passage columns that do not fit the store's documents and their sentence counts."""
        passages = self.passages
        if passages.shape[1:] != (_COLUMNS,) or len(passages) != int(np.sum(self.line_types == PASSAGE)):
            raise ValueError("the passage columns do not match the passage lines")
        if len(self.chunk_ids) != len(passages) or len(self.chunk_order) != len(passages):
            raise ValueError("the passage ids do not match the passage lines")
        order = self.chunk_order
        if len(order) and (
            order.min() < 0
            or order.max() >= len(order)
            or np.any(np.bincount(order, minlength=len(order)) != 1)
            or np.any(self.chunk_ids[order[1:]] < self.chunk_ids[order[:-1]])
        ):
            raise ValueError("the passage ids' order is not a sorting of them")
        counts = np.asarray(sentence_counts, dtype=np.int64)
        if len(counts) != int(np.sum(self.line_types == DOCUMENT)):
            raise ValueError("the table's documents do not match the store's")
        if not len(passages):
            return
        doc, start, end = self.doc, self.sentence_start, self.sentence_end
        if doc.min() < 0 or doc.max() >= len(counts):
            raise ValueError("a passage names a document outside the store")
        for column, size in ((self.section, len(self.sections)), (self.kind, len(self.kinds))):
            if column.min() < 0 or column.max() >= size:
                raise ValueError("a passage's section or kind lies outside the table")
        if np.any(start < 0) or np.any(end < start) or np.any(end > counts[doc]):
            raise ValueError("a passage's sentences lie outside its document")


class LineRecords(Sequence[T]):
    """Records of one type on lines of a memory-mapped ``passages.jsonl``, each parsed when it is read.

    A question reads its candidates several times (scoring, merging, citing); the last few
    thousand parsed are kept.
    """

    CACHE_SIZE = 4096
    RECORD_TYPE = ""

    def __init__(self, data: mmap.mmap | bytes, starts: np.ndarray, ends: np.ndarray) -> None:
        self._data = data
        self._starts = starts
        self._ends = ends
        self._cache: dict[int, T] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, row: int) -> T: ...

    @overload
    def __getitem__(self, row: slice) -> list[T]: ...

    def __getitem__(self, row: int | slice) -> T | list[T]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        if (found := self._cache.get(row)) is not None:
            return found
        record = parse_record(self._data, int(self._starts[row]), int(self._ends[row]), self.RECORD_TYPE)
        try:
            made = self._made(record)
        except (KeyError, TypeError) as exc:  # checksummed, so a foreign index's
            raise IndexCorruptError(
                f"passages.jsonl: {self.RECORD_TYPE} {row} is no {self.RECORD_TYPE} record ({exc})."
            ) from exc
        with self._lock:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[row] = made
        return made

    def _made(self, record: dict) -> T:  # type: ignore[type-arg]
        raise NotImplementedError


class ChunkRecords(LineRecords[Chunk]):
    """The passages of a store, parsed when read."""

    RECORD_TYPE = "passage"

    def _made(self, record: dict) -> Chunk:  # type: ignore[type-arg]
        record["spans"] = tuple(tuple(s) for s in record["spans"])
        return Chunk(**record)


class SentenceRecords(LineRecords[Sentence]):
    """The sentences of a store, parsed when read."""

    RECORD_TYPE = "sentence"

    def _made(self, record: dict) -> Sentence:  # type: ignore[type-arg]
        return Sentence(
            doc_id=record["doc_id"],
            block=record["block"],
            text=record["text"],
            spans=tuple(tuple(span) for span in record["spans"]),
        )


def parse_record(data: mmap.mmap | bytes, start: int, end: int, record_type: str) -> dict:  # type: ignore[type-arg]
    """The record of one line, without its type, which must be ``record_type``."""
    try:
        record = orjson.loads(data[start:end])
    except orjson.JSONDecodeError as exc:
        raise IndexCorruptError(f"passages.jsonl: the line at byte {start} is not JSON ({exc}).") from exc
    if not isinstance(record, dict) or record.pop("type", None) != record_type:
        raise IndexCorruptError(f"passages.jsonl: the line at byte {start} is no {record_type} record.")
    return record


def _strings(values: list[str]) -> np.ndarray:
    return np.asarray([v.encode("utf-8") for v in values], dtype=bytes) if values else np.zeros(0, dtype="S1")


def _decoded(values: np.ndarray) -> list[str]:
    return [v.decode("utf-8") for v in values.tolist()]
