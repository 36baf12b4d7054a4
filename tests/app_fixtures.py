"""Shared fixtures for the app's tests: real uvicorn servers on loopback over the shipped corpus.

Test modules load this file with ``pytest_plugins = ["app_fixtures"]``. One index of the
real corpus is built per session (in a temporary folder) and one ``Assistant`` serves every
server, so each server starts in about a second.

PYTEST_DONT_REWRITE: the test modules import constants from here before pytest loads it as a plugin.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="the app needs the 'serve' extra: pip install -e '.[serve,dev]'")
pytest.importorskip("uvicorn", reason="the app needs the 'serve' extra: pip install -e '.[serve,dev]'")

import uvicorn  # noqa: E402

from policyqa import Assistant, Settings  # noqa: E402
from policyqa_app import AppSettings, create_app  # noqa: E402
from policyqa_app.config import key_digest  # noqa: E402
from policyqa_app.embed import EmbedTokenError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
HOSTILE_CORPUS = REPO / "tests" / "data" / "hostile"
ENGLISH_TROUGH = "What policy fits a technology in the trough of disillusionment?"
CHINESE_TROUGH = "技术处于泡沫破裂低谷期时需要什么政策？"
OFF_TOPIC = "How do I bake sourdough bread at home?"
KEY = "test-key-Vb3kq9Lr2mXz7Wp1"
SECOND_KEY = "second-key-Hf8sD2jK5nQ0aZ4y"
PORTAL = "https://portal.example.org"
HOSTILE_DOCUMENT = """# 网页安全测试条例

## 第一章 总则

第一条 为了测试网页安全，制定本条例。<script>window.__pwned = 1</script> 技术复苏基金由政府牵头设立，用于托底保障。

第二条 远程图片不得加载。<img src=http://198.51.100.7/pixel.png onerror="window.__pwned = 2"> \
技术复苏基金联合社会资本，为技术跨越“最后一公里”提供资金保障。
"""
HOSTILE_QUESTION = "技术复苏基金由谁设立？"
READY_TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A server on loopback: its base URL, app and feedback database."""

    url: str
    app: object
    security: AppSettings

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)  # type: ignore[arg-type]


@contextmanager
def serve(
    assistant: Assistant,
    security: AppSettings,
    *,
    with_ui: bool = True,
    ready_headers: dict[str, str] | None = None,
    wait_for_index: bool = True,
    prepare: Callable[[object], None] | None = None,
) -> Iterator[RunningServer]:
    """Run ``create_app`` under a real uvicorn server in a thread until the block ends.

    ``ready_headers`` authenticate the readiness poll (default: the test key when keys are on);
    ``prepare`` may change the app (e.g. add a test route) before the server starts.
    """
    app = create_app(security=security, assistant=assistant, with_ui=with_ui)
    if prepare is not None:
        prepare(app)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=3,  # a browser may hold Gradio's event stream open
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    running = RunningServer(f"http://127.0.0.1:{port}", app, security)
    try:
        if wait_for_index:
            if ready_headers is None:
                ready_headers = {"X-API-Key": KEY} if security.keys_configured else {}
            wait_ready(running, ready_headers)
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_ready(server: RunningServer, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    with server.client(headers=headers) as client:
        while True:
            response = client.get("/readyz")
            if response.status_code == 200:
                return
            if response.status_code != 503:
                raise RuntimeError(f"/readyz answered {response.status_code}: {response.text}")
            if response.json().get("status") == "error" or time.monotonic() > deadline:
                raise RuntimeError(f"the index did not load: {response.text}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def core_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shipped corpus, indexed into a temporary folder."""
    return Settings.from_env(environ={}, corpus_dirs=(CORPUS,), index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def assistant(core_settings: Settings) -> Assistant:
    """One assistant for every server of the session; the index is built here, once."""
    shared = Assistant(core_settings)
    shared.documents()
    return shared


@pytest.fixture(scope="session")
def open_server(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No keys, no CORS origins, default frame-ancestors: the out-of-the-box server, UI included."""
    security = AppSettings.from_env(environ={}, feedback_db=tmp_path_factory.mktemp("open") / "feedback.sqlite3")
    with serve(assistant, security) as running:
        yield running


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key file as an operator writes it: a comment, a digest line and a raw key."""
    path = tmp_path_factory.mktemp("keys") / "api-keys.txt"
    path.write_text(f"# policyqa keys\n{key_digest(KEY)}\n\n{SECOND_KEY}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def keyed_security(key_file: Path, tmp_path_factory: pytest.TempPathFactory) -> AppSettings:
    environ = {
        "POLICYQA_API_KEYS_FILE": str(key_file),
        "POLICYQA_CORS_ORIGINS": PORTAL,
        "POLICYQA_FRAME_ANCESTORS": f"'self',{PORTAL}",
        "POLICYQA_FEEDBACK_DB": str(tmp_path_factory.mktemp("keyed") / "feedback.sqlite3"),
    }
    return AppSettings.from_env(environ=environ)


@pytest.fixture(scope="session")
def keyed_server(assistant: Assistant, keyed_security: AppSettings) -> Iterator[RunningServer]:
    """Keys from a file, the portal as the one CORS origin and frame ancestor, UI included."""
    with serve(assistant, keyed_security) as running:
        yield running


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A corpus of one document carrying <script> and a remote <img>, to check nothing runs or loads."""
    corpus = tmp_path_factory.mktemp("hostile-corpus")
    (corpus / "hostile-test.md").write_text(HOSTILE_DOCUMENT, encoding="utf-8")
    settings = Settings.from_env(environ={}, corpus_dirs=(corpus,), index_dir=tmp_path_factory.mktemp("hostile-index"))
    security = AppSettings.from_env(environ={}, feedback_db=tmp_path_factory.mktemp("hostile") / "feedback.sqlite3")
    with serve(Assistant(settings), security) as running:
        yield running


@pytest.fixture(scope="session")
def hostile_corpus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The hostile corpus file of tests/data/hostile: injected instructions, hidden text, markup, remote images."""
    settings = Settings.from_env(
        environ={}, corpus_dirs=(HOSTILE_CORPUS,), index_dir=tmp_path_factory.mktemp("hostile-corpus-index")
    )
    feedback = tmp_path_factory.mktemp("hostile-corpus") / "feedback.sqlite3"
    with serve(Assistant(settings), AppSettings.from_env(environ={}, feedback_db=feedback)) as running:
        yield running


def redeem_at_once(stores: Sequence[Any], token: str) -> list[str]:
    """Each store redeems ``token`` in a thread of its own, all released together: "signed in" or the reason refused."""
    start = threading.Barrier(len(stores))
    outcomes: list[str] = []
    lock = threading.Lock()

    def redeem(store: Any) -> None:
        start.wait()
        try:
            store.redeem(token)
            outcome = "signed in"
        except EmbedTokenError as refused:
            outcome = refused.reason
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=redeem, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
