"""Access control, CORS and framing, against real servers on loopback."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from app_fixtures import CORPUS, KEY, PORTAL, SECOND_KEY, RunningServer, serve
from starlette.routing import Mount

from policyqa import Assistant, ConfigError
from policyqa_app import AppSettings
from policyqa_app.config import key_digest
from policyqa_app.security import OPEN_PATHS, SESSION_COOKIE, Authenticator, same_origin

pytest_plugins = ["app_fixtures"]

_PARAM = re.compile(r"\{[^}]+\}")
CORPUS_FILE = next(CORPUS.glob("*.txt")).resolve()


def every_route(routes: list, prefix: str = "") -> Iterator[tuple[str, str]]:  # type: ignore[type-arg]
    """(method, concrete path) for every HTTP route of the app, the mounted Gradio app included."""
    for route in routes:
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner is not None:
                yield from every_route(inner, prefix + route.path)
            else:  # a static files app
                yield "GET", prefix + route.path + "/x"
        elif hasattr(route, "original_router"):  # a router included with a prefix (FastAPI)
            yield from every_route(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods"):
            path = _PARAM.sub("x", prefix + route.path) or "/"
            for method in sorted(route.methods or {"GET"}):
                yield method, path


def route_cases(server: RunningServer) -> list[tuple[str, str]]:
    cases = sorted(set(every_route(server.app.routes)))  # type: ignore[attr-defined]
    return [(m, p) for m, p in cases if p not in OPEN_PATHS]


def status_of(client: httpx.Client, method: str, path: str, headers: dict[str, str] | None = None) -> int:
    # Streamed, so that event streams (Gradio's heartbeat) report their status without being read.
    with client.stream(method, path, headers=headers or {}) as response:
        return response.status_code


def test_every_route_refuses_requests_without_a_key(keyed_server: RunningServer) -> None:
    cases = route_cases(keyed_server)
    paths = {p for _, p in cases}
    # The enumeration reaches the JSON API, the docs, and Gradio's page, API, queue and file routes.
    for expected in ("/api/v1/ask", "/docs", "/openapi.json", "/", "/config", "/gradio_api/queue/join", "/theme.css"):
        assert expected in paths
    assert any(p.startswith("/gradio_api/file=") for p in paths)
    assert len(cases) > 40
    with keyed_server.client() as client:
        refused = {(m, p): status_of(client, m, p) for m, p in cases}
        wrong = {(m, p): status_of(client, m, p, {"X-API-Key": "wrong-key-0123456789abc"}) for m, p in cases}
    assert {case: s for case, s in refused.items() if s != 401} == {}
    assert {case: s for case, s in wrong.items() if s != 401} == {}


def test_every_route_admits_a_valid_key(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        statuses = {
            (m, p): status_of(client, m, p, {"Authorization": f"Bearer {KEY}"}) for m, p in route_cases(keyed_server)
        }
    assert {case: s for case, s in statuses.items() if s == 401} == {}
    for case in (("GET", "/"), ("GET", "/config"), ("GET", "/docs"), ("GET", "/api/v1/documents")):
        assert statuses[case] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"X-API-Key": KEY},
        {"X-API-Key": SECOND_KEY},
        {"authorization": f"bearer {KEY}"},
    ],
    ids=["bearer", "x-api-key", "raw-key-from-file", "lowercase"],
)
def test_api_accepts_keys_in_headers(keyed_server: RunningServer, headers: dict[str, str]) -> None:
    with keyed_server.client(headers=headers) as client:
        response = client.post("/api/v1/ask", json={"question": "技术复苏基金"})
    assert response.status_code == 200
    assert {"question", "answer", "abstained", "citations"} <= set(response.json())


def test_refusal_is_a_json_401_with_a_bearer_challenge(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        response = client.post("/api/v1/ask", json={"question": "政策"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("param", ["api_key", "key", "token", "access_token", "X-API-Key"])
def test_a_key_in_the_url_is_never_accepted(keyed_server: RunningServer, param: str) -> None:
    with keyed_server.client() as client:
        assert client.get("/api/v1/documents", params={param: KEY}).status_code == 401
        assert client.get("/", params={param: KEY}).status_code == 401


def test_healthz_and_login_stay_open(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        page = client.get("/auth/login")
    assert page.status_code == 200 and 'name="api_key"' in page.text and 'type="password"' in page.text


def test_a_browser_without_a_session_is_sent_to_the_login_form(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        response = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login"


def test_login_sets_an_httponly_strict_session_cookie_that_is_not_the_key(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        login = client.post("/auth/login", data={"api_key": KEY})
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
        token = client.cookies[SESSION_COOKIE]
        assert KEY not in token and key_digest(KEY) not in token and len(token) >= 32
        for path in ("/", "/config", "/api/v1/documents", "/docs"):
            assert client.get(path).status_code == 200, path
        logout = client.get("/auth/logout")
        assert logout.status_code == 303
    # The token is revoked on the server, not only deleted in the browser.
    with keyed_server.client(cookies={SESSION_COOKIE: token}) as replay:
        assert replay.get("/api/v1/documents").status_code == 401


def test_login_refuses_a_wrong_key_and_a_cross_site_form(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        wrong = client.post("/auth/login", data={"api_key": "not-the-key-0123456789"})
        cross_site = client.post("/auth/login", data={"api_key": KEY}, headers={"Origin": "https://evil.example"})
    with keyed_server.client(cookies={SESSION_COOKIE: "forged-token-0123456789abcdef"}) as forger:
        forged = forger.get("/api/v1/documents")
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    assert cross_site.status_code == 403 and "set-cookie" not in cross_site.headers
    assert forged.status_code == 401


def test_a_presented_wrong_key_is_refused_even_with_a_valid_session(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        client.post("/auth/login", data={"api_key": KEY})
        assert client.get("/api/v1/documents").status_code == 200
        assert client.get("/api/v1/documents", headers={"X-API-Key": "wrong-key-0123456789abc"}).status_code == 401


def test_cors_preflight_from_the_allowed_origin(keyed_server: RunningServer) -> None:
    headers = {
        "Origin": PORTAL,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    with keyed_server.client() as client:
        response = client.options("/api/v1/ask", headers=headers)
        simple = client.get("/api/v1/documents", headers={"Origin": PORTAL, "X-API-Key": KEY})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PORTAL
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert simple.headers["access-control-allow-origin"] == PORTAL


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://portal.example.org", f"{PORTAL}.evil.example"]
)
def test_cors_preflight_from_other_origins_is_refused(keyed_server: RunningServer, origin: str) -> None:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    with keyed_server.client() as client:
        preflight = client.options("/api/v1/ask", headers=headers)
        simple = client.get("/api/v1/documents", headers={"Origin": origin, "X-API-Key": KEY})
        page = client.get("/config", headers={"Origin": origin, "X-API-Key": KEY})
    assert preflight.status_code == 400
    for response in (preflight, simple, page):
        assert "access-control-allow-origin" not in response.headers


def test_no_cors_origin_is_allowed_by_default_not_even_by_gradio(open_server: RunningServer) -> None:
    with open_server.client() as client:
        preflight = client.options(
            "/gradio_api/queue/join",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        config = client.get("/config", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in config.headers


def test_frame_ancestors_allow_only_the_portal(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        responses = [
            client.get("/", headers={"X-API-Key": KEY}),
            client.get("/api/v1/documents"),  # a refusal carries the headers too
            client.get("/healthz"),
            client.get("/auth/login"),
        ]
    for response in responses:
        policy = response.headers["content-security-policy"]
        assert f"frame-ancestors 'self' {PORTAL};" in policy
        assert "img-src 'self' data: blob:" in policy
        assert response.headers["x-content-type-options"] == "nosniff"


def test_identity_header_is_honoured_only_from_trusted_proxies(assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trusted = AppSettings.from_env(
        environ={
            "POLICYQA_TRUSTED_IDENTITY_HEADER": "X-Forwarded-User",
            "POLICYQA_TRUSTED_PROXIES": "127.0.0.1, ::1",
            "POLICYQA_FEEDBACK_DB": str(tmp_path / "trusted.sqlite3"),
        }
    )
    untrusted = AppSettings.from_env(
        environ={
            "POLICYQA_TRUSTED_IDENTITY_HEADER": "X-Forwarded-User",
            "POLICYQA_TRUSTED_PROXIES": "10.20.30.0/24",
            "POLICYQA_FEEDBACK_DB": str(tmp_path / "untrusted.sqlite3"),
        }
    )
    proxy_headers = {"X-Forwarded-User": "probe"}
    with serve(assistant, trusted, with_ui=False, ready_headers=proxy_headers) as server, server.client() as client:
        assert client.get("/api/v1/documents").status_code == 401
        assert client.get("/api/v1/documents", headers={"X-Forwarded-User": ""}).status_code == 401
        admitted = client.post(
            "/api/v1/feedback",
            json={"question": "政策", "answer": "a", "rating": "up"},
            headers={"X-Forwarded-User": "wang.li"},
        )
        assert admitted.status_code == 200
        export = client.get("/api/v1/feedback/export", headers={"X-Forwarded-User": "wang.li"})
        assert '"user": "user:wang.li"' in export.text
    with serve(assistant, untrusted, with_ui=False, wait_for_index=False) as server, server.client() as client:
        assert client.get("/api/v1/documents", headers={"X-Forwarded-User": "wang.li"}).status_code == 401


def test_settings_keep_only_digests_of_keys(key_file) -> None:  # type: ignore[no-untyped-def]
    settings = AppSettings.from_env(environ={"POLICYQA_API_KEYS": f"{KEY}, sha256:{key_digest('x' * 20)}"})
    assert settings.api_key_digests == {key_digest(KEY), key_digest("x" * 20)}
    assert KEY not in repr(settings)
    from_file = AppSettings.from_env(environ={"POLICYQA_API_KEYS_FILE": str(key_file)})
    assert from_file.api_key_digests == {key_digest(KEY), key_digest(SECOND_KEY)}
    authenticator = Authenticator(from_file)
    assert authenticator.check_key(KEY) is not None and authenticator.check_key(SECOND_KEY) is not None
    assert authenticator.check_key(key_digest(KEY)) is None  # a digest is not a key


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"POLICYQA_API_KEYS": "short"}, "at least 16 characters"),
        ({"POLICYQA_API_KEYS_FILE": "/nonexistent/keys.txt"}, "cannot be read"),
        ({"POLICYQA_TRUSTED_IDENTITY_HEADER": "X-Forwarded-User"}, "TRUSTED_PROXIES is empty"),
        ({"POLICYQA_TRUSTED_IDENTITY_HEADER": "X-User", "POLICYQA_TRUSTED_PROXIES": "proxy.local"}, "not an IP"),
        ({"POLICYQA_CORS_ORIGINS": "*"}, "cors_origins"),
        ({"POLICYQA_CORS_ORIGINS": "https://portal.example.org/path"}, "cors_origins"),
        ({"POLICYQA_FRAME_ANCESTORS": "* ; script-src *"}, "frame_ancestors"),
        ({"POLICYQA_SESSION_TTL": "soon"}, "whole number"),
        ({"POLICYQA_COOKIE_SECURE": "maybe"}, "must be 1 or 0"),
    ],
)
def test_bad_access_settings_fail_at_startup_with_a_clear_message(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AppSettings.from_env(environ=environ)


def test_feedback_export_without_keys_is_for_loopback_only(assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from policyqa_app import create_app

    app = create_app(security=AppSettings(feedback_db=tmp_path / "f.sqlite3"), assistant=assistant, with_ui=False)
    # No lifespan: the assistant is already loaded. The Host must name loopback too (DNS rebinding).
    remote = TestClient(app, base_url="http://127.0.0.1", client=("192.0.2.10", 50000))
    local = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))
    response = remote.get("/api/v1/feedback/export")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert local.get("/api/v1/feedback/export").status_code == 200


# --- Origin, Host and paths on file routes -----------------------------------------------------------


def raw_request(
    server: RunningServer, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Send ``path`` exactly as written (httpx would normalise ``..`` and percent-escapes)."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": f"{host}:{port}", **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("server_name", ["keyed_server", "open_server"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/documents"), ("POST", "/api/v1/ask"), ("GET", "/config"), ("POST", "/gradio_api/queue/join")],
)
def test_origin_null_is_refused_everywhere(
    request: pytest.FixtureRequest, server_name: str, method: str, path: str
) -> None:
    server: RunningServer = request.getfixturevalue(server_name)
    status, body = raw_request(server, method, path, {"Origin": "null", "X-API-Key": KEY, "Content-Length": "0"})
    assert status == 403
    assert json.loads(body)["error"]["code"] == "forbidden_origin"


def test_cross_site_writes_are_refused_but_same_origin_and_the_portal_pass(keyed_server: RunningServer) -> None:
    question = {"question": "技术复苏基金", "k": 1}
    with keyed_server.client(headers={"X-API-Key": KEY}) as client:
        evil = client.post("/api/v1/search", json=question, headers={"Origin": "https://evil.example"})
        lookalike = client.post("/api/v1/search", json=question, headers={"Origin": f"{PORTAL}.evil.example"})
        same = client.post("/api/v1/search", json=question, headers={"Origin": keyed_server.url})
        portal = client.post("/api/v1/search", json=question, headers={"Origin": PORTAL})
        read = client.get("/api/v1/documents", headers={"Origin": "https://evil.example"})
    assert evil.status_code == lookalike.status_code == 403
    assert evil.json()["error"]["code"] == "forbidden_origin"
    assert same.status_code == portal.status_code == 200
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers  # CORS hides it


def test_a_spoofed_host_localhost_earns_no_trust(keyed_server: RunningServer, assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    localhost = {"Host": "localhost"}
    # Gradio's own CORS check trusts a request whose Host is a localhost alias; ours ignores Host.
    assert raw_request(keyed_server, "GET", "/api/v1/documents", localhost)[0] == 401
    assert raw_request(keyed_server, "GET", "/config", {**localhost, "Origin": "http://localhost"})[0] == 401
    assert raw_request(keyed_server, "POST", "/gradio_api/queue/join", {**localhost, "Origin": "null"})[0] == 403
    preflight = {**localhost, "Origin": "null", "Access-Control-Request-Method": "POST"}
    assert raw_request(keyed_server, "OPTIONS", "/gradio_api/queue/join", preflight)[0] == 400
    # The feedback export trusts the peer's address, never the Host header.
    from starlette.testclient import TestClient

    from policyqa_app import create_app

    app = create_app(security=AppSettings(feedback_db=tmp_path / "f.sqlite3"), assistant=assistant, with_ui=False)
    remote = TestClient(app, base_url="http://localhost", client=("192.0.2.10", 50000))
    assert remote.get("/api/v1/feedback/export", headers=localhost).status_code == 403


def test_allowed_hosts_refuse_every_other_host_name(assistant: Assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    security = AppSettings(
        api_key_digests=frozenset({key_digest(KEY)}),
        allowed_hosts=("127.0.0.1",),
        feedback_db=tmp_path / "f.sqlite3",
    )
    with serve(assistant, security, with_ui=False) as server:
        key = {"X-API-Key": KEY}
        assert raw_request(server, "GET", "/api/v1/documents", key)[0] == 200
        status, body = raw_request(server, "GET", "/api/v1/documents", {**key, "Host": "localhost"})
        assert status == 400 and json.loads(body)["error"]["code"] == "invalid_host"
        assert raw_request(server, "GET", "/api/v1/documents", {**key, "Host": "rebind.evil.example"})[0] == 400
        assert raw_request(server, "GET", "/healthz", {"Host": "10.0.0.7:8000"})[0] == 200  # probes use addresses


TRAVERSALS = [
    "/gradio_api/file=../../../../etc/passwd",
    "/gradio_api/file=..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/file=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd",
    "/gradio_api/file=..%252f..%252f..%252fetc%252fpasswd",
    "/gradio_api/file=..\\..\\..\\etc\\passwd",
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/file=%2Fetc%2Fpasswd",
    "/gradio_api/file=//etc/passwd",
    "/gradio_api/file=/proc/self/environ",
    "/GRADIO_API/FILE=/etc/passwd",
    "/gradio_api/File=/etc/passwd",
    "/gradio_api/file/etc/passwd",
    f"/gradio_api/file={CORPUS_FILE}",
    "/gradio_api/file=corpus/bai2026-sci-tech-industry-integration.txt",
    "/assets/../../../../etc/passwd",
    "/assets/..%2f..%2f..%2f..%2fetc/passwd",
    "/static/..%2f..%2f..%2fetc/passwd",
    "/file=/etc/passwd",
]


@pytest.mark.parametrize("with_key", [False, True], ids=["no key", "valid key"])
@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_on_file_routes_gets_4xx(keyed_server: RunningServer, path: str, with_key: bool) -> None:
    status, body = raw_request(keyed_server, "GET", path, {"X-API-Key": KEY} if with_key else {})
    assert 400 <= status < 500, (status, body[:200])
    assert status == 401 or with_key
    for secret in (b"root:x:0:0", b"PATH=", "科技创新和产业创新".encode()):
        assert secret not in body


@pytest.mark.parametrize("path", TRAVERSALS[:9])
def test_path_traversal_without_keys_configured_gets_4xx_too(open_server: RunningServer, path: str) -> None:
    status, body = raw_request(open_server, "GET", path)
    assert 400 <= status < 500 and b"root:x:0:0" not in body and b"PATH=" not in body


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://policyqa.example.org", "policyqa.example.org", True),  # TLS ended by a proxy
        ("https://policyqa.example.org", "policyqa.example.org:443", True),
        ("http://policyqa.example.org", "policyqa.example.org", True),
        ("HTTP://PolicyQA.example.org:80", "policyqa.example.org", True),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
        ("https://policyqa.example.org:8443", "policyqa.example.org", False),
        ("https://policyqa.example.org.evil.example", "policyqa.example.org", False),
        ("null", "policyqa.example.org", False),
        ("file://", "policyqa.example.org", False),
        ("https://policyqa.example.org/path", "policyqa.example.org", False),
    ],
)
def test_same_origin_compares_names_and_ports(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same
