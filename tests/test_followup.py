"""Follow-up questions resolved against the conversation, without an LLM."""

from __future__ import annotations

import pytest

from policyqa import Assistant
from policyqa.followup import follow_up_subject, resolve_follow_up

TROUGH_EN = "What policy fits a technology in the trough of disillusionment?"
TROUGH_ZH = "技术处于泡沫破裂低谷期时，政府应该怎么做？"


@pytest.mark.parametrize(
    ("question", "earlier", "resolved"),
    [
        ("What about the growth stage?", TROUGH_EN, "What policy fits a technology in the growth stage?"),
        ("那成长期呢？", TROUGH_ZH, "技术处于成长期时，政府应该怎么做？"),
        (
            "And for Zhejiang?",
            "What reward share does Beijing give researchers?",
            "What reward share does Zhejiang give researchers?",
        ),
        ("那浙江呢？", "北京对科研人员的奖励比例是多少？", "浙江对科研人员的奖励比例是多少？"),
        # No term to swap: the follow-up's words join the earlier question.
        (
            "What about small firms?",
            TROUGH_EN,
            "What policy fits a technology in the trough of disillusionment — small firms",
        ),
    ],
)
def test_a_follow_up_takes_the_earlier_question_with_its_new_subject(
    question: str, earlier: str, resolved: str
) -> None:
    assert resolve_follow_up(question, [earlier]) == resolved


@pytest.mark.parametrize(
    "question",
    [
        "What does the Patent Law say about the term of an invention patent?",
        "专利法规定发明专利权的期限是多少年？",
        "What about the growth stage of a technology that a company develops with public money over a decade?",
    ],
)
def test_a_question_that_stands_on_its_own_is_not_a_follow_up(question: str) -> None:
    assert follow_up_subject(question) is None
    assert resolve_follow_up(question, [TROUGH_EN]) is None


def test_without_an_earlier_question_nothing_is_resolved() -> None:
    assert resolve_follow_up("What about the growth stage?", []) is None


def test_the_answer_says_what_was_searched(mini_assistant: Assistant) -> None:
    first = mini_assistant.ask("技术处于泡沫破裂低谷期时，政府应该设立什么基金？")
    follow = mini_assistant.ask("那成长期呢？", earlier=[first.question])
    assert follow.resolved_question == "技术处于成长期时，政府应该设立什么基金？"
    assert follow.question == "那成长期呢？"
    assert follow.to_dict()["resolved_question"] == follow.resolved_question
    alone = mini_assistant.ask("那成长期呢？")
    assert alone.resolved_question is None
