"""Request ids and one-line JSON logs.

Every HTTP response carries ``X-Request-ID``. An incoming one is kept when the peer is a
trusted proxy (``POLICYQA_TRUSTED_PROXIES``) and the id is sane (1–128 of ``A-Z a-z 0-9
. _ : -``), so that one id follows a request from nginx to the log line; otherwise a new
one is made. The id is in a context variable while the request runs, so every log record
made for it, in the event loop or a worker thread, carries it.

``POLICYQA_LOG_FORMAT=json`` (``policyqa serve``) writes each record as one JSON object
on one line: ``ts``, ``level``, ``logger``, ``message``, ``request_id`` when there is one,
the extra fields of the record (the access log's ``method``, ``path``, ``route``,
``status``, ``duration_ms``, ``client``) and ``exc`` for a traceback. The access log
(logger ``policyqa.access``, level INFO) then replaces uvicorn's.

Example:
    >>> configure_logging("json", logging.INFO)
    >>> app.add_middleware(RequestIdMiddleware, settings=app_settings)
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import AppSettings
from .security import is_trusted_proxy

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The attributes every LogRecord has; anything else was passed as ``extra`` and is written out.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

request_id: ContextVar[str | None] = ContextVar("policyqa_request_id", default=None)
access_log = logging.getLogger("policyqa.access")


def new_request_id() -> str:
    return uuid.uuid4().hex


def incoming_request_id(scope: Scope, settings: AppSettings) -> str | None:
    """The request's own ``X-Request-ID`` when a trusted proxy sent it and it is sane; else None."""
    client = scope.get("client")
    if not is_trusted_proxy(settings, client[0] if client else None):
        return None
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _SANE_ID.match(text) else None
    return None


class RequestIdMiddleware:
    """Gives each HTTP request an id (kept from a trusted proxy, else new), returns it and logs the request."""

    def __init__(self, app: ASGIApp, settings: AppSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope, self.settings) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                route = scope.get("route")
                client = scope.get("client")
                access_log.info(
                    "%s %s %d",
                    scope.get("method", ""),
                    scope.get("path", ""),
                    status,
                    extra={
                        "request_id": rid,
                        "method": scope.get("method", ""),
                        # The path without the query string: a query may carry a token.
                        "path": scope.get("path", ""),
                        "route": getattr(route, "path", None),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "client": client[0] if client else None,
                    },
                )
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``record.request_id``, None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages and tracebacks are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry and key != "request_id":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every record (the app's, uvicorn's) to stderr through one handler, as JSON or as text.

    Call before starting uvicorn, and start it with ``log_config=None, access_log=False``:
    the request log is ``policyqa.access``, with the request id.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    access_log.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
