"""The manifest: what a build was made from and of, and whether it fits this configuration.

It records the encoder, the chunker, the format, the corpus files' hashes, the
policyqa version, counts and a SHA-256 of every index file (txtai's
``config.json`` plays the same part).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from contextlib import suppress
from pathlib import Path

from ..chunk import CHUNKER_VERSION
from ..documents import list_corpus_files
from ..embed import Encoder
from ..errors import IndexCorruptError, IndexMismatchError
from ..settings import Settings
from ..version import __version__
from .store import index_home

log = logging.getLogger("policyqa")

# 3: counts name "chunks" (was "passages"); documents record "chunks" and their pages.
FORMAT_VERSION = 3
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# The files every build holds besides bm25/ (whose files the manifest lists too).
INDEX_FILES = ("vectors.faiss", "sentence_vectors.npy", "passages.jsonl", "terms.json", "term_vectors.npy")
# Kept by builds since the retriever's per-document vectors were stored; an older build lacks them and is
# still read (the retriever computes them at load).
TITLE_VECTORS_FILE = "title_vectors.npy"
CENTROID_VECTORS_FILE = "centroid_vectors.npy"
# Kept by builds of a vocabulary above ``vectors.EXACT_SEARCH_LIMIT`` words; without it, the words are
# compared with every phrase exactly.
TERM_INDEX_FILE = "term_vectors.faiss"
COUNT_NAMES = ("documents", "chunks", "sentences")
# In the index's fingerprint folder, beside the builds: each corpus file's hash and the stat it was hashed at.
CORPUS_HASHES_FILE = "corpus-hashes.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_stat(path: Path) -> list[int]:
    """Size, mtime, ctime and inode: any write, copy or replacement of the file changes one of them."""
    status = path.stat()
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def read_json_file(path: Path, limit: int = MAX_MANIFEST_BYTES) -> object:
    """The JSON in ``path``; None when it is missing, unreadable, over ``limit`` bytes or not JSON."""
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > limit:
                return None
            data = handle.read(limit + 1)
        return json.loads(data) if len(data) <= limit else None
    except (OSError, ValueError, RecursionError):
        return None


def write_json_file(path: Path, value: object) -> None:
    """Write ``value`` to ``path`` atomically; for caches only, so a failure (a read-only folder) is logged."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("x", encoding="utf-8") as handle:
            json.dump(value, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("%s not written: %s", path, exc)
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def corpus_state(settings: Settings) -> list[dict[str, object]]:
    """Path, size and hash of every corpus file: what decides whether an index is stale.

    Paths are resolved and sorted, as in ``Settings.index_fingerprint``: ``corpus`` and
    ``/abs/corpus`` (or folders in another order) share one index and must not make it stale.
    A file whose size, mtime, ctime and inode are those it was last hashed at is not hashed
    again: its hash comes from ``corpus-hashes.json`` in the index's folder (why a stat is
    enough: ``integrity.verify_files``). A cache that is missing, not ours or cannot be
    written means hashing, never a different result.
    """
    cache_path = index_home(settings) / CORPUS_HASHES_FILE
    cached = read_json_file(cache_path)
    known = cached if isinstance(cached, dict) else {}
    hashed: dict[str, dict[str, object]] = {}
    state: list[dict[str, object]] = []
    folders: dict[Path, str] = {}
    for path in list_corpus_files(settings.corpus_dirs):
        # A folder is resolved once, not once for each of its files (3,500 at the library).
        if path.is_symlink():
            resolved = str(path.resolve())
        else:
            if (folder := folders.get(path.parent)) is None:
                folder = folders[path.parent] = str(path.parent.resolve())
            resolved = os.path.join(folder, path.name)
        try:
            stat = file_stat(path)  # before the hash: a write during it leaves another stat than this one
            entry = known.get(resolved)
            if isinstance(entry, dict) and entry.get("stat") == stat and isinstance(entry.get("sha256"), str):
                digest = entry["sha256"]
            else:
                digest = sha256_file(path)
            hashed[resolved] = {"stat": stat, "sha256": digest}
            size: int | None = stat[0]
        except OSError:  # unreadable: load_corpus skips it with a warning; it changes if it becomes readable
            size, digest = None, None
        state.append({"path": resolved, "bytes": size, "sha256": digest})
    if hashed != known:  # entries of files gone from the corpus go too
        write_json_file(cache_path, hashed)
    return sorted(state, key=lambda entry: str(entry["path"]))


def manifest_base(settings: Settings, encoder: Encoder) -> dict[str, object]:
    return {
        "format_version": FORMAT_VERSION,
        "policyqa_version": __version__,
        "encoder": {"id": encoder.encoder_id, "version": encoder.version, "dimension": encoder.dimension},
        "chunker": {
            "version": CHUNKER_VERSION,
            "chunk_chars": settings.chunk_chars,
            "overlap_sentences": settings.chunk_overlap_sentences,
            "passage_context": settings.passage_context,
        },
    }


def read_manifest(folder: Path) -> dict[str, object]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise IndexCorruptError(f"{path} is missing.")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise IndexCorruptError(f"{path} is larger than {MAX_MANIFEST_BYTES:,} bytes.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is not valid JSON ({exc}).") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{path} is not a JSON object.")
    return manifest


def check_compatible(manifest: dict[str, object], settings: Settings, encoder: Encoder) -> None:
    """Raise IndexMismatchError if the build was made by another encoder, chunker or format."""
    expected = manifest_base(settings, encoder)
    for key in ("format_version", "encoder", "chunker"):
        if manifest.get(key) != expected[key]:
            raise IndexMismatchError(
                f"The index was built with {key} = {json.dumps(manifest.get(key), ensure_ascii=False)}, "
                f"but this configuration needs {json.dumps(expected[key], ensure_ascii=False)}."
            )


def is_stale(manifest: dict[str, object], settings: Settings) -> bool:
    """True when corpus files were added, removed or changed since the build."""
    return manifest.get("corpus") != corpus_state(settings)
