"""Operability: /metrics by route template, refusals, index gauges, readiness with the generation,
X-Request-ID on every response and in the log, JSON log lines, prometheus-client's multiprocess mode.

Requests go through the whole app (``create_app``, every middleware) with Starlette's
TestClient; the index is built from a copy of the mini corpus by the fake encoder (plumbing
only: no test here depends on what is retrieved).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FakeEncoder

pytest.importorskip("fastapi", reason="the app needs the 'serve' extra: pip install -e '.[serve,dev]'")
pytest.importorskip("prometheus_client", reason="metrics need the 'serve' extra: pip install -e '.[serve,dev]'")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from policyqa import Assistant, Settings  # noqa: E402
from policyqa.types import Generation  # noqa: E402
from policyqa_app import AppSettings, create_app  # noqa: E402
from policyqa_app.config import key_digest, parse_networks  # noqa: E402
from policyqa_app.limits import Rate  # noqa: E402
from policyqa_app.logs import JsonFormatter, RequestIdFilter  # noqa: E402
from policyqa_app.metrics import observe_answer  # noqa: E402

KEY = "metrics-key-Jq7Tz2Lx9Vb4Nw8R"
PROXY = "10.0.0.5"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture()
def make_client(fake_settings: Settings, tmp_path: Path) -> Callable[..., TestClient]:
    """A TestClient over a new app on the mini corpus (fake encoder); the index is not loaded yet."""

    def make(client_host: str = "127.0.0.1", **security: object) -> TestClient:
        assistant = Assistant(fake_settings, encoder=FakeEncoder())
        app_settings = AppSettings(feedback_db=tmp_path / "feedback.sqlite3", **security)  # type: ignore[arg-type]
        app = create_app(security=app_settings, assistant=assistant, with_ui=False)
        # No lifespan: the test decides when the index is loaded (service.warm_up()).
        return TestClient(app, base_url="http://127.0.0.1", client=(client_host, 50000))

    return make


def warm(client: TestClient) -> None:
    client.app.state.service.warm_up()  # type: ignore[attr-defined]


def test_readiness_is_503_until_the_index_is_loaded_then_names_its_generation(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    assert client.get("/healthz").status_code == 200  # up, not ready
    loading = client.get("/readyz")
    assert loading.status_code == 503
    assert "loading" in loading.text
    warm(client)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    service = client.app.state.service  # type: ignore[attr-defined]
    body = ready.json()
    assert body["status"] == "ready"
    assert body["generation"] == service.assistant.generation
    assert body["documents"] == len(service.assistant.documents()) > 0


def test_requests_are_counted_and_timed_by_route_template_never_by_raw_path(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    warm(client)
    doc_id = client.get("/api/v1/documents").json()["documents"][0]["doc_id"]
    before = client.get("/metrics").text
    template = "/api/v1/documents/{doc_id}"
    assert client.get(f"/api/v1/documents/{doc_id}").status_code == 200
    assert client.get("/api/v1/documents/no-such-document").status_code == 404
    assert client.get("/api/v1/no/such/route").status_code == 404
    after = client.get("/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    ok = {"method": "GET", "route": template, "status": "200"}
    missing = {"method": "GET", "route": template, "status": "404"}
    name = "policyqa_http_requests_total"
    assert value(text, name, **ok) == value(before, name, **ok) + 1
    assert value(text, name, **missing) == value(before, name, **missing) + 1
    fallback = {"method": "GET", "route": "/api/{rest:path}", "status": "404"}
    assert value(text, name, **fallback) == value(before, name, **fallback) + 1
    count = "policyqa_http_request_duration_seconds_count"
    assert value(text, count, method="GET", route=template) == value(before, count, method="GET", route=template) + 2
    assert value(text, "policyqa_http_request_duration_seconds_bucket", method="GET", route=template, le="+Inf") >= 2
    # No label anywhere carries a document id or a path no route has.
    labels = {v for (_, pairs) in samples(text) for _, v in pairs}
    assert doc_id not in labels and "no-such-document" not in labels and "/api/v1/no/such/route" not in labels


def test_the_index_gauges_describe_the_loaded_build(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    warm(client)
    service = client.app.state.service  # type: ignore[attr-defined]
    index = service.assistant.index
    text = client.get("/metrics").text
    assert value(text, "policyqa_index_generation_info", generation=index.generation) == 1
    assert value(text, "policyqa_index_documents") == len(index.documents)
    assert value(text, "policyqa_index_passages") == len(index.chunks)
    assert value(text, "policyqa_index_sentences") == len(index.sentences)
    assert ("policyqa_queue_depth", frozenset()) in samples(text)


def test_rate_limit_refusals_are_counted_by_code(make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limit=Rate(1, 3600))
    warm(client)
    before = client.get("/metrics").text  # /metrics is not rate limited
    assert client.get("/api/v1/documents").status_code == 200
    assert client.get("/api/v1/documents").status_code == 429
    text = client.get("/metrics").text
    labels = {"status": "429", "code": "rate_limited"}
    assert value(text, "policyqa_refused_requests_total", **labels) == (
        value(before, "policyqa_refused_requests_total", **labels) + 1
    )


def test_metrics_need_a_key_when_keys_are_configured(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key_digests=frozenset({key_digest(KEY)}))
    assert client.get("/metrics").status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert scraped.status_code == 200
    assert "policyqa_http_requests_total" in scraped.text
    assert "policyqa_llm_fallbacks_total" in scraped.text


def test_a_fallback_answer_is_counted(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    warm(client)
    answer = client.app.state.service.assistant.ask("技术成熟度")  # type: ignore[attr-defined]
    from dataclasses import replace

    before = value(client.get("/metrics").text, "policyqa_llm_fallbacks_total")
    observe_answer(answer)  # extractive: not a fallback
    observe_answer(replace(answer, generation=Generation(model="m", fallback=False)))
    observe_answer(replace(answer, generation=Generation(model="m", fallback=True, note="timeout")))
    assert value(client.get("/metrics").text, "policyqa_llm_fallbacks_total") == before + 1


def test_every_response_has_a_request_id_and_the_access_log_carries_it(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="policyqa.access"):
        first = client.get("/healthz")
        refused = client.get("/api/v1/documents", headers={"Host": "evil.example"})  # refused before routing
    ids = [first.headers["X-Request-ID"], refused.headers["X-Request-ID"]]
    assert refused.status_code >= 400
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids) and ids[0] != ids[1]
    logged = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "policyqa.access"]
    assert [(line["request_id"], line["status"]) for line in logged] == [
        (ids[0], 200),
        (ids[1], refused.status_code),
    ]
    assert logged[0]["route"] == "/healthz" and logged[0]["path"] == "/healthz" and logged[0]["method"] == "GET"


def test_an_incoming_request_id_is_kept_from_a_trusted_proxy_only(make_client: Callable[..., TestClient]) -> None:
    trusted = make_client(client_host=PROXY, trusted_proxies=parse_networks([PROXY]))
    untrusted = make_client(client_host="192.0.2.10")
    given = "nginx-7f3a9c:0001"
    assert trusted.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    assert untrusted.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] != given
    for insane in ("has space", "x" * 129, "<script>", ""):
        echoed = trusted.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert echoed != insane and re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_a_log_record_made_in_a_worker_thread_carries_the_request_id(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()

    def logs_in_a_thread() -> dict[str, str]:  # a sync endpoint: FastAPI runs it in a worker thread
        logging.getLogger("policyqa.app").warning("from a handler")
        return {"ok": "yes"}

    client.app.add_api_route("/test-log", logs_in_a_thread)  # type: ignore[attr-defined]
    caplog.handler.addFilter(RequestIdFilter())  # as the handler of `serve` has it
    with caplog.at_level(logging.INFO):
        response = client.get("/test-log")
    assert response.status_code == 200
    (record,) = [r for r in caplog.records if r.getMessage() == "from a handler"]
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["request_id"] == response.headers["X-Request-ID"]


def test_a_json_log_line_is_one_line_with_the_traceback_escaped() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.LogRecord("policyqa.app", logging.ERROR, __file__, 1, "failed: %s", ("两行\n文本",), None)
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed: 两行\n文本" and entry["level"] == "ERROR" and "ValueError" in entry["exc"]
    assert "request_id" not in entry  # outside a request


MULTIPROCESS_WORKER = """
import sys
from policyqa_app import metrics
metrics.requests_total.labels("GET", "/api/v1/ask", "200").inc(int(sys.argv[1]))
metrics.llm_fallbacks.inc()
"""


@pytest.mark.slow
def test_multiprocess_mode_adds_up_every_workers_counts(tmp_path: Path) -> None:
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in ("3", "4"):
        subprocess.run([sys.executable, "-c", MULTIPROCESS_WORKER, count], env=environ, check=True)
    scrape = "from policyqa_app import metrics; import sys; sys.stdout.write(metrics.exposition().decode())"
    text = subprocess.run(
        [sys.executable, "-c", scrape], env=environ, check=True, capture_output=True, text=True
    ).stdout
    assert value(text, "policyqa_http_requests_total", method="GET", route="/api/v1/ask", status="200") == 7
    assert value(text, "policyqa_llm_fallbacks_total") == 2


def test_an_llm_answer_that_falls_back_is_counted_by_the_api(make_client: Callable[..., TestClient]) -> None:
    # No endpoint is configured, so an llm answer is the extractive one with a note: a fallback.
    client = make_client()
    warm(client)
    before = value(client.get("/metrics").text, "policyqa_llm_fallbacks_total")
    assert client.post("/api/v1/ask", json={"question": "技术成熟度"}).status_code == 200
    reply = client.post("/api/v1/ask", json={"question": "技术成熟度", "mode": "llm"})
    assert reply.status_code == 200 and reply.json()["generation"]["fallback"] is True
    assert value(client.get("/metrics").text, "policyqa_llm_fallbacks_total") == before + 1
