"""Prometheus metrics: ``GET /metrics`` in the text format, behind the same access control as the API.

What is measured (every name starts ``policyqa_``):

* ``http_requests_total{method,route,status}`` and ``http_request_duration_seconds{method,route}``:
  ``route`` is the route's template (``/api/v1/documents/{doc_id}``), never the raw path, so
  a client cannot grow the label set; a path no route serves is ``<unmatched>``.
* ``http_requests_in_progress`` and ``queue_depth``: requests being served, and requests
  waiting for a turn in the load limit (``POLICYQA_MAX_CONCURRENCY``), as of the last request.
* ``refused_requests_total{status,code}``: 429 and 503 answers by error code
  (``rate_limited``, ``overloaded``, …), read from the refusal's JSON body.
* ``index_generation_info{generation}`` (1 for the loaded build, 0 for earlier ones),
  ``index_documents``, ``index_passages`` and ``index_sentences``: set when ``/metrics`` is read.
* ``llm_fallbacks_total``: generated answers that fell back to the extractive one. Whoever
  serves an ``Answer`` calls ``observe_answer(answer)`` (or ``llm_fallbacks.inc()``).

Several worker processes: start them with ``PROMETHEUS_MULTIPROC_DIR`` naming an empty
folder that every worker can write (wiped before start). prometheus-client then keeps the
values in files there and ``/metrics`` from any worker adds up every worker's. Set it in the
environment of the process that starts the workers, not from Python: prometheus-client
reads it when it is first imported. Process metrics (memory, CPU) are exported in
single-process mode only.

Example:
    >>> install_metrics(app, service)   # the middleware and the /metrics route
    >>> metrics.llm_fallbacks.inc()
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

    from policyqa import Answer

    from .service import Service

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"
# prometheus-client's own variable, read by the library at import; read here only to collect the same way.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a cached answer (a few ms) to a slow rebuild; the p95 target of 200 ms falls on a bound.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)
_REFUSALS = frozenset({429, 503})
_MAX_REFUSAL_BODY = 4096
_MAX_HOPS = 40

REGISTRY = CollectorRegistry()
if not os.environ.get(MULTIPROC_ENV):
    ProcessCollector(registry=REGISTRY)

requests_total = Counter(
    "policyqa_http_requests_total", "HTTP requests answered.", ["method", "route", "status"], registry=REGISTRY
)
request_duration = Histogram(
    "policyqa_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
in_progress = Gauge(
    "policyqa_http_requests_in_progress", "Requests being served.", registry=REGISTRY, multiprocess_mode="livesum"
)
queue_depth = Gauge(
    "policyqa_queue_depth",
    "Requests waiting for a turn in the load limit.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
refused = Counter(
    "policyqa_refused_requests_total",
    "Requests refused by the rate limit (429) or the load limit (503), by error code.",
    ["status", "code"],
    registry=REGISTRY,
)
index_generation = Gauge(
    "policyqa_index_generation_info",
    "1 for the index build being served, 0 for builds served before.",
    ["generation"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
index_documents = Gauge(
    "policyqa_index_documents", "Documents in the served index.", registry=REGISTRY, multiprocess_mode="livemax"
)
index_passages = Gauge(
    "policyqa_index_passages", "Passages (chunks) in the served index.", registry=REGISTRY, multiprocess_mode="livemax"
)
index_sentences = Gauge(
    "policyqa_index_sentences", "Sentences in the served index.", registry=REGISTRY, multiprocess_mode="livemax"
)
llm_fallbacks = Counter(
    "policyqa_llm_fallbacks_total",
    "Generated (mode=llm) answers that fell back to the extractive answer.",
    registry=REGISTRY,
)

_generations_seen: set[str] = set()


def observe_answer(answer: Answer) -> None:
    """Count an answer that asked for generation but fell back to the extractive one."""
    generation = getattr(answer, "generation", None)
    if generation is not None and getattr(generation, "fallback", False):
        llm_fallbacks.inc()


def route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    """The template of the route that served (or would serve) ``scope``; ``<unmatched>`` when none does.

    After routing, FastAPI and Starlette leave the route in ``scope["route"]``. A request
    refused before routing (401, 429) is matched against the app's routes here.
    """
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is not Match.NONE:
            if isinstance(candidate, Mount):
                return f"{candidate.path}/{{path:path}}"
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request by route template; counts 429 and 503 refusals by error code."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        self._load: Any = None
        self._searched = False

    def _waiting(self) -> int | None:
        """Requests waiting in the load limit: the ``LimitsMiddleware`` further in, found once."""
        if not self._searched:
            self._searched = True
            node: Any = self.app
            for _ in range(_MAX_HOPS):
                load = getattr(node, "load", None)
                if load is not None and hasattr(load, "waiting"):
                    self._load = load
                    break
                node = getattr(node, "app", None)
                if node is None:
                    break
        waiting = getattr(self._load, "waiting", None)
        return waiting if isinstance(waiting, int) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees when the app fails before it starts a response
        refusal = bytearray()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status in _REFUSALS:
                refusal.extend(message.get("body", b"")[: _MAX_REFUSAL_BODY - len(refusal)])
            await send(message)

        in_progress.inc()
        self._set_queue_depth()
        try:
            await self.app(scope, receive, observed)
        finally:
            in_progress.dec()
            self._set_queue_depth()
            route = route_template(scope, self.routes)
            method = scope.get("method", "GET")
            requests_total.labels(method, route, str(status)).inc()
            request_duration.labels(method, route).observe(time.perf_counter() - started)
            if status in _REFUSALS and route not in ("/readyz", METRICS_PATH):
                refused.labels(str(status), _error_code(bytes(refusal))).inc()

    def _set_queue_depth(self) -> None:
        waiting = self._waiting()
        if waiting is not None:
            queue_depth.set(waiting)


def _error_code(body: bytes) -> str:
    """The ``error.code`` of a refusal's JSON body (codes are ours, a short fixed set); else ``unknown``."""
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "unknown"
    return code if isinstance(code, str) and code.isidentifier() and len(code) <= 40 else "unknown"


def update_index_metrics(service: Service) -> None:
    """Set the index gauges from the loaded build (nothing before the first load)."""
    if not service.ready.is_set():
        return
    index = service.assistant.index
    generation = index.generation
    for earlier in _generations_seen - {generation}:
        index_generation.labels(earlier).set(0)
    _generations_seen.add(generation)
    index_generation.labels(generation).set(1)
    index_documents.set(len(index.documents))
    index_passages.set(len(index.chunks))
    index_sentences.set(len(index.sentences))


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def install_metrics(app: FastAPI, service: Service) -> None:
    """Add ``GET /metrics`` and the middleware that measures every request (call after the other middleware).

    ``/metrics`` is not an open path: with API keys configured, Prometheus must send one
    (``authorization: {credentials: KEY}`` in its scrape config), as for the API.
    """
    from starlette.concurrency import run_in_threadpool

    async def metrics_endpoint(_request: Request) -> Response:
        await run_in_threadpool(update_index_metrics, service)
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    app.add_route(METRICS_PATH, metrics_endpoint, methods=["GET"], include_in_schema=False)
    app.add_middleware(MetricsMiddleware, routes=app.router.routes)


def mark_worker_metrics_dead(pid: int) -> None:
    """Drop the live gauges of a worker that has exited from the multiprocess files (a no-op in one process)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
