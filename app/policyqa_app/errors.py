"""The API's errors: every one a JSON body ``{"error": {"code", "message"}}`` with a 4xx or 5xx status.

Raise ``ApiError`` in a handler; ``add_error_handlers`` turns it, the core's
``PolicyQAError`` tree, FastAPI's validation errors and anything unexpected into that
body, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
