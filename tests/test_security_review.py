"""The findings of the security review (items 9 to 14), each against a real server on loopback."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from app_fixtures import KEY, READY_TIMEOUT_SECONDS, RunningServer, free_port, serve
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from policyqa import Assistant
from policyqa_app import AppSettings, create_app
from policyqa_app.config import key_digest
from policyqa_app.middleware import BodyLimitMiddleware
from policyqa_app.security import RequestOriginMiddleware
from policyqa_app.server import server_options

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


# --- 10. Gradio's upload routes ------------------------------------------------------------------------


def _files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()} if folder.is_dir() else set()


def test_gradio_upload_routes_are_closed_and_write_nothing(open_server: RunningServer) -> None:
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder())
    before = _files_under(folder)
    files = [("files", (f"f{i}.bin", b"\0" * 40_000, "application/octet-stream")) for i in range(20)]
    with open_server.client() as client:
        upload = client.post("/gradio_api/upload", files=files)
        responses = [
            upload,
            client.post("/gradio_api/upload/", files=files[:1]),
            client.post("/gradio_api/upload?upload_id=abc", files=files[:1]),
            client.get("/gradio_api/upload_progress", params={"upload_id": "abc"}),
            client.post("/gradio_api/process_recording", files=files[:1]),
        ]
        assert client.get("/config").status_code == 200  # the rest of Gradio still answers
    for response in responses:
        assert response.status_code == 404, response.request.url
        assert response.json()["error"]["code"] == "not_found"
    assert _files_under(folder) == before


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
def test_the_served_process_keeps_gradio_files_in_a_private_folder_removed_at_shutdown(
    mini_index, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYQA_", "GRADIO_TEMP"))}
    environment.update(TMPDIR=str(temp), POLICYQA_FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"))
    index_dir = tmp_path / "index"
    shutil.copytree(mini_index.settings.index_dir, index_dir)
    command = [sys.executable, "-m", "policyqa_app", "--port", str(port), "--index-dir", str(index_dir)]
    command += ["--corpus", str(mini_index.settings.corpus_dirs[0])]
    log = tmp_path / "server.log"  # a file, not a pipe: a full pipe would stall the server
    with log.open("wb") as sink:
        # In the test's folder: workers (the default, one a core) keep their shared state in ./var.
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS  # only stops a broken run from hanging
        while True:
            assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        private = list(temp.glob("policyqa-gradio-*"))
        assert len(private) == 1 and private[0].is_dir()
        assert stat.S_IMODE(private[0].stat().st_mode) == 0o700
        assert httpx.get(f"{url}/config", timeout=30).status_code == 200
        upload = httpx.post(f"{url}/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)}, timeout=30)
        assert upload.status_code == 404
        assert not (temp / "gradio").exists()  # Gradio's shared default folder is not used
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0
    assert list(temp.glob("policyqa-gradio-*")) == []


# --- 11. One body limit for every route ----------------------------------------------------------------


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


def test_every_route_has_a_body_limit(open_server: RunningServer) -> None:
    big = 3_600_000
    with open_server.client() as client:
        declared = client.post(
            "/gradio_api/queue/join", content=b" " * big, headers={"Content-Type": "application/json"}
        )
        chunked = client.post(
            "/gradio_api/queue/join", content=_chunks(big), headers={"Content-Type": "application/json"}
        )
        login = client.post("/auth/login", content=b"api_key=" + b"x" * 100_000)
        page = client.post("/", content=b"x" * 100_000)
        api = client.post("/api/v1/ask", content=b" " * 100_000, headers={"Content-Type": "application/json"})
        # The UI's events may carry a long conversation: 200 KB is not refused for its size.
        conversation = client.post(
            "/gradio_api/queue/join",
            json={"data": ["政策" * 30_000], "fn_index": 10_000, "session_hash": "abc"},
        )
    for response in (declared, chunked, login, page, api):
        assert response.status_code == 413, response.request.url
        assert response.json()["error"]["code"] == "payload_too_large"
    assert conversation.status_code != 413


# --- 12. Proxy headers ---------------------------------------------------------------------------------

SPOOFED_PROXY_HEADERS = {
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Prefix": "/evil",
    "X-Forwarded-For": "203.0.113.9",
}


def test_proxy_headers_from_an_untrusted_peer_do_not_change_gradios_root(open_server: RunningServer) -> None:
    with open_server.client() as client:
        config = client.get("/config", headers=SPOOFED_PROXY_HEADERS)
        gradio_server = client.get("/config", headers={"X-Gradio-Server": "https://evil.example"})
        page = client.get("/", headers=SPOOFED_PROXY_HEADERS)
    for response in (config, gradio_server, page):
        assert response.status_code == 200
        assert "evil.example" not in response.text
    assert config.json()["root"] == open_server.url


def test_proxy_headers_from_a_trusted_proxy_still_reach_gradio(assistant: Assistant, tmp_path: Path) -> None:
    security = AppSettings.from_env(
        environ={
            "POLICYQA_TRUSTED_PROXIES": "127.0.0.1",
            "POLICYQA_ALLOWED_HOSTS": "127.0.0.1",
            "POLICYQA_FEEDBACK_DB": str(tmp_path / "f.sqlite3"),
        }
    )
    proxied = {"X-Forwarded-Host": "policyqa.intranet.example", "X-Forwarded-Proto": "https"}
    with serve(assistant, security) as server, server.client() as client:
        config = client.get("/config", headers=proxied)
    assert config.json()["root"] == "https://policyqa.intranet.example"


# --- 13. Slow clients and sign-in guessing -------------------------------------------------------------

# Only stops a broken run from hanging; nothing is timed against it.
GIVE_UP_SECONDS = 60.0


@contextmanager
def production_server(app: object, header_timeout: float, lifespan: str = "on") -> Iterator[str]:
    """``app`` under uvicorn with the options ``policyqa serve`` uses, the header timeout shortened."""
    port = free_port()
    options = {**server_options(header_timeout=header_timeout), "log_level": "warning", "lifespan": lifespan}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closes ``sock`` (EOF or reset), False if it is still open at ``deadline``."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionError:
            return True
        if not data:
            return True
    return False


def open_partial_request(address: str) -> socket.socket:
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {address}\r\nX-Slow: ".encode())
    return sock


def test_connections_with_unfinished_headers_are_closed(assistant: Assistant, tmp_path: Path) -> None:
    app = create_app(security=AppSettings(feedback_db=tmp_path / "f.sqlite3"), assistant=assistant, with_ui=False)
    with production_server(app, header_timeout=1.0) as address:
        slow = [open_partial_request(address) for _ in range(20)]
        silent = [socket.create_connection(tuple(address.split(":")), timeout=10) for _ in range(5)]  # type: ignore[arg-type]
        # A kept-alive connection that starts its next request and never finishes it.
        kept = socket.create_connection(tuple(address.split(":")), timeout=10)  # type: ignore[arg-type]
        kept.sendall(f"GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        kept.sendall(f"GET /healthz HTTP/1.1\r\nHost: {address}\r\n".encode())
        deadline = time.monotonic() + GIVE_UP_SECONDS
        closed = [closed_by_server(sock, deadline) for sock in [*slow, *silent, kept]]
        for sock in [*slow, *silent, kept]:
            sock.close()
        assert httpx.get(f"http://{address}/healthz").status_code == 200  # the server serves on
    assert closed == [True] * 26


def test_a_request_in_progress_outlives_the_header_timeout(assistant: Assistant, tmp_path: Path) -> None:
    released = threading.Event()

    async def held() -> dict[str, bool]:
        while not released.is_set():
            await asyncio.sleep(0.01)
        return {"ok": True}

    app = create_app(security=AppSettings(feedback_db=tmp_path / "f.sqlite3"), assistant=assistant, with_ui=False)
    app.router.routes.insert(0, APIRoute("/api/v1/test-held", held, methods=["GET"]))
    with production_server(app, header_timeout=0.2) as address:
        results: list[int] = []
        thread = threading.Thread(
            target=lambda: results.append(httpx.get(f"http://{address}/api/v1/test-held", timeout=60).status_code)
        )
        thread.start()
        time.sleep(1.0)  # five header timeouts pass while the answer is being prepared
        released.set()
        thread.join(timeout=GIVE_UP_SECONDS)
    assert results == [200]


def test_a_body_that_does_not_arrive_gets_408() -> None:
    async def echo(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await JSONResponse({"ok": True})(scope, receive, send)

    app = BodyLimitMiddleware(echo, timeout=0.5)
    with production_server(app, header_timeout=30.0, lifespan="off") as address:
        sock = socket.create_connection(tuple(address.split(":")), timeout=10)  # type: ignore[arg-type]
        head = f"POST /api/v1/ask HTTP/1.1\r\nHost: {address}\r\nContent-Length: 100\r\n\r\n"
        sock.sendall(head.encode() + b"{")
        sock.settimeout(GIVE_UP_SECONDS)
        # The status line and the body may arrive in separate packets: read until the server closes.
        answer = b""
        while b"request_timeout" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer


@pytest.fixture()
def login_server(assistant: Assistant, tmp_path: Path) -> Iterator[RunningServer]:
    security = AppSettings(api_key_digests=frozenset({key_digest(KEY)}), feedback_db=tmp_path / "f.sqlite3")
    with serve(assistant, security, with_ui=False) as running:
        yield running


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
def test_sign_in_allows_five_failures_a_minute_per_address(login_server: RunningServer) -> None:
    wrong = {"api_key": "not-the-key-0123456789"}
    with login_server.client() as client:
        assert client.post("/auth/login", data={"api_key": KEY}).status_code == 303  # a success does not count
        failures = [client.post("/auth/login", data=wrong).status_code for _ in range(5)]
        refused = client.post("/auth/login", data=wrong)
        right_key_too = client.post("/auth/login", data={"api_key": KEY})
    assert failures == [401] * 5
    for response in (refused, right_key_too):
        assert response.status_code == 429 and "set-cookie" not in response.headers
        assert 1 <= int(response.headers["retry-after"]) <= 60
    # Another address is not affected (the whole of 127.0.0.0/8 is this machine).
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=login_server.url, transport=other, timeout=60) as client:
        assert client.post("/auth/login", data={"api_key": KEY}).status_code == 303


def test_parallel_guesses_are_counted_before_they_are_checked(login_server: RunningServer) -> None:
    barrier = threading.Barrier(10)
    statuses: list[int] = []

    def guess(n: int) -> None:
        barrier.wait()
        response = httpx.post(f"{login_server.url}/auth/login", data={"api_key": f"guess-{n:02d}-0123456789"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 5


# --- 14. Invisible questions and one error shape ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/ask", "/api/v1/search", "/api/v1/ask/stream"])
@pytest.mark.parametrize(
    "question",
    [
        "\u200b\u200b",
        "\U000e0041",
        "\U000e0001\U000e0069\U000e0067",
        " \u200b \ufeff\u202e\u2066 ",
        "\u00ad\u180e\u2060",
    ],
    ids=["zero-width", "tag", "tag-run", "mixed-with-spaces", "soft-hyphen-and-joiners"],
)
def test_a_question_of_invisible_characters_only_is_refused(
    open_server: RunningServer, path: str, question: str
) -> None:
    with open_server.client() as client:
        response = client.post(path, json={"question": question})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_question"


def test_a_question_with_visible_text_among_invisible_characters_is_answered(open_server: RunningServer) -> None:
    with open_server.client() as client:
        response = client.post("/api/v1/search", json={"question": "\u200b技术复苏基金\U000e0041", "k": 1})
    assert response.status_code == 200 and response.json()["passages"]


def test_gradios_errors_have_the_api_error_shape_and_keep_their_detail(open_server: RunningServer) -> None:
    with open_server.client() as client:
        responses = {
            "validation": client.post("/gradio_api/queue/join", json={"data": "not a list"}),
            "bad json": client.post(
                "/gradio_api/queue/join", content=b"{", headers={"Content-Type": "application/json"}
            ),
            "file outside the allowed folders": client.get("/gradio_api/file=/etc/passwd"),
            "unknown event": client.post("/gradio_api/stream/no-such-event", json={"data": [], "fn_index": 0}),
            "unknown route": client.get("/gradio_api/no-such-route"),
        }
    for case, response in responses.items():
        assert 400 <= response.status_code < 500, case
        body = response.json()
        assert set(body["error"]) == {"code", "message"}, case
        assert isinstance(body["error"]["message"], str) and body["error"]["message"], case
        assert "detail" in body, case  # what Gradio's own client reads
    assert responses["validation"].json()["error"]["code"] == "invalid_request"
    assert responses["bad json"].json()["error"]["code"] == "malformed_json"
    assert responses["file outside the allowed folders"].json()["error"]["code"] in {"forbidden", "not_found"}


def test_our_refusals_on_gradios_routes_carry_a_detail_for_its_client(keyed_server: RunningServer) -> None:
    with keyed_server.client() as client:
        response = client.post("/gradio_api/queue/join", json={})
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "unauthorized" and body["detail"] == body["error"]["message"]
    with keyed_server.client() as client:
        api = client.post("/api/v1/ask", json={})
    assert set(api.json()) == {"error"}  # the API's own bodies are unchanged
