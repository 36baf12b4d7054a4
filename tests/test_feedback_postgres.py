"""Feedback backends: SQLite (default) and PostgreSQL pass the same tests; two replicas write at once.

PostgreSQL is a real server started once per session (``initdb`` + ``pg_ctl`` on a free
loopback port, trust authentication, a throw-away folder); each test gets its own database.
Without the PostgreSQL binaries the PostgreSQL cases skip locally and fail under CI=true.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import running_in_ci

pytest.importorskip("fastapi", reason="the app needs the 'serve' extra: pip install -e '.[serve,dev]'")

from policyqa import ConfigError  # noqa: E402
from policyqa_app import AppSettings  # noqa: E402
from policyqa_app.feedback import (  # noqa: E402
    MAX_TEXT_CHARS,
    FeedbackBackend,
    FeedbackRecord,
    export_jsonl,
    open_feedback_store,
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)]
REPLICA_WRITES = 400
WRITER_THREADS = 8
START_TIMEOUT_SECONDS = 60
_databases = itertools.count()

# One replica: opens the store the environment names, says it is ready, waits for the go file,
# then adds its records from several threads at once.
WRITER = """
import sys, threading, time
from pathlib import Path
from policyqa_app import AppSettings
from policyqa_app.feedback import FeedbackRecord, open_feedback_store

replica, count, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ready, go = Path(sys.argv[4]), Path(sys.argv[5])
store = open_feedback_store(AppSettings.from_env())
ready.touch()
while not go.exists():
    time.sleep(0.005)
errors = []

def write(first):
    try:
        for i in range(first, count, threads):
            store.add(FeedbackRecord(f"{replica}-{i}", "答案 [1]", False, [], "up", user=replica, source="api"))
    except BaseException as exc:
        errors.append(exc)

workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
sys.exit(f"{replica}: {errors[0]!r}" if errors else 0)
"""


def _postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's and Ubuntu's versioned folder."""
    if found := shutil.which("pg_ctl"):
        if shutil.which("initdb"):
            return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL on a free loopback port for the session; yields the URL of its ``postgres`` database."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        missing = "PostgreSQL's initdb and pg_ctl are not installed (make setup-services installs them)"
        if running_in_ci():
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(missing)
    # initdb refuses to run as root: as root, the cluster belongs to nobody.
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="policyqa-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail("running as root and runuser is missing: initdb cannot run", pytrace=False)
        as_user = [runuser, "-u", "nobody", "--"]
        shutil.chown(folder, user="nobody")
    data, log, port = folder / "data", folder / "server.log", _free_port()
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        + ["--no-sync"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"]
        # -F: no fsync; a throw-away test cluster need not survive a power cut.
        + ["-o", f"-h 127.0.0.1 -p {port} -k {folder} -F"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _new_database(server_url: str) -> str:
    import psycopg

    name = f"feedback_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=BACKENDS)
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> AppSettings:
    """App settings naming a fresh, empty feedback store of each backend."""
    if request.param == "postgres":
        url = _new_database(request.getfixturevalue("postgres_server"))
        return AppSettings(feedback_db=tmp_path / "unused.sqlite3", feedback_url=url)
    return AppSettings(feedback_db=tmp_path / "var" / "feedback.sqlite3")


@pytest.fixture()
def open_store(backend_settings: AppSettings) -> Callable[[], FeedbackBackend]:
    """Opens the store the settings name; each call is a new instance, as another replica's would be."""
    return lambda: open_feedback_store(backend_settings)


def _record(question: str, **changes: object) -> FeedbackRecord:
    citation = {"n": 1, "chunk_id": "c1", "doc_id": "d1", "section": "第一章", "char_start": 3, "char_end": 9}
    fields: dict[str, object] = {
        "question": question,
        "answer": "技术复苏基金由政府牵头设立 [1]",
        "abstained": False,
        "citations": [{**citation, "text": "not kept", "score": 0.8}],
        "rating": "up",
    }
    fields.update(changes)
    return FeedbackRecord(**fields)  # type: ignore[arg-type]


def test_the_backend_satisfies_the_protocol(open_store: Callable[[], FeedbackBackend]) -> None:
    assert isinstance(open_store(), FeedbackBackend)


def test_records_are_exported_oldest_first_with_every_field(open_store: Callable[[], FeedbackBackend]) -> None:
    store = open_store()
    first = store.add(_record("技术复苏基金由谁设立？", comment="引用准确", user="wang.li", source="api"))
    second = store.add(_record("What is the fund for?", rating=None, abstained=True))
    assert second > first
    exported = list(store.export())
    assert [r["id"] for r in exported] == [first, second]
    one = exported[0]
    assert set(one) == {
        "id",
        "created_at",
        "updated_at",
        "user",
        "source",
        "question",
        "answer",
        "abstained",
        "citations",
        "rating",
        "comment",
    }
    assert (one["question"], one["user"], one["source"]) == ("技术复苏基金由谁设立？", "wang.li", "api")
    assert one["comment"] == "引用准确"
    assert one["abstained"] is False and exported[1]["abstained"] is True
    assert exported[1]["rating"] is None and exported[1]["user"] == "anonymous"
    # Only the fields that find the cited span again are kept.
    assert one["citations"] == [
        {"n": 1, "chunk_id": "c1", "doc_id": "d1", "section": "第一章", "char_start": 3, "char_end": 9}
    ]
    assert str(one["created_at"]).endswith("+00:00") and one["created_at"] == one["updated_at"]


def test_a_record_is_changed_by_id_and_a_missing_one_is_reported(open_store: Callable[[], FeedbackBackend]) -> None:
    store = open_store()
    row = store.add(_record("q", rating=None))
    assert store.update(row, rating="down") is True
    assert store.update(row, comment="没有引用具体条款") is True
    assert store.update(row + 1000, rating="up") is False
    (item,) = store.export()
    assert (item["rating"], item["comment"]) == ("down", "没有引用具体条款")
    assert str(item["updated_at"]) >= str(item["created_at"])


def test_bad_ratings_and_long_comments_are_refused_by_name(open_store: Callable[[], FeedbackBackend]) -> None:
    store = open_store()
    row = store.add(_record("q"))
    with pytest.raises(ConfigError, match="'meh'"):
        store.update(row, rating="meh")
    with pytest.raises(ConfigError, match="at most"):
        store.update(row, comment="x" * 5000)
    (item,) = store.export()
    assert (item["rating"], item["comment"]) == ("up", "")


def test_long_texts_are_cut_and_lines_are_json(open_store: Callable[[], FeedbackBackend]) -> None:
    store = open_store()
    store.add(_record("问" * (MAX_TEXT_CHARS + 10), answer="答\n" * MAX_TEXT_CHARS))
    (line,) = list(export_jsonl(store))
    assert line.endswith("\n") and line.count("\n") == 1
    item = json.loads(line)
    assert len(item["question"]) == len(item["answer"]) == MAX_TEXT_CHARS


def test_another_instance_sees_the_same_records(open_store: Callable[[], FeedbackBackend]) -> None:
    first = open_store()
    row = first.add(_record("q"))
    again = open_store()  # the schema exists: opening it again creates nothing and loses nothing
    assert again.count() == 1
    assert again.update(row, rating="down")
    assert [r["rating"] for r in first.export()] == ["down"]


@pytest.mark.slow
def test_two_replicas_writing_at_once_store_every_record(backend_settings: AppSettings, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    environ["POLICYQA_FEEDBACK_DB"] = str(backend_settings.feedback_db)
    if backend_settings.feedback_url:
        environ["POLICYQA_FEEDBACK_URL"] = backend_settings.feedback_url
    go = tmp_path / "go"
    replicas = {}
    for name in ("replica-a", "replica-b"):
        ready = tmp_path / f"{name}.ready"
        args = [name, str(REPLICA_WRITES), str(WRITER_THREADS), str(ready), str(go)]
        replicas[name] = (ready, subprocess.Popen([sys.executable, "-c", WRITER, *args], env=environ))
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not all(ready.exists() for ready, _ in replicas.values()):
            assert all(p.poll() is None for _, p in replicas.values()), "a replica exited before it was ready"
            assert time.monotonic() < deadline, "the replicas did not start"
            time.sleep(0.02)
        go.touch()  # both have opened the store: now both write at once
        codes = {name: process.wait(timeout=300) for name, (_, process) in replicas.items()}
    finally:
        for _, process in replicas.values():
            if process.poll() is None:
                process.kill()
    assert codes == {"replica-a": 0, "replica-b": 0}
    store = open_feedback_store(backend_settings)
    records = list(store.export())
    assert store.count() == len(records) == 2 * REPLICA_WRITES
    expected = {f"{name}-{i}" for name in replicas for i in range(REPLICA_WRITES)}
    assert {r["question"] for r in records} == expected
    assert len({r["id"] for r in records}) == 2 * REPLICA_WRITES


def test_feedback_posted_over_http_is_exported(backend_settings: AppSettings, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from policyqa import Assistant, Settings
    from policyqa_app import create_app

    # Feedback needs no index: the assistant is never loaded (no lifespan, no question).
    assistant = Assistant(Settings(corpus_dirs=(tmp_path,), index_dir=tmp_path / "index"), auto_build=False)
    app = create_app(security=backend_settings, assistant=assistant, with_ui=False)
    client = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
    body = {"question": "技术复苏基金由谁设立？", "answer": "政府 [1]", "rating": "down", "comment": "太短"}
    posted = client.post("/api/v1/feedback", json=body)
    assert posted.status_code == 200, posted.text
    export = client.get("/api/v1/feedback/export")
    assert export.status_code == 200
    (item,) = [json.loads(line) for line in export.text.splitlines()]
    assert item["id"] == posted.json()["id"]
    assert (item["question"], item["rating"], item["comment"]) == (body["question"], "down", "太短")
    assert item["source"] == "api"
