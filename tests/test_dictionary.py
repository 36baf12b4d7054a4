"""Dictionary: CC-CEDICT looked up from English to Chinese and back, on the real data file."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import pytest

from policyqa import dictionary
from policyqa.dictionary import (
    GENERIC_WORDS,
    STOPWORDS,
    CedictDictionary,
    chinese_for,
    english_glosses,
    expand_english,
    load_dictionary,
    normalize_english,
)
from policyqa.errors import ConfigError

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"
# Real CC-CEDICT lines, for the tests of loading and caching that need not index the whole file.
FEW_LINES = [
    "# CC-CEDICT",
    "專利 专利 [zhuan1 li4] /patent/sth uniquely enjoyed (or possessed etc) by a certain group of people/monopoly/",
    "知識產權 知识产权 [zhi1 shi5 chan3 quan2] /intellectual property rights (law)/",
    "補貼 补贴 [bu3 tie1] /to subsidize/subsidy/allowance/to supplement (one's salary etc)/benefit/",
    "大學 大学 [da4 xue2] /university/college/CL:所[suo3]/",
]


@pytest.fixture(scope="session")
def cedict() -> CedictDictionary:
    return load_dictionary()


@pytest.fixture()
def few_lines_data(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The process's dictionary replaced by one of a few real lines, restored after the test."""
    data = gzip.compress("\n".join(FEW_LINES).encode("utf-8"))
    monkeypatch.setattr(dictionary, "_data", lambda: data)
    monkeypatch.setattr(dictionary, "_shared", None)
    return data


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("patent", "专利"),
        ("Patents", "专利"),
        ("subsidy", "补贴"),
        ("subsidies", "补贴"),
        ("trough", "低谷"),
        ("university", "大学"),
        ("science and technology", "科技"),
        ("Shenzhen", "深圳"),
    ],
)
def test_common_word_is_the_best_translation(cedict: CedictDictionary, english: str, chinese: str) -> None:
    assert cedict.chinese_for(english)[0] == chinese


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        # CC-CEDICT glosses 知识产权 as "intellectual property rights": one word more than asked.
        ("intellectual property", "知识产权"),
        # 风险投资 is "venture capital investment"; 创业投资 is "venture capital" itself.
        ("venture capital", "风险投资"),
        ("venture capital", "创业投资"),
        ("research institute", "研究所"),
        ("innovation", "创新"),
        ("transfer", "转移"),
        ("incubator", "孵化器"),
    ],
)
def test_phrase_finds_its_chinese_term_among_the_first(cedict: CedictDictionary, english: str, chinese: str) -> None:
    assert chinese in cedict.chinese_for(english)[:3]


def test_whole_gloss_ranks_before_a_gloss_with_one_word_more(cedict: CedictDictionary) -> None:
    words = cedict.chinese_for("venture capital")

    assert words.index("创业投资") < words.index("风险投资")


def test_single_word_does_not_match_longer_glosses(cedict: CedictDictionary) -> None:
    # "patent law" (专利法) is a law, not a translation of "patent".
    assert "专利法" not in cedict.chinese_for("patent")


def test_multi_character_words_rank_before_single_characters(cedict: CedictDictionary) -> None:
    words = cedict.chinese_for("right")

    assert words[0] == "权利"
    assert words.index("权利") < words.index("是")


def test_phrases_cc_cedict_lacks_find_nothing(cedict: CedictDictionary) -> None:
    # Neither "valley of death" nor "technology transfer" is a CC-CEDICT gloss; their words are.
    assert cedict.chinese_for("valley of death") == []
    assert cedict.chinese_for("technology transfer") == []
    pairs = cedict.expand_english("How does technology transfer cross the valley of death?", 10)
    assert ("technology", "技术") in pairs
    assert ("transfer", "转移") in pairs
    assert "valley of death" not in {english for english, _ in pairs}


def test_spelling_and_inflection_are_folded(cedict: CedictDictionary) -> None:
    assert normalize_english("Patent Licences") == normalize_english("patent licenses")
    assert normalize_english("organisations recognised") == normalize_english("organization recognized")
    assert cedict.chinese_for("licences") == cedict.chinese_for("license")
    # -tre and -bre endings are -ter and -ber ("within five kilometres", "a calibre of 4.5 mm").
    assert normalize_english("kilometres calibre centre") == normalize_english("kilometers caliber center")
    assert "公里" in cedict.chinese_for("kilometres")
    assert normalize_english("ogre acre store") == "ogre acre store"
    assert cedict.chinese_for("S&T") == cedict.chinese_for("science and technology")
    assert "研发" in cedict.chinese_for("R&D")


def test_a_clipped_word_finds_the_words_of_the_whole_one(cedict: CedictDictionary) -> None:
    # CC-CEDICT glosses "laboratory", not "lab"; "phone" alone only as the verb 致电.
    assert cedict.chinese_for("labs")[:1] == ["实验室"]
    assert cedict.chinese_for("phone")[:1] == ["电话"]
    assert "手机" in cedict.chinese_for("mobile phones")
    assert "信息" in cedict.chinese_for("info")
    assert "公元" in cedict.chinese_for("AD")  # "ad" is not clipped: it is also the era


def test_a_legal_term_ranks_before_the_everyday_senses(cedict: CedictDictionary) -> None:
    # CC-CEDICT gives "claim" only as 声称, 宣称 ...; "limitation period" not at all.
    assert cedict.chinese_for("claims")[:1] == ["请求权"]
    assert cedict.chinese_for("limitation period")[:1] == ["诉讼时效"]
    assert cedict.chinese_for("warning")[:1] == ["警告"]
    assert "预警" in cedict.chinese_for("warning")  # the everyday senses stay, after it
    assert "claim" in cedict.english_glosses("请求权")


def test_the_terms_of_each_field_of_law_are_said_as_its_texts_say_them(cedict: CedictDictionary) -> None:
    # CC-CEDICT has no entry for these: a tax, a trade remedy, a ship's lien, a waterway, a sanction.
    assert cedict.chinese_for("deed tax")[:1] == ["契税"]
    assert cedict.chinese_for("countervailing")[:1] == ["反补贴"]
    assert cedict.chinese_for("maritime liens")[:1] == ["船舶优先权"]
    assert cedict.chinese_for("maritime code")[:1] == ["海商法"]  # its official English title
    assert cedict.chinese_for("navigation channel")[:1] == ["航道"]
    assert cedict.chinese_for("governmental sanction")[:1] == ["政务处分"]
    assert cedict.chinese_for("community correction")[:1] == ["社区矫正"]
    assert cedict.chinese_for("arbitration commissions")[:1] == ["仲裁委员会"]
    assert cedict.chinese_for("registration authority")[:1] == ["登记机关"]
    # Words whose legal sense CC-CEDICT gives after everyday ones: "fine" is 优良 before 罚款.
    assert cedict.chinese_for("fine")[:1] == ["罚款"]
    assert "优良" in cedict.chinese_for("fine")
    assert cedict.chinese_for("registration")[:1] == ["登记"]
    assert cedict.chinese_for("criminal")[:1] == ["刑事"]  # the adjective of "criminal case" stays first
    # A civil or administrative case's defendant is 被告; the accused of a criminal one 被告人.
    assert cedict.chinese_for("defendant")[:1] == ["被告"]
    # A trust is 信托 (CC-CEDICT: "trust bond"), a bill's drawer 出票人 (CC-CEDICT: a drawer of a desk).
    assert cedict.chinese_for("trust")[:1] == ["信托"]
    assert "信任" in cedict.chinese_for("trust")  # the everyday sense follows
    assert cedict.chinese_for("settlor")[:1] == ["委托人"]
    assert cedict.chinese_for("drawer")[:1] == ["出票人"]
    # Tendering is said as the Bidding Law's official English says it; CC-CEDICT has none of these.
    assert cedict.chinese_for("bid security")[:1] == ["投标保证金"]
    assert cedict.chinese_for("performance bond")[:1] == ["履约保证金"]
    assert cedict.chinese_for("winning bidder")[:1] == ["中标人"]
    # What a foreign reader says for what the texts say: a lawyer's fees, a domestic helper, the hard shoulder.
    assert cedict.chinese_for("legal fees")[:1] == ["律师费"]
    assert cedict.chinese_for("domestic helper")[:1] == ["家政服务人员"]
    assert cedict.chinese_for("hard shoulder")[:1] == ["应急车道"]
    assert cedict.chinese_for("probation period")[:1] == ["试用期"]
    assert cedict.chinese_for("labour arbitration")[:1] == ["劳动争议仲裁"]  # British spelling folded
    assert cedict.chinese_for("homeowners association")[:1] == ["业主委员会"]
    assert cedict.chinese_for("bank deposit")[:1] == ["存款"]  # the phrase keeps its own sense
    assert cedict.chinese_for("illegal fund-raising")[:1] == ["非法集资"]
    assert cedict.chinese_for("stop-payment notice")[:1] == ["挂失止付"]


def test_the_grades_of_an_accident_and_of_circumstances_are_legal_terms(cedict: CedictDictionary) -> None:
    # Regulations grade accidents 特别重大, 重大, 较大, 一般 and offences by 情节严重; CC-CEDICT's
    # "serious" is 严重, 认真, and it has no "especially serious" at all.
    assert cedict.chinese_for("especially serious")[:1] == ["特别重大"]
    assert "重大事故" in cedict.chinese_for("serious accident")
    assert cedict.chinese_for("serious circumstances")[:1] == ["情节严重"]


def test_online_and_internet_cafes_are_said_as_chinese_law_says_them(cedict: CedictDictionary) -> None:
    # Laws say 网络 for "online" (网络交易, 网络消费), where CC-CEDICT gives 网上, 在线; and an internet
    # café is 互联网上网服务营业场所 in the State Council's regulation on them, 网吧 only in speech.
    assert cedict.chinese_for("online")[:1] == ["网络"]
    assert "在线" in cedict.chinese_for("online")
    assert cedict.chinese_for("internet cafes")[:1] == ["互联网上网服务营业场所"]
    assert "网吧" in cedict.chinese_for("internet café")


def test_rail_transit_is_said_as_the_cities_regulations_say_it(cedict: CedictDictionary) -> None:
    # Cities regulate 城市轨道交通 ("urban rail transit" in their English names); CC-CEDICT renders
    # "rail" 铁轨 and "transit" 过境, 转口, and has no rail transit at all.
    assert cedict.chinese_for("urban rail transit")[:1] == ["城市轨道交通"]
    assert cedict.chinese_for("rail transit")[:1] == ["轨道交通"]


def test_prize_attached_sales_are_said_as_the_anti_unfair_competition_law_says_them(cedict: CedictDictionary) -> None:
    # 有奖销售 (the law's Article 10) is "prize-attached sales" in its English text; CC-CEDICT's
    # "promotion" is 升职, 推广 and it has no sales with prizes.
    assert cedict.chinese_for("prize-attached sales")[:1] == ["有奖销售"]
    assert cedict.chinese_for("prize promotion")[:1] == ["有奖销售"]


def test_the_joint_ventures_keep_the_names_of_their_laws(cedict: CedictDictionary) -> None:
    # 中外合资经营企业法 is the "Law on Sino-foreign Equity Joint Ventures"; CC-CEDICT's "equity" is 对等.
    assert cedict.chinese_for("Sino-foreign equity joint venture")[:1] == ["中外合资经营企业"]
    assert cedict.chinese_for("contractual joint venture")[:1] == ["合作经营企业"]


def test_the_parties_of_a_proceeding_are_named_as_the_laws_name_them(cedict: CedictDictionary) -> None:
    # 被申请人 is the "respondent" of the Arbitration Law and of the court's rules on retrial; CC-CEDICT's
    # "respondent" is a survey's (受访者), and it has no appellant at all.
    assert cedict.chinese_for("respondent")[:1] == ["被申请人"]
    assert "受访者" in cedict.chinese_for("respondent")
    assert cedict.chinese_for("appellant")[:1] == ["上诉人"]
    assert cedict.chinese_for("appellee")[:1] == ["被上诉人"]


def test_the_abbreviations_and_names_of_english_writing_on_chinese_law_are_known(cedict: CedictDictionary) -> None:
    # "the PRC Maritime Code" is 中华人民共和国海商法: an unrendered "PRC" left the title's longest word out.
    assert cedict.chinese_for("PRC")[:1] == ["中华人民共和国"]
    assert cedict.chinese_for("NPC")[:1] == ["全国人民代表大会"]
    assert cedict.chinese_for("SPC") == ["最高人民法院"] and cedict.chinese_for("SPP") == ["最高人民检察院"]
    # Everyday English for the words laws use: a railway passenger is 旅客, a statistical ledger 台账.
    assert cedict.chinese_for("passengers")[0] == "旅客" and cedict.chinese_for("ledger")[0] == "台账"
    assert cedict.chinese_for("shoreline")[0] == "岸线"
    assert cedict.chinese_for("criminal cases")[:1] == ["刑事案件"]
    assert cedict.chinese_for("personal information")[:1] == ["个人信息"]  # CC-CEDICT lacks it


def test_pupils_and_buses_are_said_as_the_laws_say_them(cedict: CedictDictionary) -> None:
    # CC-CEDICT's first "pupil" is the eye's (瞳孔); laws speak of 中小学生. The State Council's urban
    # public transport regulations say 公共汽电车 ("buses and trolleybuses"), not 公共汽车.
    assert cedict.chinese_for("pupils")[:1] == ["中小学生"]
    assert cedict.chinese_for("bus")[:1] == ["公共汽电车"]


def test_the_laws_the_civil_code_replaced_keep_their_english_names(cedict: CedictDictionary) -> None:
    # The court's rules applying them stay in force: 最高人民法院关于适用《物权法》若干问题的解释（一）.
    assert cedict.chinese_for("Property Law")[:1] == ["物权法"]
    assert cedict.chinese_for("Guarantee Law")[:1] == ["担保法"]
    assert cedict.chinese_for("General Principles of the Civil Law")[:1] == ["民法通则"]


def test_preferred_lines_rank_first_whatever_the_word_frequencies() -> None:
    lines = ["聲稱 声称 [sheng1 cheng1] /to claim/to state/"]
    legal = ["請求權 请求权 [qing3 qiu2 quan2] /claim/right of claim/"]
    index = dictionary.build_index(lines, {"声称": 50_000, "请求权": 1}, preferred=legal)
    assert CedictDictionary(index, bytes).chinese_for("claim") == ["请求权", "声称"]
    assert CedictDictionary(dictionary.build_index(lines + legal, {"声称": 50_000}), bytes).chinese_for("claim") == [
        "声称",
        "请求权",
    ]


def test_participle_alone_falls_back_to_its_verb(cedict: CedictDictionary) -> None:
    assert "转移" in cedict.chinese_for("transferred")
    assert "补贴" in cedict.chinese_for("subsidised")


def test_a_word_in_e_is_not_the_word_without_it(cedict: CedictDictionary) -> None:
    # "rate" is no "rat", "care" no "car", "wine" no "win", "note" no "not".
    for english, other in [("rate", "老鼠"), ("care", "汽车"), ("wine", "赢得"), ("note", "不是")]:
        assert other not in cedict.chinese_for(english), english
    assert "费率" in cedict.chinese_for("rates")
    # A participle that lost the e finds its verb with it; one that doubled a consonant, without it.
    assert cedict.chinese_for("rated")[:3] == cedict.chinese_for("rate")[:3]
    assert "许可证" in cedict.chinese_for("licensed")
    assert "计划" in cedict.chinese_for("planned")
    assert "污染" in cedict.chinese_for("pollution")


def test_a_past_form_finds_its_verb_when_regular_rules_cannot(cedict: CedictDictionary) -> None:
    # People tell what happened to them: irregular past forms, four-letter ones, a verb in -ic, British -ll-.
    assert cedict.chinese_for("caught")[:3] == cedict.chinese_for("catch")[:3]
    assert "派遣" in cedict.chinese_for("sent")
    assert cedict.chinese_for("sued")[0] == "起诉"
    assert cedict.chinese_for("died")[0] == "死亡"
    assert "欠" in cedict.chinese_for("owed")
    assert "贩卖" in cedict.chinese_for("trafficking")
    assert "辅导" in cedict.chinese_for("counselling")
    # Past forms that are words of their own keep their senses ("found": 建立), and none is made of a
    # four-letter word that is no past of a three-letter verb ("shed" is no "she").
    assert cedict.chinese_for("found")[0] == "建立"
    assert "她" not in cedict.chinese_for("shed")


def test_a_british_spelling_of_one_sense_keeps_it(cedict: CedictDictionary) -> None:
    # "cheque" is only the bank's; "check" is first the verb.
    assert cedict.chinese_for("cheques") == ["支票"]
    assert cedict.chinese_for("check")[0] != "支票"


def test_participle_in_a_phrase_keeps_its_meaning(cedict: CedictDictionary) -> None:
    assert "发展中国家" in cedict.chinese_for("developing countries")
    assert "发展中国家" not in cedict.chinese_for("developed countries")


def test_noun_in_ion_falls_back_to_its_verb(cedict: CedictDictionary) -> None:
    assert cedict.chinese_for("commercialisation")[0] == "商业化"


def test_adjective_in_able_with_few_senses_falls_back_to_its_verb(cedict: CedictDictionary) -> None:
    # "deductible" alone is an insurance's 垫底费; a tax law's deductible spending is 扣除.
    assert cedict.chinese_for("deductible")[:2] == ["垫底费", "扣除"]
    assert "税" in cedict.chinese_for("taxable")
    assert "退还" in cedict.chinese_for("refundable")
    # An adjective with senses enough, or too short to hold a verb, keeps its own.
    assert "虎钳" not in cedict.chinese_for("visible")  # "vise", a verb's key it would otherwise try
    assert "桌子" in cedict.chinese_for("table")


def test_an_application_and_its_acceptance_are_said_as_laws_say_them(cedict: CedictDictionary) -> None:
    # CC-CEDICT's "application" is software (应用) first; a law's is 申请, accepted (受理) by the authority.
    assert cedict.chinese_for("application")[0] == "申请"
    assert cedict.chinese_for("accepted")[:2] == ["受理", "接受"]


def test_adjective_in_al_with_few_senses_falls_back_to_its_noun(cedict: CedictDictionary) -> None:
    # "vocational" has no entry; "constitutional" only 宪制; "custodial" none.
    assert cedict.chinese_for("vocational")[0] == "职业"
    assert cedict.chinese_for("constitutional")[:2] == ["宪制", "宪法"]
    assert cedict.chinese_for("custodial")[0] == "监护权"  # custody
    assert cedict.chinese_for("residential")[0] == "住宅"  # residence
    assert "省" in cedict.chinese_for("provincial")  # province
    assert cedict.chinese_for("statistical")[0] == "统计"  # statistics
    # One with senses enough keeps its own.
    assert cedict.chinese_for("national")[0] == "国民" and "国家" not in cedict.chinese_for("national")[:4]


def test_word_in_ing_with_few_senses_falls_back_to_its_verb(cedict: CedictDictionary) -> None:
    # "mapping" alone is 映射; "surveying and mapping" is 测绘, which "to map" gives.
    assert cedict.chinese_for("mapping")[0] == "映射" and "测绘" in cedict.chinese_for("mapping")
    # One with senses enough keeps its own.
    assert cedict.chinese_for("planning") == ["策划", "心算"]


def test_a_two_letter_word_in_capitals_is_an_abbreviation(cedict: CedictDictionary) -> None:
    phrases = {m.english: m.chinese for m in cedict.match_phrases("Can a TV station broadcast an IP dispute?")}
    assert phrases["tv"][:1] == ("电视",) and phrases["ip"][:1] == ("知识产权",)
    # In lower case it is a word too short to tell ("it", "us", "tv" typed loosely).
    assert "tv" not in {m.english for m in cedict.match_phrases("can a tv station broadcast it?")}


def test_unknown_and_empty_phrases_find_nothing(cedict: CedictDictionary) -> None:
    assert cedict.chinese_for("") == []
    assert cedict.chinese_for("xqzzy") == []
    assert cedict.chinese_for("patent", limit=1) == ["专利"]


def test_english_glosses_explain_a_chinese_word(cedict: CedictDictionary) -> None:
    assert "patent" in cedict.english_glosses("专利")
    # CC-CEDICT's gloss first, then the legal terms' ("IP", as English writing on Chinese law abbreviates it).
    assert cedict.english_glosses("知识产权") == ["intellectual property rights (law)", "IP"]
    assert "trough (as opposed to peaks)" in cedict.english_glosses("低谷")


def test_a_noun_in_tion_has_its_verbs_words_after_its_own(cedict: CedictDictionary) -> None:
    # CC-CEDICT glosses "pollution" as 烟霾 alone; "to pollute" gives 污染.
    pollution = cedict.chinese_for("pollution")
    assert pollution[0] == "烟霾" and "污染" in pollution
    # "registration" alone is 对准 (as in printing), after the legal term 登记; its verb gives 注册.
    registration = cedict.chinese_for("registration")
    assert registration[:2] == ["登记", "对准"] and "注册" in registration


def test_a_noun_in_ility_has_its_adjectives_words_after_its_own(cedict: CedictDictionary) -> None:
    # "accessibility" alone is 亲和力; "accessible" gives 无障碍, the word of the law on barrier-free access.
    accessibility = cedict.chinese_for("accessibility")
    assert accessibility[0] == "亲和力" and "无障碍" in accessibility
    assert "有责任" in cedict.chinese_for("liability")  # "liable"
    assert cedict.chinese_for("ability")[0] == "能力"  # too short to be an adjective's noun
    # A root of four letters is another word's: "station" is not "state" (国家).
    assert "国家" not in cedict.chinese_for("station")


def test_a_phrase_led_by_a_participle_is_looked_up_by_its_verb(cedict: CedictDictionary) -> None:
    assert "下蛋" in cedict.chinese_for("laying eggs")  # glossed "to lay eggs"
    assert cedict.chinese_for("laying eggs") == cedict.chinese_for("lay eggs")
    # Its verb's phrase comes before a gloss with a word more ("remittance sent by post": 邮汇).
    assert cedict.chinese_for("sent by post")[:3] == cedict.chinese_for("send by post")[:3]
    assert "邮汇" in cedict.chinese_for("sent by post")


def test_a_word_is_the_dictionarys_by_its_simplified_column(cedict: CedictDictionary) -> None:
    assert cedict.is_word("专利") and cedict.is_word("抖音")
    assert not cedict.is_word("專利")  # the traditional column
    assert not cedict.is_word("红在") and not cedict.is_word("")


def test_english_glosses_leave_out_measure_words_and_cross_references(cedict: CedictDictionary) -> None:
    glosses = cedict.english_glosses("大学")

    assert "university" in glosses
    assert not any(g.startswith("CL:") for g in glosses)
    assert not any(g.startswith(("variant of", "see ")) for g in cedict.english_glosses("昰"))


def test_english_glosses_of_a_word_not_in_the_dictionary_are_empty(cedict: CedictDictionary) -> None:
    assert cedict.english_glosses("") == []
    assert cedict.english_glosses("patent") == []
    assert cedict.english_glosses("专利 法") == []


def test_expansion_prefers_multi_word_phrases(cedict: CedictDictionary) -> None:
    question = "Who owns the intellectual property when a research institute is funded by venture capital?"

    pairs = cedict.expand_english(question, 10)

    phrases = [english for english, _ in pairs]
    assert {"intellectual property", "research institute", "venture capital"} <= set(phrases)
    assert not {"intellectual", "property", "research", "institute", "venture", "capital"} & set(phrases)
    assert ("intellectual property", "知识产权") in pairs
    assert ("research institute", "研究所") in pairs
    # Multi-word phrases come first, so a small max_terms keeps them.
    assert all(" " in english for english, _ in cedict.expand_english(question, 3))


def test_a_phrase_found_only_in_longer_glosses_has_its_words_looked_up_too(cedict: CedictDictionary) -> None:
    # "road traffic" is only in "road traffic policing" (交通警卫) and "road traffic safety" (交安).
    phrases = {match.english: match.chinese for match in cedict.match_phrases("the rules on road traffic")}
    assert "交通警卫" in phrases["road traffic"]
    assert "道路" in phrases["road"] and "交通" in phrases["traffic"]
    # A phrase CC-CEDICT glosses as it is stands alone ("venture capital": 风险投资).
    assert [m.english for m in cedict.match_phrases("venture capital")] == ["venture capital"]


def test_stopwords_and_generic_words_never_give_terms(cedict: CedictDictionary) -> None:
    assert cedict.expand_english("What is it, and which of them would you say?", 10) == []
    question = "What does the paper say about the way a university can use its patents, and for which kind of firms?"
    for english, _ in cedict.expand_english(question, 20):
        words = english.split()
        assert words[0] not in STOPWORDS
        assert words[-1] not in STOPWORDS or (
            len(words) > 1 and words[-1] in {"up", "out", "off", "down", "on", "over"}
        )
        assert english not in GENERIC_WORDS


def test_phrasal_verb_ending_in_a_particle_is_a_phrase(cedict: CedictDictionary) -> None:
    pairs = cedict.expand_english("Which agencies did the state set up?", 5)

    assert "set up" in [english for english, _ in pairs]
    assert "up" not in [english for english, _ in pairs]


def test_expansion_respects_its_limits(cedict: CedictDictionary) -> None:
    question = "Under the Patent Law, may a university license a patent to a company for a subsidy?"

    assert cedict.expand_english(question, 0) == []
    assert len(cedict.expand_english(question, 2)) == 2
    pairs = cedict.expand_english(question, 20, per_phrase=2)
    assert len([p for p in pairs if p[0] == "subsidy"]) == 2
    # "patent" comes once, however often it is asked.
    assert len([p for p in cedict.expand_english(question, 20) if p[0] == "patent"]) <= 1


def test_expansion_skips_words_the_caller_names(cedict: CedictDictionary) -> None:
    pairs = cedict.expand_english("What does the paper say about patents?", 10, skip=["paper"])

    assert [english for english, _ in pairs] == ["patents"]


@pytest.mark.parametrize(("max_terms", "per_phrase"), [(-1, 1), (5, 0)])
def test_bad_limits_fail_with_the_value(cedict: CedictDictionary, max_terms: int, per_phrase: int) -> None:
    with pytest.raises(ConfigError, match=str(max_terms if max_terms < 0 else per_phrase)):
        cedict.expand_english("patent", max_terms, per_phrase)


def test_module_functions_use_the_shared_dictionary(cedict: CedictDictionary) -> None:
    assert load_dictionary() is cedict
    assert chinese_for("patent") == cedict.chinese_for("patent")
    assert english_glosses("专利") == cedict.english_glosses("专利")
    assert expand_english("patent subsidy", 5) == cedict.expand_english("patent subsidy", 5)


def test_content_words_of_english_gold_questions_mostly_have_a_chinese_term(cedict: CedictDictionary) -> None:
    """A coverage floor for the general dictionary, measured on every English question of the gold sets."""
    questions = [
        row["question"]
        for path in sorted(EVAL_DIR.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and (row := json.loads(line)).get("lang") == "en"
    ]
    words = [
        w
        for q in questions
        for w in dictionary._words(q)
        if w.isalpha() and len(w) >= 3 and w not in STOPWORDS and w not in GENERIC_WORDS
    ]

    covered = sum(1 for w in words if cedict.chinese_for(w))

    assert len(questions) >= 20
    assert covered / len(words) >= 0.85


def test_built_index_is_cached_and_read_back(few_lines_data: bytes, tmp_path: Path) -> None:
    first = load_dictionary(tmp_path)
    assert first.chinese_for("intellectual property") == ["知识产权"]
    cached = list(tmp_path.glob("index-*"))
    assert len(cached) == 1

    def no_build(*_: object) -> dict[str, str]:
        raise AssertionError("the index was rebuilt instead of read from the cache")

    dictionary._shared = None
    original = dictionary.build_index
    dictionary.build_index = no_build  # type: ignore[assignment]
    try:
        second = load_dictionary(tmp_path)
    finally:
        dictionary.build_index = original
    assert second is not first
    assert second.chinese_for("subsidy") == ["补贴"]
    assert second.english_glosses("大学") == ["university", "college"]


def test_cache_of_other_data_is_replaced(few_lines_data: bytes, tmp_path: Path) -> None:
    (tmp_path / "index-0000000000000000.txt").write_text("1\npatent\n错\n", encoding="utf-8")

    assert load_dictionary(tmp_path).chinese_for("patent") == ["专利"]
    assert [p.name for p in tmp_path.glob("index-*")] != ["index-0000000000000000.txt"]
    assert len(list(tmp_path.glob("index-*"))) == 1


def test_truncated_cache_is_rebuilt(few_lines_data: bytes, tmp_path: Path) -> None:
    path = tmp_path / f"index-{dictionary._fingerprint(few_lines_data, dictionary._legal_terms())}.txt"
    path.write_text("5\npatent\n", encoding="utf-8")

    assert load_dictionary(tmp_path).chinese_for("patent") == ["专利"]
    assert path.read_text(encoding="utf-8").startswith(f"{len(load_dictionary(tmp_path))}\n")


def test_threads_share_one_dictionary_built_once(
    few_lines_data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[int] = []
    original = dictionary._cached_index

    def counting(data: bytes, legal_terms: bytes, cache_dir: Path | None) -> dict[str, str]:
        builds.append(1)
        return original(data, legal_terms, cache_dir)

    monkeypatch.setattr(dictionary, "_cached_index", counting)
    loaded: list[CedictDictionary] = []
    threads = [threading.Thread(target=lambda: loaded.append(load_dictionary(tmp_path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(builds) == 1
    assert len(loaded) == 8
    assert all(d is loaded[0] for d in loaded)


def test_a_noun_in_ment_has_its_verbs_words_after_its_own(cedict: CedictDictionary) -> None:
    # "reimbursement" has no entry of its own; "to reimburse" gives 偿还.
    assert "偿还" in cedict.chinese_for("reimbursement")
    # "establishment" alone is 机关; "to establish" gives 建立 and 设立, after it.
    establishment = cedict.chinese_for("establishment")
    assert establishment[0] == "机关" and {"建立", "设立"} <= set(establishment)
    # A root of three letters is too short to be sure of: "payment" keeps its own words (付款), not "pay"'s 工资.
    assert "工资" not in cedict.chinese_for("payment")


def test_a_participle_with_entries_of_its_own_has_its_verbs_words_first(cedict: CedictDictionary) -> None:
    # "extended" alone is 昡 in CC-CEDICT; "the period may be extended" means 延长, a word of "to extend".
    extended = cedict.chinese_for("extended")
    assert extended.index("延长") < extended.index("昡")
    # "accepted" alone is 公认 (generally accepted); "to accept" gives 接受, now before it.
    accepted = cedict.chinese_for("accepted")
    assert accepted.index("接受") < accepted.index("公认")


def test_a_characters_readings_are_its_pinyin_without_tones() -> None:
    found = dictionary.readings("胶行绿x")
    assert found["胶"] == ("jiao",)
    assert set(found["行"]) >= {"hang", "xing"}  # every reading, in dictionary order
    assert found["绿"][:2] == ("lv", "lu")  # ü written either way
    assert "x" not in found
    assert set(dictionary.readings("胶")) == {"胶"}  # only the characters asked for
