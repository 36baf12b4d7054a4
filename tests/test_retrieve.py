"""Hybrid retrieval on the mini corpus: real encoder, real FAISS, real BM25."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import built_corpus, local_regulation, squash

from policyqa import Assistant
from policyqa import retrieve as retrieve_module
from policyqa.embed import Encoder
from policyqa.expand import (
    SoundIndex,
    _holds_places_of,
    english_phrases,
    pairs_in_a_row,
    rendered_in_a_row,
    structured_query,
)
from policyqa.index import build_index
from policyqa.lexical import SYNONYM_SEPARATOR, flat_tokens, synonym_set
from policyqa.named import described_documents
from policyqa.places import chinese_names_by_english
from policyqa.retrieve import MERGED_CHUNKS
from policyqa.settings import Settings
from policyqa.stores.local import top_rows
from policyqa.text import is_chinese


def _sections(assistant: Assistant, question: str, k: int = 3) -> list[str]:
    return [p.section for p in assistant.search(question, k=k).passages]


def test_english_question_retrieves_chinese_passage(mini_assistant: Assistant) -> None:
    sections = _sections(
        mini_assistant, "What should the government do when a technology falls into the trough of disillusionment?"
    )
    assert "泡沫破裂低谷阶段" in sections[0]


def test_chinese_question_retrieves_the_passage_with_its_words(mini_assistant: Assistant) -> None:
    sections = _sections(mini_assistant, "技术萌芽阶段政府应当如何支持基础研究？")
    assert "技术萌芽阶段" in sections[0]


def test_law_question_lands_on_the_article(mini_assistant: Assistant) -> None:
    passages = mini_assistant.search("转化收入中奖励科研人员的比例不低于多少？", k=3).passages
    assert passages[0].section.endswith("第四条")
    assert "百分之五十" in passages[0].text


def test_passages_are_ranked_by_score_and_quote_the_source(mini_assistant: Assistant) -> None:
    passages = mini_assistant.search("科技成果转化服务", k=5).passages
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    for p in passages:
        source = open(mini_assistant.index.documents[p.doc_id].path, encoding="utf-8").read()
        assert squash(p.text) == squash("".join(source[a:b] for a, b in p.spans))
        assert p.char_start == p.spans[0][0] and p.char_end == p.spans[-1][1]


def test_overlapping_passages_are_merged_not_repeated(mini_assistant: Assistant) -> None:
    passages = mini_assistant.search("泡沫破裂低谷期 技术复苏基金 失败案例库", k=5).passages
    seen: set[int] = set()
    for p in passages:
        assert not seen & set(p.sentence_rows), "a sentence appears in two passages"
        seen |= set(p.sentence_rows)


def test_search_can_be_limited_to_one_document(mini_assistant: Assistant) -> None:
    passages = mini_assistant.search("科技成果转化", k=5, doc_ids=["model-transfer-regulation"]).passages
    assert passages and {p.doc_id for p in passages} == {"model-transfer-regulation"}
    assert mini_assistant.search("科技成果转化", k=5, doc_ids=["no-such-doc"]).passages == ()


def test_front_matter_yields_to_body_text(mini_assistant: Assistant) -> None:
    passages = mini_assistant.search("政府可以设立技术复苏基金", k=5).passages
    assert passages[0].section != "前置信息 (front matter)"


def test_english_question_gets_chinese_terms_for_bm25(mini_assistant: Assistant) -> None:
    query = mini_assistant.prepare("What is the technology recovery fund?")
    assert "技术复苏基金" in query.glossary_terms
    assert "技术复苏基金" in "".join(query.tokens) or "复苏" in query.tokens
    assert not query.chinese


def test_an_english_phrases_renderings_are_one_term_of_the_bm25_query() -> None:
    query = structured_query(
        ["partner"],
        {"partner": ["合伙", "伙伴", "合伙"], "universities": ["高校"], "institutes": ["研究开发机构", "伙伴"]},
        glossary_terms=["高校"],
    )

    # A repeated rendering counts once, in the first phrase; a glossary term is the question's own
    # already; a rendering that jieba cuts into words stays those words.
    assert query == ["partner", synonym_set(["合伙", "伙伴"]), "研究", "开发", "机构"]


def test_an_english_question_searches_bm25_with_synonym_sets_unless_turned_off(mini_assistant: Assistant) -> None:
    question = "How do companies partner with universities on joint training?"
    query = mini_assistant.prepare(question)

    assert any(SYNONYM_SEPARATOR in token for token in query.lexical)
    assert not any(SYNONYM_SEPARATOR in token for token in query.tokens)
    assert set(flat_tokens(query.lexical)) <= set(query.tokens)
    flat = Assistant(replace(mini_assistant.settings, structured_query=False), auto_build=False).prepare(question)
    assert flat.lexical == flat.tokens == query.tokens


def test_an_english_phrase_takes_the_senses_the_corpus_uses_beside_the_others(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # CC-CEDICT lists "limitation" as 限度, 局限性, 时效 and "defence" as 防御, 防务, 防卫, 辩方, 抗辩; with
    # two senses a phrase, the dictionary's order would never reach 时效 or 抗辩.
    settings = built_corpus(
        tmp_path,
        use_encoder,
        {
            "limitation": "请求时效规定\n\n第一条 当事人对下列请求权提出时效抗辩的，人民法院不予支持。\n\n"
            "第二条 请求时效期间届满的，赔偿义务机关可以提出不予赔偿的抗辩。",
            "noise": "噪声管理办法\n\n第一条 噪声不得超过规定的限度。\n\n第二条 防御工程应当符合标准。",
        },
        term_matches=0,  # the dictionary's senses only, not the corpus words nearest each phrase
    )
    question = "Which requests cannot be defeated by a defence of limitation?"

    chosen = flat_tokens(Assistant(settings, auto_build=False).prepare(question).lexical)
    dictionary_first = Assistant(replace(settings, sense_pool=0), auto_build=False)
    in_dictionary_order = flat_tokens(dictionary_first.prepare(question).lexical)

    assert {"时效", "抗辩"} <= set(chosen)
    assert not {"时效", "抗辩"} & set(in_dictionary_order)
    assert {"限度", "防御"} <= set(in_dictionary_order)


@pytest.mark.parametrize(
    ("question", "pairs"),
    [
        (
            "Under the Administrative Penalty Law, how long can a violation go undetected?",
            ["administrative penalty", "penalty law"],  # not "law long" across ", how", nor across "go"
        ),
        ("Which integration model bridges the valley of death?", ["integration model", "model bridges"]),
        ("Which policy fits a technology in the trough of disillusionment?", ["policy fits"]),  # "a", "in the" between
        ("How did 2024 reforms change patent fees?", ["reforms change", "change patent", "patent fees"]),
        # In a corpus of policy, "industrial policy" names what is asked about (产业政策).
        ("How are industrial policies classified?", ["industrial policies", "policies classified"]),
    ],
)
def test_word_pairs_for_the_term_matcher_are_words_side_by_side(question: str, pairs: list[str]) -> None:
    phrases = english_phrases(question)
    assert [p for p in phrases if " " in p] == pairs
    assert all(" " not in p for p in phrases[: len(phrases) - len(pairs)])


@pytest.mark.parametrize(
    ("question", "chinese"),
    [
        ("技术复苏基金是什么？", True),
        ("What is the recovery fund?", False),
        # An English question quoting the Chinese term it asks about stays English …
        ("How does Dezhou's regulation define 'paji' (扒鸡)?", False),
        ("What does a 'Chinese controlling stake' (中方控股) requirement mean?", False),
        ("What does Article 10 of 《专利法》 say?", False),
        ("What is 专利?", False),
        # … as a Chinese one quoting a term, a title or an English name stays Chinese.
        ("“跨境电子商务”是怎么界定的？", True),
        ("《专利法》", True),
        ("什么是概念验证中心（proof of concept center）？", True),
        ("如何申请 high-tech enterprise 认定？", True),
        ("R&D投入强度是多少？", True),
    ],
)
def test_a_questions_language_is_that_of_its_own_words(question: str, chinese: bool) -> None:
    assert is_chinese(question) is chinese


def test_top_rows_are_the_highest_scores_with_ties_in_position_order() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        scores = rng.integers(0, 6, int(rng.integers(1, 200))).astype(np.float32)  # many ties
        k = int(rng.integers(0, 60))
        expected = np.argsort(-scores, kind="stable")[:k]
        np.testing.assert_array_equal(top_rows(scores, k), expected)


@pytest.mark.parametrize("question", ["What is the valley of death?", "什么是死亡之谷？"])
def test_a_glossary_term_brings_its_passages_into_the_candidates(
    question: str, tmp_path: Path, use_encoder: Encoder
) -> None:
    """Laws on deaths crowd both candidate pools of "valley of death"; the term's passage still competes."""
    deaths = [
        "公民死亡，由户主或者亲属在一个月以内向户口登记机关申报死亡，注销户口。",
        "军人因战、因公死亡的，按照认定的死亡性质给付军人死亡保险金。",
        "继承从被继承人生理死亡或者被宣告死亡时开始。",
        "自然人下落不明满四年的，利害关系人可以向人民法院申请宣告该自然人死亡。",
        "医疗机构应当对死亡病例进行讨论，并按照规定报告死亡原因。",
        "发生生产安全事故造成人员死亡的，事故单位应当立即报告。",
        "流域内发生水污染事故致人死亡的，应当追究责任。",
        "山谷地带的矿山发生死亡事故的，应当停产整顿。",
        "流域山谷地带发生死亡事故的，应当及时组织救援。",
        "在山谷、流域等地带施工造成死亡事故的，依法追究责任。",
        "风景区内的幽兰之谷发生游客死亡的，管理单位应当报告。",
    ]
    files = {f"law-{i}": f"第{i + 1}条 {article}" for i, article in enumerate(deaths)}
    files["paper"] = "科技成果从实验室走向市场要跨越死亡之谷，需要概念验证资金和中试平台的接续支持。"
    settings = built_corpus(tmp_path, use_encoder, files, candidates=2, top_k=2)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    assert "死亡之谷" in assistant.prepare(question).glossary_terms
    passages = assistant.search(question, k=3).passages
    assert "paper" in [p.doc_id for p in passages]


def test_a_word_of_a_documents_name_brings_no_glossary_term(mini_assistant: Assistant) -> None:
    # "penalty" is a fine (罚款) to the glossary; in "the Administrative Penalty Law" it is part of a name.
    fined = mini_assistant.prepare("What is the highest penalty for late filing?")
    assert "罚款" in fined.glossary_terms
    named = "Under the Administrative Penalty Law, how long can a violation go undetected before it is time-barred?"
    assert "罚款" not in mini_assistant.prepare(named).glossary_terms


def test_the_letter_an_apostrophe_leaves_is_no_word_of_the_question(mini_assistant: Assistant) -> None:
    # "What's" gave "s", which matched list labels written in Latin letters (s)重度排尿障碍) in BM25.
    query = mini_assistant.prepare("What's the fund's size, and aren't I owed a report?")
    assert not {"s", "t", "i"} & set(query.own_tokens)
    assert {"fund", "size", "report"} <= set(query.own_tokens)


def _scores(settings: Settings, encoder: Encoder, question: str, k: int, **tuned: float) -> dict[str, float]:
    """Each document's passage score among the first ``k`` for ``question``, with the settings ``tuned``."""
    assistant = Assistant(settings.replace(**tuned), encoder=encoder, auto_build=False)
    return {p.doc_id: p.score for p in assistant.search(question, k=k).passages}


def test_a_passage_with_the_kind_of_figure_asked_for_is_lifted(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "without-figure": "完成职务科技成果的科研人员可以获得奖励，具体办法由单位规定。",
        "with-figure": "完成职务科技成果的科研人员可以获得奖励，每项奖励金额不低于五万元。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    question = "完成职务科技成果的科研人员可以获得多少元奖励？"

    without, with_bonus = (_scores(settings, use_encoder, question, 2, figure_bonus=b) for b in (0.0, 0.05))
    assert set(without) == set(with_bonus) == {"without-figure", "with-figure"}
    assert with_bonus["with-figure"] - without["with-figure"] == pytest.approx(0.05)
    assert with_bonus["without-figure"] == pytest.approx(without["without-figure"])


def test_a_passage_naming_the_body_acting_is_lifted_for_a_question_asking_which_body(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "who": "加入中国国籍的申请，由公安部审批。",
        "what": "申请加入中国国籍获得批准的，即取得中国国籍。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    for question in ("Which body approves applications for Chinese nationality?", "加入中国国籍的申请由谁审批？"):
        without, with_bonus = (_scores(settings, use_encoder, question, 2, body_bonus=b) for b in (0.0, 0.05))
        assert with_bonus["who"] - without["who"] == pytest.approx(0.05)
        assert with_bonus["what"] == pytest.approx(without["what"])
    # A question asking a figure is lifted by the figure alone; one asking neither, by nothing.
    for question in ("加入中国国籍的申请多少天内审批？", "加入中国国籍有什么条件？"):
        without, with_bonus = (_scores(settings, use_encoder, question, 2, body_bonus=b) for b in (0.0, 0.05))
        assert with_bonus == pytest.approx(without)


def test_a_papers_summary_is_lifted_for_a_question_on_the_work_as_a_whole(tmp_path: Path, use_encoder: Encoder) -> None:
    paper = (
        "# 创新要素的空间分布研究\n\n"
        "摘要: 本文构建了时间、空间、制度三维分析框架, 并以合肥、深圳为例讨论创新要素的集聚。\n\n"
        "## 一、空间维度\n\n"
        "空间维度的分析框架关注创新要素在不同地区之间的流动与集聚, 合肥与深圳的差异尤其明显。\n"
    )
    settings = built_corpus(tmp_path, use_encoder, {"paper": paper}, {"paper": {"kind": "paper"}}, max_per_document=5)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)

    def summary_score(question: str, bonus: float) -> float:
        tuned = Assistant(settings.replace(overview_bonus=bonus), encoder=use_encoder, auto_build=False)
        return next(p.score for p in tuned.search(question, k=5).passages if p.section == "摘要")

    assert any(p.section == "摘要" for p in assistant.search("这篇论文构建了什么框架？", k=5).passages)
    # The paper named by its title, with 一文 or without, is pointed at as "the paper" is.
    for named in ("《创新要素的空间分布研究》一文构建了什么框架？", "《创新要素的空间分布研究》构建了什么框架？"):
        assert summary_score(named, 0.1) - summary_score(named, 0.0) == pytest.approx(0.1)
    overview = "In short, what framework does the paper build?"
    assert summary_score(overview, 0.1) - summary_score(overview, 0.0) == pytest.approx(0.1)
    # A question on one part of the work, or one not about the paper, lifts nothing.
    for question in ("What does the paper say about the spatial dimension?", "In short, what framework is built?"):
        assert summary_score(question, 0.1) == pytest.approx(summary_score(question, 0.0))


def test_a_term_a_chinese_question_writes_out_is_found_defined_in_the_documents_its_place_singles_out(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "commerce": local_regulation(
            "杭州市跨境电子商务促进条例",
            "杭州市第十三届",
            "第二条 本条例适用于本市跨境电商综合试验区的建设和发展。\n\n"
            "第三条 本条例所称跨境电子商务，是指分属不同关境的交易主体，通过电子商务平台达成交易的国际商业活动。\n\n"
            "第十七条 跨境电商企业应当建立健全商品质量追溯制度。",
        ),
        "water": local_regulation("杭州市城市供水管理条例", "杭州市第十三届", "第五条 供水企业应当保障供水水质。"),
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    # No title in so many words: the place and the nearest titles single the documents out.
    question = "杭州关于促进跨境电商的地方性法规中，“跨境电子商务”是怎么定义的？"
    without, with_bonus = (_scores_by_section(settings, use_encoder, question, definition_bonus=b) for b in (0.0, 0.2))
    defining = next(section for section in with_bonus if section.endswith("第三条"))
    assert with_bonus[defining] - without[defining] == pytest.approx(0.2)
    assert all(with_bonus[s] == pytest.approx(without[s]) for s in with_bonus if s != defining)


def _scores_by_section(settings: Settings, encoder: Encoder, question: str, **tuned: float) -> dict[str, float]:
    """Each passage's score among the first ten for ``question``, by section, with the settings ``tuned``."""
    assistant = Assistant(settings.replace(**tuned), encoder=encoder, auto_build=False)
    return {p.section: p.score for p in assistant.search(question, k=10).passages}


def test_a_passage_that_lists_is_lifted_for_a_question_asking_for_several_things(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "plain": "当事人对债权请求权提出诉讼时效抗辩的，人民法院应当审查。",
        "listing": "对下列债权请求权提出诉讼时效抗辩的，人民法院不予支持：（一）支付存款本金及利息请求权；"
        "（二）兑付国债本息请求权。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    for question in ("哪些债权请求权不适用诉讼时效抗辩？", "Which claims cannot be met with a limitation defence?"):
        without, with_bonus = (_scores(settings, use_encoder, question, 2, list_bonus=b) for b in (0.0, 0.05))
        assert with_bonus["listing"] - without["listing"] == pytest.approx(0.05)
        assert with_bonus["plain"] == pytest.approx(without["plain"])
    # A question for one thing lifts no list.
    one = "债权请求权的诉讼时效抗辩由谁审查？"
    without, with_bonus = (_scores(settings, use_encoder, one, 2, list_bonus=b) for b in (0.0, 0.05))
    assert with_bonus == pytest.approx(without)


def test_the_article_punishing_a_breach_comes_before_the_article_broken_for_a_question_asking_the_penalty(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    regulation = (
        "# 示范市大气污染防治条例\n\n"
        "第一条 为了防治大气污染，保护和改善环境，制定本条例。\n\n"
        "第十条 任何单位和个人不得在人民政府划定的禁止区域内露天烧烤食品或者为露天烧烤食品提供场地。\n\n"
        "第十一条 餐饮服务经营者应当安装油烟净化设施并保持正常使用。\n\n"
        "第二十条 违反本条例第十一条规定的，由生态环境主管部门责令改正，处五千元以上五万元以下罚款。\n\n"
        "第二十一条 违反本条例第十条第一款规定的，由城市管理部门责令改正，没收烧烤工具，并处五百元以上二千元以下罚款。"
    )
    settings = built_corpus(tmp_path, use_encoder, {"air": regulation})

    def sections(question: str, depth: int) -> list[str]:
        assistant = Assistant(settings.replace(penalty_depth=depth), encoder=use_encoder, auto_build=False)
        return [p.section for p in assistant.search(question, k=3).passages]

    for question in ("示范市在禁止区域里露天烧烤，会怎么处罚？", "在禁止区域露天烧烤食品有什么法律后果？"):
        without = sections(question, 0)
        assert without[0] == "第十条" and without.index("第二十一条") > 0, without
        # The fine for the act is in the article naming it by number, put just before it.
        assert sections(question, 3)[:2] == ["第二十一条", "第十条"]
    # Nothing moves for a question that asks no penalty, nor for the article punishing another breach.
    asked = "在禁止区域露天烧烤食品是否允许？"
    assert sections(asked, 3) == sections(asked, 0)
    assert "第二十条" not in sections("示范市在禁止区域里露天烧烤，会怎么处罚？", 3)[:2]


def test_a_chinese_question_asking_the_penalty_lifts_the_chapter_on_legal_liability(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    regulation = (
        "# 示范市乡村医生从业管理条例\n\n"
        "## 第二章 执业注册\n\n"
        "第十条 乡村医生经注册取得执业证书后，方可在聘用其执业的村卫生室从事一般医疗服务。\n\n"
        "第十一条 乡村医生执业证书有效期为五年，有效期满需要继续执业的，应当申请再注册。\n\n"
        "## 第五章 法律责任\n\n"
        "第四十二条 未经注册在村医疗卫生机构从事医疗活动的，由县级以上地方人民政府卫生行政主管部门予以取缔，"
        "没收其违法所得以及药品、医疗器械，并处一千元以上一万元以下的罚款。"
    )
    settings = built_corpus(tmp_path, use_encoder, {"doctors": regulation})

    def scores(question: str, bonus: float) -> dict[str, float]:
        assistant = Assistant(settings.replace(penalty_chapter_bonus=bonus), encoder=use_encoder, auto_build=False)
        return {p.section: p.score for p in assistant.search(question, k=3).passages}

    # The article punishing the act names it otherwise (未经注册…从事医疗活动) and cites no article: the
    # chapter it stands in lifts it, and only it.
    asked = "我没有乡村医生执业证书，在村卫生室给人看病，会被怎么处罚？"
    without, lifted = scores(asked, 0.0), scores(asked, 0.3)
    punishing = "第五章 法律责任 > 第四十二条"
    assert lifted[punishing] == pytest.approx(without[punishing] + 0.3, abs=1e-4)
    assert all(
        lifted[section] == pytest.approx(score, abs=1e-4) for section, score in without.items() if section != punishing
    )
    # Nothing moves for a question that asks no penalty, nor for an English one.
    for question in (
        "乡村医生执业证书的有效期是多久？",
        "What happens if I treat patients without a village doctor's certificate?",
    ):
        assert scores(question, 0.3) == pytest.approx(scores(question, 0.0), abs=1e-4)


def test_a_neighbour_ranked_after_the_top_k_still_folds_into_its_passage(tmp_path: Path, use_encoder: Encoder) -> None:
    # Once k passages are kept, lower candidates are read only if they overlap one of them:
    # the passages a search keeps must not depend on how many it keeps.
    use = "技术复苏基金的第{n}项用途是支持第{n}类企业开展中试验证和工程化开发，并给予相应补助。"
    fund = "".join(use.format(n=n) for n in "一二三四五六七八九十")
    other = "".join(f"第{n}条规定了产业园区的土地供应和厂房租金标准。" for n in "一二三四五六")
    settings = built_corpus(tmp_path, use_encoder, {"fund": f"# 基金\n\n{fund}", "estate": f"# 园区\n\n{other}"})
    assistant = Assistant(settings)
    question = "技术复苏基金支持企业中试验证和工程化开发"
    deep = assistant.search(question, k=4).passages
    merged = [i for i, p in enumerate(deep) if len(p.chunk_ids) > 1]
    assert merged, "neighbouring chunks of the fund's section should fold into one passage"
    for i in merged:
        shallow = assistant.search(question, k=i + 1).passages
        assert shallow[i].chunk_ids == deep[i].chunk_ids
        assert shallow[i].text == deep[i].text


def test_a_passage_folds_neighbours_up_to_its_bound_and_no_further(tmp_path: Path, use_encoder: Encoder) -> None:
    use = "技术复苏基金的第{n}项用途是支持第{n}类企业开展中试验证和工程化开发，并给予相应补助。"
    numbers = "一二三四五六七八九十"
    fund = "".join(use.format(n=f"{a}{b}") for a in numbers[:3] for b in numbers)
    other = "".join(f"第{n}条规定了产业园区的土地供应和厂房租金标准。" for n in numbers)
    settings = built_corpus(tmp_path, use_encoder, {"fund": f"# 基金\n\n{fund}", "estate": f"# 园区\n\n{other}"})
    assistant = Assistant(settings)
    passages = assistant.search("技术复苏基金支持企业中试验证和工程化开发", k=3).passages
    bound = MERGED_CHUNKS * settings.chunk_chars
    lengths = [len(p.text) for p in passages if p.doc_id == "fund"]
    assert all(length <= bound for length in lengths), lengths
    # The fund's section is ~1,400 characters of chunks that all match: a passage grows past two chunks.
    assert max(lengths) > 2 * settings.chunk_chars, lengths


def test_the_named_documents_definition_of_the_term_asked_about_is_found_and_lifted(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The defining article lists kinds of entity and shares little with the question beyond the term;
    # the articles that use the term share more.
    uses = "".join(
        f"第{n}条 市场主体办理{what}登记的，登记机关应当在三个工作日内予以登记并公示。\n\n"
        for n, what in zip("三四五六七八", ["设立", "变更", "注销", "备案", "年度", "分支"], strict=True)
    )
    regulation = (
        "# 示范市场主体登记条例\n\n"
        "第二条 本条例所称市场主体，是指以营利为目的从事经营活动的下列自然人、法人及非法人组织："
        "（一）公司、非公司企业法人及其分支机构；（二）个人独资企业、合伙企业；（三）个体工商户。\n\n" + uses
    )
    other = "# 示范广告条例\n\n第二条 本条例所称广告代言人，是指广告主以外的，在广告中推荐商品的自然人。"
    question = "《示范市场主体登记条例》所称的市场主体是指什么？"
    ranks = {}
    for bonus in (0.0, 0.2):
        folder = tmp_path / str(bonus)
        folder.mkdir()
        # The question without the regulation's name already finds the definition here: off, to
        # see the bonus alone.
        settings = built_corpus(
            folder, use_encoder, {"entities": regulation, "ads": other}, definition_bonus=bonus, name_free_weight=0.0
        )
        ranked = Assistant(settings, encoder=use_encoder, auto_build=False).search(question, k=8).passages
        ranks[bonus] = next(i for i, p in enumerate(ranked) if p.section.endswith("第二条") and "市场主体" in p.text)
    assert ranks[0.2] == 0, ranks
    assert ranks[0.0] > 0, "the case needs the articles using the term to rank above the definition alone"


def test_an_english_term_asked_about_is_matched_to_the_term_its_document_defines_by_meaning(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    uses = "".join(
        f"第{n}条 商用密码产品的{what}，应当经国家密码管理机构批准，并接受其监督检查。\n\n"
        for n, what in zip("三四五六七八", ["研制", "生产", "销售", "进口", "出口", "使用"], strict=True)
    )
    regulation = (
        "# 示范商用密码管理条例\n\n"
        "第二条 本条例所称商用密码，是指对信息进行加密保护或者安全认证所使用的密码技术和密码产品。\n\n"
        "第九条 本条例所称商用车辆，是指运送密码产品的货车和客车。\n\n" + uses
    )
    settings = built_corpus(tmp_path, use_encoder, {"crypto": regulation})
    retriever = Assistant(settings, encoder=use_encoder, auto_build=False).retriever
    query = Assistant(settings, encoder=use_encoder, auto_build=False).prepare(
        "How does the Model Commercial Cryptography Regulation define 'commercial cryptography'?"
    )
    # The dictionary renders "commercial" 商业 and "cryptography" 密码学: the term is found by its meaning.
    rows = retriever._definitions_asked(query, ["crypto"], None)
    texts = [retriever.index.chunks[row].text for row in rows]
    assert texts and all("本条例所称商用密码" in text for text in texts), texts
    # A term the question writes out in Chinese is the one asked about, whatever its English words' meaning.
    written = Assistant(settings, encoder=use_encoder, auto_build=False).prepare(
        "How does the Model Commercial Cryptography Regulation define 'encryption carriers' (商用车辆)?"
    )
    texts = [retriever.index.chunks[row].text for row in retriever._definitions_asked(written, ["crypto"], None)]
    assert texts and all("本条例所称商用车辆" in text for text in texts), texts


def test_a_local_copy_of_a_national_article_yields_unless_the_question_names_its_place(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "national": "# 中华人民共和国促进科技成果转化法\n\n"
        "（2015年8月29日第十二届全国人民代表大会常务委员会第十六次会议修正）\n\n"
        "第二十一条 国家设立的研究开发机构、高等院校应当向其主管部门提交科技成果转化情况年度报告。",
        "henan": "# 河南省促进科技成果转化条例\n\n"
        "（2001年5月25日河南省第九届人民代表大会常务委员会第二十二次会议通过）\n\n"
        "第二十三条 国家设立的研究开发机构、高等院校应当向其主管部门提交上一年度科技成果转化情况报告。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    assert Assistant(settings, encoder=use_encoder).index.documents["henan"].kind == "local_regulation"

    def scores(question: str, penalty: float) -> dict[str, float]:
        return _scores(settings, use_encoder, question, 2, unplaced_local_penalty=penalty)

    unplaced = "国家设立的研究开发机构、高等院校要向主管部门提交什么报告？"
    without, with_penalty = scores(unplaced, 0.0), scores(unplaced, 0.05)
    assert with_penalty["henan"] == pytest.approx(without["henan"] - 0.05)
    assert with_penalty["national"] == pytest.approx(without["national"])
    assert max(with_penalty, key=with_penalty.__getitem__) == "national"
    placed = "河南省的研究开发机构、高等院校要向主管部门提交什么报告？"
    assert scores(placed, 0.05) == pytest.approx(scores(placed, 0.0))


def test_another_regions_local_regulation_yields_when_the_question_names_a_place(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "zhumadian": local_regulation(
            "驻马店市城市市容和环境卫生管理条例",
            "驻马店市第四届",
            "第十四条 封闭阳台、安装防盗窗不得超出建筑物设计外沿。",
        ),
        "xuchang": local_regulation(
            "许昌市城市市容和环境卫生管理条例",
            "许昌市第七届",
            "第十五条 封闭阳台、安装防盗窗的，不得超出建筑物的设计外沿。",
        ),
        "henan": local_regulation(
            "河南省城市市容和环境卫生管理条例", "河南省第十三届", "第十条 封闭阳台不得超出建筑物外墙。"
        ),
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    documents = Assistant(settings, encoder=use_encoder).index.documents.values()
    assert {(d.kind, d.metadata.get("region")) for d in documents} == {
        ("local_regulation", "驻马店"),
        ("local_regulation", "许昌"),
        ("local_regulation", "河南"),
    }

    def scores(question: str, penalty: float) -> dict[str, float]:
        return _scores(settings, use_encoder, question, 3, other_region_penalty=penalty)

    question = "In Zhumadian, may a resident enclose a balcony beyond the building's designed outer edge?"
    without, with_penalty = scores(question, 0.0), scores(question, 0.1)
    assert with_penalty["xuchang"] == pytest.approx(without["xuchang"] - 0.1)  # another city's copy
    assert with_penalty["zhumadian"] == pytest.approx(without["zhumadian"])
    assert with_penalty["henan"] == pytest.approx(without["henan"])  # Henan's law is in force in Zhumadian
    unplaced = "May a resident enclose a balcony beyond the building's designed outer edge?"
    assert scores(unplaced, 0.1) == pytest.approx(scores(unplaced, 0.0))


def test_a_pair_of_words_is_found_rendered_in_a_row_not_apart() -> None:
    assert rendered_in_a_row("lawful rights").search("损害旅游者合法权益的")  # type: ignore[union-attr]
    assert not rendered_in_a_row("lawful rights").search("合法经营，维护权益")  # type: ignore[union-attr]
    assert rendered_in_a_row("minimum wage").search("最低工资标准")  # type: ignore[union-attr]
    assert rendered_in_a_row("zzqx wibble") is None  # nothing the dictionary renders


def test_a_passage_saying_the_questions_word_pairs_in_a_row_is_lifted(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "liability": "第六十五条 旅行社违反本条例的规定，损害旅游者合法权益的，应当承担相应的民事责任。",
        "complaints": "第三十条 旅游者的权益受到损害的，可以向旅游主管部门投诉，旅行社应当合法经营。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    question = "What liability does a travel agency bear when it harms tourists' lawful rights?"
    patterns = pairs_in_a_row(question)

    without, with_bonus = (_scores(settings, use_encoder, question, 2, proximity_bonus=b) for b in (0.0, 0.2))
    for doc_id, text in files.items():
        share = sum(1 for p in patterns if p.search(text)) / len(patterns)
        assert with_bonus[doc_id] == pytest.approx(without[doc_id] + 0.2 * share)
    assert with_bonus["liability"] - without["liability"] > with_bonus["complaints"] - without["complaints"]
    # A Chinese question has no English pairs: nothing changes.
    chinese = "旅行社损害旅游者合法权益要承担什么责任？"
    lifted, plain = (_scores(settings, use_encoder, chinese, 2, proximity_bonus=b) for b in (0.2, 0.0))
    assert lifted == plain


def test_a_place_named_in_a_laws_passage_earns_no_glossary_bonus(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "taizhou": local_regulation(
            "台州市电梯安全管理规定",
            "台州市第五届",
            "第三十条 维护保养单位接到电梯乘客被困的报警后，应当在三十分钟内到达现场并实施救援。",
        ),
        "zhejiang": local_regulation(
            "浙江省旅游条例",
            "浙江省第十二届",
            "第四十八条 本条例自2016年1月1日起施行。《浙江省旅游管理条例》同时废止。",
        ),
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    question = "In Taizhou, Zhejiang, how fast must the elevator maintenance company arrive when people are trapped?"
    assert "浙江" in Assistant(settings, encoder=use_encoder).prepare(question).glossary_terms
    without, with_bonus = (_scores(settings, use_encoder, question, 2, glossary_bonus=b) for b in (0.0, 0.2))
    # Zhejiang's tourism regulation names 浙江 three times and says nothing of lifts: no bonus for it.
    assert with_bonus["zhejiang"] == pytest.approx(without["zhejiang"])
    assert with_bonus["taizhou"] == pytest.approx(without["taizhou"])


def test_a_national_rule_whose_title_names_the_place_asked_about_is_lifted_as_its_laws_are(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "taiwan": "# 最高人民法院关于认可和执行台湾地区仲裁裁决的规定\n\n"
        "第十三条 人民法院应当尽快审查认可仲裁裁决的申请，决定予以认可的，应当在立案之日起两个月内作出裁定。",
        "enforcement": "# 最高人民法院关于人民法院执行工作若干问题的规定\n\n"
        "第十条 人民法院应当尽快审查执行仲裁裁决的申请，并在立案之日起两个月内作出裁定。",
        "ningbo": "# 宁波杭州湾新区条例\n\n"
        "（2015年1月14日宁波市第十四届人民代表大会常务委员会第十九次会议通过）\n\n"
        "第十条 新区管理委员会应当尽快审查投资项目申请，并在受理之日起两个月内作出决定。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    question = "How long does a court have to rule on an application to recognise a Taiwan arbitral award?"
    without, with_bonus = (_scores(settings, use_encoder, question, 3, region_bonus=b) for b in (0.0, 0.12))
    assert with_bonus["taiwan"] == pytest.approx(without["taiwan"] + 0.12)
    assert with_bonus["enforcement"] == pytest.approx(without["enforcement"])
    # Hangzhou's name in a Ningbo title is no regulation of Hangzhou.
    hangzhou = "How long does Hangzhou take to decide on an investment project application?"
    without, with_bonus = (_scores(settings, use_encoder, hangzhou, 3, region_bonus=b) for b in (0.0, 0.12))
    assert with_bonus["ningbo"] == pytest.approx(without["ningbo"])


def test_a_text_outside_the_law_that_discusses_the_place_asked_about_is_lifted_as_its_laws_are(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "地方创新模式": "# 地方创新模式\n\n浙江模式的特点在于充分发挥市场机制作用。\n\n合肥模式以政府引导为主。",
        "浙江省示范河道条例": "# 浙江省示范河道条例\n\n第一条 本省河道划分为省级、市级、县级河道。",
        "示范安徽交通条例": "# 示范交通条例\n\n第一条 往来香港、澳门的车辆，应当依法办理通行手续。",
    }
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for stem, text in files.items():
        (corpus / f"{stem}.txt").write_text(text, encoding="utf-8")
    # Sidecars give the kinds a law collection's folders give.
    (corpus / "浙江省示范河道条例.meta.json").write_text('{"kind": "local_regulation", "region": "浙江"}')
    (corpus / "示范安徽交通条例.meta.json").write_text('{"kind": "department_rule"}')
    (corpus / "地方创新模式.meta.json").write_text('{"kind": "paper"}')
    # Only the lift: another region's local law lowered for a question naming a place would count
    # everything else as lifted.
    settings = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index", other_region_penalty=0.0)
    build_index(settings, use_encoder)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    retriever = assistant.retriever

    def lifted(question: str) -> set[str]:
        query = assistant.prepare(question)
        no_names = np.zeros(len(assistant.index.documents), dtype=np.float32)
        titles = np.zeros(len(assistant.index.documents), dtype=np.float32)
        bonus = retriever._document_bonus(query, no_names, titles)
        ids = sorted(assistant.index.documents)
        return {assistant.index.documents[ids[i]].title for i in np.flatnonzero(bonus > bonus.min())}

    # The regulation is Zhejiang's by its title; the essay names 浙江 in its text.
    assert lifted("What is special about the Zhejiang model?") == {"地方创新模式", "浙江省示范河道条例"}
    # A legal text that names a place is not that place's: its place is its jurisdiction.
    assert "示范交通条例" not in lifted("澳门的公务员试用期是多久？")


def test_an_english_passages_match_of_the_questions_own_words_leaves_chinese_bm25_its_scale(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The paper's English summary holds the English question's own words; the Chinese passage
    # holds their renderings. In one BM25 scale whichever scored higher set the best score and the
    # other's share of it shrank (at the library, the summary's many words crushed every Chinese
    # passage); each language's part now has its own best.
    files = {
        "summary": "Summary\n\nThis paper studies how the government can support technology transfer by "
        "universities, how universities can support technology transfer, and how government policy can "
        "support technology transfer by universities in industry.",
        "answer": "第三章 职责\n\n政府应当支持高等院校的科技成果转化，完善技术转移政策。",
        "other": "第一章 总则\n\n本办法所称的农产品，是指来源于农业的初级产品。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    question = "How can the government support technology transfer by universities?"
    shares = {p.doc_id: p.lexical_score for p in assistant.search(question, k=3).passages}
    assert shares["summary"] == pytest.approx(1.0)
    assert shares["answer"] == pytest.approx(1.0)
    assert shares.get("other", 0.0) < 0.5


def test_a_place_is_rendered_by_its_chinese_name_not_by_the_vocabulary_matchers_guesses(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The encoder knows "Hefei" only by its letters' pieces: its nearest corpus words are about
    # fertiliser (肥沃, 粪肥). The place's name (合肥) and words holding it (合肥市) stay.
    settings = built_corpus(
        tmp_path,
        use_encoder,
        {
            "hefei": "# 合肥市科技创新条例\n\n第一条 合肥市支持大科学装置建设。",
            "soil": "# 示范市耕地保护条例\n\n第二条 保持土壤肥沃，鼓励施用粪肥和有机肥。",
        },
    )
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    question = "What does Hefei's regulation support?"
    guessed = {
        term
        for phrase, term, _ in assistant._current().preparer._matcher.matches_by_phrase(question)
        if phrase == "hefei's"
    }
    assert guessed & {"肥沃", "粪肥", "有机肥"}, "the case needs the matcher to guess wrong"
    rendered = set(flat_tokens(assistant.prepare(question).lexical))
    assert "合肥" in rendered and not rendered & {"肥沃", "粪肥", "有机肥"}


def test_a_phrase_naming_a_place_keeps_only_matches_that_hold_that_places_name() -> None:
    # "Chaozhou's built-up" lies near 衢州市 and 胶州市 to the encoder: other cities' rules would rank.
    places = chinese_names_by_english()
    assert _holds_places_of("chaozhou's built-up", "潮州市", places)
    assert not _holds_places_of("chaozhou's built-up", "衢州市", places)
    assert not _holds_places_of("hefei's", "肥沃", places)
    assert _holds_places_of("built-up urban", "城市用地", places)  # no place named, nothing asked


def test_a_laws_purpose_article_yields_unless_the_question_asks_its_purpose(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    others = "".join(
        f"第{n}条 市人民政府应当在{what}等方面支持人工智能企业，相关单位应当予以配合，依法提供便利。\n\n"
        for n, what in zip("二三四五", ["资金", "用地", "人才", "数据"], strict=True)
    )
    regulation = (
        "# 示范人工智能产业促进条例\n\n"
        "第一条 为了促进人工智能产业发展，明确人工智能产业的主管部门及其职责，制定本条例。\n\n"
        + others
        + "第六条 市工业和信息化部门负责统筹推进本市人工智能产业发展工作。"
    )
    settings = built_corpus(tmp_path, use_encoder, {"ai": regulation})

    def scores(question: str) -> dict[str, float]:
        assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
        return {p.section: p.score for p in assistant.search(question, k=6).passages}

    competent = "Which department is the competent authority for the AI industry under the Model AI Regulation?"
    purpose = "What is the purpose of the Model AI Industry Promotion Regulation?"
    penalised = {question: scores(question) for question in (competent, purpose)}
    monkeypatch.setattr(retrieve_module, "PURPOSE_PENALTY", 0.0)
    plain = {question: scores(question) for question in (competent, purpose)}
    # The first article, which says why the regulation was made, yields; the answer does not move.
    assert penalised[competent]["第一条"] == pytest.approx(plain[competent]["第一条"] - 0.05)
    assert penalised[competent]["第六条"] == pytest.approx(plain[competent]["第六条"])
    # A question about the regulation's purpose is answered there.
    assert penalised[purpose]["第一条"] == pytest.approx(plain[purpose]["第一条"])


def test_the_singled_out_documents_title_terms_tell_none_of_its_passages_apart(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    """深度融合 and 产业创新 name the paper asked about; the passage that answers repeats neither."""
    paper = (
        "科技创新和产业创新深度融合的政策需求与实践路径\n\n"
        "一、问题的提出\n\n推动科技创新和产业创新深度融合是建设现代化产业体系的迫切需要，本文研究科技创新和产业创新深度融合的政策需求。\n\n"
        "二、深度融合的内涵\n\n科技创新和产业创新深度融合的内涵包括主体融合、要素融合和制度融合，深度融合需要政策支持。\n\n"
        "三、深度融合的堵点\n\n科技成果转化率低是突出问题。2024年，中国科技成果转化率为30%左右，远低于发达国家50%—70%的水平。"
    )
    law = (
        "中华人民共和国促进科技成果转化法\n\n第一条 为了促进科技成果转化为现实生产力，制定本法。\n\n"
        "第二条 科技成果转化应当尊重市场规律。"
    )
    files = {"paper": paper, "law": law}
    settings = built_corpus(tmp_path, use_encoder, files, {"paper": {"kind": "paper"}}, chunk_chars=80)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    question = (
        "According to the paper on the deep integration of sci-tech and industrial innovation, "
        "what is China's rate of converting S&T achievements?"
    )
    assert {"深度融合", "产业创新"} <= set(assistant.prepare(question).glossary_terms)
    best = assistant.search(question, k=3).passages[0]
    assert "30%左右" in best.text


def _wild_animals_and_forests(wildlife_title: str) -> dict[str, str]:
    """A wildlife text whose articles restate its title but one, on eating them, and a forest law."""
    kind = "本法" if wildlife_title.endswith("法") else "本条例"
    return {
        wildlife_title: (
            f"# {wildlife_title}\n\n"
            f"第一条 为了保护野生动物，拯救珍贵、濒危野生动物，维护生物多样性和生态平衡，制定{kind}。\n\n"
            "第六条 任何组织和个人有保护野生动物及其栖息地的义务。社会公众应当增强保护野生动物的意识。\n\n"
            "第三十一条 禁止食用国家重点保护野生动物和其他陆生野生动物。禁止以食用为目的猎捕、交易、运输野生动物。"
        ),
        "森林法": (
            "# 森林法\n\n第一条 为了践行绿水青山就是金山银山理念，保护森林资源，制定本法。\n\n"
            "第二条 在中华人民共和国领域内从事森林保护活动，适用本法。\n\n"
            "第三条 保护、培育、利用森林资源应当尊重自然、顺应自然。"
        ),
    }


def test_inside_a_named_document_the_question_is_scored_without_its_name(tmp_path: Path, use_encoder: Encoder) -> None:
    settings = built_corpus(tmp_path, use_encoder, _wild_animals_and_forests("野生动物保护法"))
    question = "Does the Wild Animal Protection Law allow people to eat wild animals?"

    def passages(weight: float) -> dict[tuple[str, str], float]:
        # The question's own vector, unmapped (the query map moves it too): the name's effect alone.
        unmapped = settings.replace(name_free_weight=weight, query_map_weight=0.0)
        assistant = Assistant(unmapped, encoder=use_encoder, auto_build=False)
        found = assistant.search(question, k=6).passages
        return {(p.doc_id, p.section): p.score for p in found}

    whole, without_name = passages(0.0), passages(1.0)
    assert set(whole) == set(without_name) and len(whole) == 6
    named = [key for key in whole if key[0] == "野生动物保护法"]
    # Another document's passages keep their scores; the named one's keep their mean.
    assert all(without_name[key] == pytest.approx(whole[key]) for key in whole if key not in named)
    assert sum(without_name[key] for key in named) == pytest.approx(sum(whole[key] for key in named))
    assert without_name != pytest.approx(whole)
    # Without the name, the question is nearer the article on eating and farther from those that
    # restate the law's title.
    answering = ("野生动物保护法", "第三十一条")
    assert without_name[answering] > whole[answering]
    assert all(without_name[key] < whole[key] for key in named if key != answering)


def test_inside_a_described_document_the_question_is_scored_without_its_description(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    settings = built_corpus(tmp_path, use_encoder, _wild_animals_and_forests("野生动物保护条例"))
    question = "Under the State Council regulation on protecting wild animals, may people eat them?"
    assert described_documents(question) == ["State Council regulation on protecting wild animals"]

    def passages(weight: float) -> dict[tuple[str, str], float]:
        unmapped = settings.replace(name_free_weight=weight, query_map_weight=0.0)
        assistant = Assistant(unmapped, encoder=use_encoder, auto_build=False)
        return {(p.doc_id, p.section): p.score for p in assistant.search(question, k=6).passages}

    whole, without_description = passages(0.0), passages(1.0)
    # The description says which document; inside it, the rest of the question finds the article on eating.
    answering = ("野生动物保护条例", "第三十一条")
    assert without_description[answering] > whole[answering]


def test_the_one_document_named_keeps_a_place_among_the_first_passages(tmp_path: Path, use_encoder: Encoder) -> None:
    banking = "第八条 设立{}的注册资本最低限额为十亿元人民币，注册资本应当是实缴资本。"
    files = {
        f"示范{name}条例": f"# 示范{name}条例\n\n" + banking.format(name)
        for name in ("外资银行", "商业银行", "保险公司", "证券公司", "期货公司", "支付机构")
    }
    files["示范对外劳务合作条例"] = (
        "# 示范对外劳务合作条例\n\n第六条 从事对外劳务合作的企业应当缴存不低于300万元的风险处置备用金。"
    )
    settings = built_corpus(tmp_path, use_encoder, files)
    question = "《示范对外劳务合作条例》对注册资本最低限额和实缴资本有什么要求？"

    def rank_of_named(named_rank: int) -> int:
        # Without the named document's lift, the banking rules' words outscore it.
        unlifted = settings.replace(named_bonus=0.0, named_rank=named_rank)
        found = Assistant(unlifted, encoder=use_encoder, auto_build=False).search(question, k=7).passages
        return next(i for i, p in enumerate(found, start=1) if p.doc_id == "示范对外劳务合作条例")

    assert rank_of_named(0) > 3
    assert rank_of_named(3) == 3
    assert rank_of_named(1) == 1


def test_a_question_naming_no_year_lowers_a_titles_earlier_versions(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        f"示范野生动物保护条例({date})": (
            "# 示范野生动物保护条例\n\n第一条 为了保护野生动物，制定本条例。\n\n"
            f"第二条 本条例适用于本省的野生动物保护活动。\n\n第三十一条 禁止食用{what}。"
        )
        for date, what in (("2018-10-26", "重点保护野生动物"), ("2022-12-30", "重点保护野生动物和其他陆生野生动物"))
    }
    settings = built_corpus(tmp_path, use_encoder, files)

    def scores(question: str, penalty: float) -> dict[str, float]:
        assistant = Assistant(settings.replace(superseded_penalty=penalty), encoder=use_encoder, auto_build=False)
        found = assistant.search(question, k=6).passages
        return {p.doc_id: p.score for p in found if p.section.endswith("第三十一条")}

    question = "哪些野生动物禁止食用？"
    plain, lowered = scores(question, 0.0), scores(question, 0.05)
    earlier, later = "示范野生动物保护条例(2018-10-26)", "示范野生动物保护条例(2022-12-30)"
    assert set(plain) == set(lowered) == {earlier, later}
    assert lowered[earlier] == pytest.approx(plain[earlier] - 0.05)
    assert lowered[later] == pytest.approx(plain[later])
    # A question that names a year may ask about an earlier text: no version is lowered.
    with_year = "2019年时，哪些野生动物禁止食用？"
    assert scores(with_year, 0.05) == pytest.approx(scores(with_year, 0.0))


def test_the_books_of_one_code_are_parts_not_versions() -> None:
    code = "中华人民共和国民法典"
    titles = [code, code, code, "示范条例", "示范条例"]
    years = [2021, 2020, 2021, 2018, 2022]
    # 总则 opens at 第一条, 婚姻家庭编 at 第一千零四十条, 侵权责任编 at 第一千一百六十四条: no book is
    # an earlier version of another. The regulation's two versions both open at 第一条.
    first_articles = [1, 1040, 1164, 1, 1]
    assert retrieve_module._superseded(titles, years, first_articles).tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_a_rendering_the_corpus_says_only_inside_compounds_brings_them(tmp_path: Path, use_encoder: Encoder) -> None:
    settings = built_corpus(
        tmp_path,
        use_encoder,
        {
            "paper": "# 示范论文\n\n2024年7月，党的二十届三中全会审议通过的决定指出，推动科技创新和产业创新融合发展。",
            "rules": "# 示范会议规则\n\n第三十条 决策草案应当经常务会议或者全体会议讨论。",
        },
    )
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    question = "What did the Third Plenary Session decision say about linking science and industry?"
    # CC-CEDICT renders "plenary session" 全会, which stands in the paper only inside 三中全会.
    rendered = dict(assistant.prepare(question).renderings)["plenary session"]
    assert "全会" in rendered and "三中全会" in rendered
    alone = Assistant(settings.replace(compounds_per_rendering=0), encoder=use_encoder, auto_build=False)
    assert "三中全会" not in dict(alone.prepare(question).renderings)["plenary session"]
    assert assistant.search(question, 1).passages[0].title == "示范论文"


def test_the_document_a_cue_singles_out_most_clearly_is_searched_alone(tmp_path: Path, use_encoder: Encoder) -> None:
    """Patent laws come next to "the paper" by title: their articles may fill the cued documents' shared cut-off."""
    files = {
        f"patent-{i}": f"# 中华人民共和国专利法实施细则{i}\n\n第{i + 1}条 企业专利权人应当配备专业人才。"
        for i in range(4)
    }
    files["paper"] = "# 科技创新与产业创新\n\n调查显示，近半数受访企业表示高端专业人才不足。"
    settings = built_corpus(tmp_path, use_encoder, files, {"paper": {"kind": "paper"}})
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    store = assistant.retriever.store
    searched: list[tuple[str, ...]] = []
    for method in ("dense", "lexical"):
        real = getattr(store, method)

        def recording(*args: object, _real: Callable[..., Any] = real, **kwargs: object) -> Any:
            documents = args[3] if len(args) > 3 else kwargs.get("documents")
            searched.append(tuple(sorted(documents)) if documents else ())
            return _real(*args, **kwargs)

        setattr(store, method, recording)
    assistant.search("According to the paper, how many companies that hold patents lack specialists?", k=2)
    cued_together = [group for group in searched if "paper" in group and len(group) > 1]
    assert cued_together, "the patent laws are cued with the paper"
    assert searched.count(("paper",)) == 2  # dense and BM25, the paper alone
    # A question that singles out no document more clearly than the others searches no document alone.
    searched.clear()
    assistant.search("企业专利权人应当配备什么人才？", k=2)
    assert all(len(group) != 1 for group in searched)


def test_the_law_in_force_at_the_place_asked_about_keeps_a_place_among_the_first(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # National rules on internet cafés near schools, one a file; the city's rule on conduct says in one
    # sentence among others how far from a school one may open.
    duties = [
        "应当距离中学、小学校园周边一定距离，具体距离由省级人民政府规定",
        "不得在中学、小学校园周边开设，已开设的应当限期迁出",
        "不得接纳未成年人进入营业场所，并在入口处悬挂未成年人禁入标志",
        "在中学、小学校园周边设立的，由文化行政部门责令关闭",
        "应当每日核对上网消费者的身份证件，不得接纳中小学生",
        "距离学校过近的，不予批准设立",
    ]
    files = {
        f"national{n}": f"# 互联网上网服务营业场所管理规定{n}\n\n第{n + 1}条 互联网上网服务营业场所{duty}。"
        for n, duty in enumerate(duties)
    }
    files["jining"] = local_regulation(
        "济宁市文明行为促进条例",
        "济宁市第十七届",
        "第二十一条 公民应当尊师重教，协助教师做好学生的教育培养，不得以任何方式干扰教育教学秩序，"
        "不得在校园内外辱骂、殴打教师。不得在中小学校园周边200米内开设互联网上网服务营业场所。",
    )
    national = {f"national{n}": {"kind": "administrative_regulation"} for n in range(len(duties))}
    settings = built_corpus(tmp_path, use_encoder, files, national)
    question = "Does Jining have any rule on how close an internet café may be to a primary or secondary school?"
    # Ranked by meaning alone, as where national law matches the question far better than the city's.
    by_meaning = settings.replace(lexical_weight=0.0, title_weight=0.0, region_bonus=0.0)

    def rank_of_jining(named_rank: int) -> int:
        assistant = Assistant(by_meaning.replace(named_rank=named_rank), encoder=use_encoder, auto_build=False)
        return [p.doc_id for p in assistant.search(question, k=10).passages].index("jining") + 1

    assert rank_of_jining(0) > 3  # without the rule, national rules fill the first places
    assert rank_of_jining(3) <= 3
    # A question naming no place is left as it ranks.
    unplaced = "How close to a primary or secondary school may an internet café open?"
    placed, unranked = (
        Assistant(by_meaning.replace(named_rank=rank), encoder=use_encoder, auto_build=False) for rank in (3, 0)
    )
    assert [p.chunk_id for p in placed.search(unplaced, k=5).passages] == [
        p.chunk_id for p in unranked.search(unplaced, k=5).passages
    ]


def test_a_title_word_sounding_like_a_name_in_pinyin_renders_it() -> None:
    sounds = SoundIndex(["山东省胶东调水条例", "绍兴会稽山古香榧群保护规定", "山东省水资源条例"])
    assert sounds.words_sounding("Jiaodong") == ["胶东"]
    assert sounds.words_sounding("Kuaiji") == ["会稽山"]  # the mountain's name, without "Mountain"
    assert sounds.words_sounding("Pudong") == []


def test_an_english_question_naming_a_place_in_pinyin_finds_its_regulation(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # No dictionary lists 胶东; the document about it says it in its title, and BM25 then finds it.
    files = {
        "jiaodong": "# 示范省胶东调水条例\n\n第十八条 调水水质应当符合国家规定的地表水环境质量标准。",
        "water": "# 示范省水资源条例\n\n第十八条 供水水质应当符合国家规定的生活饮用水卫生标准。",
        "saving": "# 示范省节约用水条例\n\n第十一条 用水单位应当提高水质标准，满足用水需求。",
    }
    assistant = Assistant(built_corpus(tmp_path, use_encoder, files), encoder=use_encoder, auto_build=False)
    question = "What water quality is required for the Jiaodong water diversion project?"
    query = assistant.prepare(question)
    assert "胶东" in flat_tokens(query.lexical)
    assert assistant.search(question).passages[0].doc_id == "jiaodong"
    assert "胶东" not in flat_tokens(assistant.prepare("What water quality is required?").lexical)
