"""Request limits: a rate per client (429) and a bounded number of requests in progress (503).

Both apply to the work a client can ask for: every ``/api/`` request and every ``POST``
under ``/gradio_api/`` (the UI's questions); pages, scripts, styles, ``/healthz`` and
``/readyz`` are never limited.

* **Rate.** ``POLICYQA_RATE_LIMIT`` (e.g. ``60/minute``) gives each client a token bucket
  holding that many requests, refilled evenly over the period; an empty bucket answers
  429 with ``Retry-After``. A client is its API key (by digest), its single-sign-on user
  or its browser session's key; without keys it is the client's address. Buckets live in
  memory, so a restart refills them, unless several workers or replicas share them
  (``state``: Redis or one SQLite file).
* **Load.** At most ``POLICYQA_MAX_CONCURRENCY`` limited requests run at once and at most
  ``POLICYQA_MAX_QUEUE`` wait for a turn, each at most ``POLICYQA_QUEUE_TIMEOUT`` seconds;
  a request that finds the queue full, or waits too long, gets 503 with ``Retry-After``
  at once instead of timing out at the client.

* **Sign-in.** Failed sign-ins are counted per client address: after
  ``LOGIN_ATTEMPTS`` in ``LOGIN_WINDOW_SECONDS`` the address gets 429 with
  ``Retry-After`` (:class:`AttemptThrottle`).
* **Slow clients.** :func:`header_timeout_protocol` closes a connection whose request
  headers are not complete ``HEADER_TIMEOUT_SECONDS`` after it opened or after its last
  response (uvicorn has no such timeout: its keep-alive timer stops at the first byte),
  and the body limit in ``middleware`` answers 408 to a body not received within
  ``BODY_TIMEOUT_SECONDS``.

Example:
    >>> app.add_middleware(LimitsMiddleware, rate=Rate.parse("60/minute"), max_concurrency=4, max_queue=16)
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from policyqa import ConfigError

if TYPE_CHECKING:
    from .state import SharedRateLimiter, SharedState

log = logging.getLogger("policyqa.app")

DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_MAX_QUEUE = 64
DEFAULT_QUEUE_TIMEOUT_SECONDS = 30.0
MAX_TRACKED_CLIENTS = 10_000
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_SECONDS = 60.0
HEADER_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_TIMEOUT_SECONDS = 5
# A kept-alive connection is asked to close after this many responses (nginx's keepalive_requests).
# Under ``serve --workers N`` each worker listens on its own SO_REUSEPORT socket and the kernel
# places a connection once, by a hash of its addresses: a portal's pool of a few kept-alive
# connections could leave one worker with most of them for as long as they live (measured: one
# worker at 1.07 cores, the other at 0.26). Reconnecting every 50 requests lets the kernel place
# them again, for one TCP handshake per 50 requests.
KEEP_ALIVE_REQUESTS = 50
BODY_TIMEOUT_SECONDS = 30.0
_PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+?)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``seconds``: the size of a client's bucket and how fast it refills."""

    count: int
    seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds <= 0:
            raise ConfigError(f"A rate limit needs at least 1 request per period. Currently, it is {self}.")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"60/minute"``, ``"10/s"``, ``"1000/hour"``, ``"5000/day"``."""
        match = _RATE.match(text)
        period = _PERIODS.get(match.group(2).lower()) if match else None
        if match is None or period is None or int(match.group(1)) < 1:
            raise ConfigError(
                f"POLICYQA_RATE_LIMIT={text!r} is not a rate like 60/minute "
                "(at least 1 request per second, minute, hour or day)."
            )
        return cls(int(match.group(1)), period)

    def __str__(self) -> str:
        names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
        return f"{self.count}/{names.get(self.seconds, f'{self.seconds:g}s')}"


class RateLimiter:
    """Token buckets by client, in memory; the least recently seen clients are forgotten first.

    A forgotten client starts again with a full bucket, so ``max_clients`` only bounds memory.
    """

    def __init__(
        self, rate: Rate, max_clients: int = MAX_TRACKED_CLIENTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.max_clients = max_clients
        self._clock = clock
        self._refill = rate.count / rate.seconds  # tokens per second
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one token of ``client``: 0.0 when admitted, else the seconds until a token is back."""
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.pop(client, (float(self.rate.count), now))
            tokens = min(float(self.rate.count), tokens + (now - updated) * self._refill)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self._refill
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


class AttemptThrottle:
    """At most ``attempts`` counted attempts per client in any ``window`` seconds, in memory.

    An attempt is counted when it starts (so parallel attempts cannot all slip through
    before the first one fails) and refunded when it succeeds.
    """

    def __init__(
        self,
        attempts: int = LOGIN_ATTEMPTS,
        window: float = LOGIN_WINDOW_SECONDS,
        max_clients: int = MAX_TRACKED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._times: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Count an attempt of ``client``: 0.0 when allowed, else the seconds until one is allowed again."""
        now = self._clock()
        with self._lock:
            times = self._times.pop(client, None) or deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            wait = 0.0
            if len(times) >= self.attempts:
                wait = times[0] + self.window - now
            else:
                times.append(now)
            self._times[client] = times
            while len(self._times) > self.max_clients:
                self._times.popitem(last=False)
        return wait

    def refund(self, client: str) -> None:
        """Uncount the latest attempt of ``client`` (it succeeded)."""
        with self._lock:
            if times := self._times.get(client):
                times.pop()


class KeepAliveLimitMiddleware:
    """Adds ``Connection: close`` to every ``max_requests``-th response of a connection, so that the client reconnects.

    A connection is known by its peer address and port (``scope["client"]``), unique while it is
    open; the counts of at most ``MAX_TRACKED_CLIENTS`` connections are kept, least recent first out.

    Example:
        >>> app.add_middleware(KeepAliveLimitMiddleware, max_requests=KEEP_ALIVE_REQUESTS)
    """

    def __init__(self, app: ASGIApp, max_requests: int = KEEP_ALIVE_REQUESTS) -> None:
        if max_requests < 1:
            raise ConfigError(f"max_requests must be at least 1. Currently, it is {max_requests}.")
        self.app = app
        self.max_requests = max_requests
        self._served: OrderedDict[tuple[str, int], int] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        connection = (str(client[0]), int(client[1]))
        served = self._served.pop(connection, 0) + 1
        if served < self.max_requests:
            self._served[connection] = served
            if len(self._served) > MAX_TRACKED_CLIENTS:
                self._served.popitem(last=False)
            await self.app(scope, receive, send)
            return

        async def closing(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


def header_timeout_protocol(seconds: float = HEADER_TIMEOUT_SECONDS) -> type[Any]:
    """uvicorn's h11 protocol, closing connections whose request headers take over ``seconds`` to arrive.

    The clock starts when the connection opens and again when a response ends; it stops
    when a request's headers are complete, so a long answer or event stream is never cut.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def on_response_complete(self) -> None:
            # Armed first: a pipelined request may start inside, and its headers are then complete.
            self._arm_header_timer()
            super().on_response_complete()

        def handle_websocket_upgrade(self, event: Any) -> None:
            self._cancel_header_timer()
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            # The cycle seen now: a new one exists once the next request's headers are complete.
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow, self.cycle)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self, cycle_when_armed: object) -> None:
            self._header_timer = None
            if self.cycle is cycle_when_armed and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutH11Protocol


class Slots(Protocol):
    """Queue slots shared by several processes (``state.SharedState``)."""

    def enter(self, capacity: int) -> bool: ...

    def leave(self) -> None: ...


class ConcurrencyLimiter:
    """At most ``max_active`` holders; at most ``max_waiting`` others wait, each at most ``timeout`` seconds.

    With ``shared`` slots (several workers or replicas), a request first takes one of the
    ``max_active + max_waiting`` slots of all processes together, so the queue is bounded
    across them; ``max_active`` still bounds each process's own work.
    """

    def __init__(self, max_active: int, max_waiting: int, timeout: float, shared: Slots | None = None) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self.timeout = timeout
        self.shared = shared
        self.active = 0
        self.waiting = 0
        self.refused = 0
        self._semaphore: asyncio.Semaphore | None = None  # made in the server's event loop

    async def acquire(self) -> bool:
        """True when a turn was given (call ``release`` after), False when the queue is full or too slow."""
        if self.shared is None:
            return await self._acquire_here()
        if not self.shared.enter(self.max_active + self.max_waiting):
            self.refused += 1
            return False
        if await self._acquire_here():
            return True
        self._leave_shared()
        return False

    def _leave_shared(self) -> None:
        assert self.shared is not None
        try:
            self.shared.leave()
        except Exception as exc:  # the slot's lease heartbeat corrects the shared count
            log.warning("Giving back a shared queue slot failed: %s", exc)

    async def _acquire_here(self) -> bool:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_active)
        if not self._semaphore.locked():
            # A free turn is taken without suspending: asyncio.wait_for would yield first, and
            # requests of the same loop turn could all see the turn free and queue past max_waiting.
            await self._semaphore.acquire()
            self.active += 1
            return True
        if self.waiting >= self.max_waiting:
            self.refused += 1
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.timeout)
        except TimeoutError:
            self.refused += 1
            return False
        finally:
            self.waiting -= 1
        self.active += 1
        return True

    def release(self) -> None:
        assert self._semaphore is not None
        self.active -= 1
        self._semaphore.release()
        if self.shared is not None:
            self._leave_shared()


def is_limited(scope: Scope) -> bool:
    """The requests that cost work: the JSON API, and the UI's events (POSTs to Gradio's API)."""
    path: str = scope["path"]
    return path.startswith("/api/") or (scope.get("method") == "POST" and path.startswith("/gradio_api/"))


def client_key(scope: Scope) -> str:
    """Whose bucket a request spends: the authenticated identity, else the client's address."""
    identity = (scope.get("state") or {}).get("policyqa_identity")
    if identity is not None and identity.method != "open":
        return str(identity.name)
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


async def _refuse(send: Send, status: int, code: str, message: str, retry_after: float) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(max(1, math.ceil(retry_after))).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """Applies the rate limit (429) and then the concurrency limit (503) to limited requests.

    It sits behind access control, so a request is counted against the identity it proved.
    """

    def __init__(
        self,
        app: ASGIApp,
        rate: Rate | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_queue: int = DEFAULT_MAX_QUEUE,
        queue_timeout: float = DEFAULT_QUEUE_TIMEOUT_SECONDS,
        state: SharedState | None = None,
    ) -> None:
        self.app = app
        self.rates: RateLimiter | SharedRateLimiter | None = None
        if rate and state is not None:
            from .state import SharedRateLimiter  # state imports this module

            self.rates = SharedRateLimiter(state, rate)
        elif rate:
            self.rates = RateLimiter(rate)
        self.load = ConcurrencyLimiter(max_concurrency, max_queue, queue_timeout, shared=state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_limited(scope):
            await self.app(scope, receive, send)
            return
        if self.rates is not None and (wait := self.rates.take(client_key(scope))) > 0:
            await _refuse(
                send,
                429,
                "rate_limited",
                f"Too many requests: the limit is {self.rates.rate}. Retry in {max(1, math.ceil(wait))} s.",
                wait,
            )
            return
        if not await self.load.acquire():
            load = self.load
            await _refuse(
                send,
                503,
                "overloaded",
                f"The server is busy ({load.active} requests in progress, {load.waiting} waiting). Retry shortly.",
                1,
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.load.release()
