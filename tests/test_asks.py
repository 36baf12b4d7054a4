"""What a question asks for other than a figure: the body acting, a paper's work as a whole, a law's reasons."""

from __future__ import annotations

import pytest

from policyqa.asks import (
    BODY_ACTING,
    allowed_in_premise,
    asks_for_body,
    asks_for_lawmakers_reason,
    asks_for_overview,
    required_in_premise,
)


@pytest.mark.parametrize(
    "question",
    [
        "Under the Nationality Law, which body approves applications to acquire Chinese nationality?",
        "Which court hears a suit by an asset management company against a borrower?",
        "Who approves the plan?",
        "Where does an applicant living overseas file?",
        "人工影响天气作业由谁来组织实施和管理？",
        "消防救援衔标志由哪个部门负责制作和管理？",
        "不服的向哪里申请复议？",
    ],
)
def test_a_question_asking_which_body_acts_is_read_as_such(question: str) -> None:
    assert asks_for_body(question)


@pytest.mark.parametrize(
    "question",
    [
        "How long does the authority have to decide?",
        "What must a tenderer do after choosing the winning bidder?",
        "Where is the demonstration zone?",
        "劳动争议调解不成的，多久可以申请仲裁？",
        "部门规章和地方性法规有什么区别？",
    ],
)
def test_a_question_asking_no_body_is_not(question: str) -> None:
    assert not asks_for_body(question)


def test_a_sentence_naming_a_body_acting_is_found_and_one_naming_none_is_not() -> None:
    for acting in (
        "加入、退出和恢复中国国籍的申请，由中华人民共和国公安部审批。",
        "金融资产管理公司向债务人提起诉讼的，应当由被告人住所地人民法院管辖。",
        "受理国籍申请的机关，在国内为当地市、县公安局，在国外为中国外交代表机关和领事机关。",
        "县级以上人民政府气象主管机构负责人工影响天气工作的组织实施和管理。",
    ):
        assert BODY_ACTING.search(acting), acting
    for idle in ("申请加入中国国籍获得批准的，即取得中国国籍。", "被批准恢复中国国籍的，不得再保留外国国籍。"):
        assert BODY_ACTING.search(idle) is None, idle


@pytest.mark.parametrize(
    "question",
    [
        "In short, what does the paper see as the main obstacles?",
        "The seed paper proposes a policy-demand framework. Along which three dimensions is it built?",
        "What framework does the paper build?",
        "What are the study's main findings?",
        "这篇文章概括来说提出了什么样的政策框架？",
        "这篇论文构建的政策需求框架包括哪几个维度？",
        "论文的主要观点是什么？",
    ],
)
def test_a_question_on_a_work_as_a_whole_asks_for_an_overview(question: str) -> None:
    assert asks_for_overview(question)


@pytest.mark.parametrize(
    "question",
    [
        "Under the paper's framework, what policy fits a technology in the trough of disillusionment?",
        "What does the paper say about Hefei's model?",
        "论文里浙江对省级重大科技项目的企业牵头比例有什么要求？",
        "时间维度上政策设计的核心逻辑是什么？",
    ],
)
def test_a_question_on_one_part_of_a_work_asks_for_no_overview(question: str) -> None:
    assert not asks_for_overview(question)


@pytest.mark.parametrize(
    "question",
    [
        "Why does the Lawyers Law require lawyers to renew their practice certificates every five years?",
        "Why did the 2019 amendment to the Futures Trading Administration Regulations raise the minimum capital?",
        "Why does Shandong's regulation make protection orders valid for two years?",
        "《反电信网络诈骗法》为什么规定60岁以上老人不能开通网上银行？",
        "示范市的条例为何要求单位提取百分之五十？",
        "为什么2002年两高的罪名补充规定要把这个罪名保留下来？",
    ],
)
def test_a_question_asking_why_a_law_lays_something_down_asks_for_its_makers_reasons(question: str) -> None:
    assert asks_for_lawmakers_reason(question)


@pytest.mark.parametrize(
    "question",
    [
        # The texts that reason: a paper argues, a court's judgment gives its grounds.
        "Why are university researchers reluctant to move into companies, according to the paper?",
        "产学研合作为什么常常停留在表面？",
        "Why did the court rule against the developer under the Civil Code?",
        "法院为什么判决用人单位支付赔偿？",
        # A law's making has a purpose, which its first article states.
        "Why was the Anti-Telecom Fraud Law enacted?",
        "为什么制定《专利法》？",
        # No legal text, or no why.
        "为什么我的工资这么低？",
        "What does the Lawyers Law require of a lawyer's practice certificate?",
    ],
)
def test_a_question_of_a_paper_a_court_a_laws_making_or_no_law_asks_for_no_reasons(question: str) -> None:
    assert not asks_for_lawmakers_reason(question)


@pytest.mark.parametrize(
    ("question", "allowed"),
    [
        (
            "Since the expressway regulations allow motorcycles on expressways, what speed limit applies?",
            "motorcycles on expressways",
        ),
        (
            "Given that the Museum Regulations permit sales of relics to collectors, who approves a sale?",
            "sales of relics to collectors",
        ),
        ("既然《博物馆条例》允许国有博物馆出售藏品，出售需要什么审批？", "国有博物馆出售藏品"),
        ("《供热条例》允许供热企业对整栋楼停止供热，那么要提前几天通知？", "供热企业对整栋楼停止供热"),
        # No legal text in the premise, or no premise: the question only asks.
        ("Since my landlord allows pets, can the neighbours complain?", None),
        ("Does the expressway regulation allow motorcycles on expressways?", None),
    ],
)
def test_a_premise_that_a_legal_text_allows_something_is_read(question: str, allowed: str | None) -> None:
    assert allowed_in_premise(question) == allowed


@pytest.mark.parametrize(
    ("question", "required"),
    [
        (
            "Since the regulations made weather-disaster insurance compulsory for firms, what is the fine?",
            "weather-disaster insurance",
        ),
        (
            "Since the food rules require street vendors to hold a licence, how long does it take?",
            "street vendors to hold a licence",
        ),
        ("既然《气象灾害防御条例》强制要求企业购买气象灾害保险，不买会怎样？", "企业购买气象灾害保险"),
        # No legal text in the premise: the asker's boss, not a law.
        ("Since my boss requires overtime, what can I do?", None),
    ],
)
def test_a_premise_that_a_legal_text_requires_something_is_read(question: str, required: str | None) -> None:
    assert required_in_premise(question) == required
