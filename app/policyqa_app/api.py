"""The JSON API: /healthz, /readyz and /api/v1/*, as a router on one ``Service``.

Handlers are thin: validate, make one call into ``policyqa.Assistant`` in a worker
thread, serialise with the core's ``to_dict()``. Errors are raised as ``ApiError`` or the
core's own and reported by the handlers in ``errors``.

Example:
    >>> router = api_router(service)
    >>> app.include_router(router)
    >>> app.add_route("/api/{rest:path}", api_fallback(router), methods=["GET", "POST"])
"""

# No ``from __future__ import annotations`` here: FastAPI reads the request models of the
# handlers from their annotations at runtime, and the models are built per service (their
# limits come from the settings), so the annotations must be real objects, not strings.

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from policyqa import QuestionError, SearchFilter
from policyqa.documents import HIDDEN_CHARACTERS
from policyqa.filters import make_filter
from policyqa.generate import MODE_LLM
from policyqa.types import GroundedSentence

from .documents_api import documents_router, is_loopback
from .errors import ApiError, error_response
from .feedback import MAX_COMMENT_CHARS, MAX_TEXT_CHARS, FeedbackRecord, export_jsonl
from .metrics import observe_answer
from .present import answer_sentences
from .security import ANONYMOUS, Identity
from .service import Service
from .state import UNAVAILABLE_MESSAGE, StateUnavailableError

MAX_TOP_K = 50
MAX_DOC_IDS = 100
# A follow-up is resolved against the latest of these; more history adds nothing.
MAX_EARLIER_QUESTIONS = 10
MAX_DOC_ID_CHARS = 200
MAX_FEEDBACK_CITATIONS = 50
API_PREFIX = "/api/v1"


def _identity(request: Request) -> Identity:
    state = request.scope.get("state") or {}
    return state.get("policyqa_identity", ANONYMOUS)


def require_json(request: Request) -> None:
    """POST bodies must be JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the request body as JSON (Content-Type: application/json).")


def _sse(event: str, data: object) -> bytes:
    payload = json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def api_router(service: Service) -> APIRouter:
    """The service routes and the JSON API of ``service``, its request limits taken from its settings."""
    core = service.assistant.settings
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
        kinds: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
            default_factory=list, max_length=10, description="Only documents of these kinds (law, local_regulation, …)."
        )
        regions: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
            default_factory=list, max_length=10, description="Only documents of these regions (Beijing, 浙江, …)."
        )
        years: str | None = Field(
            default=None, max_length=20, description="Only documents of this year or range: 2019, 2015-2021, 2015-."
        )
        mode: Literal["extractive", "llm"] = Field(
            default="extractive",
            description="extractive: quoted sentences; llm: an answer written by the configured LLM in the "
            "question's language, each sentence verified against its citation (else the extractive answer "
            "with generation.note).",
        )
        earlier: list[Annotated[str, Field(max_length=max_question)]] = Field(
            default_factory=list,
            max_length=MAX_EARLIER_QUESTIONS,
            description="The conversation's previous questions, latest last: a short follow-up is resolved "
            "against them and the answer's resolved_question says what was searched.",
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
        if not HIDDEN_CHARACTERS.sub("", body.question).strip():
            raise ApiError(
                422,
                "invalid_question",
                "The question is empty: it holds only whitespace and invisible characters "
                "(zero-width, direction or tag characters).",
            )
        try:
            make_filter(kinds=body.kinds, regions=body.regions, years=body.years)
        except QuestionError as exc:
            raise ApiError(422, "invalid_filter", str(exc)) from exc
        if body.doc_ids is not None:
            known = await run_in_threadpool(service.document_ids)
            unknown = [d for d in body.doc_ids if d not in known]
            if unknown:
                raise ApiError(422, "unknown_document", f"doc_ids: no indexed document has the id {unknown[0]!r}.")
        return body

    def where(body: QuestionRequest) -> SearchFilter | None:
        if not (body.kinds or body.regions or body.years):
            return None
        return make_filter(kinds=body.kinds, regions=body.regions, years=body.years)

    async def on_cpu(work: Callable[[], Any]) -> Any:
        """``work`` in a worker thread, taking one of the process's turns at the CPU (``Service.cpu_turns``)."""
        return await anyio.to_thread.run_sync(work, limiter=service.cpu_turns)

    def asking(ask: Callable[..., Any], body: QuestionRequest) -> Callable[[], Any]:
        """``ask`` (an answer or its stream) bound to everything the request says."""
        return partial(
            ask, body.question, body.k, body.doc_ids, where=where(body), earlier=body.earlier, mode=body.mode
        )

    async def fresh() -> None:
        """Serve a build another process published (``policyqa add``): a cheap check, at most once a second."""
        await run_in_threadpool(service.refresh_index)

    router = APIRouter()

    @router.get("/healthz", tags=["service"], summary="Liveness: the process is up (always open).")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", tags=["service"], summary="Readiness: the index is loaded, with its generation.")
    async def readyz() -> JSONResponse:
        state = service.state
        if state is not None:
            try:
                await run_in_threadpool(state.ping)
            except StateUnavailableError as exc:
                # Every request but this one would get 503: a proxy should send them elsewhere.
                error = {"code": "state_unavailable", "message": f"{UNAVAILABLE_MESSAGE} ({exc})"}
                return JSONResponse({"status": "error", "error": error}, status_code=503)
        shared_state = state.backend if state is not None else "in-process"
        if service.ready.is_set():
            # One index read for all three: a build going live in between cannot mix two.
            index = await run_in_threadpool(lambda: service.assistant.index)
            docs = index.documents.values()
            return JSONResponse(
                {
                    "status": "ready",
                    "generation": index.generation,
                    "documents": len(docs),
                    "passages": sum(d.passages for d in docs),
                    "shared_state": shared_state,
                    "read_only": service.settings.read_only,
                }
            )
        if service.load_error:
            return JSONResponse(
                {"status": "error", "error": {"code": "index_unavailable", "message": service.load_error}},
                status_code=503,
            )
        return JSONResponse({"status": "loading"}, status_code=503)

    @router.get(
        f"{API_PREFIX}/documents",
        tags=["corpus"],
        dependencies=[Depends(fresh)],
        summary="The indexed documents and their sections.",
    )
    async def documents() -> dict[str, list[dict[str, object]]]:
        return {"documents": await run_in_threadpool(service.document_listing)}

    json_body = [Depends(require_json), Depends(fresh)]

    @router.post(f"{API_PREFIX}/ask", tags=["questions"], dependencies=json_body, summary="Answer with citations.")
    async def ask(body: Annotated[QuestionRequest, Depends(checked)]) -> dict[str, Any]:
        work = asking(service.assistant.ask, body)
        answer = await (run_in_threadpool(work) if body.mode == MODE_LLM else on_cpu(work))
        observe_answer(answer)
        return answer.to_dict()

    @router.post(f"{API_PREFIX}/search", tags=["questions"], dependencies=json_body, summary="The best passages.")
    async def search(body: Annotated[QuestionRequest, Depends(checked)]) -> dict[str, Any]:
        result = await on_cpu(partial(service.assistant.search, body.question, body.k, body.doc_ids, where=where(body)))
        return result.to_dict()

    @router.post(
        f"{API_PREFIX}/ask/stream",
        tags=["questions"],
        dependencies=json_body,
        summary="Answer as server-sent events: one `sentence` event per sentence, then `answer` with the full JSON.",
        response_class=StreamingResponse,
    )
    async def ask_stream(body: Annotated[QuestionRequest, Depends(checked)]) -> StreamingResponse:
        # Retrieval runs before the stream starts, so a bad question still gets a 4xx status;
        # in llm mode the generated sentences follow one by one, each after verification.
        stream = await on_cpu(asking(service.assistant.ask_stream, body))

        async def events() -> AsyncIterator[bytes]:
            index = 0
            while (item := await run_in_threadpool(next, stream, None)) is not None:
                if isinstance(item, GroundedSentence):
                    yield _sse("sentence", {"index": index, "text": item.text, **item.to_dict()})
                    index += 1
                    continue
                # The final answer: an extractive one (or the fallback) is sent sentence by sentence.
                observe_answer(item)
                if item.generation is not None and item.generation.note:
                    yield _sse("note", {"text": item.generation.note})
                if item.generation is None or item.generation.fallback:
                    for sentence in answer_sentences(item.answer):
                        yield _sse("sentence", {"index": index, "text": sentence})
                        index += 1
                yield _sse("answer", item.to_dict())

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post(f"{API_PREFIX}/feedback", tags=["feedback"], dependencies=json_body, summary="Rate an answer.")
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

    @router.get(
        f"{API_PREFIX}/feedback/export",
        tags=["feedback"],
        summary="All feedback as JSON Lines (with no keys configured: loopback clients only).",
        response_class=StreamingResponse,
    )
    async def feedback_export(request: Request) -> StreamingResponse:
        if not service.settings.auth_required and not is_loopback(request):
            raise ApiError(
                403,
                "forbidden",
                "Without API keys, feedback is exported on the server itself only (http://127.0.0.1 or localhost).",
            )
        return StreamingResponse(
            export_jsonl(service.feedback),
            media_type="application/x-ndjson; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="policyqa-feedback.jsonl"'},
        )

    # Its routes themselves, not an included router: ``api_fallback`` lists the routes' methods.
    router.routes.extend(documents_router(service).routes)
    return router


def api_fallback(router: APIRouter) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint for /api/ paths no route of ``router`` serves: 405 naming the allowed methods, else 404.

    Without it, such a path would fall through to the UI mounted at "/".
    """

    async def fallback(request: Request) -> JSONResponse:
        path = request.url.path
        allowed = sorted(
            {
                method
                for route in router.routes
                if isinstance(route, APIRoute) and route.path_regex.match(path)
                for method in route.methods or ()
            }
        )
        if allowed:
            return error_response(
                405, "method_not_allowed", f"Use {', '.join(allowed)} here.", {"Allow": ", ".join(allowed)}
            )
        return error_response(404, "not_found", f"There is no API route {path}.")

    return fallback


def mount_docs(app: FastAPI) -> None:
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
