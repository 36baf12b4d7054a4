"""Access control and browser hardening for every route the server exposes.

A request is admitted when one of these holds (checked in this order):

1. it comes from an address in ``trusted_proxies`` and carries the trusted identity
   header (the portal's reverse proxy has authenticated the user);
2. it carries an API key in ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` (never
   in the URL) whose SHA-256 digest matches a configured digest, compared in constant time;
3. it carries the ``policyqa_session`` cookie of a browser login (``/auth/login``): an
   HttpOnly, SameSite=Strict cookie holding a random session token, never the key;
4. it carries the ``policyqa_embed`` cookie of an embedded frame (``/auth/embed``, see
   ``embed``): the same kind of token, ``SameSite=None; Secure; Partitioned`` over https,
   so that a portal on another site can frame the UI.

When no key and no identity header are configured, everything is open. ``/healthz``, the
sign-in routes and the embedding scripts (``OPEN_PATHS``) are always open: a liveness
probe needs no key and says nothing. The cookies' attributes are decided here
(``session_cookie_header``), for both kinds of session.

:class:`AccessControlMiddleware` enforces this on the whole ASGI app (JSON API, docs,
OpenAPI, the Gradio page and Gradio's own API, queue and file routes), and
:class:`SecurityHeadersMiddleware` adds the Content-Security-Policy ``frame-ancestors``
allow-list and ``X-Content-Type-Options: nosniff`` to every response.
:class:`RequestOriginMiddleware`, in front of access control, refuses a ``Host`` the server
does not answer to (DNS rebinding; by default only loopback names and IP addresses), any
request with ``Origin: null``, and state-changing or exporting requests from origins that
are neither this server nor an allowed CORS origin (CSRF).
:class:`ForwardedHeadersMiddleware` drops ``X-Forwarded-*`` and the like unless the TCP
peer is one of ``trusted_proxies``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policyqa import ConfigError

from .config import ANY_HOST, ENV_PREFIX, AppSettings, key_digest, read_key_file_digests
from .limits import AttemptThrottle

log = logging.getLogger("policyqa.app")

SESSION_COOKIE = "policyqa_session"
# A separate name: a partitioned cookie never shadows, or is shadowed by, a first-party sign-in.
EMBED_SESSION_COOKIE = "policyqa_embed"
LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"
EMBED_EXCHANGE_PATH = "/auth/embed"
EMBED_HELP_PATH = "/auth/embed/help"
SESSION_STATUS_PATH = "/auth/session"
EMBED_SCRIPT_PATH = "/embed.js"
# Open so that a <gradio-app> on a keyed server can show why it cannot load (see embed).
WEB_COMPONENT_LOADER_PATH = "/gradio.js"
OPEN_PATHS = frozenset(
    {
        "/healthz",
        LOGIN_PATH,
        LOGOUT_PATH,
        EMBED_EXCHANGE_PATH,
        EMBED_HELP_PATH,
        SESSION_STATUS_PATH,
        EMBED_SCRIPT_PATH,
        WEB_COMPONENT_LOADER_PATH,
    }
)
SESSION_COOKIES = (SESSION_COOKIE, EMBED_SESSION_COOKIE)
MAX_SESSIONS = 10_000
KEY_FILE_CHECK_SECONDS = 1.0
MAX_IDENTITY_CHARS = 200
_FAILED_LOGIN_DELAY_SECONDS = 0.5
# The names a browser only sends for this machine: a rebinding attacker's page sends its own domain.
LOOPBACK_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
# GET routes whose answer is worth stealing: their Origin is checked like a POST's.
EXPORT_PATHS = frozenset({"/api/v1/feedback/export"})


@dataclass(frozen=True)
class Identity:
    """Who a request acts for: ``method`` is key, session, proxy or open.

    ``admin``: the identity holds an admin key (``POLICYQA_ADMIN_KEYS``), presented in the
    request or used to sign in; the UI's Documents tab adds and removes for it only.
    """

    name: str
    method: str
    admin: bool = False


ANONYMOUS = Identity("anonymous", "open")


class SessionStore:
    """Browser sessions in memory: the SHA-256 of each token maps to an identity and expiry.

    Sessions end when the server restarts; users then log in again.
    """

    def __init__(self, ttl_seconds: int, max_sessions: int = MAX_SESSIONS) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    def create(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[_token_digest(token)] = (identity, time.monotonic() + self.ttl_seconds)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return token

    def lookup(self, token: str) -> Identity | None:
        digest = _token_digest(token)
        with self._lock:
            entry = self._sessions.get(digest)
            if entry is None:
                return None
            identity, expires = entry
            if time.monotonic() >= expires:
                del self._sessions[digest]
                return None
            return Identity(identity.name, "session", identity.admin)

    def revoke(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(_token_digest(token), None)


class WatchedKeyFile:
    """A key file's digests, re-read when the file changes (its mtime, size or inode)."""

    def __init__(self, path: Path | None, variable: str) -> None:
        self.path = path
        self.variable = variable
        self._stamp = _file_stamp(path)
        self.digests = read_key_file_digests(path, variable) if path is not None else frozenset()

    def reload(self) -> bool:
        """True when the file changed and was read; a file half-written or unreadable keeps the keys we have."""
        if self.path is None or (stamp := _file_stamp(self.path)) == self._stamp:
            return False
        try:
            fresh = read_key_file_digests(self.path, self.variable)
        except ConfigError as exc:
            log.error("Reloading %s%s failed: %s", ENV_PREFIX, self.variable, exc)
            return False
        self.digests, self._stamp = fresh, stamp
        log.info("Reloaded %s%s: %d keys.", ENV_PREFIX, self.variable, len(fresh))
        return True


def _file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    try:
        info = path.stat() if path is not None else None
    except OSError:
        return None
    return None if info is None else (info.st_mtime_ns, info.st_size, info.st_ino)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def presented_key(headers: Headers) -> str | None:
    """The API key a request presents in its headers (``Authorization: Bearer`` or ``X-API-Key``)."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if key := headers.get("x-api-key", "").strip():
        return key
    return None


class Authenticator:
    """Decides who a request is, or that it is nobody (``None``)."""

    def __init__(self, settings: AppSettings, sessions: SessionStore | None = None) -> None:
        self.settings = settings
        self.sessions = sessions or SessionStore(settings.session_ttl_seconds)
        # The key files are watched: each replica and worker sees a revoked key within seconds.
        self._reader_file = WatchedKeyFile(settings.api_keys_file, "API_KEYS_FILE")
        self._admin_file = WatchedKeyFile(settings.admin_keys_file, "ADMIN_KEYS_FILE")
        # The keys given otherwise (the variables, the settings) stay for the process's life.
        self._fixed_admins = settings.admin_key_digests - self._admin_file.digests
        self._fixed_readers = settings.api_key_digests - self._reader_file.digests - settings.admin_key_digests
        self._admin_digests = frozenset(settings.admin_key_digests)
        self._digests = tuple(sorted(settings.api_key_digests))
        self._keys_checked_at = time.monotonic()
        self._keys_lock = threading.Lock()

    def _reload_keys(self) -> None:
        """Re-read the key files that changed, at most once per ``KEY_FILE_CHECK_SECONDS``."""
        if time.monotonic() - self._keys_checked_at < KEY_FILE_CHECK_SECONDS:
            return
        with self._keys_lock:
            self._keys_checked_at = time.monotonic()
            if not (self._reader_file.reload() | self._admin_file.reload()):
                return
            self._admin_digests = self._fixed_admins | self._admin_file.digests
            self._digests = tuple(sorted(self._fixed_readers | self._reader_file.digests | self._admin_digests))

    @property
    def required(self) -> bool:
        return self.settings.auth_required

    def check_key(self, key: str) -> Identity | None:
        """The identity of a valid key; every digest is compared, in constant time."""
        self._reload_keys()
        digest = key_digest(key)
        match: str | None = None
        for candidate in self._digests:
            if hmac.compare_digest(candidate, digest):
                match = candidate
        return Identity(f"key:{match[:8]}", "key", match in self._admin_digests) if match else None

    def _from_proxy(self, headers: Headers, client_host: str | None) -> Identity | None:
        header = self.settings.trusted_identity_header
        if not header:
            return None
        value = headers.get(header, "").strip()
        if not value or len(value) > MAX_IDENTITY_CHARS or not value.isprintable():
            return None
        if is_trusted_proxy(self.settings, client_host):
            return Identity(f"user:{value}", "proxy")
        return None

    def identify(self, headers: Headers, client_host: str | None, cookies: dict[str, str]) -> Identity | None:
        if not self.required:
            return ANONYMOUS
        if identity := self._from_proxy(headers, client_host):
            return identity
        key = presented_key(headers)
        if key is not None:
            # A presented key alone decides: a wrong key is refused even with a valid cookie.
            return self.check_key(key) if self.settings.keys_configured else None
        return self.session_identity(cookies)

    def session_identity(self, cookies: dict[str, str]) -> Identity | None:
        """The identity of a browser session cookie (a sign-in's or an embedded frame's), or ``None``."""
        if not self.settings.keys_configured:
            return None
        for name in SESSION_COOKIES:
            token = cookies.get(name)
            if token and (identity := self.sessions.lookup(token)):
                return identity
        return None

    def identify_connection(self, connection: HTTPConnection) -> Identity | None:
        client = connection.client.host if connection.client else None
        return self.identify(connection.headers, client, connection.cookies)

    def gradio_user(self, request: Request) -> str | None:
        """Gradio's ``auth_dependency``: the user name, or ``None`` to refuse with 401."""
        identity = self.identify_connection(request)
        return identity.name if identity else None


def is_trusted_proxy(settings: AppSettings, client_host: str | None) -> bool:
    """True when the TCP peer ``client_host`` is in ``trusted_proxies``."""
    if client_host is None or not settings.trusted_proxies:
        return False
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxies)


def request_is_https(request: HTTPConnection, settings: AppSettings) -> bool:
    """True when the browser reached us over https: directly, or through a trusted proxy that says so.

    ``X-Forwarded-Proto`` counts only from a peer in ``trusted_proxies`` (the first value: the
    proxy nearest the browser); from anyone else it was removed by ``ForwardedHeadersMiddleware``
    and is ignored here again.
    """
    if request.url.scheme in ("https", "wss"):
        return True
    proto = request.headers.get("x-forwarded-proto", "")
    if not proto:
        return False
    peer = request.client.host if request.client else None
    return is_trusted_proxy(settings, peer) and proto.split(",")[0].strip().lower() == "https"


def cookie_is_secure(request: HTTPConnection, settings: AppSettings) -> bool:
    """Whether a session cookie gets ``Secure``: ``POLICYQA_COOKIE_SECURE`` when set, else over https."""
    return settings.cookie_secure if settings.cookie_secure is not None else request_is_https(request, settings)


def session_cookie_header(name: str, token: str, max_age: int, *, secure: bool, cross_site: bool) -> str:
    """The ``Set-Cookie`` value of a session cookie (``max_age`` 0 deletes it).

    Always ``HttpOnly`` and ``Path=/``. A cross-site (embedded) session over a secure
    connection is ``SameSite=None; Secure; Partitioned``: a browser sends it in a frame of
    another site, kept apart per top-level site (CHIPS), which browsers that block
    third-party cookies still allow. Anything else is ``SameSite=Strict``: without
    ``Secure`` a browser refuses ``SameSite=None``, so over plain http an embedded session
    works only when portal and assistant are the same site. Written by hand because
    Python before 3.14 cannot write ``Partitioned``.
    """
    parts = [f"{name}={token}", f"Max-Age={max_age}", "Path=/", "HttpOnly"]
    if secure:
        parts.append("Secure")
    if cross_site and secure:
        parts += ["SameSite=None", "Partitioned"]
    else:
        parts.append("SameSite=Strict")
    return "; ".join(parts)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False).encode("utf-8")


class AccessControlMiddleware:
    """Refuses every request without a valid credential, except the open paths."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.authenticator.required:
            await self.app(scope, receive, send)
            return
        if scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        identity = self.authenticator.identify_connection(connection)
        if identity is not None:
            scope.setdefault("state", {})["policyqa_identity"] = identity
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = connection.headers
        wants_page = (
            scope["method"] in ("GET", "HEAD")
            and "text/html" in headers.get("accept", "")
            and not scope["path"].startswith("/api/")
            and self.authenticator.settings.keys_configured
        )
        response: Response
        if wants_page:
            response = RedirectResponse(LOGIN_PATH, status_code=303)
        else:
            response = Response(
                error_body("unauthorized", "A valid API key is required (Authorization: Bearer KEY or X-API-Key)."),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="policyqa"'},
            )
        await response(scope, receive, send)


# Headers in which a reverse proxy describes the original request. Gradio builds its public
# URL ("root", in /config and the page) from X-Forwarded-Host, X-Forwarded-Proto and
# X-Gradio-Server, so from anyone but a trusted proxy they are removed.
FORWARDED_HEADERS = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-proto",
        b"x-forwarded-server",
        b"x-real-ip",
        b"x-gradio-server",
    }
)


class ForwardedHeadersMiddleware:
    """Removes the proxy headers (``FORWARDED_HEADERS``) of requests whose TCP peer is not a trusted proxy."""

    def __init__(self, app: ASGIApp, settings: AppSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            if not is_trusted_proxy(self.settings, client[0] if client else None):
                headers = [(name, value) for name, value in scope["headers"] if name not in FORWARDED_HEADERS]
                if len(headers) != len(scope["headers"]):
                    scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _split_host(host: str) -> tuple[str, str]:
    """``(name, port)`` of a Host header or an origin's authority; the port is "" when none is written."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal: [::1]:8000
        name, _, rest = host.partition("]")
        return name + "]", rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port


def host_name(host: str) -> str:
    """The name of a ``Host`` header, lowercased and without its port (an IPv6 literal keeps its brackets)."""
    return _split_host(host)[0]


def is_ip_literal(name: str) -> bool:
    """True for ``10.0.0.5`` or ``[::1]``: a name no DNS answer (and so no rebinding) stands behind."""
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") and name.endswith("]") else name)
    except ValueError:
        return False
    return True


def _listens_on_loopback(scope: Scope) -> bool:
    server = scope.get("server")
    try:
        return server is not None and ipaddress.ip_address(server[0]).is_loopback
    except ValueError:
        return False


def same_origin(origin: str, host: str) -> bool:
    """True when ``origin`` (``scheme://host[:port]``) names the server the ``Host`` header names.

    A Host without a port matches the origin's default port, whatever this server's own
    scheme: behind a proxy that ends TLS, the page is https while the server speaks http.
    """
    origin_scheme, sep, authority = origin.strip().lower().partition("://")
    if not sep or "/" in authority or origin_scheme not in _DEFAULT_PORTS:
        return False
    origin_name, origin_port = _split_host(authority)
    host_name, host_port = _split_host(host)
    if origin_name != host_name:
        return False
    return (origin_port or _DEFAULT_PORTS[origin_scheme]) == (host_port or _DEFAULT_PORTS[origin_scheme])


class RequestOriginMiddleware:
    """Refuses requests for host names the server does not answer to, and from origins it does not trust.

    * ``Host`` the server does not answer to: 400 ``invalid_host``. A page on an attacker's
      domain that resolves to this server (DNS rebinding) sends its own name, and the TCP
      peer is then the victim's browser, on loopback for a server on loopback. With
      ``allowed_hosts`` set, the server answers to those names (``*``: any). Without it,
      it answers to loopback names (``localhost``, ``127.0.0.1``, ``[::1]``) and IP
      addresses, any port; to any name only when keys or a trusted identity header are
      configured and the connection did not arrive on a loopback address.
    * ``Origin: null`` (sandboxed frames, local files, some redirects): 403 ``forbidden_origin``.
    * ``POST`` and other state-changing methods, and the feedback export, from an origin that
      is neither this server's nor an allowed CORS origin: 403 ``forbidden_origin`` (browsers
      send ``Origin`` on them).
    """

    def __init__(self, app: ASGIApp, settings: AppSettings) -> None:
        self.app = app
        self.allowed_hosts = frozenset(settings.allowed_hosts)
        self.cors_origins = frozenset(o.lower() for o in settings.cors_origins)
        self.credentials_required = settings.auth_required

    def answers_to(self, scope: Scope, name: str) -> bool:
        """True when this server answers to the host ``name`` on the connection of ``scope``."""
        if self.allowed_hosts:
            return ANY_HOST in self.allowed_hosts or name in self.allowed_hosts
        if self.credentials_required and not _listens_on_loopback(scope):
            return True  # a rebinding page has no credentials to send
        return name in LOOPBACK_HOST_NAMES or is_ip_literal(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self.answers_to(scope, host_name(host)):
            await self._refuse(
                scope,
                receive,
                send,
                400,
                "invalid_host",
                "This server does not answer to that host name (the operator lists its names in "
                "POLICYQA_ALLOWED_HOSTS).",
            )
            return
        origin = headers.get("origin")
        if origin is not None:
            unsafe = (
                scope["type"] == "websocket"
                or scope["method"] not in ("GET", "HEAD", "OPTIONS")
                or scope["path"] in EXPORT_PATHS
            )
            trusted = origin.rstrip("/").lower() in self.cors_origins or same_origin(origin, host)
            if origin.strip().lower() == "null" or (unsafe and not trusted):
                await self._refuse(
                    scope, receive, send, 403, "forbidden_origin", "Requests from this origin are refused."
                )
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = Response(error_body(code, message), status_code=status, media_type="application/json")
        await response(scope, receive, send)


def content_security_policy(settings: AppSettings) -> str:
    ancestors = " ".join(settings.frame_ancestors)
    # Only directives that cannot break Gradio's page: who may frame us, no remote images,
    # no plugins, no <base> or form hijacking.
    return (
        f"frame-ancestors {ancestors}; img-src 'self' data: blob:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'"
    )


class SecurityHeadersMiddleware:
    """Adds CSP frame-ancestors, nosniff and a referrer policy to every HTTP response."""

    def __init__(self, app: ASGIApp, settings: AppSettings) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": content_security_policy(settings),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                if "x-frame-options" in headers:
                    # CSP frame-ancestors is the allow-list; a stray DENY/SAMEORIGIN would contradict it.
                    del headers["x-frame-options"]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_LOGIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Sign in · PolicyQA</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f5f6f8; margin: 0; }}
main {{ max-width: 380px; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 10px;
        box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.3rem; margin-top: 0; }}
label {{ display: block; margin: 1rem 0 .4rem; }}
input {{ width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; }}
button {{ margin-top: 1.2rem; width: 100%; padding: .6rem; font-size: 1rem; cursor: pointer; }}
.error {{ color: #b00020; }}
#pq-embed-status a {{ display: inline-block; margin-top: .6rem; }}
</style>
<script src="{script}" defer></script></head>
<body><main>
<h1>政策问答 PolicyQA</h1>
<p>请输入 API 密钥登录。<br>Enter your API key to sign in.</p>
{error}
<div id="pq-embed-status" role="alert" hidden></div>
<form id="pq-login-form" method="post" action="{action}">
<label for="api_key">API 密钥 API key</label>
<input id="api_key" name="api_key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">登录 Sign in</button>
</form>
</main></body></html>
"""


def _login_page(error: str | None = None, status_code: int = 200) -> HTMLResponse:
    block = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    page = _LOGIN_PAGE.format(error=block, action=html.escape(LOGIN_PATH), script=html.escape(EMBED_SCRIPT_PATH))
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def login_client(request: Request, settings: AppSettings) -> str:
    """The address whose sign-in attempts are counted: the TCP peer, or the client a trusted proxy names.

    Behind a trusted proxy every request comes from the proxy's address, so the last
    ``X-Forwarded-For`` entry (the one the proxy added) names the client instead.
    """
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and is_trusted_proxy(settings, peer):
        return forwarded.rsplit(",", 1)[-1].strip() or peer
    return peer


def login_routes(authenticator: Authenticator, throttle: AttemptThrottle | None = None) -> list[Route]:
    """``GET/POST /auth/login`` and ``GET/POST /auth/logout`` for browser sessions.

    Each client address may try ``throttle.attempts`` keys per ``throttle.window`` seconds
    (default 5 a minute); a successful sign-in does not count. Beyond that: 429 with
    ``Retry-After``, whatever the key, so that guessing in parallel gains nothing.
    """
    throttle = throttle or AttemptThrottle()

    async def login(request: Request) -> Response:
        if not authenticator.settings.keys_configured:
            return RedirectResponse("/", status_code=303)
        if request.method == "GET":
            return _login_page()
        if not _same_origin(request):
            return _login_page("请求来源不被允许。This sign-in request came from another site.", 403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return _login_page("表单格式错误。The sign-in form was not sent as a form.", 415)
        client = login_client(request, authenticator.settings)
        if (wait := throttle.acquire(client)) > 0:
            seconds = max(1, math.ceil(wait))
            page = _login_page(
                f"尝试次数过多，请 {seconds} 秒后再试。Too many failed sign-ins from this address; "
                f"try again in {seconds} s.",
                429,
            )
            page.headers["Retry-After"] = str(seconds)
            return page
        form = await request.form(max_files=0, max_fields=4)
        key = form.get("api_key")
        identity = authenticator.check_key(key) if isinstance(key, str) and key else None
        if identity is None:
            await asyncio.sleep(_FAILED_LOGIN_DELAY_SECONDS)
            return _login_page("密钥无效。The key is not valid.", 401)
        throttle.refund(client)
        token = authenticator.sessions.create(identity)
        response = RedirectResponse("/", status_code=303)
        secure = cookie_is_secure(request, authenticator.settings)
        ttl = authenticator.settings.session_ttl_seconds
        response.headers.append(
            "set-cookie", session_cookie_header(SESSION_COOKIE, token, ttl, secure=secure, cross_site=False)
        )
        return response

    async def logout(request: Request) -> Response:
        for name in SESSION_COOKIES:
            if token := request.cookies.get(name):
                authenticator.sessions.revoke(token)
        response = RedirectResponse(LOGIN_PATH if authenticator.settings.keys_configured else "/", status_code=303)
        secure = cookie_is_secure(request, authenticator.settings)
        # Deleting a partitioned cookie takes the same attributes as setting it.
        for name, cross_site in ((SESSION_COOKIE, False), (EMBED_SESSION_COOKIE, True)):
            if name == SESSION_COOKIE or name in request.cookies:
                response.headers.append(
                    "set-cookie", session_cookie_header(name, '""', 0, secure=secure, cross_site=cross_site)
                )
        return response

    return [
        Route(LOGIN_PATH, login, methods=["GET", "POST"], include_in_schema=False),
        Route(LOGOUT_PATH, logout, methods=["GET", "POST"], include_in_schema=False),
    ]
