"""Extractive answers: every sentence cited, citations exact, weak evidence abstains."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import squash

from policyqa import Assistant, Settings
from policyqa.answer import (
    NOT_COVERED_EN,
    NOT_COVERED_ZH,
    _covering_parts,
    _covering_rest,
    _sentence_scores,
    _with_gaps_filled,
    _with_lead_sources,
    compose_answer,
)
from policyqa.embed import Encoder
from policyqa.figures import asks_for_list, enumerates, items_asked, question_parts
from policyqa.types import Passage, Query

MARKER = re.compile(r"\[(\d+)\]")


def test_every_answer_sentence_carries_a_citation_that_holds_it(mini_assistant: Assistant) -> None:
    answer = mini_assistant.ask("What can the government do in the trough of disillusionment?")
    assert not answer.abstained
    parts = [p for p in re.split(r"(?<=\])\s*", answer.answer) if p]
    by_number = {c.n: c for c in answer.citations}
    for part in parts:
        numbers = MARKER.findall(part)
        assert len(numbers) == 1, part
        sentence = MARKER.sub("", part)
        assert squash(sentence) in squash(by_number[int(numbers[0])].text)
    assert sorted(by_number) == list(range(1, len(by_number) + 1))


def test_answer_quotes_the_recovery_fund_for_the_trough(mini_assistant: Assistant) -> None:
    for question in (
        "What policy fits a technology in the trough of disillusionment?",
        "技术处于泡沫破裂低谷期时需要什么政策？",
    ):
        answer = mini_assistant.ask(question)
        assert "技术复苏基金" in answer.answer, question


def test_citation_highlights_point_at_the_quoted_sentences(mini_assistant: Assistant) -> None:
    answer = mini_assistant.ask("技术复苏基金的作用是什么？")
    for citation in answer.citations:
        assert len(citation.highlights) == len(citation.quotes)
        for (start, end), quote in zip(citation.highlights, citation.quotes, strict=True):
            assert citation.text[start:end] == quote


def test_citation_spans_locate_the_passage_in_the_source(mini_assistant: Assistant) -> None:
    answer = mini_assistant.ask("单位应当从转化收入中提取多少奖励科研人员？")
    assert answer.citations
    for citation in answer.citations:
        source = open(mini_assistant.index.documents[citation.doc_id].path, encoding="utf-8").read()
        assert squash(citation.text) in squash(source[citation.char_start : citation.char_end])


def test_weak_evidence_abstains_in_the_questions_language(mini_index) -> None:  # type: ignore[no-untyped-def]
    strict = Settings(
        corpus_dirs=mini_index.settings.corpus_dirs, index_dir=mini_index.settings.index_dir, abstain_threshold=5.0
    )
    assistant = Assistant(strict, encoder=mini_index.encoder, auto_build=False)
    english = assistant.ask("What is the recovery fund?")
    chinese = assistant.ask("技术复苏基金是什么？")
    assert english.abstained and english.answer == NOT_COVERED_EN and english.citations == ()
    assert chinese.abstained and chinese.answer == NOT_COVERED_ZH
    assert english.abstain_reason


def test_to_dict_has_the_documented_fields(mini_assistant: Assistant) -> None:
    data = mini_assistant.ask("技术复苏基金是什么？").to_dict()
    assert {"question", "resolved_question", "answer", "outcome", "abstained", "abstain_reason", "citations"} == set(
        data
    )
    citation = data["citations"][0]
    for key in ("n", "doc_id", "title", "section", "text", "char_start", "char_end", "score"):
        assert key in citation


def _assistant_over(tmp_path: Path, name: str, text: str, encoder: Encoder, **settings: int) -> Assistant:
    """An assistant over a corpus of one file, ``name`` holding ``text``."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(text, encoding="utf-8")
    built = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index", **settings)  # type: ignore[arg-type]
    return Assistant(built, encoder=encoder)


def _retrieved(assistant: Assistant, question: str) -> tuple[Query, list[Passage]]:
    """The prepared question and its five best passages, as the answer stage receives them."""
    query = assistant.prepare(question)
    return query, assistant.retriever.search(query, 5)


CLAUSE_LAW = """# 示范专利条例

<!-- INFO END -->

## 第一章 总则

第六条 执行本单位的任务所完成的发明创造为职务发明创造。\
非职务发明创造，申请专利的权利属于发明人或者设计人；申请被批准后，该发明人或者设计人为专利权人。

第七条 对下列各项，不授予专利权：
（一）科学发现；
（二）智力活动的规则和方法；
（三）疾病的诊断和治疗方法。
"""


def test_a_quote_carries_the_clause_and_list_head_it_depends_on(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "patent-rules.md", CLAUSE_LAW, use_encoder)

    owner = assistant.ask("申请被批准后，谁是专利权人？")
    # The condition comes with the consequence, in one sentence under one marker.
    assert "非职务发明创造，申请专利的权利属于发明人或者设计人；申请被批准后" in owner.answer

    excluded = assistant.ask("疾病的诊断和治疗方法能否被授予专利权？")
    # The item is quoted under its list head, not alone.
    assert "（三）疾病的诊断和治疗方法" in excluded.answer
    assert excluded.answer.index("对下列各项，不授予专利权：") < excluded.answer.index("（三）疾病的诊断和治疗方法")

    listed = assistant.ask("哪些不授予专利权？")
    # A quoted list head brings the items it announces, in order, not a colon with nothing after it.
    head = listed.answer.index("对下列各项，不授予专利权：")
    items = [listed.answer.index(item) for item in ("（一）科学发现", "（二）智力活动的规则和方法", "（三）疾病的诊断")]
    assert head < items[0] < items[1] < items[2]


ITEMS_RULES = """# 示范限制消费规定

<!-- INFO END -->

## 正文

第三条 被执行人为自然人的，被限制高消费后，不得有以下以其财产支付费用的行为：
（一）乘坐交通工具时，选择飞机、列车软卧、轮船二等以上舱位；
（二）在星级以上宾馆、酒店、夜总会、高尔夫球场等场所进行高消费；
（三）购买不动产或者新建、扩建、高档装修房屋。

第五条 人民法院决定限制高消费的，应当向被执行人发出限制高消费令。限制高消费令由人民法院院长签发。\
限制高消费令应当载明限制高消费的期间、项目、法律后果等内容。
"""


def test_a_list_item_is_read_under_its_head(tmp_path: Path, use_encoder: Encoder) -> None:
    """The item that answers shares few words with the question; its list head shares many."""
    assistant = _assistant_over(tmp_path, "rules.md", ITEMS_RULES, use_encoder)
    query, passages = _retrieved(assistant, "被限制高消费的自然人被执行人，在乘坐交通工具方面有哪些限制？")
    index = assistant.index
    ranked = [index.sentences[row].text for _, _, row in _sentence_scores(query, passages, index)]
    item = next(i for i, text in enumerate(ranked) if text.startswith("（一）乘坐交通工具时"))
    order = next(i for i, text in enumerate(ranked) if text.startswith("限制高消费令由人民法院院长签发"))
    assert item < order, ranked
    answer = assistant.ask("被限制高消费的自然人被执行人，在乘坐交通工具方面有哪些限制？")
    assert "（一）乘坐交通工具时，选择飞机、列车软卧、轮船二等以上舱位" in answer.answer


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("What are the five stages of the hype cycle?", 5),
        ("技术成熟度曲线有哪五个阶段？", 5),
        ("合肥、浙江、深圳三种模式各代表什么？", 3),
        ("第五条规定了什么？", None),  # an article, not five things
        ("What does the fund do?", None),
    ],
)
def test_an_enumeration_question_names_how_many_items_it_wants(question: str, count: int | None) -> None:
    assert items_asked(question) == count


STAGES_TEXT = """一、技术成熟度曲线

技术的发展并非一帆风顺。通常技术成熟度曲线包含以下五个阶段：萌芽期，新技术出现并引发社会关注；\
期望膨胀期，市场对新技术的期望较高；泡沫破裂低谷期，技术应用低于市场预期；\
稳步爬升复苏期，技术不断完善并得到市场验证；生产成熟期，技术实现规模化产业应用。

二、产业生命周期

产业生命周期分为初创期、成长期、成熟期和衰退期。政府在不同阶段的作用各不相同。
"""


def test_an_enumeration_gets_every_item(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "stages.txt", STAGES_TEXT, use_encoder)
    answer = assistant.ask("技术成熟度曲线包括哪五个阶段？")
    stages = ("萌芽期", "期望膨胀期", "泡沫破裂低谷期", "稳步爬升复苏期", "生产成熟期")
    assert sum(stage in answer.answer for stage in stages) == 5, answer.answer


SEVERANCE_LAW = """# 示范劳动合同法

<!-- INFO END -->

## 正文

第四十七条 经济补偿按劳动者在本单位工作的年限，每满一年支付一个月工资的标准向劳动者支付。\
六个月以上不满一年的，按一年计算；不满六个月的，向劳动者支付半个月工资的经济补偿。
劳动者月工资高于用人单位所在直辖市、设区的市级人民政府公布的本地区上年度职工月平均工资三倍的，\
向其支付经济补偿的标准按职工月平均工资三倍的数额支付，向其支付经济补偿的年限最高不超过十二年。
本条所称月工资是指劳动者在劳动合同解除或者终止前十二个月的平均工资。

第八十七条 用人单位违反本法规定解除或者终止劳动合同的，\
应当依照本法第四十七条规定的经济补偿标准的二倍向劳动者支付赔偿金。

第八十五条 用人单位有下列情形之一的，由劳动行政部门责令限期支付劳动报酬、加班费或者经济补偿：
（一）未按照劳动合同的约定或者国家规定及时足额支付劳动者劳动报酬的；
（二）低于当地最低工资标准支付劳动者工资的；
（四）解除或者终止劳动合同，未依照本法规定向劳动者支付经济补偿的。
"""


def test_a_sentence_below_the_gap_is_quoted_for_the_question_terms_it_adds(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    """A two-part question's second part ("what cap for a high earner") is asked in words the best sentence lacks."""
    assistant = _assistant_over(tmp_path, "labour.md", SEVERANCE_LAW, use_encoder)
    query, passages = _retrieved(
        assistant, "经济补偿按什么标准支付？工资高于平均工资三倍的劳动者，经济补偿有什么上限？"
    )
    index = assistant.index
    scored = _sentence_scores(query, passages, index)
    text = {row: index.sentences[row].text for _, _, row in scored}
    best = next((rank, row) for _, rank, row in scored if "半个月工资" in text[row])
    cap = next(row for _, _, row in scored if "最高不超过十二年" in text[row])
    added = _covering_rest(query, scored, [best], [index.sentence_vectors[best[1]]], index, (4, 7), 700)
    assert cap in [row for _, row in added], [text[row] for _, row in added]
    # Each sentence added holds a question term that the sentences before it lack.
    assert "本条所称月工资是指" not in " ".join(text[row] for _, row in added)
    # Once the answer cites as many passages as it may, only the cited ones are quoted further.
    other = next((rank, row) for _, rank, row in scored if text[row].startswith("（四）解除或者终止劳动合同"))
    assert other[0] != best[0]
    vectors = [index.sentence_vectors[other[1]]]
    assert cap in [row for _, row in _covering_rest(query, scored, [other], vectors, index, (2, 7), 700)]
    assert cap not in [row for _, row in _covering_rest(query, scored, [other], vectors, index, (1, 7), 700)]


DOG_RULES = (
    "# 示范养犬管理条例\n\n"
    "第十九条 在重点管理区携犬出户，应当用长度不超过两米的犬绳牵引。\n\n"
    "第三十四条 违反本条例规定，有下列行为之一的，由公安机关按照下列规定处理：\n"
    "（一）在重点管理区未经登记饲养犬只的，处每只二百元罚款。\n"
    "（二）在重点管理区放任犬只自行出户的，处每只二百元罚款。\n"
    "（三）携犬出户不即时清理犬粪的，处十元以上五十元以下罚款。"
)


@pytest.mark.parametrize(
    ("question", "chinese", "parts"),
    [
        ("犬绳长度有什么限制？不清理犬粪罚多少钱？", True, ["犬绳长度有什么限制？", "不清理犬粪罚多少钱？"]),
        ("公告期至少多长", True, ["公告期至少多长"]),
        (
            "How long may the leash be, and what is the fine for leaving droppings?",
            False,
            ["How long may the leash be, and ", "what is the fine for leaving droppings?"],
        ),
        # A comma inside a part ("Under the rules, …") ends none.
        ("Under the rules, how long may the leash be?", False, ["Under the rules, how long may the leash be?"]),
    ],
)
def test_a_question_is_cut_into_the_parts_it_asks(question: str, chinese: bool, parts: list[str]) -> None:
    assert question_parts(question, chinese) == parts


def test_each_part_of_a_question_gets_a_sentence_that_answers_it(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "dogs.md", DOG_RULES, use_encoder)
    query, passages = _retrieved(assistant, "遛狗时犬绳长度有什么限制？携犬出户不及时清理犬粪会被罚多少钱？")
    index = assistant.index
    scored = _sentence_scores(query, passages, index)
    text = {row: index.sentences[row].text for _, _, row in scored}
    fine = next((rank, row) for _, rank, row in scored if "犬粪" in text[row])
    leash = next(row for _, _, row in scored if "犬绳" in text[row])
    # The fines answer the second part; the leash's length, asked first, gets its own sentence.
    added = _covering_parts(query, scored, [fine], [index.sentence_vectors[fine[1]]], index)
    assert [text[row] for _, row in added] == [text[leash]]
    # A part a chosen sentence answers already gets nothing more; a question of one part neither.
    both = [fine, next((rank, row) for _, rank, row in scored if row == leash)]
    assert _covering_parts(query, scored, both, [index.sentence_vectors[r] for _, r in both], index) == []
    one_part, _ = _retrieved(assistant, "携犬出户不及时清理犬粪会被罚多少钱？")
    assert _covering_parts(one_part, scored, [fine], [index.sentence_vectors[fine[1]]], index) == []


LEASH_RULES = (
    "# 示范养犬条例\n\n"
    "第十条 携犬出户应当使用犬绳。犬绳长度不得超过两米。犬绳应当由成年人牵领。"
    "在人员密集场所应当收短犬绳。大型犬的犬绳应当配合嘴套使用。\n\n"
    "第三十条 本条例自2024年1月1日起施行。"
)


def test_the_first_passage_is_always_quoted(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "dogs.md", LEASH_RULES, use_encoder)
    query, passages = _retrieved(assistant, "遛狗时犬绳长度有什么限制？")
    assert [p.section for p in passages][:2] == ["第十条", "第三十条"]
    # Ranked first, the passage that shares no word with the question is still quoted, first: the
    # ranking put it there, and a reader checks the answer against it.
    reordered = [passages[1], passages[0]]
    answer = compose_answer(query, reordered, assistant.index, assistant.settings)
    assert answer.citations[0].section == "第三十条"
    assert "2024年1月1日" in answer.citations[0].quotes[0]
    assert any("两米" in quote for c in answer.citations for quote in c.quotes)


def test_sentences_beyond_the_answer_length_come_from_cited_passages(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "labour.md", SEVERANCE_LAW, use_encoder, answer_sentences=1)
    answer = assistant.ask("经济补偿的年限和月工资怎么算？")
    quoted = MARKER.findall(answer.answer)
    # More than one sentence, all under the one citation the first opened.
    assert len(quoted) > 1, answer.answer
    assert set(quoted) == {"1"} and len(answer.citations) == 1, answer.answer


COMPENSATION_RULES = (
    "# 示范劳动合同条例\n\n"
    "第四十七条 经济补偿按劳动者在本单位工作的年限，每满一年支付一个月工资的标准向劳动者支付。"
    "六个月以上不满一年的，按一年计算；不满六个月的，向劳动者支付半个月工资的经济补偿。"
    "劳动者月工资高于本地区上年度职工月平均工资三倍的，按职工月平均工资三倍的数额支付。\n\n"
    "第四十八条 用人单位应当在解除劳动合同时出具解除证明。"
)


def test_a_quote_read_under_its_paragraphs_opening_brings_the_opening(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "compensation.md", COMPENSATION_RULES, use_encoder)
    question = "经济补偿按劳动者在本单位工作的年限怎么支付？"
    query, passages = _retrieved(assistant, question)
    index = assistant.index
    sources: dict[int, int] = {}
    _sentence_scores(query, passages, index, sources)
    text_of = {row: index.sentences[row].text for p in passages for row in p.sentence_rows}
    opening = next(row for row, text in text_of.items() if text.startswith("第四十七条"))
    # The article's next sentences are read under its opening, which holds the question's words.
    assert any(source == opening for source in sources.values()), sources
    rank = next(i for i, p in enumerate(passages) if opening in p.sentence_rows)
    later = next(row for row, source in sources.items() if source == opening)
    assert _with_lead_sources([(rank, later)], sources, passages) == [(rank, later), (rank, opening)]
    assert "每满一年支付一个月工资" in assistant.ask(question).answer


COOPERATION_ESSAY = (
    "# 示范论文\n\n"
    "## 合作的障碍\n\n"
    "各方目标错位是合作停留在表面的重要原因。企业以经济效益为导向，关注短周期的项目。"
    "高校更注重学术价值，倾向于开展基础研究。双方的考核标准也不相同。评价周期更是相差数年。"
    "此外，各方缺乏长期稳定的合作形式。\n\n"
    "合作的成果应当及时公开。"
)


def test_quotes_of_one_paragraph_take_the_few_sentences_between_them(tmp_path: Path, use_encoder: Encoder) -> None:
    assistant = _assistant_over(tmp_path, "essay.md", COOPERATION_ESSAY, use_encoder)
    query, passages = _retrieved(assistant, "合作为什么停留在表面？")
    index = assistant.index
    rank, rows = next((i, list(p.sentence_rows)) for i, p in enumerate(passages) if "目标错位" in p.text)
    text_of = {row: index.sentences[row].text for row in rows}
    first = next(row for row in rows if "目标错位" in text_of[row])
    after = [row for row in rows if row > first and index.sentences[row].block == index.sentences[first].block]

    # Two sentences left out between two quotes of a paragraph are quoted; so are three.
    assert sorted(_with_gaps_filled([(rank, first), (rank, after[2])], passages, index)) == [
        (rank, row) for row in [first, *after[:3]]
    ]
    assert len(_with_gaps_filled([(rank, first), (rank, after[3])], passages, index)) == 5
    # Four are too many: the quotes stay apart.
    assert len(_with_gaps_filled([(rank, first), (rank, after[4])], passages, index)) == 2
    # Quotes of different paragraphs are never joined, even in one passage.
    other = next(row for row in rows if "及时公开" in text_of[row])
    assert other - after[-1] == 1
    assert len(_with_gaps_filled([(rank, after[1]), (rank, other)], passages, index)) == 2


CONTRACT_TERMS = (
    "# 示范劳动合同法\n\n"
    "第二条 本法所称固定期限劳动合同，是指用人单位与劳动者约定合同终止时间的劳动合同。\n\n"
    "第三条 本法所称无固定期限劳动合同，是指用人单位与劳动者约定无确定终止时间的劳动合同。\n\n"
    "第十四条 有下列情形之一，劳动者提出或者同意续订、订立劳动合同的，应当订立无固定期限劳动合同：\n"
    "（一）劳动者在该用人单位连续工作满十年的；\n"
    "（二）连续订立二次固定期限劳动合同，续订无固定期限劳动合同的。\n\n"
    "第十五条 用人单位自用工之日起满一年不与劳动者订立书面劳动合同的，视为已订立无固定期限劳动合同。"
)


def test_a_question_asking_what_a_term_means_prefers_the_sentence_defining_that_term(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = _assistant_over(tmp_path, "contract.md", CONTRACT_TERMS, use_encoder)
    index = assistant.index
    query, passages = _retrieved(assistant, "《示范劳动合同法》所称的无固定期限劳动合同是指什么？")
    with_preference = {row: score for score, _, row in _sentence_scores(query, passages, index)}
    monkeypatch.setattr("policyqa.answer._W_DEFINITION", 0.0)
    without = {row: score for score, _, row in _sentence_scores(query, passages, index)}
    lifted = {index.sentences[row].text[:4] for row in with_preference if with_preference[row] > without[row] + 1e-6}
    # The definition of the term asked about, not that of the term it contains, nor any article using it.
    assert lifted == {"第三条 "}
    # A question that asks something else lifts no definition.
    query, passages = _retrieved(assistant, "什么情形下应当订立无固定期限劳动合同？")
    monkeypatch.undo()
    asked = {row: score for score, _, row in _sentence_scores(query, passages, index)}
    monkeypatch.setattr("policyqa.answer._W_DEFINITION", 0.0)
    assert asked == {row: score for score, _, row in _sentence_scores(query, passages, index)}


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("有哪些情形？", True),
        ("行政机关签的哪两类协议不能起诉？", True),
        ("Which claims cannot be defeated by a limitation defence?", True),
        ("What casualty or loss thresholds make an accident especially serious?", True),
        ("What are the conditions for a licence?", True),
        ("What documents must an applicant submit?", True),
        ("What does Article 5 say?", False),
        ("What is the maximum fine?", False),
        ("What happens if the deadline passes?", False),
        ("Which law applies to online sales?", False),
        ("罚款是多少？", False),
    ],
)
def test_a_question_asking_for_several_things(question: str, asks: bool) -> None:
    assert asks_for_list(question) is asks


def test_a_passage_that_lists() -> None:
    assert enumerates("有下列情形之一的，为特别重大事故：（一）造成30人以上死亡")
    assert enumerates("（一）支付存款本金及利息请求权；")
    assert not enumerates("本办法自2004年10月1日起施行。下列事项另行规定。")
