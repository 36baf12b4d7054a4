"""The HTTP API against a real uvicorn server on loopback, over the shipped corpus."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from app_fixtures import CHINESE_TROUGH, ENGLISH_TROUGH, OFF_TOPIC, RunningServer

from policyqa import Assistant
from policyqa_app.feedback import FeedbackRecord, FeedbackStore
from policyqa_app.present import answer_sentences

pytest_plugins = ["app_fixtures"]

# The fields the CLI's --json, the portal and evaluation scripts rely on; the core may add more.
ANSWER_FIELDS = {"question", "answer", "abstained", "citations"}
CITATION_FIELDS = {
    "n",
    "chunk_id",
    "doc_id",
    "title",
    "section",
    "text",
    "char_start",
    "char_end",
    "score",
    "quotes",
    "highlights",
}
PASSAGE_FIELDS = {"chunk_id", "doc_id", "title", "section", "text", "char_start", "char_end", "score"}


def parse_sse(body: str) -> list[tuple[str, object]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_healthz_is_live_and_readyz_reports_the_loaded_index(open_server: RunningServer) -> None:
    with open_server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["documents"] >= 1 and ready.json()["passages"] > 10
    assert (ready.json()["shared_state"], ready.json()["read_only"]) == ("in-process", False)


@pytest.mark.parametrize("question", [ENGLISH_TROUGH, CHINESE_TROUGH])
def test_ask_returns_the_cores_json_with_the_same_citations(
    open_server: RunningServer, assistant: Assistant, question: str
) -> None:
    with open_server.client() as client:
        response = client.post("/api/v1/ask", json={"question": question})
    assert response.status_code == 200
    body = response.json()
    assert ANSWER_FIELDS <= set(body)
    assert body == assistant.ask(question).to_dict()
    assert not body["abstained"] and body["citations"]
    for citation in body["citations"]:
        assert CITATION_FIELDS <= set(citation)
        assert f"[{citation['n']}]" in body["answer"]


def test_search_returns_the_cores_passages(open_server: RunningServer, assistant: Assistant) -> None:
    with open_server.client() as client:
        response = client.post("/api/v1/search", json={"question": CHINESE_TROUGH, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "passages"}
    assert len(body["passages"]) == 3
    assert all(PASSAGE_FIELDS <= set(p) for p in body["passages"])
    assert body == assistant.search(CHINESE_TROUGH, k=3).to_dict()


def test_ask_stream_sends_the_answer_sentence_by_sentence_then_the_full_json(open_server: RunningServer) -> None:
    with open_server.client() as client:
        plain = client.post("/api/v1/ask", json={"question": ENGLISH_TROUGH}).json()
        with client.stream("POST", "/api/v1/ask/stream", json={"question": ENGLISH_TROUGH}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = parse_sse(response.read().decode("utf-8"))
    sentences = [data for name, data in events if name == "sentence"]
    assert [name for name, _ in events] == ["sentence"] * len(sentences) + ["answer"]
    assert [s["text"] for s in sentences] == answer_sentences(plain["answer"])  # type: ignore[index]
    assert " ".join(s["text"] for s in sentences) == plain["answer"]  # type: ignore[index]
    assert events[-1][1] == plain


def test_off_topic_question_is_not_covered(open_server: RunningServer) -> None:
    with open_server.client() as client:
        body = client.post("/api/v1/ask", json={"question": OFF_TOPIC}).json()
    assert body["abstained"] is True
    assert body["citations"] == []
    assert "Not covered by the corpus" in body["answer"]


def test_documents_list_the_corpus_with_sections(open_server: RunningServer, assistant: Assistant) -> None:
    with open_server.client() as client:
        documents = client.get("/api/v1/documents").json()["documents"]
    expected = {d.doc_id: d for d in assistant.documents()}
    assert {d["doc_id"] for d in documents} == set(expected)
    paper = next(d for d in documents if d["doc_id"].startswith("bai2026"))
    assert paper["title"] == expected[paper["doc_id"]].title
    assert paper["sections"] == list(expected[paper["doc_id"]].sections)
    assert any(s.startswith("四、") for s in paper["sections"])


def test_doc_ids_restrict_the_search_and_unknown_ids_are_refused(open_server: RunningServer) -> None:
    with open_server.client() as client:
        doc_id = client.get("/api/v1/documents").json()["documents"][0]["doc_id"]
        found = client.post("/api/v1/search", json={"question": CHINESE_TROUGH, "doc_ids": [doc_id]}).json()
        unknown = client.post("/api/v1/search", json={"question": CHINESE_TROUGH, "doc_ids": ["no-such-doc"]})
    assert found["passages"] and {p["doc_id"] for p in found["passages"]} == {doc_id}
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_document"


JSON = "application/json"
BAD_INPUTS = [
    ("empty question", json.dumps({"question": ""}), JSON, 422, "invalid_request"),
    ("whitespace question", json.dumps({"question": "   \n\t "}), JSON, 422, "invalid_question"),
    ("question over the limit", json.dumps({"question": "政" * 2001}), JSON, 422, "invalid_request"),
    ("100 KB question", json.dumps({"question": "x" * 100_000}), JSON, 413, "payload_too_large"),
    ("k = 0", json.dumps({"question": "政策", "k": 0}), JSON, 422, "invalid_request"),
    ("k = -1", json.dumps({"question": "政策", "k": -1}), JSON, 422, "invalid_request"),
    ("k = 10^6", json.dumps({"question": "政策", "k": 10**6}), JSON, 422, "invalid_request"),
    ("k as text", json.dumps({"question": "政策", "k": "5"}), JSON, 422, "invalid_request"),
    ("k as float", '{"question": "政策", "k": 5.5}', JSON, 422, "invalid_request"),
    ("missing question", json.dumps({"k": 5}), JSON, 422, "invalid_request"),
    ("question not text", json.dumps({"question": 42}), JSON, 422, "invalid_request"),
    ("unknown field", json.dumps({"question": "政策", "top_k": 5}), JSON, 422, "invalid_request"),
    ("JSON array", "[1, 2]", JSON, 422, "invalid_request"),
    ("malformed JSON", '{"question": "政策"', JSON, 400, "malformed_json"),
    ("not JSON at all", "question=政策", JSON, 400, "malformed_json"),
    ("text/plain", json.dumps({"question": "政策"}), "text/plain", 415, "unsupported_media_type"),
    ("form", "question=%E6%94%BF", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("no content type", json.dumps({"question": "政策"}), None, 415, "unsupported_media_type"),
    ("doc_ids not a list", json.dumps({"question": "政策", "doc_ids": "abc"}), JSON, 422, "invalid_request"),
]


@pytest.mark.parametrize("path", ["/api/v1/ask", "/api/v1/search", "/api/v1/ask/stream"])
@pytest.mark.parametrize(("case", "body", "content_type", "status", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_json_4xx_and_the_server_keeps_serving(
    open_server: RunningServer, path: str, case: str, body: str, content_type: str | None, status: int, code: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with open_server.client() as client:
        response = client.post(path, content=body.encode("utf-8"), headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"] and "Traceback" not in response.text
        assert len(response.content) < 2000  # the input is never echoed back
        assert client.get("/healthz").status_code == 200
        assert client.post("/api/v1/search", json={"question": "政策", "k": 1}).status_code == 200


def test_chunked_body_over_the_limit_is_refused(open_server: RunningServer) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    with open_server.client() as client:
        response = client.post("/api/v1/ask", content=chunks(), headers={"Content-Type": JSON})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_unknown_api_routes_and_methods_get_json_errors(open_server: RunningServer) -> None:
    with open_server.client() as client:
        missing = client.get("/api/v1/nothing-here")
        wrong_method = client.get("/api/v1/ask")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "POST"


def test_openapi_documents_every_endpoint_with_the_limits(open_server: RunningServer) -> None:
    with open_server.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert docs.status_code == 200
    for path in ("/api/v1/ask", "/api/v1/search", "/api/v1/ask/stream", "/api/v1/documents", "/healthz", "/readyz"):
        assert path in spec["paths"]
    request = spec["components"]["schemas"]["QuestionRequest"]["properties"]
    assert request["question"]["maxLength"] == 2000
    k = next(option for option in request["k"]["anyOf"] if option.get("type") == "integer")
    assert (k["minimum"], k["maximum"]) == (1, 50)


def test_docs_page_loads_swagger_from_this_server_not_a_cdn(open_server: RunningServer) -> None:
    with open_server.client() as client:
        page = client.get("/docs").text
        script = client.get("/docs-static/swagger-ui-bundle.js")
        style = client.get("/docs-static/swagger-ui.css")
    assert "/docs-static/swagger-ui-bundle.js" in page and "cdn." not in page
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert style.status_code == 200


def test_responses_carry_nosniff_and_default_frame_ancestors(open_server: RunningServer) -> None:
    with open_server.client() as client:
        for response in (client.get("/healthz"), client.get("/"), client.post("/api/v1/ask", json={})):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'self';" in response.headers["content-security-policy"]
            assert "x-frame-options" not in response.headers


def test_feedback_is_stored_and_exported_as_json_lines(open_server: RunningServer) -> None:
    with open_server.client() as client:
        answer = client.post("/api/v1/ask", json={"question": CHINESE_TROUGH}).json()
        stored = client.post(
            "/api/v1/feedback", json={**answer, "rating": "down", "comment": "引用不够具体 <b>not specific</b>"}
        )
        bad = client.post("/api/v1/feedback", json={**answer, "rating": "meh"})
        export = client.get("/api/v1/feedback/export")
    assert stored.status_code == 200 and stored.json()["id"] >= 1
    assert bad.status_code == 422
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in export.text.splitlines()]
    mine = next(r for r in records if r["id"] == stored.json()["id"])
    assert mine["rating"] == "down" and mine["comment"] == "引用不够具体 <b>not specific</b>"
    assert mine["question"] == CHINESE_TROUGH and mine["source"] == "api" and mine["user"] == "anonymous"
    assert [c["chunk_id"] for c in mine["citations"]] == [c["chunk_id"] for c in answer["citations"]]


def test_a_feedback_store_opened_while_another_process_turns_wal_on_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite refuses the second of two processes that open a new file and turn WAL on at the same
    # moment, without waiting its busy timeout (seen with two replicas starting under load). That
    # race cannot be made to happen on demand, so the refusal is injected: twice, then the real call.
    real_create = FeedbackStore._create
    refusals = []

    def refused_twice(self: FeedbackStore) -> None:
        if len(refusals) < 2:
            refusals.append(1)
            raise sqlite3.OperationalError("database is locked")
        real_create(self)

    monkeypatch.setattr(FeedbackStore, "_create", refused_twice)
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    assert len(refusals) == 2
    assert store.add(FeedbackRecord("q", "a [1]", False, [], "up")) == 1

    # Any other error is the file's, and is not waited out.
    def broken(self: FeedbackStore) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(FeedbackStore, "_create", broken)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        FeedbackStore(tmp_path / "other.sqlite3")


def test_feedback_store_uses_wal_and_keeps_every_concurrent_write(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = FeedbackStore(tmp_path / "var" / "feedback.sqlite3")
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(25):
                row = store.add(FeedbackRecord(f"q{worker}-{i}", "a[1]", False, [], "up", user=f"w{worker}"))
                assert store.update(row, comment=f"c{worker}-{i}")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = list(store.export())
    assert len(records) == store.count() == 200
    assert {r["comment"] for r in records} == {f"c{w}-{i}" for w in range(8) for i in range(25)}


def test_concurrent_questions_are_all_answered(open_server: RunningServer) -> None:
    def ask(question: str) -> int:
        with httpx.Client(base_url=open_server.url, timeout=60) as client:
            return client.post("/api/v1/ask", json={"question": question}).status_code

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda q=q: results.append(ask(q))) for q in [ENGLISH_TROUGH, CHINESE_TROUGH] * 6
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 12


HOSTILE = '<script>alert(1)</script><img src=http://198.51.100.7/x.png onerror="alert(2)">'


def test_everything_put_into_html_is_escaped() -> None:
    from policyqa_app.present import (
        answer_html,
        citation_card_html,
        context_html,
        documents_html,
        highlighted,
    )

    citation = {
        "n": 1,
        "doc_id": HOSTILE,
        "title": HOSTILE,
        "section": HOSTILE,
        "text": f"前文。{HOSTILE}后文。",
        "char_start": 0,
        "char_end": 10,
        "score": 0.5,
        "highlights": [[3, 3 + len(HOSTILE)]],
    }
    pieces = [
        answer_html(f"{HOSTILE}[1]", abstained=False),
        answer_html(HOSTILE, abstained=True),
        citation_card_html(citation, context_html(f"a{HOSTILE}b", 1, 5)),
        documents_html(
            [{"doc_id": HOSTILE, "title": HOSTILE, "sections": [HOSTILE], "metadata": {"journal": HOSTILE}}]
        ),
    ]
    for html in pieces:
        assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;" in html or "&lt;img" in html
    assert highlighted(f"ab{HOSTILE}", [(2, 10)]).startswith("ab<mark>&lt;script")


def test_answers_split_after_each_citation_marker() -> None:
    answer = "第一句^[2]。[1] Second sentence [x]. [2] 第三句。[1]"
    assert answer_sentences(answer) == ["第一句^[2]。[1]", "Second sentence [x]. [2]", "第三句。[1]"]
    assert answer_sentences("Not covered by the corpus.") == ["Not covered by the corpus."]


def test_a_follow_up_is_resolved_against_the_earlier_questions(open_server: RunningServer) -> None:
    with open_server.client() as client:
        response = client.post("/api/v1/ask", json={"question": "那成长期呢？", "earlier": [CHINESE_TROUGH]})
        alone = client.post("/api/v1/ask", json={"question": "那成长期呢？"})
        too_many = client.post("/api/v1/ask", json={"question": "那成长期呢？", "earlier": ["问题"] * 11})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == "那成长期呢？"
    assert body["resolved_question"] == "技术处于成长期时需要什么政策？"
    assert alone.json()["resolved_question"] is None
    assert too_many.status_code == 422


def test_filters_keep_the_search_to_documents_of_a_kind_region_and_year(open_server: RunningServer) -> None:
    # The app's corpus is the paper alone: a paper of 2026, no local regulation.
    question = {"question": ENGLISH_TROUGH, "k": 5}
    with open_server.client() as client:
        papers = client.post("/api/v1/search", json={**question, "kinds": ["paper"], "years": "2026"})
        local = client.post("/api/v1/search", json={**question, "kinds": ["local_regulation"]})
        beijing = client.post("/api/v1/search", json={**question, "regions": ["Beijing"]})
        old = client.post("/api/v1/search", json={**question, "years": "1900-1901"})
        bad_kind = client.post("/api/v1/ask", json={**question, "kinds": ["statute"]})
        bad_year = client.post("/api/v1/ask", json={**question, "years": "2021-2015"})
    assert papers.status_code == 200 and papers.json()["passages"]
    assert {p["kind"] for p in papers.json()["passages"]} == {"paper"}
    for empty in (local, beijing, old):
        assert empty.status_code == 200 and empty.json()["passages"] == []
    assert bad_kind.status_code == 422 and bad_kind.json()["error"]["code"] == "invalid_filter"
    assert bad_year.status_code == 422 and "ends before it starts" in bad_year.json()["error"]["message"]
