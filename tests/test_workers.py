"""`policyqa serve --workers 2`: two worker processes behind one socket act as one server.

The real console script in a subprocess; the workers share their limits through the SQLite
state file, or through a real redis-server: a rate limit of N a minute admits N requests in all, whichever worker
takes each connection. (The kernel decides which worker accepts a connection; the test checks
that two workers run and that the limit holds for the server as a whole.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from app_fixtures import free_port
from conftest import MINI_DIR
from test_shared_state import RedisServer, require_redis_server

pytest.importorskip("uvicorn", reason="serving needs the 'serve' extra")

RATE = 5
SERVE_LOG = "serve.log"  # in the test's folder: what `policyqa serve` wrote to stderr
READY_WAIT_SECONDS = 240  # the index is built first, then two workers each load it


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@contextmanager
def _serving_two_workers(
    tmp_path: Path, shared: dict[str, str], key: str | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``policyqa serve --workers 2`` on a copy of the mini corpus, ready (asked with ``key``); stopped after."""
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    port = free_port()
    env = os.environ | {
        "POLICYQA_RATE_LIMIT": f"{RATE}/minute",
        "POLICYQA_MANAGED_DIR": str(tmp_path / "managed"),
        **shared,
    }
    script = Path(sys.executable).with_name("policyqa")
    command = [str(script), "serve", "--workers", "2", "--port", str(port), "--corpus", str(corpus)]
    command += ["--index-dir", str(tmp_path / "index")]
    # The log goes to a file: a pipe nobody reads would stop the server once it filled.
    log = tmp_path / SERVE_LOG
    with log.open("wb") as sink:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_WAIT_SECONDS  # a wait for readiness, not a measurement
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"serve exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                if httpx.get(f"{url}/readyz", headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve --workers 2 never became ready")
            time.sleep(0.5)
        try:
            yield url, server
        except BaseException:
            # What the server said is the only account of a failure in CI, where its files are gone.
            print(f"serve's log, its end:\n{log.read_text(errors='replace')[-3000:]}")
            raise
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(params=["sqlite", "redis"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if request.param == "sqlite":
        with _serving_two_workers(tmp_path, {"POLICYQA_STATE_DB": str(tmp_path / "state.sqlite3")}) as serving:
            yield serving
        return
    require_redis_server()
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with _serving_two_workers(tmp_path, {"POLICYQA_REDIS_URL": redis.url}) as serving:
            yield serving
    finally:
        redis.stop()


@pytest.mark.slow
def test_two_worker_processes_share_one_rate_limit(two_workers: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, server = two_workers
    assert len(_children(server.pid)) >= 2, "serve --workers 2 runs two worker processes"
    statuses = []
    for _ in range(RATE + 2):
        # A new connection each time, so the kernel hands requests to either worker.
        with httpx.Client(base_url=url, timeout=60, headers={"Connection": "close"}) as client:
            statuses.append(client.post("/api/v1/search", json={"question": "科技成果转化"}).status_code)
    assert statuses[:RATE] == [200] * RATE
    assert statuses[RATE:] == [429, 429]


def _memory_kib(pid: int) -> dict[str, int]:
    """The fields of ``/proc/PID/smaps_rollup``, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def _assert_mostly_shared(workers: Iterable[int]) -> None:
    """Each worker's memory is mostly pages it shares with the supervisor, not its own copy."""
    for worker in workers:
        memory = _memory_kib(worker)
        shared = memory["Shared_Clean"] + memory["Shared_Dirty"]
        private = memory["Private_Clean"] + memory["Private_Dirty"]
        assert shared > 2 * private, f"worker {worker}: {shared} KiB shared, {private} KiB private"


def _wait_for_children(pid: int, done: Callable[[list[int]], bool], seconds: float) -> list[int]:
    """The supervisor's children once ``done`` holds of them, or when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds  # a wait for the supervisor, not a measurement
    while True:
        children = _children(pid)
        if done(children) or time.monotonic() > deadline:
            return children
        time.sleep(0.2)


@pytest.mark.slow
def test_workers_share_the_loaded_index_and_encoder(tmp_path: Path) -> None:
    """Forked after the load, a worker's memory is mostly the supervisor's pages, shared, not its own copy."""
    with _serving_two_workers(tmp_path, {"POLICYQA_STATE_DB": str(tmp_path / "state.sqlite3")}) as (url, server):
        for question in ("科技成果转化", "What policy fits the trough of disillusionment?"):
            with httpx.Client(base_url=url, timeout=60, headers={"Connection": "close"}) as client:
                assert client.post("/api/v1/ask", json={"question": question}).status_code == 200
        workers = _children(server.pid)
        assert len(workers) == 2
        _assert_mostly_shared(workers)


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    with _serving_two_workers(tmp_path, {"POLICYQA_STATE_DB": str(tmp_path / "state.sqlite3")}) as (url, server):
        first, second = _children(server.pid)
        os.kill(first, signal.SIGKILL)
        workers = _wait_for_children(server.pid, lambda children: first not in children and len(children) == 2, 60)
        assert len(workers) == 2 and first not in workers and second in workers
        for _ in range(4):  # new connections, so that both workers take some
            with httpx.Client(base_url=url, timeout=60, headers={"Connection": "close"}) as client:
                assert client.post("/api/v1/search", json={"question": "科技成果转化"}).status_code == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "every worker stopped with the server"
        assert "exited (signal SIGKILL)" in (tmp_path / SERVE_LOG).read_text(errors="replace")


NEW_DOCUMENT = """# 示范无人机物流配送试点办法

第一条 开展无人机物流配送试点的企业，应当建立飞行安全管理制度，配备专职安全员。
"""


@pytest.mark.slow
def test_a_new_build_is_served_by_workers_forked_again_from_the_supervisor(tmp_path: Path) -> None:
    """`policyqa add` in another process: the supervisor loads the build and replaces both workers."""
    shared = {"POLICYQA_STATE_DB": str(tmp_path / "state.sqlite3")}
    with _serving_two_workers(tmp_path, shared) as (url, server):
        before = set(_children(server.pid))
        document = tmp_path / "drone-pilot.md"
        document.write_text(NEW_DOCUMENT, encoding="utf-8")
        env = os.environ | {"POLICYQA_MANAGED_DIR": str(tmp_path / "managed"), **shared}
        script = Path(sys.executable).with_name("policyqa")
        added = subprocess.run(
            [str(script), "add", str(document), "--corpus", "corpus", "--index-dir", "index"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + 120  # a wait for the supervisor, not a measurement
        while (workers := set(_children(server.pid))) & before or len(workers) != 2:
            assert time.monotonic() < deadline, f"workers not replaced: {before} -> {workers}"
            time.sleep(0.2)
        for _ in range(4):  # new connections, so that both new workers answer
            with httpx.Client(base_url=url, timeout=60, headers={"Connection": "close"}) as client:
                found = client.post("/api/v1/search", json={"question": "无人机物流配送试点的企业应当配备什么？"})
                assert found.status_code == 200
                assert found.json()["passages"][0]["title"] == "示范无人机物流配送试点办法"
        _assert_mostly_shared(workers)


def test_a_port_in_use_is_an_error_before_the_index_is_loaded(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        script = Path(sys.executable).with_name("policyqa")
        command = [str(script), "serve", "--workers", "2", "--port", str(port), "--corpus", str(MINI_DIR)]
        command += ["--index-dir", str(tmp_path / "index")]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / "index").exists(), "nothing was built for a server that cannot listen"
