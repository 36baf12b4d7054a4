"""The index on Milvus: a build published into a collection, searched by vector, BM25 and filters.

The one module that imports pymilvus (``pip install 'policyqa[milvus]'``). One client
API serves milvus-lite (a file, embedded in this process: tests and one machine) and
Milvus Standalone or Distributed (a server): ``POLICYQA_STORE`` names which.

    milvus://HOST[:PORT][/DATABASE]         a Milvus server over plain gRPC (port 19530 by default)
    milvus+https://HOST[:PORT][/DATABASE]   the same over TLS
    milvus-lite:PATH.db, or PATH.db         a milvus-lite file (created when missing)

A collection holds one build: per chunk its row in the build (the primary key), chunk
id, document id, kind, region, year, the chunk vector the build already computed (read
back from FAISS, never encoded again) and the chunk's BM25 tokens, cut by
``lexical.tokenize`` exactly as the local BM25 index cuts them and joined by spaces.
Milvus's BM25 function scores that text through its jieba analyzer in exact mode, which
leaves a jieba word whole, so both stores weigh the same words (documents and
questions pass the same analyzer, so a word it did split would still match itself).
Milvus has no synonym sets: an English question's renderings of one phrase go to it as
separate words, as they did to the local index before structured queries.
The collection is named by the index's configuration and build, so publishing the same
build again writes nothing, and a new build goes into a new collection before the old
one is dropped: a reader never sees a half-written collection under the current name.

The passage store (texts, sentences, sentence vectors) stays in the local build: Milvus
serves the candidate search, the retriever scores and merges as it always does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import ConfigError, StoreError
from ..index import LoadedIndex
from ..lexical import flat_tokens, jieba_module, tokenize
from ..types import SearchFilter

log = logging.getLogger("policyqa")

DEFAULT_PORT = 19530
COLLECTION_PREFIX = "policyqa_"
# Seconds to wait for a server before saying it cannot be reached.
CONNECT_TIMEOUT = 10.0
# Rows per insert: a few MB of vectors per request, well under gRPC's 64 MB message limit.
INSERT_BATCH = 1000
# Milvus's longest VARCHAR; a chunk's tokens take a few hundred characters.
MAX_TEXT_LENGTH = 65_535
# Document ids are file names; in UTF-8 a Chinese character takes three bytes.
MAX_NAME_BYTES = 2048
# bm25s's defaults (the local index), so both stores weigh term frequency and length alike.
BM25_K1 = 1.5
BM25_B = 0.75
# Exact mode is jieba.cut, what lexical.tokenize uses; Milvus's default, search mode, adds sub-words.
ANALYZER = {"tokenizer": {"type": "jieba", "mode": "exact", "hmm": True}}
RANKERS = ("rrf", "weighted")
RRF_K = 60

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as exc:
        raise ImportError("Milvus is not available - install it with: pip install 'policyqa[milvus]'") from exc
    return pymilvus


@dataclass(frozen=True)
class StoreAddress:
    """Where a store lives: the URI the client gets, the database, and a label for messages."""

    uri: str
    database: str
    lite: bool

    @property
    def label(self) -> str:
        return f"milvus-lite file {self.uri}" if self.lite else f"Milvus at {self.uri}"


def parse_store(value: str) -> StoreAddress:
    """The address a ``POLICYQA_STORE`` value names; a value it cannot use is a ``ConfigError`` naming it."""
    if value.startswith("milvus-lite:") or (value.endswith(".db") and "://" not in value):
        path = value.removeprefix("milvus-lite:")
        if not path.endswith(".db") or len(path) <= 3:
            raise ConfigError(f"A milvus-lite store is a file ending in .db. Currently, it is {value!r}.")
        return StoreAddress(path, "", lite=True)
    parts = urlsplit(value)
    schemes = {"milvus": "http", "milvus+https": "https"}
    if parts.scheme not in schemes:
        forms = "milvus://HOST:PORT or milvus+https://HOST:PORT"
        raise ConfigError(f"A Milvus store is {forms}. Currently, it is {value!r}.")
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and reports; this release talks to servers without them.
        raise ConfigError("A Milvus store URL cannot carry a user or password (not supported yet).")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(f"The Milvus store {value!r} has no valid port.") from exc
    if not parts.hostname:
        raise ConfigError(f"The Milvus store {value!r} names no host.")
    database = parts.path.strip("/")
    if "/" in database or parts.query or parts.fragment:
        raise ConfigError(f"A Milvus store URL is milvus://HOST:PORT/DATABASE at most. Currently, it is {value!r}.")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return StoreAddress(f"{schemes[parts.scheme]}://{host}:{port}", database, lite=False)


def collection_name(index: LoadedIndex) -> str:
    """The collection of a build: the index configuration (its folder) and the build's name, hashed."""
    configuration = hashlib.sha256(index.folder.parent.name.encode()).hexdigest()[:12]
    build = hashlib.sha256(index.generation.encode()).hexdigest()[:12]
    return f"{COLLECTION_PREFIX}{configuration}_{build}"


def filter_expression(where: SearchFilter | None, documents: Sequence[str] | None = None) -> str:
    """A Milvus boolean expression admitting what ``where`` admits, within ``documents`` when given.

    Strings are written as JSON string literals, whose escapes Milvus's expressions read,
    so a quote in a document id cannot end the literal.
    """
    parts = []
    if documents is not None:
        parts.append(f"doc_id in {_literals(documents)}")
    if where is not None:
        if where.doc_ids:
            parts.append(f"doc_id in {_literals(where.doc_ids)}")
        if where.kinds:
            parts.append(f"kind in {_literals(where.kinds)}")
        if where.regions:
            parts.append(f"region in {_literals(where.regions)}")
        if where.year_from is not None or where.year_to is not None:
            parts.append("year > 0")  # 0 stands for a document that states no year, which a year filter excludes
        if where.year_from is not None:
            parts.append(f"year >= {int(where.year_from)}")
        if where.year_to is not None:
            parts.append(f"year <= {int(where.year_to)}")
    return " and ".join(parts)


def _literals(values: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in values) + "]"


class MilvusStore:
    """Candidate rows from a Milvus collection; satisfies ``CandidateStore``.

    Example:
        >>> store = MilvusStore.connect("milvus-lite:var/policyqa.db")
        >>> store.publish(assistant.index); store.attach(assistant.index)
    """

    def __init__(self, client: Any, address: StoreAddress) -> None:
        self._client = client
        self.address = address
        self._name: str | None = None

    @classmethod
    def connect(cls, store: str) -> MilvusStore:
        """A client for the store that ``store`` names; a server that cannot be reached is a ``StoreError``."""
        address = parse_store(store)
        pymilvus = _pymilvus()
        if address.lite:
            # milvus-lite runs in this process and cuts text with this process's jieba; lexical
            # points jieba's dictionary cache at a private folder, which must happen before
            # jieba first loads, rather than at the shared temporary folder (lexical.jieba_module).
            jieba_module()
            Path(address.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = pymilvus.MilvusClient(uri=address.uri, db_name=address.database, timeout=CONNECT_TIMEOUT)
        except pymilvus.MilvusException as exc:
            raise StoreError(f"The {address.label} cannot be reached ({exc.message}).") from exc
        return cls(client, address)

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """Milvus's errors as ``StoreError`` naming the store and the step."""
        try:
            yield
        except _pymilvus().MilvusException as exc:
            raise StoreError(f"The {self.address.label} failed to {doing} ({exc.message}).") from exc

    # --- writing -------------------------------------------------------------------------------

    def publish(self, index: LoadedIndex) -> bool:
        """Copy the build into its collection unless it is there already; True when it wrote.

        Older builds of the same index configuration are dropped once the new one is
        complete. A collection with fewer rows than the build (an interrupted publish)
        is written again.
        """
        name = collection_name(index)
        with self._calls(f"publish {name}"):
            existing = self._client.has_collection(name)
            if existing and self._rows(name) == len(index.chunks):
                self._drop_older(name)
                return False
            if existing:
                self._client.drop_collection(name)
            self._create(name, index.chunk_vectors.dimension)
            chunker = index.manifest.get("chunker")
            context = str(chunker.get("passage_context", "none")) if isinstance(chunker, dict) else "none"
            for start in range(0, len(index.chunks), INSERT_BATCH):
                rows = range(start, min(start + INSERT_BATCH, len(index.chunks)))
                self._client.insert(name, _records(index, rows, context))
            # Sealed and indexed now, so the first search sees every row and corpus-wide BM25 statistics.
            self._client.flush(name)
            self._drop_older(name)
        log.info("Published %d chunks to %s in the %s.", len(index.chunks), name, self.address.label)
        return True

    def _create(self, name: str, dimension: int) -> None:
        pymilvus = _pymilvus()
        data_type = pymilvus.DataType
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", data_type.INT64, is_primary=True)
        # A chunk id is its document id, "#" and a digest.
        schema.add_field("chunk_id", data_type.VARCHAR, max_length=MAX_NAME_BYTES + 64)
        schema.add_field("doc_id", data_type.VARCHAR, max_length=MAX_NAME_BYTES)
        schema.add_field("kind", data_type.VARCHAR, max_length=64)
        schema.add_field("region", data_type.VARCHAR, max_length=64)
        schema.add_field("year", data_type.INT64)
        schema.add_field(
            "text", data_type.VARCHAR, max_length=MAX_TEXT_LENGTH, enable_analyzer=True, analyzer_params=ANALYZER
        )
        schema.add_field("sparse", data_type.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=dimension)
        schema.add_function(
            pymilvus.Function(
                name="bm25",
                function_type=pymilvus.FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        indexes = self._client.prepare_index_params()
        # The local store searches exactly below 20,000 chunks and by HNSW above; AUTOINDEX lets
        # a server choose, milvus-lite maps it to its exact search.
        indexes.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        indexes.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
        for field in ("doc_id", "kind", "region", "year"):
            indexes.add_index(field, index_type="INVERTED")
        self._client.create_collection(name, schema=schema, index_params=indexes, consistency_level="Strong")

    def _drop_older(self, keep: str) -> None:
        """Drop the other builds of ``keep``'s index configuration."""
        configuration = keep.rsplit("_", 1)[0] + "_"
        for name in self._client.list_collections():
            if name.startswith(configuration) and name != keep:
                self._client.drop_collection(name)

    def _rows(self, name: str) -> int:
        return int(self._client.get_collection_stats(name).get("row_count", 0))

    # --- reading -------------------------------------------------------------------------------

    def attach(self, index: LoadedIndex) -> None:
        """Search the collection of ``index``'s build from now on; a ``StoreError`` if it was never published."""
        name = collection_name(index)
        with self._calls(f"open {name}"):
            if not self._client.has_collection(name) or self._rows(name) != len(index.chunks):
                raise StoreError(
                    f"The {self.address.label} holds no complete copy of the build {index.generation}; "
                    "run `policyqa index` with this POLICYQA_STORE to publish it."
                )
            self._client.load_collection(name)
        self._name = name

    @property
    def collection(self) -> str:
        if self._name is None:
            raise StoreError("No build is attached to this Milvus store; call attach(index) first.")
        return self._name

    def count(self) -> int:
        with self._calls("count rows"):
            return self._rows(self.collection)

    def dense(
        self, vector: np.ndarray, k: int, where: SearchFilter | None, documents: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or (documents is not None and not documents):
            return _EMPTY
        return self._search("vector", [np.asarray(vector, dtype=np.float32).tolist()], k, where, documents)

    def lexical(
        self, tokens: Sequence[str], k: int, where: SearchFilter | None, documents: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if k <= 0 or not tokens or (documents is not None and not documents):
            return _EMPTY
        rows, scores = self._search("sparse", [" ".join(flat_tokens(tokens))], k, where, documents)
        keep = scores > 0
        return rows[keep], scores[keep]

    def lexical_scores(self, tokens: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        out = np.zeros(len(rows), dtype=np.float32)
        if not tokens or not len(rows):
            return out
        wanted = [int(r) for r in rows]
        found, scores = self._search(
            "sparse", [" ".join(flat_tokens(tokens))], len(set(wanted)), None, None, rows=wanted
        )
        score_of = dict(zip(found.tolist(), scores.tolist(), strict=True))
        for i, row in enumerate(wanted):
            out[i] = score_of.get(row, 0.0)
        return out

    def hybrid(
        self,
        vector: np.ndarray,
        tokens: Sequence[str],
        k: int,
        where: SearchFilter | None = None,
        ranker: str = "rrf",
        weights: tuple[float, float] = (0.7, 0.3),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and fused scores of Milvus's own hybrid search: dense and BM25 fused by RRF or weights.

        For a client that wants Milvus to fuse (one request, no local build); the
        retriever fuses itself, with the best sentence and document cues Milvus lacks.
        """
        if ranker not in RANKERS:
            raise ConfigError(f"ranker must be one of {', '.join(RANKERS)}. Currently, it is {ranker!r}.")
        pymilvus = _pymilvus()
        expression = filter_expression(where)
        requests = [
            pymilvus.AnnSearchRequest(
                data=[np.asarray(vector, dtype=np.float32).tolist()],
                anns_field="vector",
                param={"metric_type": "IP"},
                limit=k,
                expr=expression or None,
            )
        ]
        if tokens:
            requests.append(
                pymilvus.AnnSearchRequest(
                    data=[" ".join(flat_tokens(tokens))],
                    anns_field="sparse",
                    param={},
                    limit=k,
                    expr=expression or None,
                )
            )
        fuse = pymilvus.RRFRanker(RRF_K) if ranker == "rrf" else pymilvus.WeightedRanker(*weights[: len(requests)])
        with self._calls("run a hybrid search"):
            found = self._client.hybrid_search(self.collection, requests, ranker=fuse, limit=k, output_fields=["row"])
        return _rows_and_scores(found)

    def _search(
        self,
        field: str,
        data: list[Any],
        k: int,
        where: SearchFilter | None,
        documents: Sequence[str] | None,
        rows: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        expression = filter_expression(where, documents)
        if rows is not None:
            expression = f"row in [{', '.join(str(int(r)) for r in rows)}]"
        params = {"metric_type": "IP"} if field == "vector" else {"metric_type": "BM25"}
        with self._calls(f"search {field}"):
            found = self._client.search(
                self.collection,
                data=data,
                anns_field=field,
                limit=k,
                filter=expression,
                output_fields=["row"],
                search_params=params,
            )
        rows_found, scores = _rows_and_scores(found)
        if field == "sparse":
            # Milvus reports BM25 as a score, milvus-lite as its negation (a distance, smaller
            # is better); a BM25 score is never negative, so its magnitude is the score in both.
            scores = np.abs(scores)
        return rows_found, scores


def _rows_and_scores(found: Any) -> tuple[np.ndarray, np.ndarray]:
    hits = found[0] if found else []
    rows = np.asarray([int(hit["entity"]["row"]) for hit in hits], dtype=np.int64)
    scores = np.asarray([float(hit["distance"]) for hit in hits], dtype=np.float32)
    return rows, scores


def _records(index: LoadedIndex, rows: range, context: str) -> list[dict[str, object]]:
    """The collection's records of ``rows``: ids, filter fields, BM25 tokens and the stored chunk vectors."""
    vectors = index.chunk_vectors.reconstruct(np.arange(rows.start, rows.stop, dtype=np.int64))
    records = []
    for row, vector in zip(rows, vectors, strict=True):
        chunk = index.chunks[row]
        document = index.documents[chunk.doc_id]
        year = document.metadata.get("year")
        records.append(
            {
                "row": row,
                "chunk_id": chunk.chunk_id,
                "doc_id": chunk.doc_id,
                "kind": document.kind,
                "region": str(document.metadata.get("region") or ""),
                "year": year if isinstance(year, int) and not isinstance(year, bool) else 0,
                "text": " ".join(tokenize(chunk.retrieval_text(context)))[:MAX_TEXT_LENGTH],
                "vector": vector.astype(np.float32).tolist(),
            }
        )
    return records
