"""The API's errors: every one a JSON body ``{"error": {"code", "message"}}`` with a 4xx or 5xx status.

Raise ``ApiError`` in a handler; ``add_error_handlers`` turns it, the core's
``PolicyQAError`` tree, FastAPI's validation errors and anything unexpected into that
body, never a traceback. Gradio's routes answer errors their own way (``{"detail": ...}``
or plain text); ``UIErrorShapeMiddleware`` gives them the same ``error`` object and keeps
``detail``, which Gradio's browser client reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policyqa import ConfigError, CorpusError, PolicyQAError, QuestionError

log = logging.getLogger("policyqa.app")


class ApiError(Exception):
    """An error the API reports as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    """Status, code and a short message naming the first few invalid fields."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed_json", "The request body is not valid JSON."
    parts = []
    for error in errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid value')}")
    return 422, "invalid_request", "; ".join(parts)


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(*validation_message(exc))


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400:  # FastAPI's "error parsing the body": nested too deep, or not UTF-8
        return error_response(400, "malformed_json", "The request body is not valid JSON in UTF-8.")
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return error_response(exc.status_code, codes.get(exc.status_code, f"http_{exc.status_code}"), message, exc.headers)


async def _core_error(_request: Request, exc: PolicyQAError) -> JSONResponse:
    if isinstance(exc, QuestionError):
        return error_response(422, "invalid_question", str(exc))
    if isinstance(exc, ConfigError):
        return error_response(422, "invalid_argument", str(exc))
    if isinstance(exc, CorpusError):
        return error_response(503, "corpus_unavailable", str(exc))
    return error_response(503, "index_unavailable", str(exc))


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("Unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "The server failed to handle this request.")


def add_error_handlers(app: FastAPI) -> None:
    """Report every error of ``app`` as the JSON error body."""
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(PolicyQAError, _core_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
_MAX_RESHAPED_BYTES = 64 * 1024


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _detail_message(detail: object, status: int) -> str:
    """A one-line message for a ``detail`` of any shape (FastAPI's validation errors are a list)."""
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list):
        parts = []
        for error in detail[:5]:
            if isinstance(error, dict):
                location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
                parts.append(f"{location}: {error.get('msg', 'invalid value')}")
        if parts:
            return "; ".join(parts)
    if isinstance(detail, dict) and isinstance(detail.get("message"), str):
        return str(detail["message"])
    return _phrase(status)


def ui_error_body(status: int, body: bytes) -> bytes:
    """The error body of a Gradio route in the API's shape, with Gradio's ``detail`` kept beside it."""
    try:
        parsed: object = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        # Ours already (401, 413, 429, ...): add the detail Gradio's client shows.
        parsed.setdefault("detail", str(parsed["error"].get("message", "")))
        return json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    if isinstance(parsed, dict) and "detail" in parsed:
        detail = parsed["detail"]
        extra = parsed
    else:
        text = body.decode("utf-8", "replace").strip()
        detail = text if parsed is None else parsed
        extra = {}
    code = ERROR_CODES.get(status, f"http_{status}")
    message = _detail_message(detail, status)
    if isinstance(detail, list) and any(isinstance(e, dict) and e.get("type") == "json_invalid" for e in detail):
        code, message = "malformed_json", "The request body is not valid JSON."
    shaped = {**extra, "error": {"code": code, "message": message}, "detail": detail}
    return json.dumps(shaped, ensure_ascii=False).encode("utf-8")


class UIErrorShapeMiddleware:
    """Gives error responses outside ``/api/`` (Gradio's routes, mostly) the API's ``error`` object.

    Only JSON, plain-text and empty error bodies are rewritten; pages (the sign-in form)
    and responses to HEAD are left alone. ``detail`` stays, for Gradio's browser client.
    """

    def __init__(self, app: ASGIApp, api_prefix: str = "/api/") -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD" or scope["path"].startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def send_shaped(message: Message) -> None:
            nonlocal held, size
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                kind = content_type.split(";")[0].strip().lower()
                if message["status"] >= 400 and kind in ("", "application/json", "text/plain"):
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > _MAX_RESHAPED_BYTES:  # not an error message: pass it on as it is
                start, held = held, None
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            if message.get("more_body", False):
                return
            body = ui_error_body(held["status"], b"".join(chunks))
            headers = MutableHeaders(raw=list(held.get("headers", [])))
            headers["content-type"] = "application/json"
            headers["content-length"] = str(len(body))
            await send({**held, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_shaped)
