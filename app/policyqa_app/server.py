"""The HTTP API (FastAPI) with the Gradio UI mounted in the same process.

Handlers are thin: validate, make one call into ``policyqa.Assistant`` in a worker
thread, serialise with the core's ``to_dict()``. Every error is a JSON body
``{"error": {"code", "message"}}`` with a 4xx or 5xx status, never a traceback.

Example:
    >>> app = create_app(Settings(index_dir=Path("/tmp/index")))
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)
"""

# No ``from __future__ import annotations`` here: FastAPI reads the request models of the
# handlers from their annotations at runtime, and the models are built per app (their
# limits come from the settings), so the annotations must be real objects, not strings.

import ipaddress
import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policyqa import (
    Assistant,
    ConfigError,
    CorpusError,
    PolicyQAError,
    QuestionError,
    Settings,
    __version__,
)

from .config import AppSettings
from .feedback import MAX_COMMENT_CHARS, MAX_TEXT_CHARS, FeedbackRecord, FeedbackStore
from .limits import LimitsMiddleware
from .present import answer_sentences
from .security import (
    ANONYMOUS,
    AccessControlMiddleware,
    Authenticator,
    Identity,
    RequestOriginMiddleware,
    SecurityHeadersMiddleware,
    login_routes,
)

log = logging.getLogger("policyqa.app")

MAX_TOP_K = 50
MAX_BODY_BYTES = 64 * 1024
MAX_DOC_IDS = 100
MAX_DOC_ID_CHARS = 200
MAX_FEEDBACK_CITATIONS = 50
API_PREFIX = "/api/v1"
WARMUP_QUESTION = "预热 warm-up"


class ApiError(Exception):
    """An error the API reports as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


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


@dataclass
class Service:
    """What the handlers share: the assistant, feedback store, authenticator and readiness."""

    assistant: Assistant
    feedback: FeedbackStore
    authenticator: Authenticator
    ready: threading.Event = field(default_factory=threading.Event)
    load_error: str | None = None

    def warm_up(self) -> None:
        """Load (or build) the index and the encoder, so the first question is fast."""
        try:
            self.assistant.search(WARMUP_QUESTION, k=1)
            self.load_error = None
            self.ready.set()
        except Exception as exc:  # reported by /readyz; requests retry the load themselves
            log.error("Loading the index failed: %s", exc)
            self.load_error = str(exc) if isinstance(exc, PolicyQAError) else f"{type(exc).__name__}: {exc}"

    def document_ids(self) -> set[str]:
        return {d.doc_id for d in self.assistant.documents()}


def _identity(request: Request) -> Identity:
    state = request.scope.get("state") or {}
    return state.get("policyqa_identity", ANONYMOUS)


def require_json(request: Request) -> None:
    """POST bodies must be JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the request body as JSON (Content-Type: application/json).")


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed_json", "The request body is not valid JSON."
    parts = []
    for error in errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid value')}")
    return 422, "invalid_request", "; ".join(parts)


def _sse(event: str, data: object) -> bytes:
    payload = json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from files of this process: an intranet may reach no CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="PolicyQA API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )


def create_app(
    settings: Settings | None = None,
    *,
    security: AppSettings | None = None,
    assistant: Assistant | None = None,
    with_ui: bool = True,
) -> FastAPI:
    """Build the FastAPI app: JSON API, login routes, security middleware and the Gradio UI at ``/``.

    Args:
        settings: the core's settings (default ``Settings.from_env()``).
        security: access control, embedding and feedback settings (default ``AppSettings.from_env()``).
        assistant: an existing ``Assistant`` to serve (default: a new one for ``settings``).
        with_ui: mount the Gradio UI at ``/`` (the API alone when False).
    """
    security = security or AppSettings.from_env()
    if assistant is None:
        assistant = Assistant(settings or Settings.from_env())
    core = assistant.settings
    service = Service(assistant, FeedbackStore(security.feedback_db), Authenticator(security))
    max_question = core.max_question_chars

    class QuestionRequest(BaseModel):
        """A question, optionally with the number of passages and the documents to search."""

        model_config = ConfigDict(extra="forbid")

        question: str = Field(min_length=1, max_length=max_question, description="In Chinese or English.")
        k: int | None = Field(
            default=None, ge=1, le=MAX_TOP_K, strict=True, description=f"Passages to use (default {core.top_k})."
        )
        doc_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_DOC_ID_CHARS)]] | None = Field(
            default=None, max_length=MAX_DOC_IDS, description="Search only these documents (see /api/v1/documents)."
        )

    class CitationRef(BaseModel):
        model_config = ConfigDict(extra="ignore")

        n: int
        chunk_id: str = Field(max_length=MAX_DOC_ID_CHARS * 2)
        doc_id: str = Field(max_length=MAX_DOC_ID_CHARS)
        section: str = Field(default="", max_length=MAX_TEXT_CHARS)
        char_start: int = 0
        char_end: int = 0

    class FeedbackRequest(BaseModel):
        """A user's rating of an answer, with an optional comment.

        Other fields are ignored, so a client can send back the JSON of ``/ask`` with a rating added.
        """

        model_config = ConfigDict(extra="ignore")

        question: str = Field(min_length=1, max_length=max_question)
        answer: str = Field(max_length=MAX_TEXT_CHARS)
        abstained: bool = False
        citations: list[CitationRef] = Field(default_factory=list, max_length=MAX_FEEDBACK_CITATIONS)
        rating: Literal["up", "down"] | None = None
        comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)

    async def checked(body: QuestionRequest) -> QuestionRequest:
        if body.doc_ids is not None:
            known = await run_in_threadpool(service.document_ids)
            unknown = [d for d in body.doc_ids if d not in known]
            if unknown:
                raise ApiError(422, "unknown_document", f"doc_ids: no indexed document has the id {unknown[0]!r}.")
        return body

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=service.warm_up, name="policyqa-warmup", daemon=True).start()
        yield

    app = FastAPI(
        title="PolicyQA",
        version=__version__,
        description="Cited answers from Chinese policy texts, in Chinese or English.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    _mount_docs(app)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": nested too deep, or not UTF-8
            return _error(400, "malformed_json", "The request body is not valid JSON in UTF-8.")
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        return _error(exc.status_code, codes.get(exc.status_code, f"http_{exc.status_code}"), message, exc.headers)

    @app.exception_handler(PolicyQAError)
    async def core_error(_request: Request, exc: PolicyQAError) -> JSONResponse:
        if isinstance(exc, QuestionError):
            return _error(422, "invalid_question", str(exc))
        if isinstance(exc, ConfigError):
            return _error(422, "invalid_argument", str(exc))
        if isinstance(exc, CorpusError):
            return _error(503, "corpus_unavailable", str(exc))
        return _error(503, "index_unavailable", str(exc))

    @app.exception_handler(Exception)
    async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unexpected error", exc_info=exc)
        return _error(500, "internal_error", "The server failed to handle this request.")

    @app.get("/healthz", tags=["service"], summary="Liveness: the process is up (always open).")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], summary="Readiness: the index is loaded.")
    async def readyz() -> JSONResponse:
        if service.ready.is_set():
            docs = await run_in_threadpool(service.assistant.documents)
            return JSONResponse({"status": "ready", "documents": len(docs), "passages": sum(d.passages for d in docs)})
        if service.load_error:
            return JSONResponse(
                {"status": "error", "error": {"code": "index_unavailable", "message": service.load_error}},
                status_code=503,
            )
        return JSONResponse({"status": "loading"}, status_code=503)

    @app.get(f"{API_PREFIX}/documents", tags=["corpus"], summary="The indexed documents and their sections.")
    async def documents() -> dict[str, list[dict[str, object]]]:
        docs = await run_in_threadpool(service.assistant.documents)
        return {
            "documents": [
                {
                    "doc_id": d.doc_id,
                    "title": d.title,
                    "chars": d.chars,
                    "passages": d.passages,
                    "sha256": d.sha256,
                    "metadata": d.metadata,
                    "sections": list(d.sections),
                }
                for d in docs
            ]
        }

    json_body = [Depends(require_json)]

    @app.post(f"{API_PREFIX}/ask", tags=["questions"], dependencies=json_body, summary="Answer with citations.")
    async def ask(body: Annotated[QuestionRequest, Depends(checked)]) -> dict[str, Any]:
        answer = await run_in_threadpool(service.assistant.ask, body.question, body.k, body.doc_ids)
        return answer.to_dict()

    @app.post(f"{API_PREFIX}/search", tags=["questions"], dependencies=json_body, summary="The best passages.")
    async def search(body: Annotated[QuestionRequest, Depends(checked)]) -> dict[str, Any]:
        result = await run_in_threadpool(service.assistant.search, body.question, body.k, body.doc_ids)
        return result.to_dict()

    @app.post(
        f"{API_PREFIX}/ask/stream",
        tags=["questions"],
        dependencies=json_body,
        summary="Answer as server-sent events: one `sentence` event per sentence, then `answer` with the full JSON.",
        response_class=StreamingResponse,
    )
    async def ask_stream(body: Annotated[QuestionRequest, Depends(checked)]) -> StreamingResponse:
        # The answer is computed before the stream starts, so a bad question still gets a 4xx status.
        answer = await run_in_threadpool(service.assistant.ask, body.question, body.k, body.doc_ids)
        data = answer.to_dict()

        async def events() -> AsyncIterator[bytes]:
            for index, sentence in enumerate(answer_sentences(answer.answer)):
                yield _sse("sentence", {"index": index, "text": sentence})
            yield _sse("answer", data)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post(f"{API_PREFIX}/feedback", tags=["feedback"], dependencies=json_body, summary="Rate an answer.")
    async def feedback(body: FeedbackRequest, request: Request) -> dict[str, int]:
        record = FeedbackRecord(
            question=body.question,
            answer=body.answer,
            abstained=body.abstained,
            citations=[c.model_dump() for c in body.citations],
            rating=body.rating,
            comment=body.comment,
            user=_identity(request).name,
            source="api",
        )
        return {"id": await run_in_threadpool(service.feedback.add, record)}

    @app.get(
        f"{API_PREFIX}/feedback/export",
        tags=["feedback"],
        summary="All feedback as JSON Lines (with no keys configured: loopback clients only).",
        response_class=StreamingResponse,
    )
    async def feedback_export(request: Request) -> StreamingResponse:
        if not security.auth_required:
            host = request.client.host if request.client else ""
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ApiError(403, "forbidden", "Configure API keys to export feedback from another host.")
        return StreamingResponse(
            service.feedback.export_jsonl(),
            media_type="application/x-ndjson; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="policyqa-feedback.jsonl"'},
        )

    async def api_fallback(request: Request) -> JSONResponse:
        # Without this, unknown /api/ paths would fall through to the UI mounted at "/".
        path = request.url.path
        allowed = sorted(
            {
                method
                for route in app.routes
                if isinstance(route, APIRoute) and route.path_regex.match(path)
                for method in route.methods or ()
            }
        )
        if allowed:
            return _error(405, "method_not_allowed", f"Use {', '.join(allowed)} here.", {"Allow": ", ".join(allowed)})
        return _error(404, "not_found", f"There is no API route {path}.")

    app.router.routes.extend(login_routes(service.authenticator))
    app.add_route(
        "/api/{rest:path}", api_fallback, methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )

    # Middleware: the last added runs first. Security headers wrap everything (401s and
    # CORS preflights included); CORS answers preflights before the host and origin checks
    # and access control, which see every other request before the body limit and then the
    # limits (rate, then load), so that 429 and 503 count against the identity access control
    # found, and a client that sends its body slowly holds no turn while it does.
    app.add_middleware(
        LimitsMiddleware,
        rate=security.rate_limit,
        max_concurrency=security.max_concurrency,
        max_queue=security.max_queue,
        queue_timeout=security.queue_timeout_seconds,
    )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(AccessControlMiddleware, authenticator=service.authenticator)
    app.add_middleware(RequestOriginMiddleware, settings=security)
    # Always installed, even with no allowed origin, so that Gradio does not add its own
    # permissive CORS handling to the mounted UI.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(security.cors_origins),
        allow_methods=["GET", "POST"],
        # X-Gradio-User: the Gradio web component's client labels its queue requests with it.
        allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Gradio-User"],
        # No cookies across origins: browser clients of other origins authenticate with a key header.
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, settings=security)

    if with_ui:
        from .ui import mount_ui

        mount_ui(app, service, security)
    return app
