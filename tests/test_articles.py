"""Document-level retrieval evidence: articles a question names, identical passages, document centroids."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import MINI_DIR, built_assistant

from policyqa import Assistant, Settings
from policyqa.articles import (
    article_of,
    articles_named,
    asks_for_penalty,
    asks_what_article_says,
    chinese_number,
    cited_articles,
    violated_articles,
)
from policyqa.embed import Encoder
from policyqa.verify import unsupported_reason


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("一百", 100),
        ("一百零五", 105),
        ("一百二十", 120),
        ("两千", 2000),
        ("120", 120),
        ("１２", 12),
    ],
)
def test_chinese_numerals_as_articles_are_numbered(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


def test_a_word_that_is_no_numeral_has_no_value() -> None:
    assert chinese_number("若干") is None


def test_articles_named_in_both_languages() -> None:
    assert articles_named("《个人信息保护法》第九十条规定了什么？") == (90,)
    assert articles_named("What do Article 12 and art. 5 of the Patent Law say? And article 12 again?") == (12, 5)
    assert articles_named("What does the paper recommend?") == ()


def test_the_article_a_section_path_ends_in() -> None:
    assert article_of("第二章  组织实施 > 第二十三条") == 23
    assert article_of("三、政策需求") is None


@pytest.mark.parametrize(
    ("text", "articles"),
    [
        ("第四十九条 违反本条例第四十条第一款规定的，由城市管理部门责令改正", (40,)),
        ("违反本法第十条、第十一条规定，处五万元以下罚款", (10, 11)),
        ("违反第八条规定，擅自设置的，没收设施", (8,)),
        # Another law's article, and a breach named by no article, are no article of this one.
        ("违反《中华人民共和国森林法》第十条规定的，依照其规定处罚", ()),
        ("违反本条例规定，未按时报送的，责令改正", ()),
    ],
)
def test_the_articles_a_penalty_article_punishes_breaking(text: str, articles: tuple[int, ...]) -> None:
    assert violated_articles(text) == articles


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("在河南，导游找游客要小费，会受到什么处罚？", True),
        ("做生意的和自己吃的分别怎么罚？", True),
        ("What happens in Ningbo if a temple keeps open incense burning points?", True),
        ("What penalty does the Accounting Law set for false books?", True),
        ("导游应当具备什么条件？", False),
        ("What does the regulation require of tour guides?", False),
        ("How much is a passenger fined for overloading an elevator?", True),
        ("What does Article 35 say about penalties?", True),
        ("How do the top fines compare between the two laws?", True),
        # A penalty as the matter asked about, not as what befalls a breach.
        ("Once a regulator publishes an administrative penalty, how long does it stay public?", False),
        ("An importer wants to challenge a penalty imposed by the office. What is the deadline?", False),
    ],
)
def test_a_question_asking_what_befalls_a_breach(question: str, asks: bool) -> None:
    assert asks_for_penalty(question) is asks


def _reason(assistant: Assistant, question: str) -> str | None:
    query = assistant.prepare(question)
    return unsupported_reason(query, assistant.retriever.search(query, 5), assistant.index)


def test_a_named_article_the_law_lacks_is_not_covered(mini_assistant: Assistant) -> None:
    reason = _reason(mini_assistant, "示范市科技成果转化促进条例第九十条规定了什么？")
    assert reason is not None and "90" in reason


def test_an_article_the_named_document_lacks_is_not_covered_by_another_laws_article_of_that_number(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The named regulation stops at its third article; another law's sixtieth is another article.
    files = {
        "academy": "# 示范市行政学院工作条例\n\n第一条 示范市行政学院负责培训公务员。\n\n"
        "第二条 行政学院开展决策咨询。\n\n第三条 行政学院的经费列入财政预算。",
        "penalty": "# 示范市行政处罚办法\n\n第五十八条 行政处罚由违法行为发生地的行政机关管辖。\n\n"
        "第五十九条 行政处罚应当公正、公开。\n\n第六十条 行政机关应当自立案之日起九十日内作出行政处罚决定。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = "《示范市行政学院工作条例》第六十条规定了什么内容？"
    query = assistant.prepare(question)
    passages = assistant.retriever.search(query, 5)
    assert any(p.section.endswith("第六十条") for p in passages), "the other law's article is retrieved"
    named = assistant.retriever.named_documents(question)
    assert named and any(p.doc_id in named[0] for p in passages)
    reason = unsupported_reason(query, passages, assistant.index, named)
    assert reason is not None and "60" in reason
    assert assistant.ask(question).outcome == "not_covered"
    # Its own article is there to be asked about.
    first = "《示范市行政学院工作条例》第三条规定了什么内容？"
    query = assistant.prepare(first)
    passages = assistant.retriever.search(query, 5)
    assert unsupported_reason(query, passages, assistant.index, assistant.retriever.named_documents(first)) is None


def test_the_articles_a_text_cites_by_its_laws_name() -> None:
    assert cited_articles("刑法第一百二十条之一规定的“资助”，是指筹集、提供经费的行为。") == (120,)
    assert cited_articles("依照《铁路法》第十七条、铁路法第十八条的规定") == (17, 18)
    # Its own article's number (a heading) and a bare reference name no law: no citation.
    assert cited_articles("第十七条 承运人应当按期运到。依照第十八条处理。") == ()


def test_a_named_article_an_interpretation_cites_is_covered_by_that_interpretation(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The question names the Criminal Law's article; the interpretation it asks about cites it.
    files = {
        "interpretation": "# 示范法院关于审理资助犯罪案件的解释\n\n"
        "第一条 刑法第一百二十条之一规定的“资助”，是指为有关组织筹集、提供经费、物资或者提供场所的行为。\n\n"
        "第二条 本解释自公布之日起施行。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = "根据示范法院的解释，刑法第一百二十条之一规定的“资助”是指什么？"
    assert _reason(assistant, question) is None
    # An article nothing retrieved holds or cites is still not covered.
    reason = _reason(assistant, "根据示范法院的解释，刑法第三百条规定的“资助”是指什么？")
    assert reason is not None and "300" in reason


def test_a_named_article_the_law_has_is_found_and_covered(mini_assistant: Assistant) -> None:
    question = "示范市科技成果转化促进条例第五条规定了什么？"
    passages = mini_assistant.search(question, k=5).passages
    assert any(p.section.endswith("第五条") for p in passages)
    assert _reason(mini_assistant, question) is None


def test_the_same_words_in_two_documents_are_one_passage(tmp_path: Path, use_encoder: Encoder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI_DIR, corpus)
    law = (MINI_DIR / "model-transfer-regulation.md").read_text(encoding="utf-8")
    article = law[law.index("第四条") : law.index("第五条")].strip()
    # Another city's regulation copies one article word for word, as local rules often do.
    (corpus / "other-city-regulation.md").write_text(
        f"# 另一市科技成果转化条例\n\n第一条 为了规范本市技术市场，制定本条例。\n\n{article}\n", encoding="utf-8"
    )
    assistant = Assistant(Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index"), encoder=use_encoder)
    passages = assistant.search(article[4:40], k=5).passages
    texts = [p.text for p in passages]
    assert len(texts) == len(set(texts))
    assert sum(article[4:40] in t for t in texts) == 1


def test_document_centroids_are_unit_vectors_and_point_at_the_document_on_the_subject(
    mini_assistant: Assistant,
) -> None:
    retriever = mini_assistant.retriever
    centroids = mini_assistant.index.centroid_vectors  # stored by the build, in sorted document id order
    assert centroids is not None
    assert centroids.shape == (len(mini_assistant.index.documents), mini_assistant.encoder.dimension)
    assert abs(float((centroids**2).sum(axis=1).min()) - 1.0) < 1e-4
    question = mini_assistant.prepare("技术成熟度曲线的各个阶段分别需要什么政策？")
    closest = retriever._doc_ids[int((centroids @ question.vector).argmax())]
    assert closest == "tech-maturity-policy"


def test_names_of_an_english_question() -> None:
    from policyqa.verify import english_names

    assert english_names("What role does the European Data Protection Board play under China's law?") == [
        "European Data Protection Board",
        "China's",
    ]
    # A word capitalised because it opens a sentence, a month and a question word are no names.
    assert english_names("Investors pile in. What did the July meeting say?") == []


def test_an_english_name_the_evidence_lacks_is_not_covered_when_names_are_checked(mini_assistant: Assistant) -> None:
    from policyqa.verify import check

    query = mini_assistant.prepare("What does the European Data Protection Board require of technology transfer?")
    passages = mini_assistant.retriever.search(query, 5)
    assert check(query, passages, mini_assistant.index, check_names=False).outcome != "not_covered"
    verdict = check(query, passages, mini_assistant.index, check_names=True)
    assert verdict.outcome == "not_covered" and "European" in (verdict.reason or "")


def test_a_document_name_is_left_to_the_named_document_lift(mini_assistant: Assistant) -> None:
    from policyqa.verify import unnamed_in_evidence

    # Word by word, "Model City Regulations" renders as 模型/城市/条例, absent from the law's text,
    # whose title is 示范市…条例: a document's name is not judged by its words.
    question = "What does the Model City Regulations on Promoting the Transformation of Scientific Achievements say?"
    query = mini_assistant.prepare(question)
    passages = mini_assistant.retriever.search(query, 5)
    assert unnamed_in_evidence(query, passages, mini_assistant.index) is None
    other = mini_assistant.prepare("What does the Model City Board require of technology transfer?")
    assert unnamed_in_evidence(other, mini_assistant.retriever.search(other, 5), mini_assistant.index) is not None


def test_an_article_numbered_past_a_thousand_is_found_and_cited(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "侵权责任编": (
            "# 中华人民共和国民法典\n\n# 侵权责任编\n\n## 第一章  一般规定\n\n"
            "第一千一百六十四条 本编调整因侵害民事权益产生的民事关系。\n\n"
            "第一千一百六十五条 行为人因过错侵害他人民事权益造成损害的，应当承担侵权责任。\n\n"
            "第一千一百六十六条 行为人造成他人民事权益损害，不论有无过错，法律规定应当承担侵权责任的，依照其规定。"
        ),
        "labour": (
            "# 中华人民共和国劳动法\n\n第一条 为了保护劳动者的合法权益，制定本法。\n\n"
            "第二条 在中华人民共和国境内的企业和与之形成劳动关系的劳动者，适用本法。\n\n"
            "第三条 劳动者享有平等就业和选择职业的权利。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    chinese = assistant.ask("《民法典》第一千一百六十五条是怎么规定的？")
    assert chinese.outcome == "answered", chinese.answer
    assert chinese.citations[0].section.endswith("第一千一百六十五条"), chinese.citations[0].section
    # The English question shares no word with the article: the article named of the code named comes
    # first all the same, and not without its lift.
    question = "What does Article 1165 of the Civil Code say?"
    english = assistant.ask(question)
    assert english.outcome == "answered", english.answer
    assert english.citations[0].section.endswith("第一千一百六十五条"), english.citations[0].section
    unlifted = Assistant(assistant.settings.replace(named_article_bonus=0.0), encoder=use_encoder, auto_build=False)
    assert not unlifted.ask(question).citations[0].section.endswith("第一千一百六十五条")


@pytest.mark.parametrize(
    ("question", "asks_what_it_says"),
    [
        ("What does Article 188 of the Civil Code say?", True),
        ("What does Article 1079 of the Civil Code provide?", True),
        ("《民法典》第一千零七十九条是怎么规定的？", True),
        ("《劳动合同法》第三十九条规定了什么？", True),
        ("《人民调解法》第四十条对人民调解员的年度培训时长有何规定？", True),
        # An article as a reference: the answer is another article (the penalty, the list of documents).
        ("What fine applies for breaching Article 12 of the Model Regulations?", False),
        ("违反《示范条例》第十二条规定的，处多少罚款？", False),
        ("依照第十二条规定，申请人应当提交哪些材料？", False),
    ],
)
def test_only_a_question_asking_what_an_article_says_puts_that_article_first(
    question: str, asks_what_it_says: bool
) -> None:
    assert asks_what_article_says(question) is asks_what_it_says
