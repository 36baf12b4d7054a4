"""Request limits against real servers on loopback: 429 per client with Retry-After, 503 at once when overloaded."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from app_fixtures import CHINESE_TROUGH, ENGLISH_TROUGH, KEY, OFF_TOPIC, SECOND_KEY, RunningServer, serve
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from policyqa import Assistant, ConfigError
from policyqa_app import AppSettings
from policyqa_app.limits import KEEP_ALIVE_REQUESTS, AttemptThrottle, KeepAliveLimitMiddleware, Rate, RateLimiter
from policyqa_app.service import CPU_THREADS_PER_PROCESS

pytest_plugins = ["app_fixtures"]

THIRD_KEY = "third-key-Qm7tR2vX9kLp4Wz8"
# Polling deadlines and the held route's limit: they stop a broken run from hanging, they time nothing.
WAIT_SECONDS = 60.0
QUEUE_TIMEOUT_SECONDS = 0.3
# Far beyond the client's 60 s: with no queue (max_queue 0) a request is served or refused at once, and
# one that wrongly waited in a queue would get its turn (a 200 or a client timeout), never a 503.
BURST_QUEUE_TIMEOUT_SECONDS = 600.0


# --- the rate and the bucket ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "seconds"),
    [("60/minute", 60, 60), ("10/s", 10, 1), ("1000/hour", 1000, 3600), ("5 / days", 5, 86400), ("3/min", 3, 60)],
)
def test_rates_are_read_in_plain_words(text: str, count: int, seconds: float) -> None:
    assert Rate.parse(text) == Rate(count, seconds)


@pytest.mark.parametrize("text", ["60", "0/minute", "ten/minute", "60/fortnight", "-1/s", "60/"])
def test_a_bad_rate_names_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="POLICYQA_RATE_LIMIT"):
        AppSettings.from_env(environ={"POLICYQA_RATE_LIMIT": text})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"POLICYQA_MAX_CONCURRENCY": "0"}, "max_concurrency must be at least 1"),
        ({"POLICYQA_MAX_CONCURRENCY": "many"}, "POLICYQA_MAX_CONCURRENCY='many' is not a whole number"),
        ({"POLICYQA_MAX_QUEUE": "-1"}, "max_queue must be 0 or more"),
        ({"POLICYQA_QUEUE_TIMEOUT": "0"}, "queue_timeout_seconds must be positive"),
        ({"POLICYQA_QUEUE_TIMEOUT": "soon"}, "is not a number of seconds"),
        ({"POLICYQA_ALLOWED_HOSTS": "https://policyqa.example.org"}, "allowed_hosts"),
    ],
)
def test_bad_limits_fail_at_startup_with_a_clear_message(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AppSettings.from_env(environ=environ)


def test_limits_are_read_from_the_environment() -> None:
    settings = AppSettings.from_env(
        environ={
            "POLICYQA_RATE_LIMIT": "60/minute",
            "POLICYQA_MAX_CONCURRENCY": "2",
            "POLICYQA_MAX_QUEUE": "0",
            "POLICYQA_QUEUE_TIMEOUT": "2.5",
            "POLICYQA_ALLOWED_HOSTS": "policyqa.example.org, 127.0.0.1",
        }
    )
    assert settings.rate_limit == Rate(60, 60.0)
    assert (settings.max_concurrency, settings.max_queue, settings.queue_timeout_seconds) == (2, 0, 2.5)
    assert settings.allowed_hosts == ("policyqa.example.org", "127.0.0.1")


def test_token_bucket_refills_evenly_and_forgets_the_least_recent_client() -> None:
    now = [1000.0]
    limiter = RateLimiter(Rate(3, 60), max_clients=2, clock=lambda: now[0])

    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(20.0)  # one token every 20 s
    assert limiter.take("b") == 0.0  # every client has its own bucket
    now[0] += 20.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(20.0)
    assert limiter.take("c") == 0.0  # a third client: "b", the least recent, is forgotten
    assert [limiter.take("b") for _ in range(3)] == [0.0, 0.0, 0.0]


# --- 429 from a real server ----------------------------------------------------------------------


def test_attempt_throttle_counts_a_sliding_window_and_refunds_successes() -> None:
    now = [100.0]
    throttle = AttemptThrottle(attempts=3, window=60.0, max_clients=2, clock=lambda: now[0])
    assert [throttle.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    now[0] = 110.0
    assert throttle.acquire("a") == 50.0  # the first attempt leaves the window at 160
    throttle.refund("a")  # the third one succeeded: it no longer counts
    assert throttle.acquire("a") == 0.0
    now[0] = 160.0
    assert throttle.acquire("a") == 0.0  # the first attempt has left the window
    assert throttle.acquire("b") == 0.0 and throttle.acquire("c") == 0.0  # "a" is forgotten first
    assert [throttle.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def limited_server(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Three keys, five requests a minute each, UI included."""
    security = AppSettings.from_env(
        environ={
            "POLICYQA_API_KEYS": f"{KEY},{SECOND_KEY},{THIRD_KEY}",
            "POLICYQA_RATE_LIMIT": "5/minute",
            "POLICYQA_FEEDBACK_DB": str(tmp_path_factory.mktemp("limited") / "feedback.sqlite3"),
        }
    )
    with serve(assistant, security) as running:
        yield running


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(limited_server: RunningServer) -> None:
    question = {"question": CHINESE_TROUGH, "k": 1}
    with limited_server.client(headers={"X-API-Key": KEY}) as client:
        admitted = [client.post("/api/v1/search", json=question).status_code for _ in range(5)]
        refused = client.post("/api/v1/search", json=question)
        also_refused = client.get("/api/v1/documents")
        # Pages and probes cost nothing and are never limited.
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/").status_code == 200
    with limited_server.client(headers={"Authorization": f"Bearer {SECOND_KEY}"}) as other:
        assert other.post("/api/v1/search", json=question).status_code == 200

    assert admitted == [200] * 5
    for response in (refused, also_refused):
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        assert "5/minute" in response.json()["error"]["message"]
        assert 1 <= int(response.headers["retry-after"]) <= 12  # a token comes back every 12 s


def test_a_browser_session_spends_the_bucket_of_its_key(limited_server: RunningServer) -> None:
    # KEY's five requests are spent here, whether or not the test above ran first in this process.
    with limited_server.client(headers={"X-API-Key": KEY}) as client:
        statuses = [client.get("/api/v1/documents").status_code for _ in range(6)]
    assert statuses[-1] == 429
    with limited_server.client() as browser:
        assert browser.post("/auth/login", data={"api_key": KEY}).status_code == 303
        response = browser.get("/api/v1/documents")
    assert response.status_code == 429


def test_the_uis_events_are_limited_too(limited_server: RunningServer) -> None:
    with limited_server.client(headers={"X-API-Key": THIRD_KEY}) as client:
        statuses = [client.post("/gradio_api/queue/join", json={}).status_code for _ in range(6)]
    assert all(status != 429 for status in statuses[:5]), statuses
    assert statuses[5] == 429


def test_without_keys_the_rate_is_per_client_address(assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    security = AppSettings(rate_limit=Rate(2, 60), feedback_db=tmp_path / "feedback.sqlite3")
    with serve(assistant, security, with_ui=False) as server, server.client() as client:
        statuses = [client.get("/api/v1/documents").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


# --- 503 from a bounded queue ----------------------------------------------------------------------


class HeldRoute:
    """A route that holds its turn until the test lets it go, recording when each request enters and leaves.

    It stands in for a slow question, so the order of events is certain on any machine: no request
    can finish while ``release`` has not been called.
    """

    def __init__(self) -> None:
        self.events: list[str] = []
        self._released = threading.Event()

    def install(self, app: object) -> None:
        async def held() -> dict[str, bool]:
            self.events.append("enter")
            deadline = time.monotonic() + WAIT_SECONDS  # only so a failing test cannot hang the server
            while not self._released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            self.events.append("leave")
            return {"ok": True}

        app.router.routes.insert(0, APIRoute("/api/v1/test-held", held, methods=["GET"]))  # type: ignore[attr-defined]

    def release(self) -> None:
        self._released.set()


def _wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it holds; the deadline only stops a broken run from hanging."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting {WAIT_SECONDS} s for {what}")
        time.sleep(0.01)


def _in_background(request, results: list[httpx.Response]) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Send one request from a thread; its response is appended to ``results``."""
    thread = threading.Thread(target=lambda: results.append(request()), daemon=True)
    thread.start()
    return thread


def _concurrently(count: int, request) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    """Send ``count`` requests at the same moment; the response of each."""
    barrier = threading.Barrier(count)
    results: list[httpx.Response] = []

    def run() -> None:
        barrier.wait()
        results.append(request())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_overload_gets_503_at_once_from_a_bounded_queue(assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    security = AppSettings(
        max_concurrency=1, max_queue=1, queue_timeout_seconds=WAIT_SECONDS, feedback_db=tmp_path / "f.sqlite3"
    )
    route = HeldRoute()
    results: list[httpx.Response] = []
    with serve(assistant, security, with_ui=False, prepare=route.install) as server:
        get = lambda: httpx.get(f"{server.url}/api/v1/test-held", timeout=2 * WAIT_SECONDS)  # noqa: E731
        threads = [_in_background(get, results)]
        _wait_until(lambda: route.events == ["enter"], "the first request to take the only turn")
        # The turn is taken: of three more, one waits in the queue of one and two are refused.
        threads += [_in_background(get, results) for _ in range(3)]
        _wait_until(lambda: len(results) >= 2, "two refusals")
        refused_while_held = list(results)
        events_while_held = list(route.events)
        route.release()
        for thread in threads:
            thread.join()
        with server.client() as client:
            assert client.post("/api/v1/search", json={"question": CHINESE_TROUGH}).status_code == 200

    # The 503s came while the first request still held its turn: at once, not after a wait.
    assert [r.status_code for r in refused_while_held] == [503, 503], [r.text for r in refused_while_held]
    assert events_while_held == ["enter"]
    for response in refused_while_held:
        assert response.json()["error"]["code"] == "overloaded"
        assert response.headers["retry-after"] == "1"
    # One ran at once, the other waited its turn in the queue and ran after it, never beside it.
    assert sorted(r.status_code for r in results) == [200, 200, 503, 503]
    assert route.events == ["enter", "leave", "enter", "leave"]


def test_a_request_that_waits_longer_than_the_queue_timeout_gets_503(assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    security = AppSettings(
        max_concurrency=1, max_queue=4, queue_timeout_seconds=QUEUE_TIMEOUT_SECONDS, feedback_db=tmp_path / "f.sqlite3"
    )
    route = HeldRoute()
    first: list[httpx.Response] = []
    with serve(assistant, security, with_ui=False, prepare=route.install) as server:
        get = lambda: httpx.get(f"{server.url}/api/v1/test-held", timeout=2 * WAIT_SECONDS)  # noqa: E731
        holder = _in_background(get, first)
        _wait_until(lambda: route.events == ["enter"], "the first request to take the only turn")
        waited = get()  # room in the queue, but the turn is held for longer than the queue timeout
        events_when_refused = list(route.events)
        route.release()
        holder.join()

    assert waited.status_code == 503 and waited.json()["error"]["code"] == "overloaded"
    # Refused while the turn was still held, with room in the queue (max_queue 4): only giving up
    # after the queue timeout refuses then, so it waited rather than being turned away at once.
    assert events_when_refused == ["enter"]
    assert [r.status_code for r in first] == [200] and route.events == ["enter", "leave"]


def test_real_questions_beyond_capacity_get_200_or_a_quick_503_and_the_server_recovers(
    assistant: Assistant, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    security = AppSettings(
        max_concurrency=1,
        max_queue=0,
        queue_timeout_seconds=BURST_QUEUE_TIMEOUT_SECONDS,
        feedback_db=tmp_path / "f.sqlite3",
    )
    questions = [ENGLISH_TROUGH, CHINESE_TROUGH, OFF_TOPIC, "科技成果转化的收益如何分配？"] * 4
    with serve(assistant, security, with_ui=False) as server:
        counter = iter(range(len(questions)))
        results = _concurrently(
            len(questions),
            lambda: httpx.post(
                f"{server.url}/api/v1/ask", json={"question": questions[next(counter)], "k": 50}, timeout=60
            ),
        )
        with server.client() as client:
            after = [client.post("/api/v1/ask", json={"question": q}).status_code for q in questions[:4]]
            healthy = client.get("/healthz").status_code

    assert {response.status_code for response in results} <= {200, 503}
    for response in results:
        if response.status_code == 503:
            assert response.json()["error"]["code"] == "overloaded" and response.headers["retry-after"]
            assert "0 waiting" in response.json()["error"]["message"]  # refused, not held in a queue
    assert any(response.status_code == 200 for response in results)
    assert after == [200] * 4 and healthy == 200


def test_a_kept_alive_connection_is_asked_to_close_after_its_quota_and_the_client_reconnects(
    open_server: RunningServer,
) -> None:
    # Real uvicorn, real httpx keep-alive: the quota's last response says "Connection: close", the
    # ones before do not, and the next request goes out on a new connection (a new client port).
    ports: list[int] = []

    def remember_port(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        ports.append(stream.get_extra_info("client_addr")[1])

    with open_server.client(event_hooks={"response": [remember_port]}) as client:
        headers = [client.get("/healthz").headers.get("connection") for _ in range(KEEP_ALIVE_REQUESTS + 1)]
    # Each response's header and port in the message: a reconnect in between shows where it came.
    assert headers[KEEP_ALIVE_REQUESTS - 1] == "close", list(zip(headers, ports, strict=True))
    assert "close" not in headers[: KEEP_ALIVE_REQUESTS - 1], list(zip(headers, ports, strict=True))
    # The connection open before these requests (the fixture's readiness poll may have used
    # another) served the first KEEP_ALIVE_REQUESTS of them, then a new one took over.
    assert len(set(ports[:KEEP_ALIVE_REQUESTS])) == 1
    assert ports[KEEP_ALIVE_REQUESTS] != ports[0]


def test_the_connection_quota_counts_each_connection_apart_and_leaves_websockets_alone() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"connection", b"keep-alive")]})

    async def send(message: dict[str, object]) -> None:
        seen.append(list(message["headers"]))  # type: ignore[arg-type]

    async def nothing() -> dict[str, object]:
        return {}

    middleware = KeepAliveLimitMiddleware(app, max_requests=3)

    async def run() -> None:
        for port in (1, 2, 1, 2, 1):
            await middleware({"type": "http", "client": ("10.0.0.1", port)}, nothing, send)  # type: ignore[arg-type]

    asyncio.run(run())
    # The third response of port 1 is the only one asked to close; its own header is replaced.
    assert [h for h in seen if (b"connection", b"close") in h] == [[(b"connection", b"close")]]
    assert seen[4] == [(b"connection", b"close")]
    with pytest.raises(ConfigError):
        KeepAliveLimitMiddleware(app, max_requests=0)


# --- turns at the CPU ------------------------------------------------------------------------------


def test_searches_take_turns_at_the_cpu_and_the_rest_wait_without_being_refused(
    assistant: Assistant, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    inside: list[int] = []
    released = threading.Event()
    search = assistant.search

    def held_search(*args, **kwargs):  # type: ignore[no-untyped-def]
        inside.append(1)
        released.wait(WAIT_SECONDS)  # the deadline only stops a broken run from hanging
        result = search(*args, **kwargs)
        inside.pop()
        return result

    monkeypatch.setattr(assistant, "search", held_search)
    security = AppSettings(max_concurrency=8, feedback_db=tmp_path / "f.sqlite3")
    results: list[httpx.Response] = []
    with serve(assistant, security, with_ui=False) as server:
        turns = server.app.state.service.cpu_turns  # type: ignore[attr-defined]
        post = lambda: httpx.post(  # noqa: E731
            f"{server.url}/api/v1/search", json={"question": CHINESE_TROUGH}, timeout=2 * WAIT_SECONDS
        )
        threads = [_in_background(post, results) for _ in range(CPU_THREADS_PER_PROCESS + 2)]
        _wait_until(lambda: turns.statistics().tasks_waiting == 2, "two searches waiting for a turn")
        held = len(inside)
        released.set()
        for thread in threads:
            thread.join()
    assert held == CPU_THREADS_PER_PROCESS == turns.total_tokens
    assert [r.status_code for r in results] == [200] * (CPU_THREADS_PER_PROCESS + 2)
