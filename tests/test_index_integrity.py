"""Index integrity: forged, truncated and foreign indexes are refused; killed builds lose nothing.

The forgeries rewrite the manifest's checksums too, as an attacker who can write the index
folder would, so only the checks of declared sizes stand between them and FAISS or numpy
allocating what they declare. They are loaded in a subprocess whose address space is capped,
so a regression fails the test with a MemoryError instead of swapping the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from conftest import MINI_DIR, FakeEncoder, count_hashes

import policyqa.index.integrity as index_integrity
import policyqa.index.vectors as index_vectors
from policyqa import Assistant
from policyqa.embed import Encoder
from policyqa.errors import IndexCorruptError, IndexMismatchError
from policyqa.index import build_index, current_build, index_home, load_index, read_manifest
from policyqa.index.integrity import VERIFIED_FILE, verify_files
from policyqa.settings import Settings

TESTS_DIR = Path(__file__).resolve().parent
BILLIONS = 3_000_000_000
TROUGH = "What should the government do in the trough of disillusionment?"


def _rewrite_checksums(folder: Path) -> None:
    """Make the manifest agree with the (forged) files, as a forger with write access would."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]}
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _edit_manifest(folder: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _npy_with_shape(path: Path, shape: tuple[int, ...], descr: str | None = None) -> None:
    """Rewrite a .npy header to declare ``shape`` (and ``descr``), keeping the data as it is."""
    with path.open("rb") as handle:
        assert np.lib.format.read_magic(handle) == (1, 0)
        _, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        data = handle.read()
    header = {"descr": descr or np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran, "shape": shape}
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(data)


def _faiss_flat_rows(path: Path, rows: int, dimension: int, offset: int = 0) -> None:
    """Declare ``rows`` vectors in a flat FAISS header (ntotal and the codes' length) at ``offset``."""
    data = bytearray(path.read_bytes())
    data[offset + 8 : offset + 16] = struct.pack("<q", rows)
    data[offset + 37 : offset + 45] = struct.pack("<Q", rows * dimension)
    path.write_bytes(bytes(data))


def _set_counts(folder: Path, **counts: int) -> None:
    _edit_manifest(folder, lambda m: m["counts"].update(counts))


def _forge_manifest_counts(folder: Path) -> None:
    _set_counts(folder, chunks=BILLIONS, sentences=BILLIONS)


def _forge_sentence_header(folder: Path) -> None:
    _npy_with_shape(folder / "sentence_vectors.npy", (BILLIONS, FakeEncoder.dimension))


def _forge_sentence_header_and_counts(folder: Path) -> None:
    _forge_sentence_header(folder)
    _set_counts(folder, sentences=BILLIONS)


def _forge_term_header(folder: Path) -> None:
    _npy_with_shape(folder / "term_vectors.npy", (BILLIONS, FakeEncoder.dimension))


def _forge_pickled_terms(folder: Path) -> None:
    _npy_with_shape(folder / "term_vectors.npy", (1,), descr="|O")


def _forge_faiss_rows(folder: Path) -> None:
    _faiss_flat_rows(folder / "vectors.faiss", BILLIONS, FakeEncoder.dimension)


def _forge_faiss_rows_and_counts(folder: Path) -> None:
    _forge_faiss_rows(folder)
    _set_counts(folder, chunks=BILLIONS)


def _forge_faiss_3m_rows_and_counts(folder: Path) -> None:
    # Without the check FAISS zero-fills 770 MB for this one before it finds the file short.
    # The passage store is padded to the size that many records need, so only the FAISS check is left.
    rows = 3_000_000
    _faiss_flat_rows(folder / "vectors.faiss", rows, FakeEncoder.dimension)
    _set_counts(folder, chunks=rows)
    with (folder / "passages.jsonl").open("a", encoding="utf-8") as out:
        out.write(" " * (rows * 16) + "\n")


def _forge_truncated_faiss(folder: Path) -> None:
    path = folder / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:-100])


def _forge_bm25_documents(folder: Path) -> None:
    path = folder / "bm25" / "params.index.json"
    params = json.loads(path.read_text(encoding="utf-8"))
    params["num_docs"] = BILLIONS
    path.write_text(json.dumps(params), encoding="utf-8")


def _forge_bm25_rows(folder: Path) -> None:
    path = folder / "bm25" / "indices.csc.index.npy"
    rows = np.load(path)
    rows[0] = 10**6  # a passage that does not exist: every query through that token would fail
    np.save(path, rows, allow_pickle=False)


def _forge_store_line(folder: Path) -> None:
    with (folder / "passages.jsonl").open("a", encoding="utf-8") as out:
        out.write('"just a string"\n')


def _forge_nested_store(folder: Path) -> None:
    with (folder / "passages.jsonl").open("a", encoding="utf-8") as out:
        out.write("[" * 100_000 + "\n")


# case -> (forgery, a phrase the refusal must contain)
FORGERIES: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest claims billions of passages": (_forge_manifest_counts, "declares 6,000,000,002 records"),
    "sentence .npy header claims billions of rows": (_forge_sentence_header, "declares shape (3000000000, 64)"),
    "sentence .npy header and manifest agree on billions": (_forge_sentence_header_and_counts, "declares"),
    "term .npy header claims billions of rows": (_forge_term_header, "but the file has"),
    "term .npy holds pickled objects": (_forge_pickled_terms, "pickle"),
    "FAISS header claims billions of vectors": (_forge_faiss_rows, "declares 3,000,000,000 vectors"),
    "FAISS header and manifest agree on billions": (_forge_faiss_rows_and_counts, "declares"),
    "FAISS header, manifest and store agree on 3 million": (_forge_faiss_3m_rows_and_counts, "in a file of"),
    "FAISS file truncated": (_forge_truncated_faiss, "in a file of"),
    "BM25 claims billions of passages": (_forge_bm25_documents, "passages for BM25"),
    "BM25 points outside the passages": (_forge_bm25_rows, "point outside"),
    "passage store holds a line that is no record": (_forge_store_line, "cannot be parsed"),
    "passage store holds deeply nested JSON": (_forge_nested_store, "cannot be parsed"),
}

_LOADER = """
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from conftest import FakeEncoder
from policyqa.errors import PolicyQAError
from policyqa.index import load_index
from policyqa.settings import Settings

def vm_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

limit = (vm_kib("VmSize") + 1024 * 1024) * 1024  # what is mapped now plus 1 GiB
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for case, corpus, index_dir in json.loads(sys.argv[2]):
    settings = Settings(corpus_dirs=(corpus,), index_dir=index_dir, encoder=FakeEncoder.encoder_id)
    before = vm_kib("VmHWM")
    try:
        load_index(settings, FakeEncoder())
        error, message = "loaded", ""
    except PolicyQAError as exc:
        error, message = type(exc).__name__, str(exc)
    except BaseException as exc:
        error, message = type(exc).__name__, str(exc)[:500]
    print(json.dumps({"case": case, "error": error, "message": message, "grew_kib": vm_kib("VmHWM") - before}))
"""


@pytest.fixture(scope="module")
def fake_build(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """An index of the mini corpus built with the fake encoder: copied before every forgery."""
    root = tmp_path_factory.mktemp("fake-build")
    corpus = root / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    settings = Settings(corpus_dirs=(corpus,), index_dir=root / "index", encoder=FakeEncoder.encoder_id)
    build_index(settings, FakeEncoder())
    return settings


def _copy(settings: Settings, target: Path) -> Settings:
    shutil.copytree(settings.index_dir, target)
    return settings.replace(index_dir=target)


def test_forged_sizes_are_refused_without_allocating(fake_build: Settings, tmp_path: Path) -> None:
    cases = []
    for i, (case, (forge, _)) in enumerate(FORGERIES.items()):
        settings = _copy(fake_build, tmp_path / f"case-{i}")
        folder = current_build(settings)
        forge(folder)
        _rewrite_checksums(folder)
        cases.append((case, str(settings.corpus_dirs[0]), str(settings.index_dir)))
    cases.append(("untouched copy", str(fake_build.corpus_dirs[0]), str(fake_build.index_dir)))

    result = subprocess.run(
        [sys.executable, "-c", _LOADER, str(TESTS_DIR), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    outcomes = {o["case"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert outcomes.pop("untouched copy")["error"] == "loaded"
    for case, (_, phrase) in FORGERIES.items():
        outcome = outcomes[case]
        assert outcome["error"] == "IndexCorruptError", (case, outcome)
        assert phrase in outcome["message"], (case, outcome["message"])
        assert "Run `policyqa index` to rebuild it." in outcome["message"]
        assert outcome["grew_kib"] < 64 * 1024, (case, outcome)  # no allocation for the declared size


def test_hnsw_index_passes_the_checks_and_a_forged_graph_is_refused(
    fake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_vectors, "EXACT_SEARCH_LIMIT", 0)  # HNSW from the first passage
    folder, _ = build_index(fake_settings, FakeEncoder())
    loaded = load_index(fake_settings, FakeEncoder())
    assert type(loaded.chunk_vectors.index).__name__ == "IndexHNSWSQ"  # its vectors as float16

    path = folder / "vectors.faiss"
    original = path.read_bytes()
    quantizer = original.index(b"IxSQ") + 4 + 33  # after the fourcc and the index header
    forgeries = {
        # The graph's first vector (assign_probas) claims 2^40 entries.
        "HNSW graph declares": (37, struct.pack("<Q", 1 << 40)),
        # Vectors of another quantizer (8 bits) than the float16 policyqa writes.
        "quantizer 0": (quantizer, struct.pack("<i", 0)),
        # More bytes of vectors than the file holds.
        "bytes of vectors": (
            len(original) - 8 - 2 * loaded.chunk_vectors.dimension * loaded.chunk_vectors.size,
            struct.pack("<Q", 1 << 40),
        ),
    }
    for phrase, (offset, value) in forgeries.items():
        data = bytearray(original)
        data[offset : offset + len(value)] = value
        path.write_bytes(bytes(data))
        _rewrite_checksums(folder)
        with pytest.raises(IndexCorruptError, match=phrase):
            load_index(fake_settings, FakeEncoder())


def test_an_hnsw_index_of_float32_vectors_still_loads(fake_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds made before the graph kept float16 vectors hold an HNSW graph over float32 ones."""
    monkeypatch.setattr(index_vectors, "EXACT_SEARCH_LIMIT", 0)
    folder, _ = build_index(fake_settings, FakeEncoder())
    stored = load_index(fake_settings, FakeEncoder()).chunk_vectors
    older = faiss.IndexHNSWFlat(stored.dimension, index_vectors.HNSW_M, faiss.METRIC_INNER_PRODUCT)
    older.add(stored.reconstruct(np.arange(stored.size)))
    faiss.write_index(older, str(folder / "vectors.faiss"))
    _rewrite_checksums(folder)
    loaded = load_index(fake_settings, FakeEncoder())
    assert type(loaded.chunk_vectors.index).__name__ == "IndexHNSWFlat"
    assert loaded.chunk_vectors.size == stored.size


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format_version=99), "format_version = 99"),
        (lambda m: m["encoder"].update(dimension=384), "encoder"),
        (lambda m: m["encoder"].update(id="st:/models/other", version="2.0"), "st:/models/other"),
        (lambda m: m["chunker"].update(version=999), "chunker"),
    ],
    ids=["other format version", "other dimension", "other encoder", "other chunker version"],
)
def test_foreign_index_is_a_mismatch_with_a_rebuild_hint(
    fake_build: Settings, tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    settings = _copy(fake_build, tmp_path / "copy")
    _edit_manifest(current_build(settings), change)

    with pytest.raises(IndexMismatchError, match="policyqa index") as excinfo:
        load_index(settings, FakeEncoder())
    assert message in str(excinfo.value)


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
def test_corrupt_index_is_a_one_line_cli_error(mini_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from test_cli import _assert_clean_error, run_cli

    settings = _copy(mini_index.settings, tmp_path / "index")
    folder = current_build(settings)
    _faiss_flat_rows(folder / "vectors.faiss", BILLIONS, mini_index.encoder.dimension)
    _rewrite_checksums(folder)

    result = run_cli("ask", "技术复苏基金", "--corpus", str(MINI_DIR), "--index-dir", str(settings.index_dir))

    _assert_clean_error(result)
    assert "declares 3,000,000,000 vectors" in result.stderr and "Run `policyqa index`" in result.stderr


def test_the_server_reports_a_corrupt_index_and_keeps_serving(mini_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi", reason="the app needs the 'serve' extra")
    from app_fixtures import serve

    from policyqa_app import AppSettings

    settings = _copy(mini_index.settings, tmp_path / "index")
    folder = current_build(settings)
    _npy_with_shape(folder / "sentence_vectors.npy", (BILLIONS, mini_index.encoder.dimension))
    _rewrite_checksums(folder)
    security = AppSettings(feedback_db=tmp_path / "feedback.sqlite3")

    assistant = Assistant(settings, encoder=mini_index.encoder)
    with serve(assistant, security, with_ui=False, wait_for_index=False) as server, server.client() as client:
        deadline = time.monotonic() + 30
        while (ready := client.get("/readyz")).json().get("status") == "loading" and time.monotonic() < deadline:
            time.sleep(0.1)
        asked = client.post("/api/v1/ask", json={"question": "技术复苏基金"})
        alive = client.get("/healthz")

    assert ready.status_code == 503 and ready.json()["status"] == "error"
    assert "Run `policyqa index` to rebuild it." in ready.json()["error"]["message"]
    assert asked.status_code == 503 and asked.json()["error"]["code"] == "index_unavailable"
    assert "declares shape" in asked.json()["error"]["message"]
    assert alive.status_code == 200


# --- builds killed with SIGKILL ----------------------------------------------------------------

KILLS = 10
SEED = 20261127
# Where each run is killed, in turn. "start-up" kills at once, before the build can have written
# anything, so those kills are certain; the other points land wherever the machine's speed puts them.
KILL_POINTS = ("anywhere", "start-up", "while writing")


def _policyqa() -> list[str]:
    script = Path(sys.executable).with_name("policyqa")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "policyqa.cli"]


def _index_command(settings: Settings) -> list[str]:
    corpus, index_dir = str(settings.corpus_dirs[0]), str(settings.index_dir)
    return [*_policyqa(), "index", "-q", "--corpus", corpus, "--index-dir", index_dir]


def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}


def _answers_the_trough_question(settings: Settings, encoder: Encoder) -> str:
    """The live build loads and answers from the paper's trough passage; returns the build's name."""
    assistant = Assistant(settings, encoder=encoder, auto_build=False)
    answer = assistant.ask(TROUGH)
    assert not answer.abstained and any("技术复苏基金" in c.text for c in answer.citations), answer.answer
    return assistant.index.folder.name


@pytest.mark.slow  # a dozen index builds in fresh processes, each loading the real encoder
def test_builds_killed_at_random_points_leave_the_previous_index_loadable(tmp_path: Path, use_encoder: Encoder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    settings = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index")
    home = index_home(settings)
    command, environ = _index_command(settings), _environment()
    started = time.monotonic()
    subprocess.run(command, env=environ, check=True, capture_output=True, timeout=120)
    # Only scales the "anywhere" kill points: a slow or noisy measurement changes which outcomes
    # occur, never whether the test passes.
    full_seconds = time.monotonic() - started
    live = _answers_the_trough_question(settings, use_encoder)

    rng = random.Random(SEED)
    points = [KILL_POINTS[run % len(KILL_POINTS)] for run in range(KILLS)]
    outcomes: list[str] = []
    seen = {live}
    for run, point in enumerate(points):
        if run % 2 == 0:
            shutil.rmtree(settings.index_dir / "cache", ignore_errors=True)  # a cold build: the encoder runs
        left_over = set(home.glob(".build-*.tmp"))  # by earlier kills; the next build removes them
        process = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if point == "while writing":  # as soon as the build folder appears
            deadline = time.monotonic() + 60  # stops the polling only
            while (
                set(home.glob(".build-*.tmp")) <= left_over and process.poll() is None and time.monotonic() < deadline
            ):
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.05))
        elif point == "anywhere":  # from the end of start-up (imports, about half a cold run) to a little after the end
            time.sleep(rng.uniform(0.5 * full_seconds, 1.05 * full_seconds))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        half_written = bool(set(home.glob(".build-*.tmp")) - left_over)
        now = _answers_the_trough_question(settings, use_encoder)
        # Either the previous build is still live, or the killed run got as far as making its own live.
        assert now == live or now not in seen, (run, now)
        if process.returncode == 0:
            outcomes.append("completed")
        elif now != live:
            outcomes.append("killed after the switch")
        else:
            outcomes.append("killed while writing" if half_written else "killed before writing")
        live = now
        seen.add(now)
        assert (home / "CURRENT").read_text(encoding="utf-8").strip() == live
    print("kill outcomes:", outcomes)

    # A normal build afterwards succeeds, clears the half-written folders and keeps one build.
    subprocess.run(command, env=environ, check=True, capture_output=True, timeout=120)
    _answers_the_trough_question(settings, use_encoder)
    assert not list(home.glob(".*.tmp"))
    assert [p.name for p in home.glob("build-*")] == [current_build(settings).name]
    # Kills at start-up are certain; the mix of the other outcomes depends on the machine's speed.
    assert all(o == "killed before writing" for p, o in zip(points, outcomes, strict=True) if p == "start-up"), outcomes
    assert read_manifest(current_build(settings))["counts"]["documents"] == 2


# --- checksums verified once per build ---------------------------------------------------------


@pytest.fixture()
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file ``verify_files`` hashes, in order (the real hash still runs)."""
    return count_hashes(monkeypatch, index_integrity)


def _verified_copy(fake_build: Settings, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of the fake build, verified once: its folder (with ``verified.json``) and its manifest."""
    folder = current_build(_copy(fake_build, tmp_path / "index"))
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    return folder, manifest


def test_checksums_are_verified_once_per_build(fake_build: Settings, tmp_path: Path, hashed: list[Path]) -> None:
    settings = _copy(fake_build, tmp_path / "index")
    folder = current_build(settings)
    manifest = read_manifest(folder)

    verify_files(folder, manifest)
    assert len(hashed) == len(manifest["files"])  # type: ignore[arg-type]
    assert (folder / VERIFIED_FILE).is_file() and VERIFIED_FILE not in manifest["files"]  # type: ignore[operator]

    verify_files(folder, manifest)
    load_index(settings, FakeEncoder())
    assert len(hashed) == len(manifest["files"])  # type: ignore[arg-type]


def _flip_in_place(path: Path) -> None:
    """One byte changed in place: the same inode and size, the mtime set back as it was."""
    before = path.stat()
    with path.open("r+b") as handle:
        handle.seek(before.st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _flipped_copy_moved_in(path: Path) -> None:
    """A changed copy with the same size and mtime (``copy2``) moved over the file: a new inode."""
    copy = path.with_name(path.name + ".copy")
    shutil.copy2(path, copy)
    _flip_in_place(copy)
    os.replace(copy, path)


@pytest.mark.parametrize("change", [_flip_in_place, _flipped_copy_moved_in], ids=["in place", "copy moved in"])
def test_a_file_changed_after_its_verification_is_hashed_again_and_refused(
    fake_build: Settings, tmp_path: Path, hashed: list[Path], change: Callable[[Path], None]
) -> None:
    folder, manifest = _verified_copy(fake_build, tmp_path)
    target = folder / "passages.jsonl"
    size, mtime = target.stat().st_size, target.stat().st_mtime_ns
    change(target)
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (size, mtime)
    hashed.clear()

    with pytest.raises(IndexCorruptError, match="passages.jsonl does not match its checksum"):
        verify_files(folder, manifest)
    assert target.resolve() in hashed


def test_an_identical_copy_moved_in_is_hashed_again_then_trusted(
    fake_build: Settings, tmp_path: Path, hashed: list[Path]
) -> None:
    folder, manifest = _verified_copy(fake_build, tmp_path)
    target = folder / "vectors.faiss"
    shutil.copy2(target, folder / "vectors.copy")
    os.replace(folder / "vectors.copy", target)
    hashed.clear()

    verify_files(folder, manifest)
    assert len(hashed) == len(manifest["files"])
    verify_files(folder, manifest)
    assert len(hashed) == len(manifest["files"])


def _marker_of_other_files(folder: Path) -> None:
    marker = json.loads((folder / VERIFIED_FILE).read_text(encoding="utf-8"))
    marker["files"]["other.npy"] = marker["files"].pop("terms.json")
    (folder / VERIFIED_FILE).write_text(json.dumps(marker), encoding="utf-8")


def _marker_of_fewer_files(folder: Path) -> None:
    marker = json.loads((folder / VERIFIED_FILE).read_text(encoding="utf-8"))
    del marker["files"]["terms.json"]
    (folder / VERIFIED_FILE).write_text(json.dumps(marker), encoding="utf-8")


def _huge_marker(folder: Path) -> None:
    """A valid marker padded to 20 MB with whitespace."""
    marker = (folder / VERIFIED_FILE).read_bytes()
    (folder / VERIFIED_FILE).write_bytes(marker + b" " * (20 * 1024 * 1024))


MARKER_DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": lambda folder: (folder / VERIFIED_FILE).write_bytes(b"\xff{not json"),
    "a list": lambda folder: (folder / VERIFIED_FILE).write_text("[]", encoding="utf-8"),
    "wrong types": lambda folder: (folder / VERIFIED_FILE).write_text('{"files": 1}', encoding="utf-8"),
    "deeply nested": lambda folder: (folder / VERIFIED_FILE).write_text("[" * 100_000, encoding="utf-8"),
    "other files": _marker_of_other_files,
    "fewer files": _marker_of_fewer_files,
    "20 MB": _huge_marker,
    "a folder": lambda folder: ((folder / VERIFIED_FILE).unlink(), (folder / VERIFIED_FILE).mkdir()),
    "the manifest changed": lambda folder: _edit_manifest(folder, lambda m: m.update(note="edited")),
}


@pytest.mark.parametrize("damage", MARKER_DAMAGE.values(), ids=MARKER_DAMAGE.keys())
def test_a_damaged_or_foreign_marker_means_hashing_everything(
    fake_build: Settings, tmp_path: Path, hashed: list[Path], damage: Callable[[Path], None]
) -> None:
    folder, _ = _verified_copy(fake_build, tmp_path)
    damage(folder)
    manifest = read_manifest(folder)
    hashed.clear()

    verify_files(folder, manifest)
    assert len(hashed) == len(manifest["files"])


def test_a_forged_file_behind_a_damaged_marker_is_refused(fake_build: Settings, tmp_path: Path) -> None:
    folder, manifest = _verified_copy(fake_build, tmp_path)
    _flip_in_place(folder / "terms.json")
    (folder / VERIFIED_FILE).write_text("[]", encoding="utf-8")

    with pytest.raises(IndexCorruptError, match="terms.json does not match its checksum"):
        verify_files(folder, manifest)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_build_is_verified_without_a_marker(
    fake_build: Settings, tmp_path: Path, hashed: list[Path]
) -> None:
    settings = _copy(fake_build, tmp_path / "index")
    folder = current_build(settings)
    manifest = read_manifest(folder)
    (folder / VERIFIED_FILE).unlink(missing_ok=True)  # copied with the build, had it been loaded
    folder.chmod(0o555)
    try:
        verify_files(folder, manifest)
        load_index(settings, FakeEncoder())
        assert not (folder / VERIFIED_FILE).exists()
        assert len(hashed) == 2 * len(manifest["files"])
    finally:
        folder.chmod(0o755)
