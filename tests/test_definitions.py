"""Questions that ask what a term means, and the sentences that define one (``definitions``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import built_assistant

from policyqa.definitions import (
    asks_for_definition,
    defined_term,
    definitions_asked,
    english_term_asked,
    terms_asked,
)
from policyqa.embed import Encoder


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("《刑法》所称的国家工作人员是指什么人？", True),
        ("北京市促进科技成果转化条例所称的科技成果具体包括哪些类型？", True),
        ("“死亡之谷”的含义是什么？", True),
        ("条例里“跨境电子商务”是怎么界定的？", True),
        ("What does the Criminal Law mean by narcotic drugs?", True),
        ("How does the Personal Information Protection Law define sensitive personal information?", True),
        ("What counts as rural land under the contract law?", True),
        ("What exactly counts as 'volunteer service' under the regulations?", True),
        ("In Shanghai's regulation, what makes an organisation a 'key energy-using unit'?", True),
        ("Which enterprises qualify as high-tech enterprises?", True),
        ("《劳动合同法》对试用期有什么规定？", False),
        ("What does the paper say about funding?", False),  # "say", not "mean"
        ("How much money does the fund give?", False),
    ],
)
def test_a_question_asking_what_a_term_means(question: str, asks: bool) -> None:
    assert asks_for_definition(question) == asks


@pytest.mark.parametrize(
    ("sentence", "term"),
    [
        ("第三百五十七条 本法所称的毒品，是指鸦片、海洛因、甲基苯丙胺（冰毒）。", "毒品"),
        ("第十四条 无固定期限劳动合同，是指用人单位与劳动者约定无确定终止时间的劳动合同。", "无固定期限劳动合同"),
        ("本条例所称科技成果，指通过科学研究与技术开发所产生的具有实用价值的成果。", "科技成果"),
        ("有下列情形之一，劳动者提出或者同意续订劳动合同的，应当订立无固定期限劳动合同。", None),
        ("第五条 国家鼓励研究开发机构、高等院校采取转让、许可等方式转化科技成果。", None),
        # A passage's sentence may open on a new line; a list of definitions defines its items.
        ("\n本法所称科技成果转化，是指为提高生产力水平而对科技成果所进行的后续试验。", "科技成果转化"),
        ("本条例下列用语的含义：\n（一）举办单位，是指负责制定展会实施方案的单位。", "举办单位"),
        # An article that opens with its term and 是 defines it.
        (
            "第二十八条 敏感个人信息是一旦泄露或者非法使用，容易导致自然人的人格尊严受到侵害的个人信息。",
            "敏感个人信息",
        ),
        ("第五条 国家是社会主义国家。", None),  # no "…的…" of a definition
        ("第六条 县级以上人民政府应当是促进科技成果转化的主体。", None),  # a clause, not a term, before 是
    ],
)
def test_the_term_a_sentence_defines_as_laws_do(sentence: str, term: str | None) -> None:
    assert defined_term(sentence) == term


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("What is a 'public institution' (事业单位) according to the interim regulation?", "public institution"),
        ("What exactly is a 'trust' under China's Trust Law?", "trust"),
        ("What is a trust under the Trust Law?", "trust"),
        ("What is an online platform operator according to the rules?", "online platform operator"),
    ],
)
def test_what_is_a_term_under_a_text_asks_for_its_definition(question: str, term: str) -> None:
    assert asks_for_definition(question)
    assert english_term_asked(question) == term


@pytest.mark.parametrize(
    "question",
    [
        "What is a company required to do under the law?",  # a duty
        "What is the fine under the law?",  # a figure
        "What are the rules under the law?",
    ],
)
def test_what_is_the_thing_under_a_text_asks_no_definition(question: str) -> None:
    assert not asks_for_definition(question)


def test_the_definition_asked_for_is_of_the_term_the_question_names() -> None:
    sentences = {
        13: "第十三条 固定期限劳动合同，是指用人单位与劳动者约定合同终止时间的劳动合同。",
        14: "第十四条 无固定期限劳动合同，是指用人单位与劳动者约定无确定终止时间的劳动合同。",
        15: "有下列情形之一的，应当订立无固定期限劳动合同。",
    }
    # The longer term the question names wins over the one it contains.
    assert definitions_asked("《劳动合同法》所称的无固定期限劳动合同是指什么？", [], sentences) == {14}
    assert definitions_asked("固定期限劳动合同是指什么？", [], sentences) == {13}
    # An English question's term is known by its Chinese renderings.
    crimes = {1: "本法所称司法工作人员，是指有侦查职责的工作人员。", 2: "本法所称的毒品，是指鸦片、海洛因。"}
    assert definitions_asked("What does the Criminal Law mean by narcotic drugs?", ["毒品", "刑法"], crimes) == {2}
    # Renderings within a term count by their length: "domestic services" gives 服务, not 家政.
    services = {1: "本条例所称家政服务，是指以家庭为服务对象的活动。", 2: "本条例所称消费者，是指购买服务的人。"}
    assert definitions_asked("How does the regulation define domestic services?", ["服务", "国内"], services) == {1}
    assert terms_asked("What is a consumer?", ["顾客"], {1: "家政服务", 2: "消费者"}) == set()
    # Nothing to tell them apart: any definition may be the one; no definition, none.
    assert definitions_asked("What does it mean?", ["法律"], crimes) == {1, 2}
    assert definitions_asked("什么是中试？", [], {3: "第五条 国家鼓励中试。"}) == set()


@pytest.mark.parametrize(
    ("question", "term"),
    [
        (
            "How did the 1999 Commercial Cryptography Regulations define 'commercial cryptography'?",
            "commercial cryptography",
        ),
        ("What makes an organisation a “key energy-using unit”?", "key energy-using unit"),
        ("How does the law define a market entity under Chinese law?", "market entity"),
        ("What counts as sensitive personal information?", "sensitive personal information"),
        # A possessive's apostrophe opens no quotation.
        ("How do China's law and Beijing's rules define data?", "data"),
        ("What does the law say about funding?", None),
    ],
)
def test_the_term_an_english_question_asks_to_define(question: str, term: str | None) -> None:
    assert english_term_asked(question) == term


def test_a_definition_asked_for_is_quoted_from_the_article_that_opens_with_its_term(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "information": (
            "# 示范个人信息保护条例\n\n"
            "第二十八条 敏感个人信息是一旦泄露或者非法使用，容易导致自然人的人格尊严受到侵害的个人信息，"
            "包括生物识别、宗教信仰、医疗健康等信息。\n\n"
            "第二十九条 处理敏感个人信息应当取得个人的单独同意。\n\n"
            "第三十条 处理敏感个人信息的，应当向个人告知处理的必要性。"
        )
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    answer = assistant.ask("示范个人信息保护条例对敏感个人信息是如何定义的？")
    assert answer.answer.startswith("第二十八条 敏感个人信息是"), answer.answer
