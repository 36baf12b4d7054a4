"""A UI session's requests served by the worker that owns it, whichever worker receives them.

Two real uvicorn servers in this process stand in for two workers: each listens on a TCP port
(the browser's) and on its own Unix socket (its peers'), both wrapped in ``SessionAffinity``.
The app behind them reports which worker served a request and what it saw.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

pytest.importorskip("uvicorn", reason="serving needs the 'serve' extra")

import uvicorn  # noqa: E402

from policyqa_app.affinity import ROUTED_CLIENT_HEADER, SessionAffinity, owner_slot, session_key  # noqa: E402

WAIT_SECONDS = 20  # waits for a server or an event, never a measurement
WORKERS = 2


def _scope(path: str, query: str = "") -> dict:  # type: ignore[type-arg]
    return {"type": "http", "path": path, "query_string": query.encode(), "headers": []}


def test_session_key_comes_from_the_query_the_heartbeat_path_or_the_event_body() -> None:
    assert session_key(_scope("/gradio_api/queue/data", "session_hash=abc123")) == "session:abc123"
    assert session_key(_scope("/gradio_api/heartbeat/abc123")) == "session:abc123"
    assert session_key(_scope("/gradio_api/upload", "upload_id=u9")) == "upload:u9"
    assert session_key(_scope("/gradio_api/upload_progress", "upload_id=u9")) == "upload:u9"
    body = json.dumps({"data": ["科技成果转化"], "fn_index": 3, "session_hash": "abc123"}).encode()
    assert session_key(_scope("/gradio_api/queue/join"), body) == "session:abc123"
    assert session_key(_scope("/gradio_api/info")) is None
    # Only the UI's routes: the JSON API has no sessions to keep.
    assert session_key(_scope("/api/v1/ask", "session_hash=abc123")) is None


def test_each_session_has_one_owner_and_the_sessions_spread_over_the_workers() -> None:
    keys = [f"session:{n:04x}" for n in range(200)]
    owners = [owner_slot(key, WORKERS) for key in keys]
    assert owners == [owner_slot(key, WORKERS) for key in keys]
    assert 60 < owners.count(0) < 140


@dataclass
class Worker:
    slot: int
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    disconnected: threading.Event


def _app(slot: int, proceed: threading.Event, disconnected: threading.Event):  # type: ignore[no-untyped-def]
    """What served a request: this worker's slot, the client and scheme it saw, the body it got."""

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/gradio_api/queue/data":
            await _stream(send, receive, proceed, disconnected)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = {
            "worker": slot,
            "client": list(scope["client"]) if scope.get("client") else None,
            "scheme": scope["scheme"],
            "headers": sorted(n.decode() for n, _ in scope["headers"]),
            "body_sha": hashlib.sha256(body).hexdigest(),
            "body_bytes": len(body),
        }
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    return app


async def _stream(send, receive, proceed: threading.Event, disconnected: threading.Event) -> None:  # type: ignore[no-untyped-def]
    """An event stream: a first event, a second once the test has read the first, then one a tick until closed.

    It watches for the client's disconnect as Starlette's streaming responses (and Gradio's) do.
    """
    import asyncio

    while (await receive()).get("more_body"):
        pass  # the request's (empty) body; what comes next is the disconnect
    gone = asyncio.ensure_future(receive())
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": b"data: first\n\n", "more_body": True})
    for _ in range(WAIT_SECONDS * 10):
        if proceed.is_set():
            break
        await asyncio.sleep(0.1)
    await send({"type": "http.response.body", "body": b"data: second\n\n", "more_body": True})
    for _ in range(WAIT_SECONDS * 20):
        if gone.done() and gone.result()["type"] == "http.disconnect":
            disconnected.set()
            return
        await send({"type": "http.response.body", "body": b"data: tick\n\n", "more_body": True})
        await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture
def workers() -> Iterator[tuple[list[Worker], threading.Event]]:
    folder = tempfile.mkdtemp(prefix="pq-affinity-")
    paths = [os.path.join(folder, f"worker-{slot}.sock") for slot in range(WORKERS)]
    proceed = threading.Event()
    running = []
    for slot in range(WORKERS):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        tcp.bind(("127.0.0.1", 0))
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(paths[slot])
        disconnected = threading.Event()
        app = SessionAffinity(_app(slot, proceed, disconnected), slot, paths)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [tcp, unix]}, daemon=True)
        thread.start()
        running.append(Worker(slot, tcp.getsockname()[1], server, thread, disconnected))
    deadline = time.monotonic() + WAIT_SECONDS
    while not all(w.server.started for w in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(w.server.started for w in running), "the two servers started"
    try:
        yield running, proceed
    finally:
        for worker in running:
            worker.server.should_exit = True
        for worker in running:
            worker.thread.join(WAIT_SECONDS)
        for path in paths:
            os.unlink(path)
        os.rmdir(folder)


def _session_owned_by(slot: int) -> str:
    return next(h for h in (f"s{n}" for n in range(100)) if owner_slot(f"session:{h}", WORKERS) == slot)


def test_a_session_is_served_by_its_owner_whichever_worker_receives_it(workers) -> None:  # type: ignore[no-untyped-def]
    running, _ = workers
    for owner in range(WORKERS):
        session = _session_owned_by(owner)
        for receiver in running:
            url = f"http://127.0.0.1:{receiver.port}"
            by_query = httpx.get(f"{url}/gradio_api/heartbeat/{session}").json()
            event = json.dumps({"data": ["科技成果转化"], "fn_index": 0, "session_hash": session}).encode()
            json_type = {"content-type": "application/json"}
            by_body = httpx.post(f"{url}/gradio_api/queue/join", content=event, headers=json_type).json()
            for seen in (by_query, by_body):
                assert seen["worker"] == owner
                # The browser's address and scheme, not the Unix socket's nothing.
                assert seen["client"][0] == "127.0.0.1" and seen["scheme"] == "http"
                assert ROUTED_CLIENT_HEADER.decode() not in seen["headers"]
            assert by_body["body_sha"] == hashlib.sha256(event).hexdigest()


def test_an_upload_is_passed_on_whole_and_other_requests_are_served_where_they_arrive(workers) -> None:  # type: ignore[no-untyped-def]
    running, _ = workers
    upload = next(u for u in (f"u{n}" for n in range(100)) if owner_slot(f"upload:{u}", WORKERS) == 1)
    payload = os.urandom(3 * 1024 * 1024)  # larger than the bodies read to find a session
    url = f"http://127.0.0.1:{running[0].port}"
    seen = httpx.post(f"{url}/gradio_api/upload?upload_id={upload}", content=payload).json()
    assert seen["worker"] == 1
    assert (seen["body_bytes"], seen["body_sha"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    for worker in running:
        assert httpx.get(f"http://127.0.0.1:{worker.port}/api/v1/health").json()["worker"] == worker.slot
        assert httpx.get(f"http://127.0.0.1:{worker.port}/gradio_api/info").json()["worker"] == worker.slot


def test_a_client_cannot_claim_another_address_through_the_routing_header(workers) -> None:  # type: ignore[no-untyped-def]
    running, _ = workers
    session = _session_owned_by(0)
    forged = {ROUTED_CLIENT_HEADER.decode(): "https 10.9.8.7:1"}
    for worker in running:
        url = f"http://127.0.0.1:{worker.port}"
        for path in (f"/gradio_api/heartbeat/{session}", "/api/v1/health"):
            seen = httpx.get(url + path, headers=forged).json()
            assert seen["client"][0] == "127.0.0.1" and seen["scheme"] == "http"
            assert ROUTED_CLIENT_HEADER.decode() not in seen["headers"]


def test_an_event_stream_is_relayed_as_it_is_written_and_closed_with_the_browser(workers) -> None:  # type: ignore[no-untyped-def]
    running, proceed = workers
    session = _session_owned_by(1)
    url = f"http://127.0.0.1:{running[0].port}/gradio_api/queue/data?session_hash={session}"
    with httpx.stream("GET", url, timeout=WAIT_SECONDS) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line) == "data: first"  # before the owner writes more
        proceed.set()
        assert next(line for line in lines if line) == "data: second"
        assert next(line for line in lines if line) == "data: tick"
    # The browser gone: the passed-on request is closed too, and the owner stops writing.
    assert running[1].disconnected.wait(WAIT_SECONDS)
    assert not running[0].disconnected.is_set()


def test_a_session_whose_worker_cannot_be_reached_gets_a_retryable_refusal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    async def unreachable_owner() -> list[dict]:  # type: ignore[type-arg]
        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            raise AssertionError("served here, not by the session's owner")

        paths = [str(tmp_path / "worker-0.sock"), str(tmp_path / "worker-1.sock")]  # nobody listens on either
        router = SessionAffinity(app, 0, paths)
        scope = {
            "type": "http",
            "method": "GET",
            "path": f"/gradio_api/heartbeat/{_session_owned_by(1)}",
            "raw_path": f"/gradio_api/heartbeat/{_session_owned_by(1)}".encode(),
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "scheme": "http",
        }
        sent: list[dict] = []  # type: ignore[type-arg]
        messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

        async def receive():  # type: ignore[no-untyped-def]
            return next(messages, None) or await asyncio.Event().wait()

        async def send(message):  # type: ignore[no-untyped-def]
            sent.append(message)

        await router(scope, receive, send)
        await router.aclose()
        return sent

    sent = asyncio.run(unreachable_owner())
    assert sent[0]["status"] == 503 and (b"retry-after", b"1") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"]["code"] == "worker_unavailable"


def test_a_body_that_trickles_in_is_left_to_the_apps_own_body_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from policyqa_app import affinity

    monkeypatch.setattr(affinity, "BODY_TIMEOUT_SECONDS", 0.2)
    seen: list[bytes] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append((await receive())["body"])  # what came before the stall, given again
        await send({"type": "http.response.start", "status": 408, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def stalled() -> list[dict]:  # type: ignore[type-arg]
        router = SessionAffinity(app, 0, ["/nowhere/worker-0.sock", "/nowhere/worker-1.sock"])
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/gradio_api/queue/join",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        first = iter([{"type": "http.request", "body": b'{"data": [', "more_body": True}])

        async def receive():  # type: ignore[no-untyped-def]
            return next(first, None) or await asyncio.Event().wait()

        sent: list[dict] = []  # type: ignore[type-arg]

        async def send(message):  # type: ignore[no-untyped-def]
            sent.append(message)

        await router(scope, receive, send)
        return sent

    sent = asyncio.run(stalled())
    assert seen == [b'{"data": ['] and sent[0]["status"] == 408
