"""The API's ``mode`` field: an ``llm`` answer without a configured endpoint is the extractive one with a note.

Generation over a real model is tested in ``test_generate.py``; here the routes: the field is
validated, the JSON says how the answer was made, and the stream sends the note first.
"""

from __future__ import annotations

from app_fixtures import ENGLISH_TROUGH, RunningServer
from test_api import parse_sse

pytest_plugins = ["app_fixtures"]


def test_llm_mode_without_an_endpoint_answers_extractively_with_a_note(open_server: RunningServer) -> None:
    with open_server.client() as client:
        plain = client.post("/api/v1/ask", json={"question": ENGLISH_TROUGH}).json()
        body = client.post("/api/v1/ask", json={"question": ENGLISH_TROUGH, "mode": "llm"}).json()
    assert "mode" not in plain
    assert body["mode"] == "llm" and body["answer"] == plain["answer"] and body["citations"] == plain["citations"]
    generation = body["generation"]
    assert generation["fallback"] is True and "POLICYQA_LLM_URL" in generation["note"]
    assert (generation["kept"], generation["dropped"], generation["sentences"]) == (0, 0, [])


def test_llm_mode_streams_the_note_then_the_sentences_then_the_answer(open_server: RunningServer) -> None:
    with open_server.client() as client:
        with client.stream("POST", "/api/v1/ask/stream", json={"question": ENGLISH_TROUGH, "mode": "llm"}) as response:
            assert response.status_code == 200
            events = parse_sse(response.read().decode("utf-8"))
    names = [name for name, _ in events]
    assert names[0] == "note" and names[-1] == "answer" and set(names[1:-1]) == {"sentence"}
    assert events[0][1]["text"] == events[-1][1]["generation"]["note"]  # type: ignore[index]


def test_an_unknown_mode_is_rejected(open_server: RunningServer) -> None:
    with open_server.client() as client:
        response = client.post("/api/v1/ask", json={"question": ENGLISH_TROUGH, "mode": "creative"})
    assert response.status_code == 422
