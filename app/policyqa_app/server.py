"""The FastAPI app: the JSON API, login routes and the Gradio UI in one process, behind one middleware stack.

``create_app`` only composes: the routes are in ``api``, the error bodies in ``errors``,
the middleware in ``middleware``, what they share in ``service`` and the UI in ``ui``.

Example:
    >>> app = create_app(Settings(index_dir=Path("/tmp/index")))
    >>> uvicorn.run(app, host="127.0.0.1", port=8000, **server_options())
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from policyqa import Assistant, Settings, __version__

from .api import api_fallback, api_router, mount_docs
from .config import AppSettings
from .embed import add_embedding
from .errors import add_error_handlers
from .limits import (
    HEADER_TIMEOUT_SECONDS,
    KEEP_ALIVE_REQUESTS,
    KEEP_ALIVE_TIMEOUT_SECONDS,
    KeepAliveLimitMiddleware,
    header_timeout_protocol,
)
from .logs import RequestIdMiddleware
from .metrics import install_metrics
from .middleware import add_middleware
from .security import login_routes
from .service import Service
from .state import ReadOnlyMiddleware, SharedAttemptThrottle, SharedEmbedTokenStore, open_state

# Request line and headers together; a larger head gets 400 from h11 (uvicorn's default, named here).
MAX_HEADER_BYTES = 16 * 1024


def server_options(header_timeout: float = HEADER_TIMEOUT_SECONDS) -> dict[str, Any]:
    """uvicorn's settings for this app, beyond host and port (``uvicorn.run(app, **server_options())``).

    * ``http``: h11 with a deadline for request headers (uvicorn has none; see
      ``limits.header_timeout_protocol``);
    * ``timeout_keep_alive``: an idle kept-alive connection is closed after 5 s;
    * ``proxy_headers`` off: the client address must be the real peer, or the trusted-proxy
      check of the identity header could be fooled by an X-Forwarded-For header;
    * no ``Server`` header.
    """
    return {
        "http": header_timeout_protocol(header_timeout),
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "proxy_headers": False,
        "server_header": False,
    }


def _lifespan(service: Service) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start_warm_up()
        yield

    return lifespan


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
        # A read-only replica serves what the builder published and never builds.
        assistant = Assistant(settings or Settings.from_env(), auto_build=not security.read_only)
    state = open_state(security)
    service = Service.create(assistant, security, state)
    app = FastAPI(
        title="PolicyQA",
        version=__version__,
        description="Cited answers from Chinese policy texts, in Chinese or English.",
        lifespan=_lifespan(service),
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    add_error_handlers(app)
    mount_docs(app)
    api = api_router(service)
    app.include_router(api)
    throttle = SharedAttemptThrottle(state) if state is not None else None
    app.router.routes.extend(login_routes(service.authenticator, throttle))  # type: ignore[arg-type]
    # Embed tokens for a portal's frame, before the UI's routes; shared, so that any replica redeems them.
    add_embedding(app, service.authenticator, SharedEmbedTokenStore(state) if state is not None else None)
    # After every API route, before the UI at "/": an unknown /api/ path gets a JSON 404, not the UI.
    app.add_route(
        "/api/{rest:path}",
        api_fallback(api),
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    if security.read_only:
        app.add_middleware(ReadOnlyMiddleware)  # innermost: behind access control and the limits
    add_middleware(app, service.settings, service.authenticator, state)
    install_metrics(app, service)  # GET /metrics, and every request counted and timed
    # Every response, a refusal too, carries X-Request-ID and is logged with it.
    app.add_middleware(RequestIdMiddleware, settings=service.settings)
    # Outermost: every response of a connection counts towards its reconnection.
    app.add_middleware(KeepAliveLimitMiddleware, max_requests=KEEP_ALIVE_REQUESTS)
    if with_ui:
        # Imported here: gradio takes seconds to import, and the API alone never needs it.
        from .ui import mount_ui

        mount_ui(app, service)
    return app
