"""The middleware stack in front of the API and the UI, and the API's request body limit.

``add_middleware`` installs it in the one order that works (see there); the pieces live
in ``security`` (access control, host and origin checks, headers) and ``limits`` (rate
and load).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import AppSettings
from .limits import LimitsMiddleware
from .security import AccessControlMiddleware, Authenticator, RequestOriginMiddleware, SecurityHeadersMiddleware

MAX_BODY_BYTES = 64 * 1024


class BodyLimitMiddleware:
    """Refuses API request bodies over ``limit`` bytes with 413 before any handler reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, prefix: str = "/api/") -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._too_large(scope, receive, send)
            return
        # Read the whole (small) body now, counting; replay it to the app afterwards.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send)
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

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"error": {"code": "payload_too_large", "message": f"The request body exceeds {self.limit:,} bytes."}},
            status_code=413,
        )
        await response(scope, receive, send)


def add_middleware(app: FastAPI, settings: AppSettings, authenticator: Authenticator) -> None:
    """Install the stack on ``app``; it wraps whatever is mounted later (the UI) too.

    The last added runs first. Security headers wrap everything (401s and CORS preflights
    included); CORS answers preflights before the host and origin checks and access
    control, which see every other request before the body limit and then the limits
    (rate, then load), so that 429 and 503 count against the identity access control
    found, and a client that sends its body slowly holds no turn while it does.
    """
    app.add_middleware(
        LimitsMiddleware,
        rate=settings.rate_limit,
        max_concurrency=settings.max_concurrency,
        max_queue=settings.max_queue,
        queue_timeout=settings.queue_timeout_seconds,
    )
    app.add_middleware(BodyLimitMiddleware)
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
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
