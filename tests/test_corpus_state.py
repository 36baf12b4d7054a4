"""The corpus state reuses a file's hash while its size, mtime, ctime and inode are unchanged.

What it returns must be what hashing every file gives: it decides staleness and goes into manifests.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import count_hashes

import policyqa.index.manifest as index_manifest
from policyqa.documents import list_corpus_files
from policyqa.index import index_home
from policyqa.index.manifest import CORPUS_HASHES_FILE, corpus_state, sha256_file
from policyqa.settings import Settings

LAW = "model-transfer-regulation.md"


@pytest.fixture()
def settings(fake_settings: Settings) -> Settings:
    """The fake settings with their index folder made (the cache lives there, beside the builds)."""
    index_home(fake_settings).mkdir(parents=True)
    return fake_settings


@pytest.fixture()
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every corpus file ``corpus_state`` hashes, in order (the real hash still runs)."""
    return count_hashes(monkeypatch, index_manifest)


def _from_scratch(settings: Settings) -> list[dict[str, object]]:
    """Every corpus file hashed, without the cache."""
    state = []
    for path in list_corpus_files(settings.corpus_dirs):
        data = path.read_bytes()
        state.append({"path": str(path.resolve()), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return sorted(state, key=lambda entry: str(entry["path"]))


def _cached_paths(settings: Settings) -> set[str]:
    return set(json.loads((index_home(settings) / CORPUS_HASHES_FILE).read_text(encoding="utf-8")))


def test_hashes_are_reused_while_the_files_are_unchanged(settings: Settings, hashed: list[Path]) -> None:
    expected = _from_scratch(settings)

    assert corpus_state(settings) == expected
    assert len(hashed) == len(expected) and _cached_paths(settings) == {e["path"] for e in expected}
    cache = index_home(settings) / CORPUS_HASHES_FILE
    written = cache.stat().st_ino

    assert corpus_state(settings) == expected
    assert len(hashed) == len(expected)  # nothing hashed again
    assert cache.stat().st_ino == written  # nor the cache replaced


def test_a_file_edited_in_place_gets_its_new_hash(settings: Settings, corpus_copy: Path) -> None:
    corpus_state(settings)
    law = corpus_copy / LAW
    before = law.stat()
    text = law.read_text(encoding="utf-8")
    assert "百分之五十" in text
    law.write_text(text.replace("百分之五十", "百分之七十"), encoding="utf-8")  # as many bytes
    os.utime(law, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (law.stat().st_size, law.stat().st_ino) == (before.st_size, before.st_ino)

    state = corpus_state(settings)

    assert state == _from_scratch(settings)
    assert next(e for e in state if str(e["path"]).endswith(LAW))["sha256"] == sha256_file(law)


def test_a_removed_file_leaves_the_state_and_the_cache(settings: Settings, corpus_copy: Path) -> None:
    corpus_state(settings)
    (corpus_copy / LAW).unlink()

    state = corpus_state(settings)

    assert state == _from_scratch(settings)
    assert not any(str(e["path"]).endswith(LAW) for e in state)
    assert _cached_paths(settings) == {e["path"] for e in state}


CACHE_DAMAGE = {
    "garbage": b"\xff{not json",
    "a list": b"[]",
    "wrong types": b'{"a": 1, "b": {"stat": "x", "sha256": 2}}',
    "deeply nested": b"[" * 100_000,
    "20 MB": b"{}" + b" " * (20 * 1024 * 1024),
}


@pytest.mark.parametrize("damage", CACHE_DAMAGE.values(), ids=CACHE_DAMAGE.keys())
def test_a_malformed_cache_is_ignored_and_rewritten(settings: Settings, hashed: list[Path], damage: bytes) -> None:
    cache = index_home(settings) / CORPUS_HASHES_FILE
    cache.write_bytes(damage)
    expected = _from_scratch(settings)

    assert corpus_state(settings) == expected
    assert len(hashed) == len(expected)
    assert _cached_paths(settings) == {e["path"] for e in expected}


def test_an_entry_for_another_stat_is_not_reused(settings: Settings, hashed: list[Path]) -> None:
    expected = _from_scratch(settings)
    corpus_state(settings)
    cache = index_home(settings) / CORPUS_HASHES_FILE
    entries = json.loads(cache.read_text(encoding="utf-8"))
    for entry in entries.values():
        entry["stat"][2] -= 1  # another ctime
        entry["sha256"] = "0" * 64
    cache.write_text(json.dumps(entries), encoding="utf-8")
    hashed.clear()

    assert corpus_state(settings) == expected
    assert len(hashed) == len(expected)


def test_without_an_index_folder_every_file_is_hashed(fake_settings: Settings) -> None:
    assert corpus_state(fake_settings) == _from_scratch(fake_settings)
    assert not fake_settings.index_dir.exists()  # no folder made for a cache


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_index_folder_still_gives_the_state(settings: Settings, hashed: list[Path]) -> None:
    expected = _from_scratch(settings)
    home = index_home(settings)
    home.chmod(0o555)
    try:
        assert corpus_state(settings) == expected
        assert corpus_state(settings) == expected
        assert not (home / CORPUS_HASHES_FILE).exists()
        assert len(hashed) == 2 * len(expected)
    finally:
        home.chmod(0o755)
