"""The shared state of workers and replicas (``policyqa_app.state``): Redis and SQLite pass the same tests.

Redis is a real ``redis-server`` on a free port, started per test module; without the binary the
Redis cases skip locally and fail under CI (``make setup-services`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from app_fixtures import KEY, free_port, redeem_at_once, serve
from conftest import running_in_ci

from policyqa import Assistant
from policyqa_app import AppSettings
from policyqa_app.embed import EmbedTokenError
from policyqa_app.limits import Rate
from policyqa_app.security import Identity
from policyqa_app.state import (
    RedisState,
    SharedEmbedTokenStore,
    SharedState,
    SqliteState,
    StateUnavailableError,
)

pytest_plugins = ["app_fixtures"]
pytest.importorskip("redis", reason="the Redis backend needs the 'scale' extra: pip install -e '.[scale]'")


class RedisServer:
    """A real redis-server on loopback that a test may stop and start again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


def require_redis_server() -> None:
    if shutil.which("redis-server"):
        return
    missing = "redis-server is not installed (make setup-services installs it)"
    if running_in_ci():
        pytest.fail(f"CI=true and {missing}: the shared-state tests must run in CI", pytrace=False)
    pytest.skip(missing)


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A factory of state handles on one store: each handle is what one process opens."""
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite3"
        yield "sqlite", lambda **kw: SqliteState(path, **kw)
    else:
        server = request.getfixturevalue("redis_server")
        yield "redis", lambda **kw: RedisState(server.url, **kw)


def _open(backend: tuple[str, object], **kwargs: object) -> SharedState:
    return backend[1](**kwargs)  # type: ignore[operator,no-any-return]


def test_a_bucket_admits_its_size_then_names_the_wait(backend: tuple[str, object]) -> None:
    first, second = _open(backend), _open(backend)
    rate = Rate(3, 60)
    assert [first.take("client", rate), second.take("client", rate), first.take("client", rate)] == [0.0] * 3
    wait = second.take("client", rate)
    assert 0 < wait <= 20.5  # one token comes back every 20 s
    assert first.take("another client", rate) == 0.0


def test_a_bucket_shared_by_threads_admits_exactly_its_size(backend: tuple[str, object]) -> None:
    handles = [_open(backend) for _ in range(4)]  # four "processes"
    rate = Rate(50, 3600)
    admitted: list[bool] = []
    lock = threading.Lock()

    def spend(state: SharedState) -> None:
        for _ in range(30):
            ok = state.take("busy", rate) == 0.0
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=spend, args=(h,)) for h in handles for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 240
    assert admitted.count(True) == 50


def test_queue_slots_are_bounded_across_processes_and_given_back(backend: tuple[str, object]) -> None:
    handles = [_open(backend) for _ in range(3)]
    results: list[bool] = []
    lock = threading.Lock()

    def enter(state: SharedState) -> None:
        for _ in range(4):
            ok = state.enter(5)
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=enter, args=(h,)) for h in handles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5
    holder = next(h for h in handles if h._lease.count)  # type: ignore[attr-defined]
    holder.leave()
    assert handles[0].enter(5)
    assert not handles[1].enter(5)


def test_the_slots_of_a_crashed_process_come_back_when_its_lease_expires(backend: tuple[str, object]) -> None:
    crashed = _open(backend, lease_seconds=0.6)
    assert crashed.enter(2) and crashed.enter(2)
    crashed._lease.stop()  # type: ignore[attr-defined]  # no more heartbeats: as if the process died
    survivor = _open(backend, lease_seconds=0.6)
    assert not survivor.enter(2)
    deadline = time.monotonic() + 10
    while not survivor.enter(2):
        assert time.monotonic() < deadline, "the crashed process's slots never came back"
        time.sleep(0.1)


def test_a_state_made_before_a_fork_gives_the_child_its_own_slots_and_connection(
    backend: tuple[str, object],
) -> None:
    # `policyqa serve --workers N` builds the app, and its state, before forking the workers.
    state = _open(backend)
    assert state.enter(3)  # the parent holds a slot (and, on SQLite, an open connection)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without running the test session's teardown
        code = 1
        try:
            report = {
                "owner": getattr(state, "_owner", None) or state._own_slot_key,  # type: ignore[attr-defined]
                "count_at_start": state._lease.count,  # type: ignore[attr-defined]
                "entered": [state.enter(3), state.enter(3), state.enter(3)],
                "bucket": state.take("after the fork", Rate(1, 60)),
            }
            state.leave()
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    assert os.waitpid(pid, 0)[1] == 0, "the child failed"
    parent_owner = getattr(state, "_owner", None) or state._own_slot_key  # type: ignore[attr-defined]
    assert report["owner"] != parent_owner  # the child's slots are its own, under its own lease
    assert report["count_at_start"] == 0
    assert report["entered"] == [True, True, False]  # one slot the parent's, two the child's
    assert report["bucket"] == 0.0
    # The child kept one slot (until its lease runs out); the parent's connection still works.
    assert state.take("after the fork", Rate(1, 60)) > 0
    assert state.enter(3) and not state.enter(3)
    state.leave()
    state.leave()
    assert state._lease.count == 0  # type: ignore[attr-defined]


def test_sessions_are_shared_revoked_and_expire(backend: tuple[str, object]) -> None:
    first, second = _open(backend), _open(backend)
    first.put_session("digest-a", '{"name": "key:0a1b2c3d", "method": "key"}', 3600)
    first.put_session("digest-b", '{"name": "key:0a1b2c3d", "method": "key"}', 1)
    assert second.get_session("digest-a") == '{"name": "key:0a1b2c3d", "method": "key"}'
    second.drop_session("digest-a")
    assert first.get_session("digest-a") is None
    time.sleep(1.2)
    assert first.get_session("digest-b") is None


def test_a_conversation_kept_by_one_process_is_read_by_another_and_expires(backend: tuple[str, object]) -> None:
    first, second = _open(backend), _open(backend)
    answers = '[{"question": "职务科技成果转化的奖励是多少？", "citations": []}, null]'
    first.put_conversation("page-a", answers, 3600)
    first.put_conversation("page-b", "[]", 1)
    assert second.get_conversation("page-a") == answers
    second.put_conversation("page-a", "[null, null, null]", 3600)  # the next answer replaces the whole
    assert first.get_conversation("page-a") == "[null, null, null]"
    assert first.get_conversation("page-c") is None
    time.sleep(1.2)
    assert first.get_conversation("page-b") is None


def _refusal(store: SharedEmbedTokenStore, token: str) -> str:
    with pytest.raises(EmbedTokenError) as refused:
        store.redeem(token)
    return refused.value.reason


def test_an_embed_token_issued_by_one_process_is_redeemed_once_by_another(backend: tuple[str, object]) -> None:
    issuer, redeemer = SharedEmbedTokenStore(_open(backend)), SharedEmbedTokenStore(_open(backend))
    portal = Identity("key:0a1b2c3d", "key", admin=True)
    token = issuer.issue(portal)
    assert redeemer.redeem(token) == portal
    assert _refusal(issuer, token) == "used"
    assert _refusal(redeemer, "never-issued-" + token) == "unknown"
    short_lived = SharedEmbedTokenStore(_open(backend), ttl_seconds=0.2)
    stale = short_lived.issue(portal)
    time.sleep(0.5)
    assert _refusal(redeemer, stale) == "expired"
    assert "Reload the portal page" in str(pytest.raises(EmbedTokenError, redeemer.redeem, stale).value)


def test_an_embed_token_raced_by_eight_processes_signs_in_one(backend: tuple[str, object]) -> None:
    token = SharedEmbedTokenStore(_open(backend)).issue(Identity("key:0a1b2c3d", "key"))
    outcomes = redeem_at_once([SharedEmbedTokenStore(_open(backend)) for _ in range(8)], token)
    assert sorted(outcomes) == ["signed in"] + ["used"] * 7


def test_sign_in_attempts_are_counted_across_processes_and_refunded(backend: tuple[str, object]) -> None:
    first, second = _open(backend), _open(backend)
    assert first.attempt("10.0.0.5", 2, 60) == 0.0
    assert second.attempt("10.0.0.5", 2, 60) == 0.0
    assert first.attempt("10.0.0.5", 2, 60) > 0
    second.refund("10.0.0.5")
    assert first.attempt("10.0.0.5", 2, 60) == 0.0


def test_the_generation_signal_is_seen_by_every_process(backend: tuple[str, object]) -> None:
    builder, replica = _open(backend), _open(backend)
    assert replica.generation() is None
    builder.publish_generation("build-20261201T000000-1-1")
    assert replica.generation() == "build-20261201T000000-1-1"


@pytest.mark.slow
def test_redis_going_away_is_an_error_and_service_resumes_when_it_returns(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url)
    assert state.take("client", Rate(5, 60)) == 0.0
    redis_server.stop()
    with pytest.raises(StateUnavailableError):
        state.take("client", Rate(5, 60))
    redis_server.start()
    assert state.take("client", Rate(5, 60)) == 0.0  # a fresh Redis: a full bucket


@pytest.mark.slow
def test_two_servers_on_one_redis_share_the_rate_limit_sessions_and_503_when_it_is_down(
    assistant: Assistant, redis_server: RedisServer, key_file: Path, tmp_path: Path
) -> None:
    def security(name: str) -> AppSettings:
        return AppSettings.from_env(
            environ={"POLICYQA_API_KEYS_FILE": str(key_file)},
            feedback_db=tmp_path / f"{name}.sqlite3",
            redis_url=redis_server.url,
            rate_limit=Rate(5, 60),
        )

    headers = {"X-API-Key": KEY}
    with (
        serve(assistant, security("a"), with_ui=False, wait_for_index=False) as first,
        serve(assistant, security("b"), with_ui=False, wait_for_index=False) as second,
        first.client(headers=headers) as a,
        second.client(headers=headers) as b,
    ):
        # The portal's server gets an embed token from one replica; its frame lands on the other.
        issued = httpx.post(f"{first.url}/api/v1/embed-token", headers={"X-API-Key": KEY}, timeout=30)
        assert issued.status_code == 200
        token = issued.json()["token"]
        with second.client() as frame:
            signed_in = frame.post("/auth/embed", data={"token": token})
            assert signed_in.status_code == 200, signed_in.text
            assert "policyqa_embed" in signed_in.cookies
        with first.client() as replay:
            again = replay.post("/auth/embed", data={"token": token})
            assert again.status_code == 401
            assert "already used" in again.json()["error"]["message"]

        # Four more from the key's bucket of five, on either server; then none.
        statuses = [c.get("/api/v1/documents").status_code for c in (a, b, a, b)]
        assert statuses == [200, 200, 200, 200]
        refused = b.get("/api/v1/documents")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"

        # A sign-in on one server is a session on the other.
        with first.client() as browser:
            login = browser.post(
                "/auth/login", data={"api_key": KEY}, headers={"Origin": first.url}, follow_redirects=False
            )
            assert login.status_code == 303
            token = browser.cookies["policyqa_session"]
        with second.client(cookies={"policyqa_session": token}) as other:
            assert other.get("/readyz").status_code in (200, 503)  # readiness is not limited
            assert other.get("/api/v1/documents").status_code in (200, 429)  # admitted: not 401

        redis_server.stop()
        not_ready = a.get("/readyz")  # every other request would get 503: not ready for the proxy either
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["code"] == "state_unavailable"
        down = a.get("/api/v1/documents")
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "state_unavailable"
        assert "Retry" in down.json()["error"]["message"]
        redis_server.start()
        assert a.get("/api/v1/documents").status_code == 200  # a fresh Redis: a fresh bucket


def test_a_state_file_opened_while_another_process_turns_wal_on_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for the feedback store (tests/test_api.py): SQLite's refusal of a second process turning
    # WAL on at the same moment cannot be made to happen on demand, so it is injected once.
    real_open = SqliteState._open
    refusals = []

    def refused_once(self: SqliteState) -> sqlite3.Connection:
        if not refusals:
            refusals.append(1)
            raise sqlite3.OperationalError("database is locked")
        return real_open(self)

    monkeypatch.setattr(SqliteState, "_open", refused_once)
    state = SqliteState(tmp_path / "state.sqlite3")
    try:
        assert refusals == [1]
        assert state.backend == "sqlite" and (tmp_path / "state.sqlite3").exists()
    finally:
        state.close()
