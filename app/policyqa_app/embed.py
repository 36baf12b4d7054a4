"""Embedding the UI in a portal on another site: short-lived, single-use embed tokens exchanged for a session.

A browser drops the ``SameSite=Strict`` sign-in cookie in a frame of another site, so a
user who signs in inside such a frame lands on the sign-in form again. Instead:

1. the portal's *server* asks ``POST /api/v1/embed-token`` with its API key and gets a
   random token, valid for ``EMBED_TOKEN_TTL_SECONDS`` and for one use, bound to that key's
   identity (the server keeps only its SHA-256);
2. the portal's page frames ``https://policyqa.example/#embed=TOKEN`` (a fragment never
   reaches a server, a log or a ``Referer``), or posts the token into the frame with
   ``postMessage({type: "policyqa:embed-token", token})``;
3. ``/embed.js`` on the sign-in page takes the token from the fragment (and removes it with
   ``history.replaceState``), posts it to ``/auth/embed``, which sets the ``policyqa_embed``
   session cookie (``SameSite=None; Secure; Partitioned`` over https, see
   ``security.session_cookie_header``), checks with ``/auth/session`` that the browser
   sends the cookie back, and only then loads the UI. When it does not (cookies blocked,
   plain http across sites) the page says so in plain words and links to
   ``/auth/embed/help`` instead of showing an empty sign-in form again.

The ``<gradio-app>`` web component cannot carry a session or a key (its requests are
cross-origin and without credentials), so on a server with keys ``/gradio.js`` is a small
stand-in that draws an error element with the same help link instead of a blank one.

``add_embedding(app, authenticator, store)`` registers all of it; the store lives on
``app.state.embed_tokens``: this process's memory, or with several workers or replicas the
shared store (``state.SharedEmbedTokenStore``), so that a token the portal got from one replica
signs the frame in on whichever the proxy sends the frame to.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .errors import ApiError
from .security import (
    EMBED_EXCHANGE_PATH,
    EMBED_HELP_PATH,
    EMBED_SCRIPT_PATH,
    EMBED_SESSION_COOKIE,
    LOGIN_PATH,
    SESSION_STATUS_PATH,
    WEB_COMPONENT_LOADER_PATH,
    Authenticator,
    Identity,
    cookie_is_secure,
    same_origin,
    session_cookie_header,
)

EMBED_TOKEN_PATH = "/api/v1/embed-token"
EMBED_TOKEN_TTL_SECONDS = 60.0
MAX_EMBED_TOKENS = 10_000
# The tag that runs the exchange on a page (the sign-in form has it; the UI may add it to its head).
EMBED_SCRIPT_TAG = f'<script src="{EMBED_SCRIPT_PATH}" defer></script>'
_NO_STORE = {"Cache-Control": "no-store"}
_TOKEN_BYTES = 32


class EmbedTokenError(Exception):
    """An embed token that cannot be exchanged; ``reason`` is ``unknown``, ``used`` or ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Entry:
    identity: Identity
    expires: float
    used: bool = False


class EmbedTokenStore:
    """Embed tokens in memory: the SHA-256 of each maps to the key's identity, its expiry and whether it was used.

    Thread-safe. A used token is kept until it expires, so that a second use is reported as
    such; expired entries are dropped as new tokens are issued, and beyond ``max_tokens``
    the oldest go first.

    Example:
        >>> store = EmbedTokenStore(ttl_seconds=60)
        >>> store.redeem(store.issue(Identity("key:0123abcd", "key")))  # once; again raises
    """

    def __init__(
        self,
        ttl_seconds: float = EMBED_TOKEN_TTL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tokens: int = MAX_EMBED_TOKENS,
    ) -> None:
        if not ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be positive. Currently, it is {ttl_seconds}.")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1. Currently, it is {max_tokens}.")
        self.ttl_seconds = ttl_seconds
        self.max_tokens = max_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def issue(self, identity: Identity) -> str:
        """A new random token for ``identity``, valid for ``ttl_seconds`` and one exchange."""
        token = new_embed_token()
        with self._lock:
            now = self._clock()
            # Tokens are kept in the order issued, all with one lifetime: the expired ones are in front.
            while self._entries and next(iter(self._entries.values())).expires <= now:
                self._entries.popitem(last=False)
            self._entries[_digest(token)] = _Entry(identity, now + self.ttl_seconds)
            while len(self._entries) > self.max_tokens:
                self._entries.popitem(last=False)
        return token

    def redeem(self, token: str) -> Identity:
        """The identity ``token`` was issued for; the token is spent. Raises ``EmbedTokenError``."""
        digest = _digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                raise embed_token_error("unknown", self.ttl_seconds)
            if self._clock() >= entry.expires:
                del self._entries[digest]
                raise embed_token_error("expired", self.ttl_seconds)
            if entry.used:
                raise embed_token_error("used", self.ttl_seconds)
            entry.used = True
            return entry.identity


def embed_token_error(reason: str, ttl_seconds: float) -> EmbedTokenError:
    """The refusal of a token that is ``unknown``, ``expired`` or ``used``, with what to do about it."""
    why = {
        "unknown": "is not valid: it was never issued, it expired a while ago, or the server restarted since",
        "expired": f"has expired (a token lasts {ttl_seconds:g} s)",
        "used": "was already used (a token signs in one frame, once)",
    }[reason]
    return EmbedTokenError(reason, f"This embed token {why}. Reload the portal page to get a new one.")


def new_embed_token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class EmbedTokens(Protocol):
    """Where embed tokens live: this process (:class:`EmbedTokenStore`) or the store replicas share."""

    ttl_seconds: float

    def issue(self, identity: Identity) -> str: ...

    def redeem(self, token: str) -> Identity: ...


def _store(request: Request) -> EmbedTokens:
    return request.app.state.embed_tokens  # type: ignore[no-any-return]


def embed_token_router(authenticator: Authenticator) -> APIRouter:
    """``POST /api/v1/embed-token``: a token for the API key that asks (the portal's server)."""
    router = APIRouter()

    @router.post(EMBED_TOKEN_PATH, tags=["embedding"], summary="A one-use token that signs a portal's frame in")
    async def embed_token(request: Request) -> JSONResponse:
        """Issue an embed token for the calling API key: valid 60 s, for one exchange at ``/auth/embed``.

        Pass it to the frame in the URL fragment (``https://policyqa.example/#embed=TOKEN``),
        never in the query string.
        """
        if not authenticator.settings.keys_configured:
            raise ApiError(
                409,
                "no_keys_configured",
                "This server has no API keys (POLICYQA_API_KEYS), so there is nothing to sign in to: "
                "frame the UI without a token.",
            )
        identity = (request.scope.get("state") or {}).get("policyqa_identity")
        if identity is None or identity.method != "key":
            raise ApiError(
                403,
                "key_required",
                "Embed tokens are issued to API keys only: ask from the portal's server with "
                "Authorization: Bearer KEY.",
            )
        store = _store(request)
        token = store.issue(identity)
        body = {"token": token, "expires_in": store.ttl_seconds, "fragment": f"#embed={token}"}
        return JSONResponse(body, headers=_NO_STORE)

    return router


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=_NO_STORE)


def embed_routes(authenticator: Authenticator) -> list[Route]:
    """The browser's side: the exchange, the session probe, the script, the help page and the web component stand-in."""
    settings = authenticator.settings

    async def exchange(request: Request) -> Response:
        if not settings.keys_configured:
            return _refusal(409, "no_keys_configured", "This server has no API keys: the UI needs no sign-in.")
        origin = request.headers.get("origin")
        if origin is not None and not same_origin(origin, request.headers.get("host", "")):
            # Only our own page (inside the portal's frame) exchanges tokens: no sign-in forced from elsewhere.
            return _refusal(403, "forbidden_origin", "Embed tokens are exchanged by PolicyQA's own page only.")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return _refusal(415, "unsupported_media_type", "Send the token as a form field: token=TOKEN.")
        form = await request.form(max_files=0, max_fields=4)
        token = form.get("token")
        if not isinstance(token, str) or not token:
            return _refusal(422, "invalid_request", "token: the embed token is missing.")
        try:
            identity = _store(request).redeem(token)
        except EmbedTokenError as refused:
            return _refusal(401, "invalid_embed_token", refused.message)
        secure = cookie_is_secure(request, settings)
        response = JSONResponse({"signed_in": True, "secure": secure}, headers=_NO_STORE)
        # A framed session reads only: adding documents is for a first-party sign-in.
        session = authenticator.sessions.create(Identity(identity.name, identity.method))
        response.headers.append(
            "set-cookie",
            session_cookie_header(
                EMBED_SESSION_COOKIE, session, settings.session_ttl_seconds, secure=secure, cross_site=True
            ),
        )
        return response

    async def session_status(request: Request) -> Response:
        signed_in = authenticator.session_identity(request.cookies) is not None
        return JSONResponse({"signed_in": signed_in}, headers=_NO_STORE)

    async def script(_request: Request) -> Response:
        return Response(_SCRIPT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    async def help_page(_request: Request) -> Response:
        return HTMLResponse(_HELP_PAGE)

    async def web_component_stand_in(_request: Request) -> Response:
        return Response(_WEB_COMPONENT_STAND_IN, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    routes = [
        Route(EMBED_EXCHANGE_PATH, exchange, methods=["POST"], include_in_schema=False),
        Route(SESSION_STATUS_PATH, session_status, methods=["GET"], include_in_schema=False),
        Route(EMBED_SCRIPT_PATH, script, methods=["GET"], include_in_schema=False),
        Route(EMBED_HELP_PATH, help_page, methods=["GET"], include_in_schema=False),
    ]
    if settings.keys_configured and not settings.trusted_identity_header:
        # Ahead of the UI's loader: with keys, the real one could load nothing and would stay blank.
        routes.append(
            Route(WEB_COMPONENT_LOADER_PATH, web_component_stand_in, methods=["GET"], include_in_schema=False)
        )
    return routes


def add_embedding(app: FastAPI, authenticator: Authenticator, store: EmbedTokens | None = None) -> None:
    """Register the embed-token API and the browser routes on ``app`` (before the UI and the ``/api/`` fallback).

    ``store``: where tokens live (default: this process; ``state.SharedEmbedTokenStore`` for replicas).
    """
    app.state.embed_tokens = store or EmbedTokenStore()
    app.include_router(embed_token_router(authenticator))
    app.router.routes.extend(embed_routes(authenticator))


_HELP_PAGE = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>嵌入说明 Embedding help · PolicyQA</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f5f6f8; margin: 0; line-height: 1.5; }}
main {{ max-width: 720px; margin: 6vh auto; background: #fff; padding: 2rem; border-radius: 10px;
        box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
code {{ background: #f0f1f3; padding: 0 .2em; }}
</style></head>
<body><main>
<h1>PolicyQA 无法在门户页面中保持登录<br>PolicyQA could not keep you signed in inside the portal</h1>
<h2>用户 For users</h2>
<p>浏览器没有保存或没有发送 PolicyQA 的登录 Cookie。请<a href="/" target="_blank" rel="noopener">在新标签页中打开
PolicyQA</a>，或联系门户管理员。<br>
Your browser did not keep, or did not send, PolicyQA's sign-in cookie while PolicyQA was shown inside
another site's page. <a href="/" target="_blank" rel="noopener">Open PolicyQA in a new tab</a>, or tell the
portal's administrators.</p>
<h2>门户开发者 For portal developers</h2>
<ol>
<li>Serve PolicyQA over <strong>https</strong> (directly, or behind a TLS proxy listed in
<code>POLICYQA_TRUSTED_PROXIES</code> that sends <code>X-Forwarded-Proto: https</code>). Over plain http a
browser keeps no cookie for a frame of another site.</li>
<li>List the portal's origin in <code>POLICYQA_FRAME_ANCESTORS</code>.</li>
<li>From the portal's server, <code>POST {html.escape(EMBED_TOKEN_PATH)}</code> with
<code>Authorization: Bearer KEY</code>; frame <code>https://POLICYQA/#embed=TOKEN</code> (the fragment,
never the query string). A token lasts {EMBED_TOKEN_TTL_SECONDS:g} s and signs in one frame once.</li>
<li>The <code>&lt;gradio-app&gt;</code> web component cannot sign in: use the iframe.</li>
</ol>
<p>The steps, the requests and the settings are in the documentation: <code>docs/api.md</code>,
section “Embedding in the portal”.</p>
</main></body></html>
"""

_SCRIPT = (
    """// PolicyQA embedding: exchanges an embed token for a session inside a frame, and says so in plain
// words when the browser cannot keep that session, instead of showing an empty sign-in form again.
(() => {
  "use strict";
  const EXCHANGE = "@EXCHANGE@", STATUS = "@STATUS@", HELP = "@HELP@", LOGIN = "@LOGIN@";
  const MARK = "policyqa-form-sign-in";
  const framed = window.self !== window.top;
  const onLoginPage = location.pathname === LOGIN;
  let busy = false;

  function statusBox() {
    let box = document.getElementById("pq-embed-status");
    if (!box) {
      box = document.createElement("div");
      box.id = "pq-embed-status";
      box.setAttribute("role", "alert");
      box.style.cssText = "font: 15px/1.5 system-ui, sans-serif; margin: 1rem; padding: 1rem; " +
        "border: 1px solid #b00020; border-radius: 8px; background: #fff; color: #222";
      document.body.prepend(box);
    }
    return box;
  }

  function show(state, lines, links) {
    const form = document.getElementById("pq-login-form");
    if (form) form.hidden = true;
    const box = statusBox();
    box.hidden = false;
    box.dataset.state = state;
    box.replaceChildren();
    for (const line of lines) {
      const p = document.createElement("p");
      p.textContent = line;
      box.append(p);
    }
    for (const [href, text] of links) {
      const a = document.createElement("a");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = text;
      box.append(a, document.createElement("br"));
    }
  }

  function hide() {
    const box = document.getElementById("pq-embed-status");
    if (box) box.hidden = true;
    const form = document.getElementById("pq-login-form");
    if (form) form.hidden = false;
  }

  const helpLink = [HELP, "为什么？怎么办 Why, and what to do"];
  const newTabLink = ["/", "在新标签页中打开 PolicyQA · Open PolicyQA in a new tab"];

  function cookieBlocked(secure) {
    const lines = [
      "无法在此页面中保持登录：浏览器没有保存或没有发送 PolicyQA 的登录 Cookie。",
      "PolicyQA cannot keep you signed in here: your browser did not keep its sign-in cookie.",
    ];
    if (framed && !secure) {
      lines.push("PolicyQA 在此通过 http 而非 https 提供，浏览器不会为其他站点页面中的框架保存 Cookie。");
      lines.push("PolicyQA is served over plain http here, and browsers keep no cookie for a frame " +
        "inside another site's page without https.");
    } else if (framed) {
      lines.push("您的浏览器阻止了其他站点页面中框架的 Cookie。");
      lines.push("Your browser blocks cookies in frames inside another site's page.");
    } else {
      lines.push("您的浏览器阻止了此站点的 Cookie。Your browser blocks cookies for this site.");
    }
    show("cookie-blocked", lines, framed ? [newTabLink, helpLink] : [helpLink]);
  }

  async function signedIn() {
    try {
      const response = await fetch(STATUS, {credentials: "same-origin", cache: "no-store"});
      return response.ok && (await response.json()).signed_in === true;
    } catch (error) {
      return false;
    }
  }

  async function exchange(token) {
    if (busy) return;
    busy = true;
    show("signing-in", ["正在登录… Signing in…"], []);
    let response;
    try {
      response = await fetch(EXCHANGE, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        body: new URLSearchParams({token}),
      });
    } catch (error) {
      busy = false;
      show("error", ["无法连接 PolicyQA。Could not reach PolicyQA."], [helpLink]);
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      busy = false;
      const message = (body.error && body.error.message) || ("HTTP " + response.status);
      show("refused", ["嵌入登录失败。The embedded sign-in failed.", message], [helpLink]);
      return;
    }
    // The cookie was sent; whether the browser kept it shows only in the next request.
    if (await signedIn()) {
      if (onLoginPage) {
        location.replace("/");
      } else {
        busy = false;
        hide();
      }
      return;
    }
    busy = false;
    cookieBlocked(body.secure === true);
  }

  function takeToken() {
    const parts = location.hash.replace(/^#/, "").split("&");
    const found = parts.find((part) => part.startsWith("embed="));
    if (found === undefined) return null;
    const rest = parts.filter((part) => part !== found).join("&");
    // Out of the address bar and the history before anything else runs.
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? "#" + rest : ""));
    return decodeURIComponent(found.slice("embed=".length)) || null;
  }

  async function checkAfterFormSignIn() {
    let marked = false;
    try {
      marked = sessionStorage.getItem(MARK) === "1";
      sessionStorage.removeItem(MARK);
    } catch (error) {
      return;
    }
    // Back on the form without an error after a sign-in: the browser did not send the cookie.
    if (marked && !document.querySelector(".error") && !(await signedIn())) {
      cookieBlocked(location.protocol === "https:");
    }
  }

  window.addEventListener("message", (event) => {
    if (!framed || event.source !== window.parent) return;
    const data = event.data;
    if (data && data.type === "policyqa:embed-token" && typeof data.token === "string") exchange(data.token);
  });

  function start() {
    const form = document.getElementById("pq-login-form");
    if (form) {
      form.addEventListener("submit", () => {
        try {
          sessionStorage.setItem(MARK, "1");
        } catch (error) {
          // storage blocked: no check after the sign-in
        }
      });
    }
    const token = takeToken();
    if (token) {
      exchange(token);
    } else if (onLoginPage) {
      checkAfterFormSignIn();
      // A portal that sends the token by postMessage waits for this.
      if (framed) window.parent.postMessage({type: "policyqa:embed-ready"}, "*");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
""".replace("@EXCHANGE@", EMBED_EXCHANGE_PATH)
    .replace("@STATUS@", SESSION_STATUS_PATH)
    .replace("@HELP@", EMBED_HELP_PATH)
    .replace("@LOGIN@", LOGIN_PATH)
)

_WEB_COMPONENT_STAND_IN = """// PolicyQA: this server requires sign-in, which the <gradio-app> web component
// cannot carry (its requests are cross-origin, without cookies or keys). Instead of a blank element, say so.
const help = new URL("@HELP@", import.meta.url).href;

class PolicyQAUnavailable extends HTMLElement {
  connectedCallback() {
    const box = document.createElement("div");
    box.className = "policyqa-embed-error";
    box.setAttribute("role", "alert");
    box.style.cssText = "font: 15px/1.5 system-ui, sans-serif; padding: 1rem; border: 1px solid #b00020; " +
      "border-radius: 8px; color: #222; background: #fff";
    const text = document.createElement("p");
    text.textContent = "PolicyQA 无法以 Web 组件方式嵌入：此服务器需要登录。请改用 iframe 和嵌入令牌。 " +
      "PolicyQA cannot be shown here: this server requires sign-in, which the <gradio-app> web component " +
      "cannot carry. Embed it with an iframe and an embed token instead.";
    const link = document.createElement("a");
    link.href = help;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "嵌入说明 How to embed PolicyQA";
    box.append(text, link);
    this.replaceChildren(box);
  }
}

if (!customElements.get("gradio-app")) customElements.define("gradio-app", PolicyQAUnavailable);
""".replace("@HELP@", EMBED_HELP_PATH)
