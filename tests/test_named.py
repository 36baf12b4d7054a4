"""Document names in questions (《劳动合同法》, "the Food Safety Law") and the documents they lift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import built_assistant, built_corpus

from policyqa import Assistant
from policyqa import retrieve as retrieve_module
from policyqa.embed import Encoder
from policyqa.lexical import synonym_set
from policyqa.named import (
    IMPLEMENTING_PREFIX,
    KIND_CUES,
    WrittenTitles,
    asks_to_compare,
    described_documents,
    document_names,
    issued_by_the_country,
    kind_endings,
    title_has_ending,
    usual_endings,
    without_document_names,
    without_kind,
    without_owning_issuer,
)
from policyqa.retrieve import DESCRIBED_SHARE_FLOOR, DESCRIBED_TITLE_SEPARATION, Retriever, series_number
from policyqa.types import KIND_PAPER

PATENT_RULES = "Implementing Regulations of the Patent Law"


APPLYING_COMPANY_LAW = "Supreme People's Court Provisions on Applying the Company Law"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        (
            "Under the Administrative Penalty Law, how long can a violation go undetected?",
            ["Administrative Penalty Law"],
        ),
        (
            "How do the consumer protection law and the Food Safety Law differ on punitive damages?",
            ["Food Safety Law", "consumer protection law"],
        ),
        ("What does Article 120 of the Labour Contract Law say?", ["Labour Contract Law"]),
        ("What does the Law on the Protection of Minors require of schools?", ["Law on the Protection of Minors"]),
        # A subject may hold "to" and "by"; after the name they are the question's again.
        (
            "Under the Regulations on Ensuring Payments to Small and Medium-sized Enterprises, what is due?",
            ["Regulations on Ensuring Payments to Small and Medium-sized Enterprises"],
        ),
        (
            "What do the Regulations on Protecting Investment by Taiwan Compatriots say?",
            ["Regulations on Protecting Investment by Taiwan Compatriots"],
        ),
        ("What does the Law on the Protection of Minors say to Beijing parents?", ["Law on the Protection of Minors"]),
        # A link inside a subject may take "the".
        (
            "Under the Law on the Procedure of the Conclusion of Treaties, who signs the instrument?",
            ["Law on the Procedure of the Conclusion of Treaties"],
        ),
        ("《劳动合同法》所称的无固定期限劳动合同是指什么？", ["劳动合同法"]),
        # The country's possessive opens a lower-case name as "the" does; alone it names no law.
        ("What fine does China's personal information law set?", ["personal information law"]),
        ("Does China's law allow it?", []),
        ("What does the relevant law say about it?", []),  # a law in general names none
        ("Which rate applies under these laws?", []),
        ("What steps must the wine go through under the city's protection regulation?", []),
        ("What does the paper recommend?", []),
        # The rules implementing a law, however the question says so, are one name of their own.
        (
            "What is the lowest wage during probation under the implementing regulations of the Labour Contract Law?",
            ["Implementing Regulations of the Labour Contract Law"],
        ),
        ("What do the Regulations for the Implementation of the Patent Law say?", [PATENT_RULES]),
        ("What do the Patent Law's implementing rules say about exhibitions?", [PATENT_RULES]),
        ("Under the Implementing Rules of the Patent Law, what is it?", ["Implementing Rules of the Patent Law"]),
        ("What do the implementing regulations say?", []),  # no law named: nothing to implement
        ("What are the measures implementing the Patent Law about?", [PATENT_RULES]),
        # A region's measures implementing a law: the law's name in 《》 is part of theirs, with the place.
        ("河南省实施《农产品质量安全法》办法是否允许收获农产品？", ["河南省实施《农产品质量安全法》办法"]),
        ("根据河南省实施《农产品质量安全法》办法，谁负责？", ["河南省实施《农产品质量安全法》办法"]),
        ("按照实施《农产品质量安全法》办法，谁负责？", ["实施《农产品质量安全法》办法"]),
        (
            "Under Henan's measures implementing the Organic Law of Urban Residents' Committees, who pays?",
            ["Henan's Measures Implementing the Organic Law of Urban Residents' Committees"],
        ),
        # A court's rules named without 《》, as people shorten them.
        (
            "按照最高法关于审理拒不执行判决、裁定刑事案件的解释，金额达到多少元才算情节严重？",
            ["最高法关于审理拒不执行判决、裁定刑事案件的解释"],
        ),
        (
            "最高法关于审理劳动争议案件的司法解释（三）中，外卖骑手算不算劳动者？",
            ["最高法关于审理劳动争议案件的司法解释（三）"],
        ),
        # Named around the law they apply: one name, the law's in it; the law alone is not asked about.
        (
            "根据最高法关于适用《企业破产法》若干问题的规定（三）第八条，应当在什么期限内起诉？",
            ["最高法关于适用《企业破产法》若干问题的规定（三）"],
        ),
        (
            "《企业破产法》和最高法关于审理企业破产案件的规定有何不同？",
            ["企业破产法", "最高法关于审理企业破产案件的规定"],
        ),
        # A lower-case head after a subject in any case; an issuer and a kind alone name nothing.
        (
            "In Shangqiu, does the ancient city protection regulation require a permit?",
            ["ancient city protection regulation"],
        ),
        (
            "What price does the Ningbo Dongqian Lake tourist resort regulation set?",
            ["Ningbo Dongqian Lake tourist resort regulation"],
        ),
        ("What does the Shenzhen regulation require of an AI company?", []),
        # A subject in capitalised words that are neither a place nor an issuer.
        (
            "What VAT treatment does the Zhengzhou Airport Economy Zone regulation provide?",
            ["Zhengzhou Airport Economy Zone regulation"],
        ),
        ("Under the State Council's regulations on paid annual leave, how many days are given?", []),
        ("What do the Patent Law and the tech transfer law each require?", ["Patent Law", "tech transfer law"]),
        # "the national … Law" against a region's rules implementing it.
        (
            "Under Beijing's rules implementing the national Mine Safety Law, how many hours of training are due?",
            ["Beijing's Rules Implementing the Mine Safety Law"],
        ),
        # A court's rules on applying a law are named around the law's name.
        (
            "Under the Supreme People's Court's second set of provisions on applying the Company Law, who liquidates?",
            ["Supreme People's Court Provisions on Applying the Company Law"],
        ),
        (
            "What does the judicial interpretation of the Labour Contract Law say about non-compete?",
            ["Supreme People's Court Provisions on Applying the Labour Contract Law"],
        ),
        (
            "In a small-claims case under the Supreme People's Court interpretation of the Civil Procedure Law, "
            "how long is the period for producing evidence?",
            ["Supreme People's Court Provisions on Applying the Civil Procedure Law"],
        ),
        ("What does the SPC's interpretation of the Company Law say?", [APPLYING_COMPANY_LAW]),
        # An interpretation no court is said to give may be anyone's reading of the law.
        ("What is the usual interpretation of the Company Law on this?", ["Company Law"]),
        ("What do the provisions of the Company Law say about liquidation?", ["Company Law"]),
        # One of a court's numbered interpretations keeps its number and what it is on.
        (
            "Under the SPC's Interpretation (I) on the Property Rights Book of the Civil Code, how long do I have?",
            ["SPC's Interpretation (I) on the Property Rights Book of the Civil Code"],
        ),
        (
            "Is a nanny a worker under Interpretation (2) on Labour Dispute Cases?",
            ["Interpretation (2) on Labour Dispute Cases"],
        ),
        # Rules "for the implementation of" something that is no law are a title of their own.
        (
            "How long does a stop-payment notice stay effective under the Measures for the Implementation of "
            "Bill Administration?",
            ["Measures for the Implementation of Bill Administration"],
        ),
    ],
)
def test_names_of_documents_are_found_in_both_languages(question: str, names: list[str]) -> None:
    assert document_names(question) == names


@pytest.mark.parametrize(
    ("question", "described"),
    [
        (
            "How does Guangdong's regulation on domestic services define domestic services?",
            ["Guangdong's regulation on domestic services"],
        ),
        (
            "Under Shanghai's regulation on transforming scientific and technological achievements, what share?",
            ["Shanghai's regulation on transforming scientific and technological achievements"],
        ),
        (  # "the" opens no subject; "of" ends none
            "What do the State Council's provisions on the protection of minors say?",
            ["State Council's provisions on protection of minors"],
        ),
        (
            "Under the Supreme People's Court rules on private lending cases, what rate?",
            ["Supreme People's Court rules on private lending cases"],
        ),
        ("What does the Data Security Law say about cars?", []),  # a name, found by document_names
        ("Under the Regulations on the Registration of Market Entities, what?", []),  # likewise
        ("What rules on data apply here?", []),  # no issuer
        ("What does Zhejiang's patent regulation say about licences?", ["Zhejiang's patent regulation"]),
        ("How do the national law and Zhejiang's regulation differ?", []),  # a kind with no subject
        ("What do the rules say about Beijing's parks?", []),
        (  # after do, the clause's last word is its verb
            "What does Guangdong's regulation on domestic services require?",
            ["Guangdong's regulation on domestic services"],
        ),
        (  # a link stands inside a subject, never at its ends
            "Does Shandong's soil and water conservation regulation allow crops on steep slopes?",
            ["Shandong's soil and water conservation regulation"],
        ),
        ("What do Shandong's and Henan's regulations say?", []),
        (  # the issuer's level is no subject
            "What does Guangdong's provincial regulation on domestic services say?",
            ["Guangdong's regulation on domestic services"],
        ),
        ("What does Henan's provincial regulation say about fees?", []),
        (  # a place issues what it describes without a possessive
            "Who is the competent authority under the Shenzhen Special Economic Zone AI industry promotion regulation?",
            ["Shenzhen Special Economic Zone AI industry promotion regulation"],
        ),
        ("What does the Beijing property management regulation require?", []),  # a name, found by document_names
        (  # a Special Economic Zone is a kind of place; a year stands among the issuer's words
            "Under the Shantou Special Economic Zone regulation on preventing and resolving disputes, which routes?",
            ["Shantou Special Economic Zone regulation on preventing and resolving disputes"],
        ),
        (  # a verb that says what the document does to its subject links it
            "Under the State Council's 2017 regulation restricting government office buildings, may agencies borrow?",
            ["State Council's regulation restricting government office buildings"],
        ),
        (  # a subject lists its parts; a comma that opens no list ends it
            "What period do SAMR's rules on repair, replacement and return of cars require?",
            ["SAMR's rules on repair replacement and return of cars"],
        ),
        ("Under Henan's regulation on land use, may local governments sell land?", ["Henan's regulation on land use"]),
        (  # what the document is for stands inside its subject
            "How does the State Council regulation on iodizing salt to eliminate iodine deficiency define it?",
            ["State Council regulation on iodizing salt to eliminate iodine deficiency"],
        ),
        (  # which of a series (若干问题的规定（一）) is no subject, nor in the way of one
            "What does the Supreme People's Court's first set of provisions on online consumer disputes say?",
            ["Supreme People's Court's provisions on online consumer disputes"],
        ),
        (  # how lasting (暂行条例) neither
            "Under the State Council's interim regulations on internet cafés, how close to a school may one open?",
            ["State Council's regulations on internet cafés"],
        ),
        ("What does the Supreme People's Court's first set of provisions say?", []),
        (  # a joined abbreviation stands inside a subject
            "Under Beijing's regulation on promoting the commercialisation of S&T achievements, who may bid?",
            ["Beijing's regulation on promoting the commercialisation of S&T achievements"],
        ),
        ("What do Zhejiang's interim measures say?", []),
        (  # a kind and a subject with no issuer: the country's document
            "Under the regulations on electricity supply and use, how much notice must a supplier give?",
            ["regulations on electricity supply and use"],
        ),
        ("In Beijing, under the regulations on parking, who pays?", []),  # whose, a place leaves open
        ("Under the Regulations on Electricity Supply and Use, what?", []),  # a name, found by document_names
        (  # a subject's links do not count towards its length
            "What counts as renewable energy under Zhejiang's regulation on promoting the development and use of "
            "renewable energy?",
            ["Zhejiang's regulation on promoting the development and use of renewable energy"],
        ),
        (  # "with" links inside a subject as "of" does: persons with disabilities (残疾人)
            "How do the State Council's regulations on education for persons with disabilities define it?",
            ["State Council's regulations on education for persons with disabilities"],
        ),
        (  # "from" links too: exhaust pollution from motor vehicles
            "Under Luohe's regulation on exhaust pollution from motor vehicles and non-road machinery, who pays?",
            ["Luohe's regulation on exhaust pollution from motor vehicles and non-road machinery"],
        ),
        (  # joint issuers joined by a slash; the verb that says what the document does ends its subject
            "What thresholds did the 2013 SPC/SPP interpretation on extortion set for 'huge' amounts?",
            ["SPC/SPP interpretation on extortion"],
        ),
        ("Which fee does Henan's regulation on parking require of drivers?", ["Henan's regulation on parking"]),
        (  # its words do
            "Under Zhejiang's regulation on promoting rural road traffic safety supervision management work now, who?",
            ["Zhejiang's regulation on promoting rural road traffic safety supervision"],
        ),
    ],
)
def test_documents_described_by_issuer_kind_and_subject(question: str, described: list[str]) -> None:
    assert described_documents(question) == described


def _retriever_and_titles(tmp_path: Path, encoder: Encoder, files: dict[str, str]) -> tuple[Retriever, list[str]]:
    """The retriever of a corpus of ``files`` and its documents' titles, in its order."""
    assistant = built_assistant(tmp_path, encoder, files)
    retriever = assistant.retriever
    return retriever, [assistant.index.documents[d].title for d in retriever._doc_ids]


def _lifted(retriever: Retriever, titles: list[str], question: str) -> list[str]:
    """The titles (in the retriever's order) of the documents the question's names lift."""
    return [t for t, n in zip(titles, retriever._named_documents(question), strict=True) if n]


def _similarity(retriever: Retriever, encoder: Encoder, name: str) -> np.ndarray:
    """Each title's similarity to a name embedded alone, in the retriever's order."""
    return retriever._title_vectors @ encoder.encode_documents([name])[0]


def _separation(retriever: Retriever, encoder: Encoder, name: str) -> float:
    """How much nearer a name the nearest title is than the next."""
    similarity = np.sort(_similarity(retriever, encoder, name))
    return float(similarity[-1] - similarity[-2])


def test_a_described_document_is_lifted_only_when_its_title_stands_apart(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "housekeeping": "# 广东省家政服务条例\n\n第二条 本条例所称家政服务，是指家政服务人员进入家庭提供的服务。",
        "market": "# 广东省市场监管条例\n\n第二条 本条例适用于本省行政区域内的市场监管活动。",
        "deposits": "# 最高人民法院关于审理存单纠纷案件的若干规定\n\n第一条 存单纠纷案件的范围。",
        "ip-court": "# 最高人民法院关于知识产权法庭若干问题的规定\n\n第一条 知识产权法庭。",
        "chengyu": "# 最高人民法院关于成渝金融法院案件管辖的规定\n\n第一条 成渝金融法院。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)

    described = "Guangdong's regulation on domestic services"
    assert _separation(retriever, use_encoder, described) >= DESCRIBED_TITLE_SEPARATION
    assert _lifted(retriever, titles, f"How does {described} define domestic services?") == ["广东省家政服务条例"]
    # The court's rules lie close for a subject the encoder renders poorly: neither is taken.
    vague = "Supreme People's Court rules on private lending cases"
    assert _separation(retriever, use_encoder, vague) < DESCRIBED_TITLE_SEPARATION
    assert not np.any(retriever._named_documents(f"Under the {vague}, what rate applies?"))


def test_a_described_document_is_the_nearest_title_when_the_dictionary_renders_most_of_it_there(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "online": "# 最高人民法院关于审理网络消费纠纷案件适用法律若干问题的规定（一）\n\n第一条 格式条款无效。",
        "internet-court": "# 最高人民法院关于互联网法院审理案件若干问题的规定\n\n第一条 互联网法院集中管辖案件。",
        "prepaid": "# 最高人民法院关于审理预付式消费民事纠纷案件适用法律若干问题的解释\n\n第一条 预付式消费。",
        "violations": "# 道路交通安全违法行为处理程序规定\n\n第一条 为了规范道路交通安全违法行为处理程序，制定本规定。",
        "points": "# 道路交通安全违法行为记分管理办法\n\n第一条 为了规范道路交通安全违法行为记分管理，制定本办法。",
        "accidents": "# 道路交通事故处理程序规定\n\n第一条 为了规范道路交通事故处理程序，制定本规定。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    online = "Supreme People's Court's provisions on online consumer disputes"
    # The court's rules lie too close together for the encoder alone to single one out, and the
    # dictionary renders too little of the description in any title to do it alone.
    assert _separation(retriever, use_encoder, online) < DESCRIBED_TITLE_SEPARATION
    assert retriever._title_word_shares(online).max() < DESCRIBED_SHARE_FLOOR
    question = (
        "Which standard terms does the Supreme People's Court's first set of provisions on online consumer "
        "disputes declare void?"
    )
    # Together they do: the nearest title renders "online" (网络) and "disputes" (纠纷), no other as near does.
    assert _lifted(retriever, titles, question) == ["最高人民法院关于审理网络消费纠纷案件适用法律若干问题的规定（一）"]
    # The dictionary renders most of this one in a title the encoder does not put nearest
    # (交通…事故 in a row renders "traffic accidents"): no title is taken on the encoder's word.
    accidents = "Ministry of Public Security's rules on handling road traffic accidents"
    shares = retriever._title_word_shares(accidents)
    assert titles[int(np.argmax(shares))] == "道路交通事故处理程序规定"
    assert titles[int(np.argmax(_similarity(retriever, use_encoder, accidents)))] != "道路交通事故处理程序规定"
    asked = f"Under the {accidents}, how long do police have to issue the determination?"
    assert _lifted(retriever, titles, asked) == []


def test_the_nearest_titles_rendering_none_of_a_names_words_yield_to_one_rendering_them_all(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        title: f"# {title}\n\n第一条 为了{purpose}，制定本条例。"
        for title, purpose in (
            ("中华人民共和国抗旱条例", "预防和减轻干旱灾害"),
            ("中华人民共和国反倾销条例", "维护对外贸易秩序"),
            ("中华人民共和国反补贴条例", "维护对外贸易秩序和公平竞争"),
            ("中华人民共和国防汛条例", "做好防汛抗洪工作"),
        )
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    name = "China's Anti-Subsidy Regulations"
    similarity = _similarity(retriever, use_encoder, name)
    # The encoder puts the drought and anti-dumping regulations nearest; neither says 补贴 ("subsidy").
    assert titles[int(np.argmax(similarity))] != "中华人民共和国反补贴条例"
    question = f"Under {name}, what counts as a de minimis subsidy?"
    assert _lifted(retriever, titles, question) == ["中华人民共和国反补贴条例"]
    # A name whose nearest title renders its words keeps it.
    assert _lifted(retriever, titles, "What does the Anti-Dumping Regulation say?") == ["中华人民共和国反倾销条例"]


def test_the_nearest_titles_rendering_few_of_a_names_words_yield_to_one_rendering_them_all(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        title: f"# {title}\n\n第一条 为了{purpose}，制定本条例。"
        for title, purpose in (
            ("私募投资基金监督管理条例", "规范私募投资基金业务活动"),
            ("住房公积金管理条例", "加强对住房公积金的管理"),
            ("基金会管理条例", "规范基金会的组织和活动"),
        )
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    name = "Regulations on the Administration of Housing Provident Funds"
    # The encoder puts another fund's regulation nearest; of the name it renders only 管理条例.
    nearest = int(np.argmax(_similarity(retriever, use_encoder, name)))
    assert titles[nearest] != "住房公积金管理条例"
    assert retriever._title_word_shares(name)[nearest] < 0.5
    # The State Council owns the regulation; it is no word of the title.
    question = f"How is the management committee composed under the State Council's {name}?"
    assert _lifted(retriever, titles, question) == ["住房公积金管理条例"]


@pytest.mark.parametrize(
    ("name", "bare"),
    [
        (
            "State Council's Regulations on the Administration of Housing Provident Funds",
            "Regulations on the Administration of Housing Provident Funds",
        ),
        ("the Supreme People's Court's Interpretation on Evidence", "Interpretation on Evidence"),
        (
            "State Council Provisions on Working Hours",
            "State Council Provisions on Working Hours",
        ),  # no owner: 国务院关于…
    ],
)
def test_a_national_issuer_that_owns_a_name_is_no_word_of_its_title(name: str, bare: str) -> None:
    assert without_owning_issuer(name) == bare


def test_a_named_document_is_lifted_and_a_question_naming_none_lifts_nothing(mini_assistant: Assistant) -> None:
    retriever = mini_assistant.retriever
    titles = [mini_assistant.index.documents[d].title for d in retriever._doc_ids]
    assert _lifted(retriever, titles, "《示范市科技成果转化促进条例》对奖励比例有什么规定？") == [
        "示范市科技成果转化促进条例"
    ]
    english = retriever._named_documents(
        "What does the Model City Regulations on Promoting the Transformation of Scientific Achievements say?"
    )
    assert "示范市科技成果转化促进条例" in [t for t, n in zip(titles, english, strict=True) if n]
    assert not np.any(retriever._named_documents("What should the government do in the trough of disillusionment?"))


def test_the_documents_named_are_kept_per_question_until_forgotten(mini_assistant: Assistant) -> None:
    retriever = mini_assistant.retriever
    question = "《示范市科技成果转化促进条例》对奖励比例有什么规定？"
    mini_assistant.forget_questions()
    found = retriever.named_documents(question)
    assert [[mini_assistant.index.documents[d].title for d in group] for group in found] == [
        ["示范市科技成果转化促进条例"]
    ]
    # Verification asks again after the search: the same groups, kept, and never to be changed.
    first = retriever._named_groups(question)
    assert retriever._named_groups(question) is first and not first[0].flags.writeable
    assert retriever._named_groups.cache_info().currsize >= 1
    mini_assistant.forget_questions()
    assert retriever._named_groups.cache_info().currsize == 0
    assert "_query_cache" not in mini_assistant.encoder.__dict__


def test_a_named_documents_title_words_leave_its_bm25_query(mini_assistant: Assistant) -> None:
    # Every article of the named regulation holds its title's words: they rank nothing inside it.
    retriever = mini_assistant.retriever
    named = retriever._named_documents("《示范市科技成果转化促进条例》对奖励比例有什么规定？")
    tokens = ["示范市", "科技成果", "奖励", "比例", synonym_set(["促进", "报酬"])]
    assert retriever._without_title_words(tokens, named) == ["奖励", "比例", "报酬"]
    assert retriever._without_title_words(["科技成果", "转化"], named) == ["科技成果", "转化"], "all title words: kept"
    assert retriever._without_title_words(tokens, np.zeros_like(named)) == tokens, "no document named"


@pytest.mark.parametrize(
    ("name", "endings", "title", "of_kind"),
    [
        ("Road Traffic Safety Law", ("法",), "中华人民共和国道路交通安全法", True),
        ("Road Traffic Safety Law", ("法",), "聊城市道路交通安全条例", False),
        ("Labour Contract Law", ("法",), "中华人民共和国劳动合同法实施条例", True),  # the rules implementing it
        ("Implementing Regulations of the Labour Contract Law", ("法实施条例",), "中华人民共和国劳动合同法", False),
        ("Implementing Regulations of the Labour Contract Law", ("法实施条例",), "劳动合同法实施条例", True),
        ("Patent Law Implementing Rules", ("法实施细则",), "中华人民共和国专利法实施细则", True),
        ("专利法实施细则", ("法实施细则",), "中华人民共和国专利法", False),
        ("consumer protection law", ("法",), "中华人民共和国刑法（2020年修正）", True),
        ("Sole Proprietorship Enterprise Law", ("法",), "企业国有资产产权登记管理办法", False),  # 办法: Measures
        ("重庆市志愿服务条例", ("条例",), "重庆市志愿服务条例", True),
        # A judicial interpretation is a 解释, 规定, 规则, 批复 or 决定 of the courts.
        ("最高法关于审理行政协议案件的司法解释", ("解释", "规定"), "最高人民法院关于审理行政协议案件的规定", True),
        ("最高法关于审理行政协议案件的解释", ("解释",), "最高人民法院关于审理行政协议案件的规定", False),
        ("Civil Code", (), "", False),  # "Code" names no kind by which titles end
        ("民法典", (), "", False),
    ],
)
def test_a_name_gives_the_kind_of_its_document(name: str, endings: tuple[str, ...], title: str, of_kind: bool) -> None:
    found = kind_endings(name)
    assert bool(found) == bool(endings) and all(e in found for e in endings)
    if title:
        assert title_has_ending(title, found) == of_kind


def test_an_english_law_name_lifts_the_law_not_a_citys_regulation_with_a_nearer_title(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "national": "# 中华人民共和国道路交通安全法\n\n第五十一条 摩托车驾驶人及乘坐人员应当按规定戴安全头盔。",
        "city": "# 聊城市道路交通安全条例\n\n第三十二条 未经登记的三轮车、摩托车，不得在禁止其通行的道路上行驶。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    name = "Road Traffic Safety Law"
    similarity = _similarity(retriever, use_encoder, name)
    assert titles[int(np.argmax(similarity))] == "聊城市道路交通安全条例"  # the encoder alone prefers the city's
    assert _lifted(retriever, titles, f"What does the {name} require of motorcycle riders?") == [
        "中华人民共和国道路交通安全法"
    ]


def test_a_name_without_a_place_lifts_national_law_not_a_provinces_regulation_with_a_nearer_title(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "national": "# 中华人民共和国道路运输条例\n\n第七十条 经营者不按规定维护和检测运输车辆的，处以罚款。",
        "henan": "# 河南省道路运输条例\n\n（2007年12月3日河南省第十届人民代表大会常务委员会第三十四次会议通过）\n\n"
        "第三十九条 客运包车经营者招揽包车合同外旅客乘车的，处一千元以上三千元以下的罚款。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    name = "Road Transport Regulations"
    similarity = _similarity(retriever, use_encoder, name)
    assert titles[int(np.argmax(similarity))] == "河南省道路运输条例"  # the encoder alone prefers the province's

    def lifted(question: str) -> list[str]:
        return _lifted(retriever, titles, question)

    assert lifted(f"Under the {name}, what fine applies to an operator that fails to maintain its vehicles?") == [
        "中华人民共和国道路运输条例"
    ]
    assert lifted("What do the Henan Road Transport Regulations fine?") == ["河南省道路运输条例"]


def test_the_rules_implementing_a_law_are_lifted_without_the_law_when_the_question_says_so(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "law": "# 中华人民共和国劳动合同法\n\n第二十条 劳动者在试用期的工资不得低于本单位相同岗位最低档工资。",
        "rules": "# 中华人民共和国劳动合同法实施条例\n\n第十五条 劳动者在试用期的工资不得低于相同岗位最低档工资的80%。",
        "unrelated": "# 规章制定程序条例\n\n第二条 规章的立项、起草、审查、决定、公布、解释，适用本条例。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)

    def lifted(question: str) -> list[str]:
        return sorted(_lifted(retriever, titles, question))

    both = ["中华人民共和国劳动合同法", "中华人民共和国劳动合同法实施条例"]
    assert lifted("What is the lowest wage during probation under the Labour Contract Law?") == both
    # "the implementing regulations" alone used to be a name of its own, near any 条例.
    implementing = "What is the lowest wage in probation under the implementing regulations of the Labour Contract Law?"
    assert lifted(implementing) == ["中华人民共和国劳动合同法实施条例"]


def test_a_name_is_encoded_once_and_alone(mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = mini_assistant.retriever
    encoder = retriever.encoder
    names = ["Model Property Regulation", "Food Safety Law"]
    expected = np.stack([encoder.encode_documents([name])[0] for name in names])
    encoded: list[list[str]] = []
    original = encoder.encode_documents

    def counted(texts: list[str]) -> np.ndarray:
        encoded.append(list(texts))
        return original(texts)

    monkeypatch.setattr(encoder, "encode_documents", counted)
    retriever._name_vector.cache_clear()
    first = retriever._name_vectors(names)
    again = retriever._name_vectors(list(reversed(names)))
    assert encoded == [[names[0]], [names[1]]]  # each alone: its vector does not depend on its company
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected[::-1])


@pytest.mark.parametrize(
    ("question", "compares"),
    [
        ("How do the consumer protection law and the Food Safety Law differ on punitive damages?", True),
        (
            "How do the top fines compare between the Personal Information Protection Law and the Data Security Law?",
            True,
        ),
        ("What do the Patent Law and the Copyright Law each require?", True),
        ("《劳动法》和《劳动合同法》对试用期的最长期限分别如何规定？", True),
        ("《劳动法》与《国务院关于职工工作时间的规定》对每周工作时间的规定有何不同？", True),
        (
            "What is the lowest wage during probation under the Labour Contract Law and its implementing regulations?",
            False,
        ),
        ("《民法典》对诉讼时效期间是怎么规定的？", False),
        # A second document asked what the first was asked.
        (
            "How long may a deputy speak under the Beijing rules, and how do the Guangdong rules handle speaking time?",
            True,
        ),
        ("What ratio does Zaozhuang require for new residential areas, and what about old-town redevelopment?", True),
    ],
)
def test_a_question_that_sets_documents_side_by_side(question: str, compares: bool) -> None:
    assert asks_to_compare(question) == compares


def test_each_document_of_a_comparison_has_its_best_passages_in_the_top_k(tmp_path: Path, use_encoder: Encoder) -> None:
    # One law says much on working hours, the other nothing: without the comparison's shares
    # the first law's articles fill the top k; with them each side has its best passage.
    hours = "".join(
        f"第{n}条 用人单位安排劳动者延长工作时间的，每日不得超过{h}小时，并应当支付工资报酬。\n\n"
        for n, h in zip("一二三四五六七八", "12345678", strict=True)
    )
    files = {
        "labour": f"# 中华人民共和国劳动法\n\n{hours}",
        "rules": "# 国务院关于职工工作时间的规定\n\n第三条 职工每日工作8小时、每周工作40小时。\n\n"
        "第九条 本规定自发布之日起施行。",
        "forest": "# 中华人民共和国森林法\n\n第一条 为了保护、培育和合理利用森林资源，制定本法。\n\n"
        "第二条 林业经营者应当依法保护林地。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    asked = "《劳动法》与《森林法》对延长工作时间和支付工资报酬的规定有何不同？"
    alone = "《劳动法》与《森林法》对延长工作时间和支付工资报酬是怎么规定的？"  # no comparison asked
    titles = [p.title for p in assistant.search(alone, k=3).passages]
    assert titles == ["中华人民共和国劳动法"] * 3, "the case needs one law to fill the top k alone"
    ranked = assistant.search(asked, k=6).passages
    assert [p.title for p in ranked[:2]].count("中华人民共和国森林法") == 1
    for k in (1, 2, 3, 4):  # the first k are the same however many are asked for
        assert [p.chunk_id for p in assistant.search(asked, k=k).passages] == [p.chunk_id for p in ranked[:k]]


def test_a_title_as_near_as_a_name_takes_its_words_out_of_the_bm25_query(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The question names no document, but its words are the rule's title, which every article
    # holds: the question's other words decide among its articles.
    rule = (
        "最高人民法院关于限制被执行人高消费的若干规定\n\n"
        "第一条 被执行人未按执行通知书指定的期间履行给付义务的，人民法院可以限制其高消费。\n\n"
        "第二条 被执行人为自然人的，被限制高消费后，不得乘坐飞机、列车软卧。"
    )
    settings = built_corpus(
        tmp_path, use_encoder, {"rule": rule, "other": "道路运输条例\n\n第一条 旅客乘坐公共汽车应当遵守秩序。"}
    )
    question = "被限制高消费的自然人被执行人，在乘坐交通工具方面有哪些限制？"

    def bm25_query(assistant: Assistant) -> set[str]:
        """The words the search asked the BM25 index for first."""
        asked: list[list[str]] = []
        store = assistant.retriever.store
        search_words = store.lexical

        def recorded(tokens: list[str], *rest: object) -> object:
            asked.append(list(tokens))
            return search_words(tokens, *rest)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "lexical", recorded)
        assistant.search(question, 3)
        return set(asked[0])

    assistant = Assistant(settings, auto_build=False)
    retriever = assistant.retriever
    title_similarity = float(retriever._title_vectors[retriever._position["rule"]] @ assistant.prepare(question).vector)
    assert title_similarity >= retrieve_module.POINTED_TITLE_FLOOR
    assert bm25_query(assistant) == {"自然人", "乘坐", "交通工具", "方面"}
    monkeypatch.setattr(retrieve_module, "POINTED_TITLE_FLOOR", 2.0)  # no title that near
    assert {"限制", "消费", "被执行人"} <= bm25_query(Assistant(settings, auto_build=False))


def test_each_place_of_a_comparison_has_its_best_passage_in_the_top_k(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shenzhen's regulations say much on opening application scenarios, Hefei's little: without
    # the comparison Shenzhen's articles fill the top k. A place's share is one passage, found by
    # its name in the passage, its section or its document's title (本市 in 深圳…条例).
    scenario = "本市推动应用场景开放，支持新技术、新产品在应用场景中先行先试，政府部门定期发布应用场景清单。"
    files = {
        f"shenzhen-{n}": f"# 深圳经济特区{topic}促进条例\n\n第{n}条 {scenario}"
        for n, topic in zip("一二三四", ("人工智能产业", "低空经济", "智能网联汽车", "数字经济产业"), strict=True)
    }
    files["hefei"] = (
        "# 合肥市科技创新条例\n\n第九条 本市支持大科学装置建设，推动原始创新成果转化，鼓励企业参与新技术应用。"
    )
    files["forest"] = "# 中华人民共和国森林法\n\n第一条 为了保护、培育和合理利用森林资源，制定本法。"
    assistant = built_assistant(tmp_path, use_encoder, files)
    asked = "How do Shenzhen and Hefei differ on opening application scenarios for new technologies?"
    ranked = assistant.search(asked, k=3).passages
    assistant.forget_questions()
    with monkeypatch.context() as patched:
        patched.setattr(assistant.retriever, "_places_compared", lambda question: [])
        alone = assistant.search(asked, k=3).passages
    assert all(p.title.startswith("深圳") for p in alone), "the case needs Shenzhen to fill the top k alone"
    assert [p.title for p in ranked].count("合肥市科技创新条例") == 1
    assert ranked[0].chunk_id == alone[0].chunk_id  # the other side comes second, the first stays


def test_a_regions_measures_implementing_a_law_are_lifted_without_the_law(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "law": "# 中华人民共和国城市居民委员会组织法\n\n第十七条 居民委员会的工作经费由人民政府拨付。",
        "henan": (
            "# 河南省实施《中华人民共和国城市居民委员会组织法》办法\n\n"
            "第二十二条 家属委员会的工作经费和办公用房由所在单位解决。"
        ),
        "unrelated": "# 规章制定程序条例\n\n第二条 规章的立项、起草、审查、决定、公布、解释，适用本条例。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)

    def lifted(question: str) -> list[str]:
        return _lifted(retriever, titles, question)

    henan = ["河南省实施《中华人民共和国城市居民委员会组织法》办法"]
    # The 《》 name alone was the national law's, which never says 河南省 nor answers for it.
    assert lifted("河南省实施《城市居民委员会组织法》办法规定家属委员会的工作经费由谁解决？") == henan
    assert (
        lifted(
            "Under Henan's measures implementing the Organic Law of Urban Residents' Committees, "
            "who covers a family committee's working funds?"
        )
        == henan
    )
    assert lifted("Under the Organic Law of Urban Residents' Committees, who pays the working funds?") == [
        "中华人民共和国城市居民委员会组织法"
    ]


def test_a_courts_rules_on_applying_a_law_are_lifted_through_the_law(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "law": "# 中华人民共和国公司法\n\n第二百三十二条 公司因本法第二百二十九条规定而解散的，应当清算。",
        "second": (
            "# 最高人民法院关于适用《中华人民共和国公司法》若干问题的规定（二）\n\n"
            "第十六条 人民法院组织清算的，清算组应当自成立之日起六个月内清算完毕。"
        ),
        "other_court_rule": (
            "# 最高人民法院关于审理企业破产案件确定管理人报酬的规定\n\n"
            "第二条 人民法院应当根据债务人最终清偿的财产价值总额，确定管理人报酬。"
        ),
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    # The court's rules all lie near each other for the encoder; their titles name the law they apply.
    assert _lifted(retriever, titles, "Under the court's provisions on applying the Company Law, who liquidates?") == [
        "最高人民法院关于适用《中华人民共和国公司法》若干问题的规定（二）"
    ]
    assert _lifted(retriever, titles, "Under the Company Law, when must a company be liquidated?") == [
        "中华人民共和国公司法"
    ]


def test_a_described_document_is_a_title_as_near_as_the_nearest_that_the_dictionary_renders_most(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "emergencies": "# 突发公共卫生事件应急条例\n\n第二十条 医疗卫生机构应当在2小时内报告。",
        "public_places": "# 公共场所卫生管理条例\n\n第二条 本条例适用于下列公共场所。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    described = "State Council's regulations on public health emergencies"
    similarity = dict(zip(titles, _similarity(retriever, use_encoder, described).tolist(), strict=True))
    # Of the national titles, the encoder puts the public places regulation a little nearer.
    assert similarity["公共场所卫生管理条例"] > similarity["突发公共卫生事件应急条例"]
    assert similarity["公共场所卫生管理条例"] - similarity["突发公共卫生事件应急条例"] < 0.03
    question = f"Under the {described}, how quickly must a hospital report an outbreak?"
    assert _lifted(retriever, titles, question) == ["突发公共卫生事件应急条例"]


def test_a_courts_rules_on_applying_a_law_without_a_title_of_its_own_are_found_by_its_chinese_name(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The Property Law (物权法) gave way to the Civil Code; the court's rules on applying it remain,
    # and the encoder puts "Property Law" nearer the Property Management Regulations (物业管理条例).
    files = {
        "applying": (
            "# 最高人民法院关于适用《中华人民共和国物权法》若干问题的解释（一）\n\n"
            "第十一条 优先购买权的行使期间，按份共有人之间有约定的，按照约定处理。"
        ),
        "management": "# 物业管理条例\n\n第二条 本条例所称物业管理，是指业主通过选聘物业服务企业进行维修养护的活动。",
        "legal_aid": "# 法律援助条例\n\n第二条 符合本条例规定的公民，可以依照本条例获得法律援助。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    question = "Under the Supreme People's Court's interpretation on applying the Property Law, how long is the period?"
    assert _lifted(retriever, titles, question) == ["最高人民法院关于适用《中华人民共和国物权法》若干问题的解释（一）"]


def test_an_english_names_phrases_rendered_in_a_title_count_whole_and_by_rarity(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        stem: f"# {title}\n\n第一条 为了{title[7:-1]}，制定本法。"
        for stem, title in {
            "criminal": "中华人民共和国刑法",
            "procedure": "中华人民共和国刑事诉讼法",
            "security": "中华人民共和国国家安全法",
            "mine": "中华人民共和国矿山安全法",
        }.items()
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)

    def best(name: str) -> str:
        return titles[int(np.argmax(retriever._title_word_shares(name)))]

    # "mine" renders 矿山, in one title; "safety" 安全, in two: the rarer word decides.
    assert best("Mine Safety Law") == "中华人民共和国矿山安全法"
    # The dictionary knows "criminal law" whole (刑法): 刑事 of "criminal" alone is the procedure law's.
    assert best("Criminal Law") == "中华人民共和国刑法"
    shares = retriever._title_word_shares("Criminal Law")
    assert shares[titles.index("中华人民共和国刑事诉讼法")] == 0


@pytest.mark.parametrize(
    ("title", "bare"),
    [("行政许可法", "行政许可"), ("政府督查工作条例", "政府督查工作"), ("示范市若干规定（2020年修正）", "示范市若干")],
)
def test_a_title_without_its_kind(title: str, bare: str) -> None:
    assert without_kind(title) == bare


def test_a_named_documents_own_word_stands_for_a_name_word_said_again(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "inspections": (
            "# 政府督查工作条例\n\n第二条 本条例所称政府督查，是指县级以上人民政府在法定职权范围内开展的工作。\n\n"
            "第十七条 督查对象对督查结论有异议的，可以自收到该督查结论之日起30日内申请复核。"
        ),
        "equipment": (
            "# 特种设备检验条例\n\n第二条 特种设备的检查和检验工作由检验机构负责。\n\n"
            "第十五条 当事人对检验结论有异议的，可以自收到检验结论之日起7个工作日内提出复检申请。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    retriever = assistant.retriever
    lexical = retriever.index.lexical
    # 督查 is rare in this corpus, 工作 common: the threshold between them, as in a library.
    rare, common = lexical.idf(["督查", "工作"]).tolist()
    monkeypatch.setattr(retrieve_module, "RARE_TITLE_WORD_IDF", (rare + common) / 2)
    question = (
        "Under the State Council's regulation on government inspections, how long does an inspected "
        "department have to ask for a review of the inspection conclusion?"
    )
    query = assistant.prepare(question)
    assert retriever._title_words_for_name_words(query, retriever._named_groups(question)) == ["督查"]
    # Said only in the name, the name's word asks nothing of the title.
    named_only = "Under the State Council's regulation on government inspections, who may apply for a review?"
    query = assistant.prepare(named_only)
    assert retriever._title_words_for_name_words(query, retriever._named_groups(named_only)) == []


def test_a_name_without_a_place_may_be_the_law_of_the_place_the_question_names(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "great-wall": "# 长城保护条例\n\n第八条 长城所在地县级以上地方人民政府应当对长城进行保护。",
        "shangqiu": (
            "# 商丘古城保护条例\n\n2018年10月30日商丘市人民代表大会常务委员会通过\n\n"
            "第二条 商丘古城保护范围包括归德府古城。"
        ),
        "xian": (
            "# 西安城墙保护条例\n\n2009年8月28日西安市人民代表大会常务委员会通过\n\n"
            "第二条 本条例所称西安城墙，包括城墙、城门和护城河。"
        ),
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    assert retriever._local_mask.sum() == 2  # the two cities' regulations are local law

    def lifted(question: str) -> list[str]:
        return _lifted(retriever, titles, question)

    in_shangqiu = lifted("In Shangqiu, does the ancient city protection regulation require a permit for drones?")
    assert "商丘古城保护条例" in in_shangqiu and "西安城墙保护条例" not in in_shangqiu
    # Without a place in the question, national law is what such a name names.
    assert lifted("Does the ancient city protection regulation require a permit for drones?") == ["长城保护条例"]


def test_titles_equally_near_a_name_yield_to_the_kind_its_words_usually_render(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "place-names": "# 上海市地名管理条例\n\n第四条 市地名管理办公室负责本市地名管理工作。",
        "firm-names": "# 上海市企业名称登记管理规定\n\n第三条 企业名称应当经登记机关登记。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    name = "Shanghai Regulations on Place Name Administration"
    similarity = _similarity(retriever, use_encoder, name)
    assert abs(float(similarity[0] - similarity[1])) < retrieve_module.NAMED_TITLE_MARGIN  # the encoder alone: a tie
    assert _lifted(retriever, titles, f"Under the {name}, which office manages place names?") == [
        "上海市地名管理条例"
    ]  # "Regulations": 条例


def test_titles_a_chinese_question_writes_without_brackets_are_found_longest_first() -> None:
    titles = [
        "浙江省促进科技成果转化条例",
        "中华人民共和国促进科技成果转化法",
        "中华人民共和国公司法（2023修订）",
        "中华人民共和国公司法",
        "中华人民共和国监察法",
    ]
    written = WrittenTitles(titles)
    # The province's regulation, not the national law nor a shorter title inside it.
    assert written.find("浙江省促进科技成果转化条例规定，研发机构可以按什么比例给予奖励？") == [[0]]
    # The country's name left out, and every version of a title.
    assert written.find("依照促进科技成果转化法第四十五条，奖励比例是多少？") == [[1]]
    assert written.find("公司法对董事会有什么规定？") == [[2, 3]]
    # A title in 《》 is the encoder's to find; 法 followed by 规 is 法规, another word.
    assert written.find("《公司法》对董事会有什么规定？") == []
    assert written.find("监察法规由哪个机关制定？") == []
    # ... but 法 followed by 规定 is the law and what it stipulates.
    assert written.find("监察法规定监察委员会对谁负责？") == [[4]]


def test_a_local_title_written_with_its_place_apart_is_found() -> None:
    titles = ["重庆市港口条例", "中华人民共和国港口法", "浙江省促进科技成果转化条例", "市场主体登记管理条例"]
    written = WrittenTitles(titles)
    assert written.find("重庆港口条例里说的港口深水岸线是什么意思？") == [[0]]
    assert written.find("浙江促进科技成果转化条例规定的奖励比例是多少？") == [[2]]
    # 市场 opens a title and names no city: no shorter form of it is written.
    assert written.find("场主体登记管理条例怎么规定？") == []
    # A place said with 的 before the rest of its title: that place's, not the national one it ends with.
    animals = WrittenTitles(["北京市实验动物管理条例", "实验动物管理条例"])
    assert animals.find("北京的实验动物管理条例怎么界定“实验动物”？") == [[0]]
    assert animals.find("北京市的实验动物管理条例怎么界定“实验动物”？") == [[0]]
    assert animals.find("实验动物管理条例怎么界定“实验动物”？") == [[1]]
    # Said with 的, a title is shortened no further: 北京市的条例 is any of Beijing's.
    assert animals.find("北京市的条例怎么界定“实验动物”？") == []
    # The law inside a title typed without its 《》 and 中华人民共和国: that title, not the law.
    rules = WrittenTitles(["国务院实施《中华人民共和国民族区域自治法》若干规定", "中华人民共和国民族区域自治法"])
    assert rules.find("国务院实施民族区域自治法若干规定里，考生可以加多少分？") == [[0]]


def test_a_laws_short_name_written_in_a_chinese_question_is_found() -> None:
    titles = ["中华人民共和国科学技术进步法", "中华人民共和国农业技术推广法", "河南省科学技术进步条例"]
    written = WrittenTitles(titles)
    assert written.find("2021年修订的科技进步法给科研人员设了什么节日？") == [[0]]
    assert written.find("农技推广法对乡镇推广机构有什么要求？") == [[1]]
    # A short name keeps the first character and the last two: 科技进步条例 drops the province.
    assert written.find("技术进步法怎么规定？") == []
    assert written.find("科技进步条例怎么规定？") == []
    assert written.find("科法怎么规定？") == []


def test_a_regulations_short_name_is_found_when_it_abbreviates_one_title_only() -> None:
    henan = ["河南省科学技术进步条例", "河南省科学技术普及条例", "河南省科学技术进步条例"]
    titles = ["杭州市跨境电子商务促进条例", *henan]
    written = WrittenTitles(titles)
    assert written.find("杭州跨境电商促进条例里，“跨境电子商务”是怎么界定的？") == [[0]]
    # Both versions of one regulation are that regulation.
    assert written.find("河南科技进步条例对科研人员有什么奖励？") == [[1, 3]]
    # 河南科技条例 abbreviates two regulations alike: neither is taken.
    assert written.find("河南科技条例对科研人员有什么奖励？") == []


def test_a_title_written_without_brackets_lifts_its_document(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "zhejiang": "# 浙江省促进科技成果转化条例\n\n第三十七条 转化职务科技成果的，提取百分之七十用于奖励。",
        "hightech": "# 浙江省高新技术促进条例\n\n第十一条 奖励依照《浙江省促进科技成果转化条例》有关规定执行。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    question = "浙江省促进科技成果转化条例规定，转化职务科技成果的奖励比例是多少？"
    assert _lifted(retriever, titles, question) == ["浙江省促进科技成果转化条例"]


def test_a_described_document_of_a_place_is_looked_for_among_that_places_titles(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "zaozhuang": "# 枣庄市城市绿化条例\n\n第十三条 新建居住区一类居住用地绿地率不低于百分之四十。",
        "zhoushan": "# 舟山市城市绿化条例\n\n第九条 新建居住区绿地率不低于30%。",
        "zaozhuang-water": "# 枣庄市城市供水条例\n\n第五条 城市供水企业应当保证水质。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    described = "Zaozhuang's urban greening regulation"
    # Another city's regulation of the same subject lies as near as Zaozhuang's own.
    assert _separation(retriever, use_encoder, described) < DESCRIBED_TITLE_SEPARATION
    assert _lifted(retriever, titles, f"What green-space ratio does {described} require?") == ["枣庄市城市绿化条例"]


def test_a_year_the_question_names_picks_that_version_of_a_named_title(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "示范商用密码条例(1999-10-07)": "# 示范商用密码条例\n\n第二条 商用密码，是指加密保护的密码技术。",
        "示范商用密码条例(2023-04-27)": "# 示范商用密码条例\n\n第二条 商用密码，是指采用特定变换的技术。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    years = {d: doc.metadata.get("year") for d, doc in assistant.index.documents.items()}
    assert sorted(years.values()) == [1999, 2023], years
    retriever = assistant.retriever
    assert retriever.named_documents("《示范商用密码条例》所称商用密码是指什么？") == [
        ("示范商用密码条例(1999-10-07)", "示范商用密码条例(2023-04-27)")
    ]
    assert retriever.named_documents("1999年的《示范商用密码条例》所称商用密码是指什么？") == [
        ("示范商用密码条例(1999-10-07)",)
    ]
    # A year no version is of leaves them all.
    assert len(retriever.named_documents("2010年的《示范商用密码条例》所称商用密码是指什么？")[0]) == 2


def test_a_description_lifts_the_titles_near_it_though_it_singles_out_none(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "soil": "# 山东省水土保持条例\n\n第十八条 禁止在二十五度以上陡坡地开垦种植农作物。",
        "water": "# 山东省水污染防治条例\n\n第十条 禁止向水体排放油类。",
        "roads": "# 山东省公路路政管理条例\n\n第五条 公路路政管理工作由交通运输主管部门负责。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    retriever = assistant.retriever
    query = assistant.prepare("Does Shandong's soil and water conservation regulation allow crops on steep slopes?")
    named = retriever._named_documents(query.text)
    similarity = retriever._title_vectors @ query.vector
    with_description = retriever._document_bonus(query, named, similarity)
    monkeypatch.setattr(retrieve_module, "described_documents", lambda question, names=None: [])
    without = retriever._document_bonus(query, named, similarity)
    soil = retriever._doc_ids.index("soil")
    assert with_description[soil] > without[soil]
    assert np.all(with_description >= without)


def test_a_national_issuers_description_is_looked_for_among_national_titles(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "national": "# 古树名木保护条例\n\n第二条 本条例所称古树，是指树龄100年以上的树木。",
        "beijing": "# 北京市古树名木保护管理条例\n\n第二条 本条例所称古树，是指树龄在百年以上的树木。",
        "zhengzhou": "# 郑州市古树名木保护条例\n\n第三条 本条例所称古树是指树龄在一百年以上的树木。",
    }
    # Sidecars give the kinds a law collection's folders give.
    kinds: dict[str, dict[str, object]] = {
        "national": {"kind": "administrative_regulation"},
        "beijing": {"kind": "local_regulation", "region": "北京"},
        "zhengzhou": {"kind": "local_regulation", "region": "河南"},
    }
    retriever = built_assistant(tmp_path, use_encoder, files, kinds).retriever
    titles = [retriever.index.documents[d].title for d in retriever._doc_ids]
    described = "the State Council regulation on protecting ancient and famous trees"
    # A city's regulation of the same subject lies as near as the national one.
    assert _separation(retriever, use_encoder, described) < DESCRIBED_TITLE_SEPARATION
    assert _lifted(retriever, titles, f"How does {described} define an ancient tree?") == ["古树名木保护条例"]
    # With no issuer at all, the description is the country's too.
    unissued = "the regulations on protecting ancient and famous trees"
    assert _lifted(retriever, titles, f"How do {unissued} define an ancient tree?") == ["古树名木保护条例"]


@pytest.mark.parametrize(
    "description",
    [
        "SPC/SPP interpretation on environmental pollution crimes",
        "SPC's provisions on online consumer disputes",
        "Supreme People's Court's rules on collision damages",
    ],
)
def test_the_supreme_court_and_procuratorate_by_their_abbreviations_are_national_issuers(description: str) -> None:
    assert issued_by_the_country(description)


def test_a_questions_document_names_are_blanked_out_with_their_brackets() -> None:
    assert "劳动合同法" not in without_document_names("《劳动合同法》所称的无固定期限劳动合同是指什么？")
    assert without_document_names("《劳动合同法》所称的无固定期限劳动合同是指什么？").strip().startswith("所称")
    english = without_document_names("Does the Wild Animal Protection Law allow people to eat wild animals?")
    assert "Protection Law" not in english and "eat wild animals" in english
    assert without_document_names("What is a valley of death?") == "What is a valley of death?"


def test_a_questions_document_descriptions_are_blanked_out_when_asked_for() -> None:
    question = "Under the State Council regulations on railway accident rescue, what makes an accident serious?"
    assert without_document_names(question) == question
    blanked = without_document_names(question, described=True)
    assert "railway" not in blanked and "what makes an accident serious?" in blanked


@pytest.mark.parametrize(
    ("name", "endings"),
    [
        ("Regulations on Place Name Administration", ("条例",)),
        # Rules implementing a law are rules (实施细则), whatever the law's kind.
        ("Implementing Rules of the Sino-Foreign Cooperative Joint Ventures Law", ("规则", "细则", "规定")),
        ("Implementing Measures of the Land Administration Law", ("办法",)),
        # Made from "the Patent Law's implementing rules": which kind of rules is not said.
        (IMPLEMENTING_PREFIX + "Patent Law", ()),
        ("the Patent Law", ()),
    ],
)
def test_the_titles_a_name_usually_renders_are_those_of_its_own_kind(name: str, endings: tuple[str, ...]) -> None:
    assert usual_endings(name) == endings


def test_a_name_that_gives_a_place_names_a_law_of_that_place(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "shanghai": "# 上海市古树名木和古树后续资源保护条例\n\n第十二条 列为古树名木的，保护区为树冠垂直投影外五米。",
        "zhengzhou": "# 郑州市古树名木及古树后备资源保护条例\n\n第十四条 树龄五百年以上的树木属于一级古树。",
        "zaozhuang": "# 枣庄市古树名木保护条例\n\n第十一条 名木和一级保护的古树，保护范围不小于树冠垂直投影外3米。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    name = "Zaozhuang Regulations on the Protection of Ancient and Famous Trees"
    similarity = _similarity(retriever, use_encoder, name)
    assert titles[int(np.argmax(similarity))] != "枣庄市古树名木保护条例"  # the encoder knows 枣庄 little
    assert _lifted(retriever, titles, f"Under the {name}, which trees get first-level protection?") == [
        "枣庄市古树名木保护条例"
    ]


def test_a_description_the_encoder_sets_apart_from_no_title_points_at_the_one_that_renders_it(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "circuit": "# 最高人民法院关于巡回法庭审理案件若干问题的规定\n\n第一条 最高人民法院设立巡回法庭。",
        "ip-court": "# 最高人民法院关于知识产权法庭若干问题的规定\n\n第一条 知识产权法庭。",
        "deposits": "# 最高人民法院关于审理存单纠纷案件的若干规定\n\n第一条 存单纠纷案件的范围。",
        "lending": "# 最高人民法院关于审理民间借贷案件适用法律若干问题的规定\n\n第一条 民间借贷。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    described = "the Supreme People's Court's provisions on circuit courts"
    similarity = _similarity(retriever, use_encoder, described)
    ranked = np.sort(similarity)
    assert ranked[-1] - ranked[-2] < DESCRIBED_TITLE_SEPARATION  # the court's rules lie close together
    # 巡回 (circuit) and 法庭 (courts) stand in one title; the others render "court" alone.
    assert _lifted(retriever, titles, f"Under {described}, where are they seated?") == [
        "最高人民法院关于巡回法庭审理案件若干问题的规定"
    ]
    # The dictionary renders "private lending" in no title: no title is taken.
    assert not np.any(retriever._named_documents("Under the Supreme People's Court's rules on private lending cases?"))


@pytest.mark.parametrize(
    ("question", "points_at_the_paper"),
    [
        ("What does the article say about Hefei?", True),
        ("这篇论文的作者是谁？", True),
        ("文中提到的合肥模式是什么？", True),
        # A law's numbered article, and the same characters inside other words, point at no paper.
        ("What does Article 120 of the Labour Contract Law say?", False),
        ("全国科技工作者日是哪一天？", False),
        ("法律条文中对此有何规定？", False),
        ("本文件所称的中小企业是指什么？", False),
        # 文章 pointed at, or standing alone, is the paper; the asker's own article is not.
        ("这篇文章提出了什么框架？", True),
        ("文章认为堵点在哪里？", True),
        ("写批评文章用了侮辱性字眼，算侵害名誉权吗？", False),
        ("我把一篇文章投给了期刊，多久可以改投？", False),
    ],
)
def test_the_papers_cue_is_not_a_laws_article_or_part_of_another_word(question: str, points_at_the_paper: bool) -> None:
    assert bool(KIND_CUES[KIND_PAPER].search(question)) is points_at_the_paper


def test_titles_equally_near_a_name_are_told_apart_by_the_character_its_renderings_share(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "penalty": "# 中华人民共和国行政处罚法\n\n第三十六条 违法行为在二年内未被发现的，不再给予行政处罚。",
        "litigation": "# 中华人民共和国行政诉讼法\n\n第三十六条 被告在作出行政行为时已经收集了证据的，可以延期提供。",
        "reconsideration": "# 中华人民共和国行政复议法\n\n第三十六条 行政复议机构应当指定行政复议人员办理案件。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    # CC-CEDICT renders "penalty" 惩罚, 刑罚, 罚款, 判罚 …, never 处罚: their shared 罚 tells the titles apart.
    assert _lifted(retriever, titles, "What does Article 36 of the Administrative Penalty Law say?") == [
        "中华人民共和国行政处罚法"
    ]


def test_a_name_without_a_number_lifts_a_whole_series_and_one_with_a_number_its_part(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    base = "最高人民法院、最高人民检察院关于办理危害生产安全刑事案件适用法律若干问题的解释"
    files = {
        "first": f"# {base}\n\n第六条 造成死亡一人以上，或者重伤三人以上的，应当认定为“造成严重后果”。",
        "second": f"# {base}（二）\n\n第一条 明知存在事故隐患仍冒险组织作业的，依照刑法处罚。",
        "charges": "# 最高人民法院、最高人民检察院关于执行《中华人民共和国刑法》确定罪名的补充规定（六）\n\n"
        "刑法第二百八十四条之一第一款 组织考试作弊罪。",
        "unrelated": "# 规章制定程序条例\n\n第二条 规章的立项、起草、审查、决定、公布、解释，适用本条例。",
    }
    retriever, titles = _retriever_and_titles(tmp_path, use_encoder, files)
    # 两高 (the two top courts) issue them together; the name gives no number: both parts of the series.
    series = _lifted(retriever, titles, "根据两高关于办理危害生产安全刑事案件的司法解释，什么是造成严重后果？")
    assert sorted(series) == sorted([base, f"{base}（二）"])
    # A number names one part, in Chinese or English numerals.
    assert _lifted(retriever, titles, "两高关于办理危害生产安全刑事案件的解释（二）规定了什么？") == [f"{base}（二）"]
    assert _lifted(retriever, titles, "根据两高关于执行刑法确定罪名的补充规定（六），组织考试作弊定什么罪名？") == [
        "最高人民法院、最高人民检察院关于执行《中华人民共和国刑法》确定罪名的补充规定（六）"
    ]


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("两高关于执行刑法确定罪名的补充规定（六）", "六"),
        ("SPC's Interpretation (I) on the Property Rights Book of the Civil Code", "一"),
        ("Interpretation (2) on Labour Dispute Cases", "二"),
        ("最高法关于审理劳动争议案件的司法解释", None),
    ],
)
def test_the_number_of_a_series_part_is_read_in_any_numerals(name: str, number: str | None) -> None:
    assert series_number(name) == number
