"""Embed tokens: the store, the flow over HTTP against real servers, and a portal on another site in Chromium."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvicorn
from app_fixtures import (
    ENGLISH_TROUGH,
    KEY,
    PORTAL,
    READY_TIMEOUT_SECONDS,
    SECOND_KEY,
    RunningServer,
    free_port,
    redeem_at_once,
    serve,
)

from policyqa import Assistant
from policyqa_app import AppSettings, create_app
from policyqa_app.config import key_digest
from policyqa_app.embed import EMBED_TOKEN_TTL_SECONDS, EmbedTokenError, EmbedTokenStore
from policyqa_app.security import EMBED_SESSION_COOKIE, SESSION_COOKIE, Identity

pytest_plugins = ["app_fixtures"]

KEY_IDENTITY = Identity(f"key:{key_digest(KEY)[:8]}", "key")
SECOND_IDENTITY = Identity(f"key:{key_digest(SECOND_KEY)[:8]}", "key")


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- The token store -----------------------------------------------------------------------------------


def test_a_token_is_exchanged_once_for_the_identity_it_was_issued_for() -> None:
    store = EmbedTokenStore()
    token = store.issue(KEY_IDENTITY)
    other = store.issue(SECOND_IDENTITY)
    assert len(token) >= 40 and token != other
    assert store.redeem(other) == SECOND_IDENTITY
    assert store.redeem(token) == KEY_IDENTITY
    with pytest.raises(EmbedTokenError, match="already used") as refused:
        store.redeem(token)
    assert refused.value.reason == "used"


def test_a_token_expires_after_its_lifetime() -> None:
    clock = FakeClock()
    store = EmbedTokenStore(ttl_seconds=60, clock=clock)
    early, late = store.issue(KEY_IDENTITY), store.issue(KEY_IDENTITY)
    clock.advance(59.999)
    assert store.redeem(early) == KEY_IDENTITY
    clock.advance(0.001)
    with pytest.raises(EmbedTokenError, match="expired") as refused:
        store.redeem(late)
    assert refused.value.reason == "expired"
    with pytest.raises(EmbedTokenError) as again:  # and it is gone
        store.redeem(late)
    assert again.value.reason == "unknown"


def test_an_unknown_token_is_refused() -> None:
    store = EmbedTokenStore()
    store.issue(KEY_IDENTITY)
    for forged in ("", "x" * 43, "not-a-token"):
        with pytest.raises(EmbedTokenError, match="not valid") as refused:
            store.redeem(forged)
        assert refused.value.reason == "unknown"


def test_the_store_keeps_digests_not_tokens() -> None:
    store = EmbedTokenStore()
    token = store.issue(KEY_IDENTITY)
    kept = repr(vars(store))
    assert token not in kept
    assert key_digest(token) in kept  # the SHA-256, as for API keys and sessions


def test_concurrent_exchanges_of_one_token_admit_exactly_one() -> None:
    store = EmbedTokenStore()
    token = store.issue(KEY_IDENTITY)
    outcomes = redeem_at_once([store] * 16, token)
    assert sorted(outcomes) == ["signed in"] + ["used"] * 15


def test_expired_tokens_are_dropped_and_the_store_is_bounded() -> None:
    clock = FakeClock()
    store = EmbedTokenStore(ttl_seconds=60, clock=clock, max_tokens=3)
    for _ in range(3):
        store.issue(KEY_IDENTITY)
    clock.advance(60)
    fresh = store.issue(KEY_IDENTITY)
    assert len(store) == 1  # the expired three were dropped
    newest = [store.issue(KEY_IDENTITY) for _ in range(3)]
    assert len(store) == 3
    with pytest.raises(EmbedTokenError):
        store.redeem(fresh)  # the oldest went first
    assert all(store.redeem(token) == KEY_IDENTITY for token in newest)


@pytest.mark.parametrize(("ttl", "max_tokens", "message"), [(0, 10, "ttl_seconds"), (60, 0, "max_tokens")])
def test_bad_store_settings_fail_at_construction(ttl: float, max_tokens: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmbedTokenStore(ttl_seconds=ttl, max_tokens=max_tokens)


# --- The flow over HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


def keyed_settings(tmp_path: Path, **overrides: object) -> AppSettings:
    return AppSettings(
        api_key_digests=frozenset({key_digest(KEY), key_digest(SECOND_KEY)}),
        cors_origins=(PORTAL,),
        frame_ancestors=("'self'", PORTAL),
        feedback_db=tmp_path / "feedback.sqlite3",
        **overrides,  # type: ignore[arg-type]
    )


@contextmanager
def embed_server(assistant: Assistant, security: AppSettings, clock: FakeClock) -> Iterator[RunningServer]:
    def on_the_fake_clock(app: object) -> None:
        app.state.embed_tokens = EmbedTokenStore(clock=clock)  # type: ignore[attr-defined]

    with serve(assistant, security, with_ui=False, prepare=on_the_fake_clock) as running:
        yield running


@pytest.fixture(scope="module")
def server(assistant: Assistant, clock: FakeClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Keys, the portal as CORS origin and frame ancestor, no trusted proxy; embed tokens on ``clock``."""
    with embed_server(assistant, keyed_settings(tmp_path_factory.mktemp("embed")), clock) as running:
        yield running


@pytest.fixture(scope="module")
def proxied_server(
    assistant: Assistant, clock: FakeClock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The same behind a TLS-terminating proxy on 127.0.0.1 (a trusted proxy)."""
    proxy = ipaddress.ip_network("127.0.0.1")
    security = keyed_settings(tmp_path_factory.mktemp("proxied"), trusted_proxies=(proxy,))
    with embed_server(assistant, security, clock) as running:
        yield running


def issue(server: RunningServer, key: str = KEY) -> str:
    response = httpx.post(f"{server.url}/api/v1/embed-token", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def exchange(client: httpx.Client, token: str, **headers: str) -> httpx.Response:
    return client.post("/auth/embed", data={"token": token}, headers=headers)


def cookie_attributes(response: httpx.Response, name: str) -> set[str]:
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_issuing_a_token_needs_an_api_key(server: RunningServer) -> None:
    with server.client() as client:
        anonymous = client.post("/api/v1/embed-token")
        wrong = client.post("/api/v1/embed-token", headers={"Authorization": "Bearer wrong-key-0123456789abc"})
        client.post("/auth/login", data={"api_key": KEY})
        signed_in = client.post("/api/v1/embed-token")  # a browser session is not a key
        issued = client.post("/api/v1/embed-token", headers={"Authorization": f"Bearer {KEY}"})
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert signed_in.status_code == 403 and signed_in.json()["error"]["code"] == "key_required"
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["expires_in"] == EMBED_TOKEN_TTL_SECONDS == 60
    assert body["fragment"] == f"#embed={body['token']}" and len(body["token"]) >= 40
    assert KEY not in body["token"] and key_digest(KEY) not in body["token"]


def test_a_token_is_exchanged_for_a_session_of_the_key_that_asked(server: RunningServer) -> None:
    token = issue(server, SECOND_KEY)
    with server.client() as client:
        assert client.get("/auth/session").json() == {"signed_in": False}
        response = exchange(client, token)
        assert response.status_code == 200 and response.json()["signed_in"] is True
        session = client.cookies[EMBED_SESSION_COOKIE]
        assert token not in session and SESSION_COOKIE not in client.cookies
        assert client.get("/auth/session").json() == {"signed_in": True}
        assert client.get("/api/v1/documents").status_code == 200
        saved = client.post("/api/v1/feedback", json={"question": "embed-binding", "answer": "a", "rating": "up"})
        assert saved.status_code == 200
    with server.client(headers={"X-API-Key": KEY}) as admin:
        rows = [line for line in admin.get("/api/v1/feedback/export").text.splitlines() if "embed-binding" in line]
    assert len(rows) == 1 and f'"user": "{SECOND_IDENTITY.name}"' in rows[0]


def test_a_token_signs_in_once(server: RunningServer) -> None:
    token = issue(server)
    with server.client() as first, server.client() as second:
        assert exchange(first, token).status_code == 200
        replay = exchange(second, token)
        assert EMBED_SESSION_COOKIE not in second.cookies
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "invalid_embed_token"
    assert "already used" in replay.json()["error"]["message"]
    assert "set-cookie" not in replay.headers


def test_an_expired_token_is_refused_with_a_clear_message(server: RunningServer, clock: FakeClock) -> None:
    token = issue(server)
    clock.advance(EMBED_TOKEN_TTL_SECONDS)
    with server.client() as client:
        response = exchange(client, token)
        unknown = exchange(client, "never-issued-token-0123456789abcdefghijklmnop")
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert response.json()["error"]["code"] == "invalid_embed_token"
    assert "expired" in response.json()["error"]["message"] and "new one" in response.json()["error"]["message"]
    assert unknown.status_code == 401 and "not valid" in unknown.json()["error"]["message"]


def test_over_plain_http_the_embed_cookie_is_strict_and_not_secure(server: RunningServer) -> None:
    with server.client() as client:
        # From a peer that is not a trusted proxy, a claimed https changes nothing.
        for headers in ({}, {"X-Forwarded-Proto": "https"}):
            response = exchange(client, issue(server), **headers)
            assert response.status_code == 200 and response.json()["secure"] is False
            attributes = cookie_attributes(response, EMBED_SESSION_COOKIE)
            assert {"httponly", "path=/", "samesite=strict"} <= attributes
            assert not {"secure", "samesite=none", "partitioned"} & attributes


def test_over_https_via_a_trusted_proxy_the_embed_cookie_is_cross_site_and_partitioned(
    proxied_server: RunningServer,
) -> None:
    with proxied_server.client() as client:
        response = exchange(client, issue(proxied_server), **{"X-Forwarded-Proto": "https"})
        assert response.status_code == 200 and response.json()["secure"] is True
        attributes = cookie_attributes(response, EMBED_SESSION_COOKIE)
        assert {"httponly", "path=/", "secure", "samesite=none", "partitioned"} <= attributes
        assert any(a.startswith("max-age=") for a in attributes)
        # A first-party sign-in through the same proxy stays Strict, and becomes Secure.
        login = client.post("/auth/login", data={"api_key": KEY}, headers={"X-Forwarded-Proto": "https"})
        assert {"secure", "samesite=strict"} <= cookie_attributes(login, SESSION_COOKIE)
        plain = exchange(client, issue(proxied_server), **{"X-Forwarded-Proto": "http"})
        assert "samesite=strict" in cookie_attributes(plain, EMBED_SESSION_COOKIE)


def test_sign_out_ends_the_embedded_session_too(proxied_server: RunningServer) -> None:
    with proxied_server.client() as client:
        exchange(client, issue(proxied_server), **{"X-Forwarded-Proto": "https"})
        session = client.cookies[EMBED_SESSION_COOKIE]
    with proxied_server.client() as client:  # httpx keeps a Secure cookie to itself over http: send it by hand
        cookie = {"Cookie": f"{EMBED_SESSION_COOKIE}={session}", "X-Forwarded-Proto": "https"}
        assert client.get("/auth/session", headers=cookie).json() == {"signed_in": True}
        logout = client.get("/auth/logout", headers=cookie)
    assert logout.status_code == 303
    deleted = cookie_attributes(logout, EMBED_SESSION_COOKIE)
    assert {"max-age=0", "partitioned", "secure", "samesite=none"} <= deleted  # the partitioned cookie's own attributes
    with proxied_server.client(cookies={EMBED_SESSION_COOKIE: session}) as replay:
        assert replay.get("/api/v1/documents").status_code == 401


def test_the_exchange_takes_a_form_from_our_own_page_only(server: RunningServer) -> None:
    token = issue(server)
    with server.client() as client:
        from_portal = exchange(client, token, Origin=PORTAL)  # an allowed CORS origin, still not our page
        as_json = client.post("/auth/embed", json={"token": token})
        missing = client.post("/auth/embed", data={"other": "x"})
        own_page = exchange(client, token, Origin=server.url)
    assert from_portal.status_code == 403 and from_portal.json()["error"]["code"] == "forbidden_origin"
    assert as_json.status_code == 415 and missing.status_code == 422
    assert own_page.status_code == 200  # the refusals did not spend the token


def test_the_embedding_routes_are_open_and_the_sign_in_page_runs_the_script(server: RunningServer) -> None:
    with server.client() as client:
        page = client.get("/auth/login")
        script = client.get("/embed.js")
        help_page = client.get("/auth/embed/help")
        loader = client.get("/gradio.js")
    assert '<script src="/embed.js" defer></script>' in page.text and 'id="pq-embed-status"' in page.text
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "history.replaceState" in script.text and "/auth/embed" in script.text
    assert help_page.status_code == 200 and "/api/v1/embed-token" in help_page.text
    # With keys, the web component's loader is a stand-in that shows why it cannot load.
    assert loader.status_code == 200 and loader.headers["content-type"].startswith("text/javascript")
    assert 'customElements.define("gradio-app"' in loader.text and "iframe" in loader.text


def test_without_keys_there_is_no_token_to_issue(assistant: Assistant, tmp_path: Path) -> None:
    with serve(assistant, AppSettings(feedback_db=tmp_path / "f.sqlite3"), with_ui=False) as open_server:
        with open_server.client() as client:
            response = client.post("/api/v1/embed-token")
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_keys_configured"


# --- A portal on another site, in Chromium ---------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",  # the test's self-signed certificate
]
TIMEOUT_MS = 60_000
APP_HOST = "127.0.0.2"  # the portal is on 127.0.0.1: another site, not only another origin
PORTAL_HOST = "127.0.0.1"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for both loopback addresses: (certificate, key)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=policyqa-test",
            "-addext", f"subjectAltName=IP:{PORTAL_HOST},IP:{APP_HOST}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def serve_on(
    assistant: Assistant, security: AppSettings, host: str, certificate: tuple[Path, Path] | None
) -> Iterator[str]:
    """The app with its UI under uvicorn on ``host``, over https when a certificate is given; yields its URL."""
    app = create_app(security=security, assistant=assistant)
    port = free_port()
    tls = {"ssl_certfile": str(certificate[0]), "ssl_keyfile": str(certificate[1])} if certificate else {}
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=3, **tls
    )  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    url = f"{'https' if certificate else 'http'}://{host}:{port}"
    try:
        with httpx.Client(base_url=url, verify=False, headers={"X-API-Key": KEY}, timeout=60) as client:
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the index did not load"
                time.sleep(0.2)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def portal_on(host: str, port: int, body: str, certificate: tuple[Path, Path] | None) -> Iterator[str]:
    """A portal page on ``host:port`` (https with a certificate); yields its origin."""
    data = f"<!doctype html><title>Portal</title><h1>Portal</h1>{body}".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, port), Handler)
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if certificate else 'http'}://{host}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def issue_from(url: str) -> str:
    """What the portal's backend does: ask for a token with its key."""
    response = httpx.post(f"{url}/api/v1/embed-token", headers={"Authorization": f"Bearer {KEY}"}, verify=False)
    response.raise_for_status()
    return str(response.json()["token"])


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def browser_page(browser: object) -> Iterator[tuple[object, list[str]]]:
    """A page in a fresh context (certificate errors ignored), with every requested URL recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        yield page, requests
    finally:
        page.goto("about:blank")  # close the UI's event stream before the server stops
        context.close()


def answer_start(url: str, question: str) -> str:
    """The first words of the API's answer: what the framed UI must show."""
    response = httpx.post(f"{url}/api/v1/ask", json={"question": question}, headers={"X-API-Key": KEY}, verify=False)
    response.raise_for_status()
    first_sentence = str(response.json()["answer"]).split("[", 1)[0]
    return first_sentence.strip()[:10]


def embedding_settings(tmp_path: Path, portal_origin: str) -> AppSettings:
    return AppSettings(
        api_key_digests=frozenset({key_digest(KEY)}),
        frame_ancestors=("'self'", portal_origin),
        cors_origins=(portal_origin,),
        feedback_db=tmp_path / "feedback.sqlite3",
    )


def iframe(src: str) -> str:
    return f'<iframe id="assistant" src="{src}" title="PolicyQA" width="1100" height="750"></iframe>'


def posting_portal(app_url: str, token: str) -> str:
    """A portal page that frames the assistant without a token and posts it in when the frame is ready."""
    return iframe(f"{app_url}/") + (
        "<script>const frame = document.getElementById('assistant');"
        "window.addEventListener('message', (event) => {"
        f"  if (event.origin !== '{app_url}' || event.source !== frame.contentWindow) return;"
        "  if (event.data && event.data.type === 'policyqa:embed-ready')"
        f"    frame.contentWindow.postMessage({{type: 'policyqa:embed-token', token: '{token}'}}, '{app_url}');"
        "});</script>"
    )


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
@pytest.mark.parametrize("handover", ["fragment", "postMessage"])
def test_a_portal_on_another_site_embeds_the_ui_with_a_token_over_https(
    browser: object, assistant: Assistant, certificate: tuple[Path, Path], tmp_path: Path, handover: str
) -> None:
    # The portal's origin is known before the app starts (frame-ancestors); the token only after.
    portal_port = free_port()
    security = embedding_settings(tmp_path, f"https://{PORTAL_HOST}:{portal_port}")
    with serve_on(assistant, security, APP_HOST, certificate) as app_url:
        token = issue_from(app_url)
        expected_start = answer_start(app_url, ENGLISH_TROUGH)
        if handover == "fragment":
            snippet = iframe(f"{app_url}/#embed={token}")
        else:
            snippet = posting_portal(app_url, token)
        with portal_on(PORTAL_HOST, portal_port, snippet, certificate) as portal, browser_page(browser) as (page, urls):
            page.goto(portal)  # type: ignore[attr-defined]
            framed = page.frame_locator("#assistant")  # type: ignore[attr-defined]
            framed.locator("#pq-question textarea").fill(ENGLISH_TROUGH)
            framed.locator("#pq-send").click()
            framed.locator("#pq-chat", has_text=expected_start).wait_for()  # the answer the API gives

            cookies = page.context.cookies()  # type: ignore[attr-defined]
            embed_cookie = next(c for c in cookies if c["name"] == EMBED_SESSION_COOKIE)
            assert embed_cookie["sameSite"] == "None" and embed_cookie["secure"] and embed_cookie["httpOnly"]
            # Partitioned: kept for this top-level site only (Playwright names the partition when it knows it).
            assert embed_cookie.get("partitionKey", f"https://{PORTAL_HOST}") == f"https://{PORTAL_HOST}"
            assert all(c["name"] != SESSION_COOKIE for c in cookies)
            assert all("embed=" not in frame.url for frame in page.frames)  # type: ignore[attr-defined]
            assert not any(token in url.split("#")[0] for url in urls)  # never in a query string
        replay = httpx.post(f"{app_url}/auth/embed", data={"token": token}, verify=False)
        assert replay.status_code == 401  # the frame spent it


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")
def test_over_plain_http_across_sites_the_frame_says_why_instead_of_a_blank_sign_in_form(
    browser: object, assistant: Assistant, tmp_path: Path
) -> None:
    portal_port = free_port()
    security = embedding_settings(tmp_path, f"http://{PORTAL_HOST}:{portal_port}")
    with serve_on(assistant, security, APP_HOST, None) as app_url:
        snippet = iframe(f"{app_url}/#embed={issue_from(app_url)}")
        with portal_on(PORTAL_HOST, portal_port, snippet, None) as portal, browser_page(browser) as (page, _):
            page.goto(portal)  # type: ignore[attr-defined]
            framed = page.frame_locator("#assistant")  # type: ignore[attr-defined]
            notice = framed.locator("#pq-embed-status[data-state=cookie-blocked]")
            notice.wait_for()
            text = notice.inner_text()
            assert "plain http" in text and "cannot keep you signed in" in text
            assert notice.locator("a[href='/auth/embed/help']").count() == 1
            assert framed.locator("#pq-login-form").is_hidden()


@pytest.mark.browser
def test_on_a_keyed_server_the_web_component_shows_an_error_instead_of_a_blank(
    browser: object, assistant: Assistant, tmp_path: Path
) -> None:
    portal_port = free_port()
    security = embedding_settings(tmp_path, f"http://{PORTAL_HOST}:{portal_port}")
    with serve_on(assistant, security, APP_HOST, None) as app_url:
        snippet = (
            f'<script type="module" src="{app_url}/gradio.js"></script>\n<gradio-app src="{app_url}/"></gradio-app>'
        )
        with portal_on(PORTAL_HOST, portal_port, snippet, None) as portal, browser_page(browser) as (page, _):
            page.goto(portal)  # type: ignore[attr-defined]
            alert = page.locator("gradio-app [role=alert]")  # type: ignore[attr-defined]
            alert.wait_for()
            assert "requires sign-in" in alert.inner_text() and "iframe" in alert.inner_text()
            assert alert.locator("a").get_attribute("href") == f"{app_url}/auth/embed/help"
