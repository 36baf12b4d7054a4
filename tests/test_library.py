"""The managed folder: add, remove, list; the lock across processes; crashes; live pick-up.

Most tests check plumbing (files, ids, sidecars, the lock, the CURRENT switch) and use
the deterministic ``FakeEncoder``; the tests that check that an Assistant *answers* from
an added document use the real encoder on a copy of the mini corpus's index (its
embedding cache makes the rebuild embed only the new document).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import MINI_DIR, MINI_PAPER, BuiltIndex, CountingEncoder, FakeEncoder

from policyqa import cli
from policyqa.assistant import Assistant
from policyqa.embed import Encoder
from policyqa.index import build_index, current_build, load_index
from policyqa.library import (
    ADDED,
    DUPLICATE,
    ERROR,
    LOCK_NAME,
    DocumentLibrary,
    DocumentNotFoundError,
    NotManagedError,
    documents_table,
)
from policyqa.settings import DEFAULT_MANAGED_DIR, Settings

TESTS_DIR = Path(__file__).resolve().parent
# No title of its own: the first line is an article, so the file name becomes the title.
DRONE_RULES = (
    "第一条 为了规范低空无人机飞行管理，保障公共安全，制定本办法。\n\n"
    "第二条 无人机在城市建成区上空飞行的，操控人应当提前三日向所在地公安机关申请飞行许可。\n\n"
    "第三条 未经许可在机场净空保护区内放飞无人机的，由公安机关处二千元以上五千元以下罚款。\n"
)
DRONE_QUESTION = "无人机在城市上空飞行要提前几天申请许可？"
# States its own title on the first line.
HARBOUR_NOTICE = (
    "关于港口岸电设施建设的通知\n\n"
    "各港口企业应当在二〇二七年底前完成集装箱码头岸电设施改造，靠港船舶应当优先使用岸电。\n"
)


def _settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        corpus_dirs=(corpus,),
        index_dir=tmp_path / "index",
        managed_dir=tmp_path / "managed",
        encoder=FakeEncoder.encoder_id,
    )


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _hash_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


# --- settings ---------------------------------------------------------------------------------


def test_managed_folder_joins_the_corpus_once_it_exists_without_moving_the_index(tmp_path: Path) -> None:
    managed = tmp_path / "managed"
    before = Settings(corpus_dirs=(MINI_DIR,), managed_dir=managed)
    assert before.corpus_dirs == (MINI_DIR,)

    managed.mkdir()
    after = before.replace()

    assert after.corpus_dirs == (MINI_DIR, managed)
    assert after.index_fingerprint() == before.index_fingerprint()
    # Listed explicitly too: once, however spelled.
    assert Settings(corpus_dirs=(MINI_DIR, managed.resolve()), managed_dir=managed).corpus_dirs == (
        MINI_DIR,
        managed.resolve(),
    )
    assert Settings(corpus_dirs=(MINI_DIR,), managed_dir=None).corpus_dirs == (MINI_DIR,)


def test_managed_folder_comes_from_the_environment(tmp_path: Path) -> None:
    assert Settings.from_env({}).managed_dir == DEFAULT_MANAGED_DIR == Path("var/documents")
    assert Settings.from_env({"POLICYQA_MANAGED_DIR": str(tmp_path)}).managed_dir == tmp_path


# --- add, list, remove ------------------------------------------------------------------------


def test_added_files_are_indexed_under_their_content_hash(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    build_index(settings, FakeEncoder())
    drone = _write(tmp_path / "inbox", "低空无人机飞行管理办法.txt", DRONE_RULES)
    harbour = _write(tmp_path / "inbox", "harbour.txt", HARBOUR_NOTICE)
    library = DocumentLibrary(settings, FakeEncoder())

    report = library.add([drone, harbour])

    drone_id, harbour_id = _hash_id(drone), _hash_id(harbour)
    assert [(f.status, f.doc_id) for f in report.files] == [(ADDED, drone_id), (ADDED, harbour_id)]
    assert report.files[0].line() == f"{drone}: added as {drone_id}"
    assert report.ok and report.build is not None and report.build.documents == 4
    managed = tmp_path / "managed"
    assert sorted(p.name for p in managed.iterdir()) == sorted(
        [f"{drone_id}.txt", f"{drone_id}.meta.json", f"{harbour_id}.txt", f"{harbour_id}.meta.json"]
    )
    assert (managed / f"{drone_id}.txt").read_bytes() == drone.read_bytes()
    # The title comes from the file name only where the text states none.
    drone_meta = json.loads((managed / f"{drone_id}.meta.json").read_text(encoding="utf-8"))
    harbour_meta = json.loads((managed / f"{harbour_id}.meta.json").read_text(encoding="utf-8"))
    assert drone_meta == {"source_name": "低空无人机飞行管理办法.txt", "title": "低空无人机飞行管理办法"}
    assert harbour_meta == {"source_name": "harbour.txt"}

    index = load_index(settings.replace(), FakeEncoder())
    assert index.documents[drone_id].title == "低空无人机飞行管理办法"
    assert index.documents[harbour_id].title == "关于港口岸电设施建设的通知"
    rows = {row.doc_id: row for row in library.list()}
    assert set(rows) == {"tech-maturity-policy", "model-transfer-regulation", drone_id, harbour_id}
    assert rows[drone_id].added is not None and rows[drone_id].chunks >= 1 and rows[drone_id].pages is None
    assert rows["tech-maturity-policy"].added is None  # not a managed document
    assert rows[drone_id].to_dict()["added"].endswith("Z")  # type: ignore[union-attr]
    table = documents_table(rows.values())
    assert table.splitlines()[0].split() == ["id", "title", "kind", "pages", "chunks", "added"]
    assert drone_id in table and "低空无人机飞行管理办法" in table


def test_content_already_in_a_corpus_folder_is_a_duplicate_and_not_copied(
    fake_settings: Settings, corpus_copy: Path, tmp_path: Path
) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    encoder = CountingEncoder(FakeEncoder())
    library = DocumentLibrary(settings, encoder)
    renamed = tmp_path / "inbox" / "copy-of-the-paper.txt"
    renamed.parent.mkdir()
    shutil.copyfile(MINI_PAPER, renamed)
    drone = _write(tmp_path / "inbox", "drone.txt", DRONE_RULES)

    first = library.add([renamed, drone, drone])
    generation = current_build(settings.replace()).name
    encoded = encoder.texts_encoded
    again = library.add([drone])

    assert [(f.status, f.doc_id) for f in first.files] == [
        (DUPLICATE, "tech-maturity-policy"),
        (ADDED, _hash_id(drone)),
        (DUPLICATE, _hash_id(drone)),
    ]
    assert first.files[0].line() == f"{renamed}: duplicate of tech-maturity-policy"
    assert [(f.status, f.doc_id) for f in again.files] == [(DUPLICATE, _hash_id(drone))]
    assert again.ok and again.build is None  # nothing new: no build, the same generation
    assert current_build(settings.replace()).name == generation and encoder.texts_encoded == encoded
    assert sorted(p.suffix for p in (tmp_path / "managed").iterdir()) == [".json", ".txt"]


def test_second_add_embeds_only_the_new_document(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    encoder = CountingEncoder(FakeEncoder())
    library = DocumentLibrary(settings, encoder)
    library.add([_write(tmp_path / "inbox", "drone.txt", DRONE_RULES)])
    encoder.batches.clear()

    library.add([_write(tmp_path / "inbox", "harbour.txt", HARBOUR_NOTICE)])

    encoded = [t for batch in encoder.batches for t in batch]
    assert encoded and all("无人机" not in t for t in encoded)
    assert any("岸电" in t for t in encoded)


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(120):
                member.write(b"\0" * (1024 * 1024))
    return path


def test_bad_files_get_one_line_each_and_the_good_ones_still_go_in(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bomb = _zip_bomb(inbox / "bomb.docx")
    html_as_pdf = inbox / "notice.pdf"
    html_as_pdf.write_bytes(b"<!DOCTYPE html><html><body><p>not a pdf</p></body></html>")
    empty = _write(inbox, "empty.txt", "")
    binary = inbox / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    program = _write(inbox, "setup.exe", "MZ")
    good = _write(inbox, "drone.txt", DRONE_RULES)

    report = DocumentLibrary(settings, FakeEncoder()).add(
        [bomb, html_as_pdf, empty, binary, program, inbox / "missing.txt", good]
    )

    lines = [f.line() for f in report.files]
    assert [f.status for f in report.files] == [ERROR] * 6 + [ADDED]
    assert all("\n" not in line for line in lines)
    assert lines[0].startswith(f"{bomb}: error: ") and "zip bomb" in lines[0]
    assert "content does not match its extension" in lines[1]
    assert lines[2] == f"{empty}: error: empty file"
    assert "binary content" in lines[3]
    assert "unsupported format '.exe'" in lines[4]
    assert lines[5].endswith("error: no such file")
    assert report.ok
    assert sorted(p.name for p in (tmp_path / "managed").iterdir()) == sorted(
        [f"{_hash_id(good)}.txt", f"{_hash_id(good)}.meta.json"]
    )


def test_every_file_failing_is_not_ok_and_builds_nothing(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    report = DocumentLibrary(settings, FakeEncoder()).add([_write(tmp_path, "empty.txt", "")])

    assert not report.ok and report.build is None
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").glob("*/CURRENT"))


def test_remove_takes_a_managed_document_out_of_the_index(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    library = DocumentLibrary(settings, FakeEncoder())
    drone = _write(tmp_path / "inbox", "drone.txt", DRONE_RULES)
    library.add([drone])

    report = library.remove(_hash_id(drone))

    assert report.doc_id == _hash_id(drone) and report.build.documents == 2
    assert list((tmp_path / "managed").iterdir()) == []
    assert _hash_id(drone) not in load_index(settings.replace(), FakeEncoder()).documents


def test_remove_refuses_documents_outside_the_managed_folder(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    library = DocumentLibrary(settings, FakeEncoder())
    build_index(settings, FakeEncoder())

    with pytest.raises(NotManagedError, match="only documents added with policyqa add can be removed"):
        library.remove("tech-maturity-policy")
    with pytest.raises(DocumentNotFoundError, match="No document has the id '../../etc/passwd'"):
        library.remove("../../etc/passwd")
    assert (settings.corpus_dirs[0] / "tech-maturity-policy.txt").is_file()


class _FailingEncoder(FakeEncoder):
    """Fails on any text of the drone rules: a build that breaks after the copy."""

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if any("无人机" in t for t in texts):
            raise RuntimeError("encoder crashed")
        return super()._encode(texts, is_query=is_query)


def test_failed_build_takes_the_copied_files_out_and_keeps_the_previous_index(
    fake_settings: Settings, tmp_path: Path
) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    first, _ = build_index(settings, FakeEncoder())

    with pytest.raises(RuntimeError, match="encoder crashed"):
        DocumentLibrary(settings, _FailingEncoder()).add([_write(tmp_path / "inbox", "drone.txt", DRONE_RULES)])

    assert list((tmp_path / "managed").iterdir()) == []
    assert load_index(settings.replace(), FakeEncoder()).generation == first.name


def test_failed_build_during_remove_puts_the_document_back(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    drone = _write(tmp_path / "inbox", "drone.txt", DRONE_RULES)
    DocumentLibrary(settings, FakeEncoder()).add([drone])
    before = sorted(p.name for p in (tmp_path / "managed").iterdir())

    class Broken(FakeEncoder):
        def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
            raise RuntimeError("encoder crashed")

    # Without the embedding cache the build must run the (broken) encoder again.
    shutil.rmtree(tmp_path / "index" / "cache")
    with pytest.raises(RuntimeError, match="encoder crashed"):
        DocumentLibrary(settings, Broken()).remove(_hash_id(drone))

    assert sorted(p.name for p in (tmp_path / "managed").iterdir()) == before


# --- across processes (FakeEncoder: these check the lock and the files, not retrieval) ------

_ADD_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, os.environ["TESTS_DIR"])
    from conftest import FakeEncoder
    from policyqa import library
    from policyqa.settings import Settings

    def touch(name):
        if os.environ.get(name):
            Path(os.environ[name]).write_text(str(os.getpid()))

    def pause():
        touch("PAUSED")
        resume = os.environ.get("RESUME")
        while not (resume and Path(resume).exists()):
            time.sleep(0.02)

    class Pausing(FakeEncoder):
        def _encode(self, texts, *, is_query):
            if os.environ.get("PAUSE_IN") == "build" and any(os.environ["PAUSE_ON"] in t for t in texts):
                pause()
            return super()._encode(texts, is_query=is_query)

    publish = library._publish_file
    def paused_publish(tmp, target):
        if os.environ.get("PAUSE_IN") == "copy" and not target.name.endswith(".meta.json"):
            pause()
        publish(tmp, target)
    library._publish_file = paused_publish

    settings = Settings(
        corpus_dirs=(Path(os.environ["CORPUS"]),),
        index_dir=Path(os.environ["INDEX"]),
        managed_dir=Path(os.environ["MANAGED"]),
        encoder=FakeEncoder.encoder_id,
    )
    touch("STARTED")
    report = library.DocumentLibrary(settings, Pausing()).add(sys.argv[1:])
    print("\\n".join(row.line() for row in report.files))
    """
)


def _start_add(settings: Settings, tmp_path: Path, files: list[Path], **env: str) -> subprocess.Popen[str]:
    script = tmp_path / "add_script.py"
    script.write_text(_ADD_SCRIPT, encoding="utf-8")
    environ = {
        **os.environ,
        "TESTS_DIR": str(TESTS_DIR),
        "CORPUS": str(settings.corpus_dirs[0]),
        "INDEX": str(settings.index_dir),
        "MANAGED": str(settings.managed_dir),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, files)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists; fail with the child's output if it exits first (or after 5 min)."""
    deadline = time.monotonic() + 300  # a safety net against a hang, not a timing assertion
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the add process exited with {process.returncode} first:\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path.name} never appeared")
        time.sleep(0.02)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def _waiting_for_lock(pid: int, lock: Path) -> bool:
    """Whether process ``pid`` is blocked in flock on ``lock`` (Linux lists waiters in /proc/locks with ``->``)."""
    inode = f":{lock.stat().st_ino} "
    return any(
        line.split()[1] == "->" and line.split()[5] == str(pid) and inode in line
        for line in Path("/proc/locks").read_text().splitlines()
        if len(line.split()) > 6
    )


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks to see a blocked process")
def test_two_processes_adding_at_once_both_end_up_indexed(fake_settings: Settings, tmp_path: Path) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    build_index(settings, FakeEncoder())
    drone = _write(tmp_path / "inbox", "drone.txt", DRONE_RULES)
    harbour = _write(tmp_path / "inbox", "harbour.txt", HARBOUR_NOTICE)
    signals = tmp_path / "signals"
    signals.mkdir()

    # The first stops in the middle of its build (its corpus read, its index not yet live) …
    first = _start_add(
        settings,
        tmp_path,
        [drone],
        PAUSE_IN="build",
        PAUSE_ON="无人机",
        PAUSED=str(signals / "first-building"),
        RESUME=str(signals / "resume"),
    )
    _wait_for(signals / "first-building", first)
    # … until the second is blocked on the lock, or (without a lock) has finished its own
    # add: then the first would go live last, without the second's document.
    second = _start_add(settings, tmp_path, [harbour])
    deadline = time.monotonic() + 300  # a safety net against a hang, not a timing assertion
    while second.poll() is None and not _waiting_for_lock(second.pid, settings.index_dir / LOCK_NAME):
        assert time.monotonic() < deadline, "the second add neither waited nor finished"
        time.sleep(0.02)
    (signals / "resume").touch()

    assert _finish(first).strip() == f"{drone}: added as {_hash_id(drone)}"
    assert _finish(second).strip() == f"{harbour}: added as {_hash_id(harbour)}"
    index = load_index(settings.replace(), FakeEncoder())
    assert {_hash_id(drone), _hash_id(harbour)} <= set(index.documents)
    assert _leftovers(tmp_path / "managed") == []


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
@pytest.mark.parametrize("moment", ["copy", "build"])
def test_sigkill_during_an_add_loses_nothing(fake_settings: Settings, tmp_path: Path, moment: str) -> None:
    settings = fake_settings.replace(managed_dir=tmp_path / "managed")
    library = DocumentLibrary(settings, FakeEncoder())
    harbour = _write(tmp_path / "inbox", "harbour.txt", HARBOUR_NOTICE)
    library.add([harbour])
    before = load_index(settings.replace(), FakeEncoder())
    drone = _write(tmp_path / "inbox", "drone.txt", DRONE_RULES)

    process = _start_add(
        settings, tmp_path, [drone], PAUSE_IN=moment, PAUSE_ON="无人机", PAUSED=str(tmp_path / "paused")
    )
    _wait_for(tmp_path / "paused", process)
    process.send_signal(signal.SIGKILL)
    process.communicate()

    # The previous index is still the live one and loads.
    after_crash = load_index(settings.replace(), FakeEncoder())
    assert after_crash.generation == before.generation
    assert set(after_crash.documents) == set(before.documents)
    if moment == "copy":
        assert _leftovers(tmp_path / "managed") != []  # the half-copied file the crash left

    # The next add (the lock was released with the process) clears what the crash left.
    result = library.add([_write(tmp_path / "inbox", "more.txt", "关于节约用水的通知\n\n各单位应当节约用水。\n")])

    assert result.added and _leftovers(tmp_path / "managed") == []
    index = load_index(settings.replace(), FakeEncoder())
    assert _hash_id(harbour) in index.documents
    # A file renamed into place before the crash is part of the corpus; a half-copied one is not.
    assert (_hash_id(drone) in index.documents) == (moment == "build")


# --- live pick-up (real encoder: these check answers) ------------------------------------------


@pytest.fixture()
def live_settings(mini_index: BuiltIndex, tmp_path: Path) -> Settings:
    """The mini corpus with a managed folder, on a copy of the mini index's folder (its embedding cache)."""
    index_dir = tmp_path / "index"
    shutil.copytree(mini_index.settings.index_dir, index_dir)
    return Settings(corpus_dirs=(MINI_DIR,), index_dir=index_dir, managed_dir=tmp_path / "managed")


def test_assistant_answers_from_an_added_document_after_refresh(
    live_settings: Settings, use_encoder: Encoder, tmp_path: Path
) -> None:
    assistant = Assistant(live_settings, encoder=use_encoder)
    old = assistant.ask(DRONE_QUESTION)
    generation = assistant.generation
    drone = _write(tmp_path / "inbox", "低空无人机飞行管理办法.txt", DRONE_RULES)

    DocumentLibrary(live_settings, use_encoder).add([drone])
    assert assistant.generation == generation  # nothing changes until refresh
    assert assistant.refresh() is True
    new = assistant.ask(DRONE_QUESTION)

    assert assistant.generation != generation
    assert assistant.refresh() is False  # nothing new since
    assert _hash_id(drone) not in [c.doc_id for c in old.citations]
    assert not new.abstained
    assert new.citations[0].doc_id == _hash_id(drone)
    assert new.citations[0].title == "低空无人机飞行管理办法"
    assert "提前三日" in new.answer


class _Gate(Encoder):
    """Wraps an encoder; blocks any batch holding ``trigger`` until released, and says when it is waiting."""

    def __init__(self, inner: Encoder, trigger: str) -> None:
        self.inner, self.trigger = inner, trigger
        self.encoder_id, self.dimension = inner.encoder_id, inner.dimension
        self.waiting, self.release = threading.Event(), threading.Event()

    @property
    def version(self) -> str:
        return self.inner.version

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if any(self.trigger in t for t in texts):
            self.waiting.set()
            assert self.release.wait(300), "never released"
        return self.inner._encode(texts, is_query=is_query)


def test_questions_during_a_build_are_answered_from_the_previous_generation(
    live_settings: Settings, use_encoder: Encoder, tmp_path: Path
) -> None:
    assistant = Assistant(live_settings, encoder=use_encoder)
    generation = assistant.generation
    drone = _write(tmp_path / "inbox", "低空无人机飞行管理办法.txt", DRONE_RULES)
    builder = _Gate(use_encoder, "无人机")
    adding = threading.Thread(target=lambda: DocumentLibrary(live_settings, builder).add([drone]))
    adding.start()
    try:
        assert builder.waiting.wait(300)  # the build is under way, its new passages not yet embedded
        during = assistant.ask(DRONE_QUESTION)
        assert assistant.refresh() is False
        assert assistant.generation == generation
        assert _hash_id(drone) not in [c.doc_id for c in during.citations]
    finally:
        builder.release.set()
        adding.join()
    assert assistant.refresh() is True
    assert assistant.ask(DRONE_QUESTION).citations[0].doc_id == _hash_id(drone)


def test_question_in_flight_finishes_on_its_generation_while_refresh_swaps(
    live_settings: Settings, use_encoder: Encoder, tmp_path: Path
) -> None:
    # The question's own embedding waits until the new build is live and loaded.
    gate = _Gate(use_encoder, DRONE_QUESTION)
    assistant = Assistant(live_settings, encoder=gate)
    gate.release.set()
    assistant.ask("高校可以自主决定转让科技成果吗？")
    generation = assistant.generation
    gate.release.clear()
    drone = _write(tmp_path / "inbox", "低空无人机飞行管理办法.txt", DRONE_RULES)
    answers: list[list[str]] = []
    asking = threading.Thread(
        target=lambda: answers.append([c.doc_id for c in assistant.ask(DRONE_QUESTION).citations])
    )
    asking.start()
    try:
        assert gate.waiting.wait(300)
        DocumentLibrary(live_settings, use_encoder).add([drone])
        assert assistant.refresh() is True  # does not wait for the question in flight
        assert assistant.generation != generation
    finally:
        gate.release.set()
        asking.join()
    assert answers and _hash_id(drone) not in answers[0]  # finished on the generation it started with
    assert assistant.ask(DRONE_QUESTION).citations[0].doc_id == _hash_id(drone)


# --- command line (real encoder, cached per process) -------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_add_docs_remove(
    live_settings: Settings,
    use_encoder: Encoder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POLICYQA_MANAGED_DIR", str(live_settings.managed_dir))
    common = ["--corpus", str(MINI_DIR), "--index-dir", str(live_settings.index_dir)]
    drone = _write(tmp_path / "inbox", "drone.txt", DRONE_RULES)
    empty = _write(tmp_path / "inbox", "empty.txt", "")
    doc_id = _hash_id(drone)

    status, out, _ = _run(capsys, "add", str(drone), str(empty), *common)
    assert status == 0
    assert out.splitlines() == [f"{drone}: added as {doc_id}", f"{empty}: error: empty file"]

    status, out, _ = _run(capsys, "add", str(drone), *common)
    assert (status, out.strip()) == (0, f"{drone}: duplicate of {doc_id}")
    status, out, _ = _run(capsys, "add", str(empty), *common)
    assert (status, out.strip()) == (2, f"{empty}: error: empty file")

    status, out, _ = _run(capsys, "docs", "--json", *common)
    rows = {row["doc_id"]: row for row in json.loads(out)}
    assert status == 0 and set(rows) == {"tech-maturity-policy", "model-transfer-regulation", doc_id}
    assert rows[doc_id]["title"] == "drone" and rows[doc_id]["added"] is not None
    assert rows["model-transfer-regulation"]["added"] is None
    status, out, _ = _run(capsys, "docs", *common)
    assert status == 0 and out.splitlines()[0].split() == ["id", "title", "kind", "pages", "chunks", "added"]
    assert len(out.splitlines()) == 4

    status, _, err = _run(capsys, "remove", "tech-maturity-policy", *common)
    assert status == 2 and "only documents added with policyqa add can be removed" in err
    status, out, _ = _run(capsys, "remove", doc_id, *common)
    assert status == 0 and out.startswith(f"removed {doc_id}")
    status, out, _ = _run(capsys, "docs", "--json", *common)
    assert doc_id not in {row["doc_id"] for row in json.loads(out)}
