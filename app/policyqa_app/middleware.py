"""The middleware stack in front of the API and the UI, the request body limits and the closed Gradio routes.

``add_middleware`` installs it in the one order that works (see there); the pieces live
in ``security`` (access control, host and origin checks, proxy headers, headers),
``limits`` (rate and load) and ``errors`` (one error shape), and here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import AppSettings
from .documents_api import upload_body_limits
from .errors import UIErrorShapeMiddleware
from .limits import BODY_TIMEOUT_SECONDS, LimitsMiddleware
from .security import (
    AccessControlMiddleware,
    Authenticator,
    ForwardedHeadersMiddleware,
    Identity,
    RequestOriginMiddleware,
    SecurityHeadersMiddleware,
)
from .state import SharedState, StateErrorMiddleware

MAX_BODY_BYTES = 64 * 1024
# The UI's event posts carry the whole conversation shown in the chat (Gradio sends a component's
# value with every event that reads it), so they get more room than an API question, but a bound.
MAX_UI_BODY_BYTES = 1024 * 1024
UI_API_PREFIX = "/gradio_api/"
UI_UPLOAD_PATH = "/gradio_api/upload"
# Gradio routes that take files. Closed to everyone but an admin identity (the Documents tab's
# file input, see ``ClosedRoutesMiddleware``); the recording route is closed to all.
CLOSED_UI_ROUTES = frozenset({UI_UPLOAD_PATH, "/gradio_api/upload_progress", "/gradio_api/process_recording"})
ADMIN_UI_ROUTES = frozenset({UI_UPLOAD_PATH, "/gradio_api/upload_progress"})


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with 413 before any handler reads them, on every route.

    The limit is ``limit`` bytes, and ``ui_limit`` under ``ui_prefix`` (the UI's events).
    A body that has not arrived ``timeout`` seconds after its headers gets 408.

    The paths of ``path_limits`` (the document upload) have their own limit, and their
    bodies, too large to hold in memory, are streamed to the app as they arrive, counted:
    past the limit, or ``timeout`` seconds without data, the client gets 413 or 408 and
    the app reads a disconnect.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        ui_limit: int = MAX_UI_BODY_BYTES,
        ui_prefix: str = UI_API_PREFIX,
        timeout: float = BODY_TIMEOUT_SECONDS,
        path_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.limit = limit
        self.ui_limit = ui_limit
        self.ui_prefix = ui_prefix
        self.path_limits = dict(path_limits or {})

    def limit_for(self, path: str) -> int:
        if path in self.path_limits:
            return self.path_limits[path]
        return self.ui_limit if path.startswith(self.ui_prefix) else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(scope, receive, send, limit)
            return
        if scope["path"] in self.path_limits:
            await self._streamed(scope, receive, send, limit)
            return
        # Read the whole (bounded) body now, counting; replay it to the app afterwards.
        chunks: list[bytes] = []
        size = 0
        more = True
        deadline = asyncio.get_running_loop().time() + self.timeout
        while more:
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                response = JSONResponse(
                    {"error": {"code": "request_timeout", "message": "The request body was not sent in time."}},
                    status_code=408,
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the body on as it arrives; answer 413 or 408 in the app's stead when it runs over."""
        size = 0
        body_done = False
        started = False  # the app's response
        refused = False  # ours

        async def refuse(status: int, code: str, message: str) -> Message:
            nonlocal refused
            if not started:
                refused = True
                response = JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
                response.headers["Connection"] = "close"
                await response(scope, receive, send)
            return {"type": "http.disconnect"}

        async def counted() -> Message:
            nonlocal size, body_done
            if refused:
                return {"type": "http.disconnect"}
            if body_done:  # a wait for the client's disconnect: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                return await refuse(408, "request_timeout", "The request body was not sent in time.")
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    return await refuse(413, "payload_too_large", f"The request body exceeds {limit:,} bytes.")
                body_done = not message.get("more_body", False)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the client has had its answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, guarded)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            {"error": {"code": "payload_too_large", "message": f"The request body exceeds {limit:,} bytes."}},
            status_code=413,
        )
        await response(scope, receive, send)


class ClosedRoutesMiddleware:
    """Answers 404 on Gradio's file upload routes, before their body is read or a file written.

    The routes of ``admin_open`` stay open to a request whose identity (found by access
    control, which runs first) holds an admin key: the Documents tab uploads through them.
    Without keys nobody is admin here, so they stay closed (the API's loopback rule is for
    ``POST /api/v1/documents`` only).
    """

    def __init__(
        self, app: ASGIApp, closed: frozenset[str] = CLOSED_UI_ROUTES, admin_open: frozenset[str] = ADMIN_UI_ROUTES
    ) -> None:
        self.app = app
        self.closed = closed
        self.admin_open = admin_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/").lower() if scope["type"] == "http" else ""
        if path in self.closed and not (path in self.admin_open and _is_admin_scope(scope)):
            response = JSONResponse(
                {"error": {"code": "not_found", "message": "This server accepts no file uploads."}}, status_code=404
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_admin_scope(scope: Scope) -> bool:
    identity = scope.get("state", {}).get("policyqa_identity")
    return isinstance(identity, Identity) and identity.admin


def add_middleware(
    app: FastAPI, settings: AppSettings, authenticator: Authenticator, state: SharedState | None = None
) -> None:
    """Install the stack on ``app``; it wraps whatever is mounted later (the UI) too.

    ``state``: the store that several workers or replicas share (rate buckets, queue slots);
    when it fails a request, the request gets 503 inside the security headers.

    The last added runs first. Security headers wrap everything (401s and CORS preflights
    included), and inside them every error outside /api/ (Gradio's, and ours on its
    routes) gets the API's error shape; proxy headers from untrusted peers are dropped
    before anything reads them; CORS answers preflights before the host and origin checks and access
    control, which see every other request before the closed upload routes, the body
    limit and then the limits (rate, then load), so that 429 and 503 count against the
    identity access control found, and a client that sends its body slowly holds no turn
    while it does.
    """
    app.add_middleware(
        LimitsMiddleware,
        rate=settings.rate_limit,
        max_concurrency=settings.max_concurrency,
        max_queue=settings.max_queue,
        queue_timeout=settings.queue_timeout_seconds,
        state=state,
    )
    uploads = upload_body_limits(settings)
    # The Documents tab's files (admins only) are bounded as the API's upload is.
    uploads[UI_UPLOAD_PATH] = max(uploads.values())
    app.add_middleware(BodyLimitMiddleware, path_limits=uploads)
    # A read-only replica takes no uploads, from admins neither: they add documents on the builder.
    app.add_middleware(ClosedRoutesMiddleware, admin_open=frozenset() if settings.read_only else ADMIN_UI_ROUTES)
    app.add_middleware(AccessControlMiddleware, authenticator=authenticator)
    app.add_middleware(RequestOriginMiddleware, settings=settings)
    # Always installed, even with no allowed origin, so that Gradio does not add its own
    # permissive CORS handling to the mounted UI.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST"],
        # X-Gradio-User: the Gradio web component's client labels its queue requests with it.
        allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Gradio-User"],
        # No cookies across origins: browser clients of other origins authenticate with a key header.
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(ForwardedHeadersMiddleware, settings=settings)
    app.add_middleware(UIErrorShapeMiddleware)
    app.add_middleware(StateErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
