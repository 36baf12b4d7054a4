"""The scope model: questions of general knowledge or advice, told from questions about rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import built_assistant

from policyqa.assistant import Assistant
from policyqa.embed import Encoder
from policyqa.errors import ConfigError
from policyqa.scope import GENERAL_QUESTION, parse_scope_model, scope_model_for
from policyqa.settings import DEFAULT_ENCODER, DEFAULT_GENERAL_QUESTION_FLOOR, Settings
from policyqa.types import ANSWERED, NOT_COVERED
from policyqa_tools import train_scope

# None of these is among the training questions (checked below).
EVERYDAY = [
    "What's the quickest way to get rid of hiccups?",
    "怎么做一碗好吃的西红柿鸡蛋面？",
    "Which is better for a beginner, a road bike or a mountain bike?",
    "猫咪掉毛严重怎么办？",
]
ABOUT_RULES = [
    "Under the Labour Contract Law, how long may a probation period last for a three-year contract?",
    "《专利法》规定发明专利权的期限是多少年？",
    "Which department approves the establishment of a private school in Shanghai?",
    "在杭州违规停车会被罚多少钱？",
]


def _training_questions() -> set[str]:
    folder = train_scope.QUESTIONS_DIR
    return {q for name in ("in_scope.jsonl", "everyday.jsonl") for q in train_scope.read_questions(folder / name)}


def test_the_packaged_model_is_the_default_encoders_and_matches_its_vectors(use_encoder: Encoder) -> None:
    model = scope_model_for(DEFAULT_ENCODER)
    assert model is not None
    assert model.weights.shape == use_encoder.encode_query("任何问题").shape
    # Weights trained for one encoder's space mean nothing in another's.
    assert scope_model_for("e5-small-q4") is None


def test_questions_never_trained_on_are_told_apart(use_encoder: Encoder) -> None:
    model = scope_model_for(DEFAULT_ENCODER)
    assert model is not None
    assert not _training_questions() & set(EVERYDAY + ABOUT_RULES)
    for question in EVERYDAY:
        assert model.general_probability(use_encoder.encode_query(question)) >= DEFAULT_GENERAL_QUESTION_FLOOR, question
    for question in ABOUT_RULES:
        assert model.general_probability(use_encoder.encode_query(question)) < DEFAULT_GENERAL_QUESTION_FLOOR, question


def test_training_is_deterministic_and_gives_the_packaged_model(tmp_path: Path) -> None:
    out = tmp_path / "scope.json"
    assert train_scope.main(["--out", str(out)]) == 0
    trained = parse_scope_model(json.loads(out.read_text("utf-8")))
    packaged = scope_model_for(DEFAULT_ENCODER)
    assert packaged is not None
    assert trained.encoder_id == packaged.encoder_id
    np.testing.assert_allclose(trained.weights, packaged.weights, atol=1e-5)
    assert trained.bias == pytest.approx(packaged.bias, abs=1e-5)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"weights": [0.1], "bias": 0.0},
        {"encoder": "use-multilingual-v3", "weights": [], "bias": 0.0},
        {"encoder": "use-multilingual-v3", "weights": ["__import__('os')"], "bias": 0.0},
        {"encoder": "use-multilingual-v3", "weights": [0.1], "bias": "0"},
    ],
)
def test_a_malformed_model_is_refused_with_a_clear_error(data: object) -> None:
    with pytest.raises(ValueError, match="scope model"):
        parse_scope_model(data)


def test_the_settings_refuse_a_negative_floor() -> None:
    with pytest.raises(ConfigError, match="general_question_floor"):
        Settings(general_question_floor=-0.1)


DETENTION_RULES = (
    "# 看守所管理办法\n\n第一条 为了规范看守所管理，制定本办法。\n\n"
    "第二条 看守所应当保障被监管人员每日睡眠时间不少于八小时，成年人与未成年人分别关押。\n\n"
    "第三条 看守所应当为被监管人员提供必要的医疗条件，发现疾病及时治疗。"
)


def _with_settings(assistant: Assistant, **changes: object) -> Assistant:
    return Assistant(assistant.settings.replace(**changes), encoder=assistant.encoder, auto_build=False)


def test_a_general_question_with_a_weak_best_passage_is_not_covered(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = built_assistant(tmp_path, use_encoder, {"detention": DETENTION_RULES})
    sleep = "How many hours of sleep does an adult need each night?"
    rules = "看守所要保证被监管人员每天睡多久？"
    # In a corpus of one short text its passages stand high for any question on it: the relevance
    # below which a general question is refused is raised above both questions' best passages.
    weak = max(assistant.trace(q).relevance for q in (sleep, rules)) + 0.01
    checked = _with_settings(assistant, general_question_relevance=weak)
    unchecked = _with_settings(assistant, general_question_relevance=weak, general_question_floor=1.0)
    # Its words are in the rules (睡眠, 小时, 成年人), so nothing else refuses it.
    assert unchecked.ask(sleep).outcome == ANSWERED
    answer = checked.ask(sleep)
    assert answer.outcome == NOT_COVERED
    assert answer.abstain_reason == GENERAL_QUESTION
    # A question about what the rules require is answered, its best passage as weak.
    assert checked.ask(rules).outcome == ANSWERED
