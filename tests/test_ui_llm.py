"""The chat handler's answer mode: an ``llm`` answer that fell back shows its note above the quotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyqa import Assistant
from policyqa_app import AppSettings
from policyqa_app.service import Service
from policyqa_app.ui_handlers import UIHandlers

pytest.importorskip("gradio", reason="the UI needs the 'serve' extra")


def test_the_llm_toggle_without_an_endpoint_shows_the_note_and_the_quotes(
    mini_assistant: Assistant, tmp_path: Path
) -> None:
    handlers = UIHandlers(Service.create(mini_assistant, AppSettings(feedback_db=tmp_path / "feedback.sqlite3")))
    question = "What should the government do in the trough of disillusionment?"
    steps = list(handlers.respond(question, [], [], 3, None, None, None, None, "llm"))  # type: ignore[arg-type]
    history, answers = steps[-1][0], steps[-1][1]
    assert answers[-1]["mode"] == "llm" and answers[-1]["generation"]["fallback"] is True
    assert 'class="pq-note"' in history[-1]["content"] and "POLICYQA_LLM_URL" in history[-1]["content"]
    plain = list(handlers.respond(question, [], [], 3, None))  # type: ignore[arg-type]
    assert "pq-note" not in plain[-1][0][-1]["content"] and "mode" not in plain[-1][1][-1]


def test_the_chat_has_an_answer_mode_toggle(mini_assistant: Assistant, tmp_path: Path) -> None:
    from policyqa_app.ui import build_ui

    blocks = build_ui(Service.create(mini_assistant, AppSettings(feedback_db=tmp_path / "feedback.sqlite3")))
    toggles = [b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "pq-answer-mode"]
    assert len(toggles) == 1 and toggles[0].value == "extractive"  # type: ignore[attr-defined]


def test_a_generated_answers_card_shows_each_sentence_with_the_sentence_it_rests_on(
    mini_assistant: Assistant, tmp_path: Path
) -> None:
    handlers = UIHandlers(Service.create(mini_assistant, AppSettings(feedback_db=tmp_path / "feedback.sqlite3")))
    answer = mini_assistant.ask("技术复苏基金").to_dict()
    quote = answer["citations"][0]["quotes"][0]
    # A generated answer as the assistant records it: the kept sentence and its source.
    answer["generation"] = {
        "fallback": False,
        "sentences": [{"text": "Governments may set up a <recovery> fund [1].", "source": {"n": 1, "sentence": quote}}],
    }
    card = handlers.card_for(answer, "1", with_context=False)
    assert "pq-card-grounded" in card and "&lt;recovery&gt;" in card and quote in card
    assert "pq-card-grounded" not in handlers.card_for(answer, "2", with_context=False)
    answer["generation"]["fallback"] = True  # the quotes are shown, not the generated sentences
    assert "pq-card-grounded" not in handlers.card_for(answer, "1", with_context=False)
