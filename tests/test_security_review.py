"""The findings of the security review (items 9 to 14), each against a real server on loopback."""

from __future__ import annotations

import http.client
import json

import pytest
from app_fixtures import KEY, RunningServer, serve

from policyqa import Assistant
from policyqa_app import AppSettings
from policyqa_app.security import RequestOriginMiddleware

pytest_plugins = ["app_fixtures"]

FEEDBACK = {"question": "政策", "answer": "a", "rating": "up"}


def raw_request(
    server: RunningServer, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these headers (httpx would set ``Host`` from the URL): status, headers, body."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": f"{host}:{port}", "Content-Length": str(len(body)), **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


# --- 9. DNS rebinding ----------------------------------------------------------------------------------


def test_a_rebinding_page_can_neither_write_nor_export_feedback_on_the_default_server(
    open_server: RunningServer,
) -> None:
    port = open_server.url.rsplit(":", 1)[1]
    attacker = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
    json_body = {"Content-Type": "application/json"}
    write = raw_request(
        open_server, "POST", "/api/v1/feedback", {**attacker, **json_body}, json.dumps(FEEDBACK).encode()
    )
    export = raw_request(open_server, "GET", "/api/v1/feedback/export", attacker)
    page = raw_request(open_server, "GET", "/", attacker)
    for status, _, body in (write, export, page):
        assert (status, error_code(body)) == (400, "invalid_host")
    # The names a browser uses for this machine still work, on any port.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", "127.0.0.1"):
        assert raw_request(open_server, "GET", "/api/v1/feedback/export", {"Host": host})[0] == 200, host
    assert raw_request(open_server, "GET", "/healthz", attacker)[0] == 200  # probes answer any name


def test_the_export_refuses_other_origins_like_a_write(open_server: RunningServer) -> None:
    status, _, body = raw_request(open_server, "GET", "/api/v1/feedback/export", {"Origin": "https://evil.example"})
    assert (status, error_code(body)) == (403, "forbidden_origin")
    assert raw_request(open_server, "GET", "/api/v1/feedback/export", {"Origin": open_server.url})[0] == 200


def test_a_keyed_server_on_loopback_refuses_rebinding_names_too(keyed_server: RunningServer) -> None:
    key = {"X-API-Key": KEY}
    status, _, body = raw_request(keyed_server, "GET", "/api/v1/documents", {**key, "Host": "attacker.example"})
    assert (status, error_code(body)) == (400, "invalid_host")
    assert raw_request(keyed_server, "GET", "/api/v1/documents", {**key, "Host": "localhost"})[0] == 200


def test_without_keys_the_export_needs_a_loopback_host_even_when_any_host_is_allowed(
    assistant: Assistant, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    security = AppSettings.from_env(
        environ={"POLICYQA_ALLOWED_HOSTS": "*", "POLICYQA_FEEDBACK_DB": str(tmp_path / "f.sqlite3")}
    )
    with serve(assistant, security, with_ui=False) as server:
        rebound = raw_request(server, "GET", "/api/v1/feedback/export", {"Host": "attacker.example"})
        assert (rebound[0], error_code(rebound[2])) == (403, "forbidden")
        assert raw_request(server, "GET", "/api/v1/documents", {"Host": "attacker.example"})[0] == 200
        assert raw_request(server, "GET", "/api/v1/feedback/export", {"Host": "localhost"})[0] == 200


@pytest.mark.parametrize(
    ("allowed", "keys", "listen", "name", "answers"),
    [
        ((), False, "127.0.0.1", "localhost", True),
        ((), False, "127.0.0.1", "[::1]", True),
        ((), False, "0.0.0.0", "10.0.0.5", True),  # an address typed by a user: no DNS to rebind
        ((), False, "0.0.0.0", "policyqa.intranet.example", False),  # open server: only names set by the operator
        ((), True, "127.0.0.1", "policyqa.intranet.example", False),  # behind a local proxy: list the name
        ((), True, "10.0.0.5", "policyqa.intranet.example", True),  # keys on, beyond loopback: as before
        (("policyqa.intranet.example",), False, "0.0.0.0", "policyqa.intranet.example", True),
        (("policyqa.intranet.example",), False, "127.0.0.1", "localhost", False),
        (("*",), False, "127.0.0.1", "attacker.example", True),
    ],
)
def test_the_host_names_a_server_answers_to(
    allowed: tuple[str, ...], keys: bool, listen: str, name: str, answers: bool
) -> None:
    environ = {"POLICYQA_ALLOWED_HOSTS": ",".join(allowed)}
    if keys:
        environ["POLICYQA_API_KEYS"] = KEY
    middleware = RequestOriginMiddleware(lambda *_: None, AppSettings.from_env(environ=environ))  # type: ignore[arg-type]
    assert middleware.answers_to({"type": "http", "server": (listen, 8000)}, name) is answers
