"""The verification stage abstains when the passages lack the place, year or figure asked for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import BuiltIndex, built_assistant, built_corpus, local_regulation

from policyqa import Assistant, Settings
from policyqa.dictionary import chinese_for
from policyqa.embed import Encoder
from policyqa.figures import (
    MONEY,
    RELATIVE_DAY,
    chinese_sum_noun,
    figure_kind,
    period_asked,
    sum_kinds_named,
    sums_only_of_other_kinds,
)
from policyqa.index import build_index
from policyqa.lexical import tokenize
from policyqa.types import NOT_COVERED, Passage, SearchFilter
from policyqa.verify import (
    ASKS_ADVICE,
    ASKS_WHO_HOLDS_OR_WON,
    NO_FIGURE,
    _abbreviated_in,
    _acts_of_agent,
    _acts_written,
    _agent_forms,
    _carries,
    _close_in_a_row,
    _compound_parts,
    _glossary_groups,
    _names_unrendered,
    _only_within_asking,
    _parts_in_a_row,
    _renderings_held_word_by_word,
    _same_meaning,
    _things_unrendered,
    _titles_confirm,
    asked_figure,
    asks_for_advice,
    asks_who_holds_or_won,
    in_force_first,
    latin_names,
    persons_unnamed,
    places_named,
    product_names,
    quoted_names_unsaid,
    quoted_terms_unsaid,
    some_words_unknown_to_corpus,
    things_unknown_to_corpus,
    unmentioned_in_document,
    unsupported_reason,
    words_unknown_to_corpus,
)


def _reason(assistant: Assistant, question: str) -> str | None:
    query = assistant.prepare(question)
    passages = assistant.retriever.search(query, 5)
    return unsupported_reason(query, passages, assistant.index)


def test_places_are_recognised_in_both_languages() -> None:
    assert ("上海",) in places_named("What does Shanghai do?")
    assert ("上海",) in places_named("上海的做法是什么？")
    assert ("德国",) in places_named("How does Germany's Fraunhofer model work?")
    assert places_named("What does the paper recommend?") == []


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("奖励比例不低于多少？", "rate"),
        ("What share of the income goes to researchers?", "rate"),
        ("该基金的经费有多少？", "money"),
        ("How much money does the fund hold?", "money"),
        ("How many companies were founded?", "count"),
        ("What hourly overtime rate in yuan does the law fix?", "money"),
        ("加班费的比例是每小时多少元？", "money"),
        ("政府应当如何支持基础研究？", None),
        # What decides a figure is asked for, not the figure; unless the figure is asked for too.
        ("What factors does the court weigh when setting the amount of compensation?", None),
        ("赔偿金额要参考哪些因素确定？", None),
        # How a figure is worked out, or who sets it, is asked; the figure is not.
        ("When gambling is done online, how can the amount of gambling funds be worked out?", None),
        ("Who decides how much a couple pays as the certificate fee?", None),
        ("赌资数额怎么认定？", None),
        # An amount the question gives as a condition is not one it asks for.
        ("出售重大资产的金额超过资产总额30%的，需要履行什么决策程序？", None),
        ("罚款的金额是多少？", "money"),
        # A deposit, a security and damages are sums a law sets as it sets fines.
        ("承租公房签订租赁契约时要交多少押金？", "money"),
        ("投标保证金最高是多少？", "money"),
        # Points (记6分, 加10分) are counted; minutes are a duration, a fraction a share.
        ("少数民族考生报考本科时可以加多少分？", "count"),
        ("闯红灯一次记几分？", "count"),
        ("禁止燃放的区域有几个区？", "count"),
        ("金华哪几个区是全域禁止燃放烟花爆竹的？", None),  # which districts, not how many
        ("接到报警后几分钟内必须到达现场？", "duration"),
        ("发现泄密后的报告时限是怎么规定的？", "duration"),  # 时限 is a time limit, as "time limit" is
        # 多少 before a unit of time asks for a period, even after the name of a sum.
        ("死亡赔偿金按多少年计算？", "duration"),
        ("拖欠的工资应当在多少天内支付？", "duration"),
        # A quantity in a unit, and a time of day, are figures too.
        ("中央政府粮食储备规模是多少万吨？", "quantity"),
        ("How many tonnes of grain does the state reserve?", "quantity"),
        # A length bounded or asked by name: not a period.
        ("What is the maximum leash length for walking a dog?", "quantity"),
        # A sum a law names with 金, and grain in jin.
        ("养殖用海每亩每年要交多少海域使用金？", "money"),
        ("退耕还林每亩地每年能补多少斤粮食？", "quantity"),
        ("遛狗的牵引绳最长能多长？", "quantity"),
        ("户外电子显示屏晚上几点以后必须关闭？", "time"),
        ("What time must outdoor screens be switched off?", "time"),
        ("What are the museum's opening hours?", "time"),
        ("During which hours may the venues not open?", "time"),
        ("How many hours a day must public toilets stay open?", "duration"),
        ("What conditions must be met, and how much money does the fund give?", "money"),
        ("答复信息公开申请的期限是多久？", "duration"),
        ("How long does the body have to complete an inspection?", "duration"),
        # A period asked by its bound or in days, and a fee asked by 多少.
        ("What is the minimum period a draft plan must be put on display?", "duration"),
        ("What is the time limit for filing an appeal?", "duration"),
        ("申请人应当在多少天内补正材料？", "duration"),
        ("办理养犬登记证需要缴纳多少管理服务费？", "money"),
        ("What fine does the regulation set for forging a seal?", "money"),
        ("How much community home-care space must new residential areas provide?", "quantity"),
        ("科技创新券多久结算一次？", "half_year"),
        ("What is the maximum premium an insurer may charge?", "money"),
        ("What penalty applies to forging a seal?", None),  # a warning or detention may answer it
        # A period asked by how quickly or how much notice; a part of a whole by "how much of".
        ("How quickly must the carrier report a lost sample?", "duration"),
        ("How much advance notice must villagers receive?", "duration"),
        ("How much of the heating fee must be refunded?", "rate"),
        ("How much of the heating fee must be refunded?", "money"),
        # A sum named by what it pays, after words that say which.
        ("What heating price does the regulation set?", "money"),
        ("What is the lowest wage an employer may pay during probation?", "money"),
        ("What happens to fees paid late?", None),
        ("How large a fine can the school be given?", "money"),
        ("What is the minimum registered capital of a sole proprietorship?", "money"),  # capital is a sum
        # "How many yuan" asks for a sum, not a count.
        ("How many yuan of subsidy does the city pay per hire?", "money"),
        ("How many thousand yuan can the fine reach?", "money"),
        # How often: times in a period.
        ("How often must the property manager run fire inspections?", "frequency"),
        ("消防设施的检测频次是怎样规定的？", "frequency"),
        ("村民代表会议多久开一次？", "frequency"),
        ("电梯多长时间检验一次？", "frequency"),
        ("罚款多久之内一次性缴清？", "duration"),
        # "By how much" asks the size of a change: here of a period, not a sum.
        ("How long does the institution have, and by how much can that be extended?", "duration"),
        # An intensity is a ratio (研发投入强度 6.73%).
        ("What was Shanghai's R&D investment intensity in 2023?", "rate"),
    ],
)
def test_the_kind_of_figure_asked_for(question: str, kind: str | None) -> None:
    pattern = asked_figure(question)
    # A deadline in working days is a duration: 应当自收到申请之日起20个工作日内予以答复. A period asked in
    # a unit is looked for in it (test_figures_a_law_gives_in_a_form_of_their_own): one sample in each.
    samples = {
        "rate": "不低于百分之五十",
        "money": "五万元",
        "count": "3061家；加10分",  # points are counted in 分
        "duration": "20个工作日内；二十四小时；十五分钟；三年",
        "quantity": "五百万吨",
        "time": "每日二十二时至次日七时",
        "half_year": "每半年至少结算一次",
        "frequency": "按照规定每月至少进行一次防火检查",
    }
    if kind is None:
        assert pattern is None
    else:
        assert pattern is not None and pattern.search(samples[kind])


@pytest.mark.parametrize(
    ("question", "kind", "gives", "gives_not"),
    [
        # An area is given in a unit of area: a length is no answer to "how many square kilometres".
        ("How many square kilometres does the buffer zone cover?", "area", "缓冲区面积为十二平方公里", "全长7.8公里"),
        ("最少能按多大面积补偿？", "area", "按建筑面积四十五平方米补偿", "补偿五万元"),
        # A year is a year's number: 每10年 says how often.
        ("In which year did the third national land survey start?", "year", "2017年启动", "每10年进行一次"),
        ("第三次全国土地调查是哪一年开始的？", "year", "二〇一七年开展", "每10年进行一次"),
        # A multiple is said with 倍; "how many times a year" asks how often, not a multiple.
        ("彩礼超过人均可支配收入几倍算数额过高？", "multiple", "超过三倍的", "超过30万元的"),
        ("How many times the unpaid wages must the employer pay?", "multiple", "加付一倍赔偿金", "五万元"),
        # A discount: a share off, half price or free of charge.
        ("持卡乘坐地铁能打几折？", "discount", "享受八折优惠", "票价二元"),
        ("What discount do pensioners get on park tickets?", "discount", "老年人半价", "门票十元"),
        # Times in a period: 每月至少召开一次; a meeting's number (第26次常务会议) is no frequency.
        ("国务院常务会议一般每个月召开几次？", "frequency", "常务会议每月至少召开一次", "国务院第26次常务会议通过"),
        # Households are counted by 户.
        ("新建住宅小区每多少户需要配建一所幼儿园？", "count", "每三千户配建一所幼儿园", "配建幼儿园应当同步交付"),
        # A period asked in a unit is given in that unit or one near it.
        ("How many hours of pro bono work must a lawyer do each year?", "duration", "每年不少于五十小时", "实习满一年"),
        ("How many days does the bureau have to decide?", "duration", "自受理之日起二十日内", "二十四小时内"),
        ("判几年？", "duration", "处三年以下有期徒刑", "十五日内"),
        ("What is the time limit for the review?", "duration", "三十日内", "人数为三人"),  # no unit named
        # A weight in grams is a quantity; a change's extent (增长幅度) a share, a fine's 幅度 its sum.
        ("PM2.5年均浓度要降到多少微克每立方米？", "quantity", "年均浓度降至35微克每立方米", "降至百分之三十"),
        ("工资每年增长幅度不得低于多少？", "rate", "增长幅度不低于百分之五", "增加五百元"),
        ("罚款幅度分别是多少？", "amount", "处五万元以上罚款", "不低于百分之五"),
        # "The maximum number of …" asks how many; of a unit, how much of it.
        ("What is the maximum number of cases each assessor hears a year?", "count", "不超过三十件", "应当公开"),
        ("What's the maximum number of litres of gasoline one may buy?", "quantity", "每次不超过二十升", "实名登记"),
        # Hours of study are hours: 学时, 课时.
        ("How many hours of training must staff take a year?", "duration", "每年不少于90学时", "任期五年"),
        # A short deadline may be set in seconds: 六十秒内出动.
        ("消防队接到出警命令后必须在多长时间内出动？", "duration", "应当在六十秒内出动消防车", "第六十一条"),
        ("Within how many minutes must the crew leave?", "duration", "六十秒内出动", "二十日内"),
        # The sentences that ask, where others tell the story: "her share of our flat" asks no share.
        ("My co-owner sells her share of our flat. What's the deadline?", "duration", "十五日内", "百分之五十"),
        # A period named after the words that say which, or asked by how far ahead.
        ("What are the general and the outer limitation periods?", "duration", "诉讼时效期间为三年", "第三人"),
        ("What is the deadline for seeking reconsideration?", "duration", "六十日内", "向上一级机关"),
        ("How far ahead must a ship apply, and which authority approves it?", "duration", "抵达7日前", "港务监督"),
        # A count asked in what it counts: points in 分, people by 名 or 个, a thing by its measure word.
        ("How many points is a credit score cut for each record?", "count", "扣减5分", "保存十年"),
        ("How many children may a couple have?", "count", "可以生育三个子女", "二〇二一年修正"),
        ("一户最多能养几条狗？", "count", "每户限养一只犬", "六个月内"),
        ("每位旅客最多能买几条香烟？", "count", "每人限购两条", "第十条"),
    ],
)
def test_figures_a_law_gives_in_a_form_of_their_own(question: str, kind: str, gives: str, gives_not: str) -> None:
    assert figure_kind(question) == kind
    pattern = asked_figure(question)
    assert pattern is not None and pattern.search(gives) and not pattern.search(gives_not)


@pytest.mark.parametrize(
    "question",
    [
        "村里先后跟好几个人签了合同，经营权归谁？",  # 好几个 says "several"
        "What budget principle governs how a university uses its funds?",  # a budget's principle, no sum
        "第几条规定了养犬登记？",  # which article
        "影院放了十几分钟广告，这样合法吗？",  # 十几 says "a dozen or so"
        "公司有十几个人，要成立工会吗？",
        "他原来对接的几个老客户跟着他到新公司下单了。我们能起诉他吗？",  # the story tells, the question asks
    ],
)
def test_words_that_sound_like_asking_for_a_figure_but_ask_none(question: str) -> None:
    assert figure_kind(question) is None


def test_a_chinese_question_asks_in_its_sentences_that_end_in_a_question_mark() -> None:
    assert figure_kind("他原来对接的几个老客户都走了。公司应当在几天内通知我们？") == "duration"
    assert figure_kind("有几个客户走了？公司应当怎么办？") == "count"  # every sentence asks


def test_who_sets_a_figure_asked_in_one_part_leaves_the_figure_another_part_asks() -> None:
    assert figure_kind("Who decides how much the fee is?") is None
    assert figure_kind("How far ahead must the ship apply, and which authority approves it?") == "duration"


def test_how_many_times_in_a_period_asks_no_multiple() -> None:
    assert figure_kind("How many times a year must the lift be inspected?") != "multiple"


def test_the_text_and_its_authors_are_no_words_a_figure_is_about(mini_assistant: Assistant) -> None:
    # "the paper by Bai and co-authors": the glossary's 作者简介 for "authors" names who wrote it; the figure's
    # sentence never says so.
    question = "According to the paper by Bai and co-authors, what was China's rate of industrial innovation?"
    query = mini_assistant.prepare(question)
    asked = asked_figure(question)
    assert asked is not None
    groups = _glossary_groups(query, re.compile(r"\brate\b"))
    said = {t for group in groups for alternative in group.alternatives for t in alternative}
    assert "作者简介" not in said and "产业" in said


def test_within_what_time_asks_for_a_period_not_a_time_of_day() -> None:
    assert figure_kind("Within what time must the police notify the family?") == "duration"
    assert figure_kind("In what time must the court decide?") == "duration"
    assert figure_kind("At what time must bars close?") == "time"
    assert figure_kind("What time do parks open in Beijing?") == "time"


def test_a_verb_after_have_to_and_a_pair_led_by_whose_it_is_name_no_thing() -> None:
    # "object" after "have to" asks about 异议, not an object (对象, 物体); "national product" of "the national
    # product quality authority" is no 国民生产总值.
    text = "第十五条 国务院产品质量监督部门调查认为汽车产品存在缺陷的，应当通知生产者实施召回。生产者可以提出异议。"
    question = "If the national product quality department notifies a carmaker, how long does it have to object?"
    assert _things_unrendered(question, [], text) == []
    # A thing the text lacks is still missing.
    assert _things_unrendered(question.replace("carmaker", "carmaker about its drones"), [], text)


def test_a_condition_before_the_question_names_the_case_not_the_figure_asked() -> None:
    # "if a company disputes the nature or rate of a fee": the rate is the case; the period is asked.
    disputed = "If a company disputes the nature or rate of a fee, how quickly must the department reply?"
    assert figure_kind(disputed) == "duration"
    assert figure_kind("When a worker is injured, what compensation rate applies?") == "rate"
    assert figure_kind("What is the fine if a driver refuses passengers?") == "amount"
    assert figure_kind("If the rate is too high, what can a buyer do?") is None


def test_another_places_figure_does_not_answer_a_question_about_a_place(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "hangzhou": local_regulation(
            "杭州市养犬管理条例", "杭州市第十三届", "第十二条 携带犬只出户的，应当束犬链，由成年人牵领，主动避让行人。"
        ),
        "qingyuan": local_regulation(
            "清远市养犬管理条例",
            "清远市第七届",
            "第十条 携带犬只出户的，应当用长度两米以下的犬链牵领，由成年人牵领，主动避让行人。",
        ),
        "zhejiang": local_regulation(
            "浙江省动物防疫条例", "浙江省第十三届", "第九条 犬只应当按规定接种狂犬病疫苗，免疫间隔不超过一年。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # Qingyuan's two metres are no answer for Hangzhou, whose regulation fixes no length.
    hangzhou = assistant.ask("What is the maximum leash length for walking a dog in Hangzhou?")
    assert hangzhou.outcome != "answered", hangzhou.answer
    qingyuan = assistant.ask("What is the maximum leash length for walking a dog in Qingyuan?")
    assert qingyuan.outcome == "answered", qingyuan.answer


def test_a_provinces_regulation_answers_for_its_cities(tmp_path: Path, use_encoder: Encoder) -> None:
    # Shandong's heating regulation is in force in Jinan and never names it; Henan's is not.
    heating = "第二十一条 供热期内，供热企业应当保证用户卧室、起居室的室内温度不低于十八摄氏度。"
    files = {"shandong": local_regulation("山东省供热条例", "山东省第十三届", heating)}
    assistant = built_assistant(tmp_path, use_encoder, files)
    jinan = assistant.ask("我家在济南，供热公司应该保证室温不低于多少度？")
    assert jinan.outcome != "not_covered", jinan.abstain_reason
    assert "十八摄氏度" in jinan.answer
    zhengzhou = assistant.ask("我家在郑州，供热公司应该保证室温不低于多少度？")
    assert zhengzhou.outcome == "not_covered"


def test_a_regulation_whose_title_names_no_place_speaks_for_the_region_that_adopted_it(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The pilot zone's regulation was adopted by Zhejiang's people's congress; its title and articles never say 浙江.
    zone = (
        "# 义乌国际贸易综合改革试验区条例\n\n2019年11月29日 浙江省第十三届人民代表大会常务委员会第十五次会议通过\n\n"
        "<!-- INFO END -->\n\n## 第二章 管理体制\n\n"
        "第七条 义乌试验区管理委员会为省人民政府派出机构，负责试验区的规划、建设和管理工作。"
    )
    # The library's folders give the kind; the region is the congress's, as its metadata states.
    metadata: dict[str, dict[str, object]] = {"yiwu": {"kind": "local_regulation", "region": "浙江"}}
    assistant = built_assistant(tmp_path, use_encoder, {"yiwu": zone}, metadata)
    zhejiang = assistant.prepare("浙江的义乌国际贸易综合改革试验区管理委员会负责什么？")
    # The article alone, as when the front matter that names the congress ranks below the top k.
    article = [p for p in assistant.retriever.search(zhejiang, 5) if "第七条" in p.text]
    assert article
    assert unsupported_reason(zhejiang, article, assistant.index) is None
    henan = assistant.prepare("河南的义乌国际贸易综合改革试验区管理委员会负责什么？")
    assert unsupported_reason(henan, article, assistant.index) == "the passages do not mention 河南"


def test_the_law_in_force_at_the_place_asked_about_opens_the_answer(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "shandong": local_regulation(
            "山东省道路运输条例",
            "山东省第十三届",
            "第四十条 出租汽车驾驶员拒载、绕道行驶的，由道路运输管理机构责令改正，处二百元以上五百元以下罚款。",
        ),
        "henan": local_regulation(
            "河南省道路运输条例",
            "河南省第十一届",
            "第五十一条 出租汽车驾驶员拒载、故意绕道行驶的，由道路运输管理机构处一百元以上五百元以下罚款。",
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = "在河南，出租车司机拒载、绕道会被怎么罚？"
    query = assistant.prepare(question)
    passages = assistant.retriever.search(query, 5)
    henan = [p for p in passages if p.title.startswith("河南")]
    shandong = [p for p in passages if p.title.startswith("山东")]
    assert henan and shandong
    # As if Shandong's article had ranked first: Henan's, which the question asks about, opens the answer.
    reordered = in_force_first(query, [*shandong, *henan], assistant.index)
    assert reordered[0].doc_id == henan[0].doc_id
    assert sorted(p.chunk_id for p in reordered) == sorted(p.chunk_id for p in [*shandong, *henan])
    # A question naming no place, or a best passage of the place asked about, keeps the order.
    unplaced = assistant.prepare("出租车司机拒载、绕道会被怎么罚？")
    assert in_force_first(unplaced, [*shandong, *henan], assistant.index) == [*shandong, *henan]
    assert in_force_first(query, [*henan, *shandong], assistant.index) == [*henan, *shandong]
    # A best passage of a document the question names keeps its place whatever its region.
    named = [[shandong[0].doc_id]]
    assert in_force_first(query, [*shandong, *henan], assistant.index, named)[0].doc_id == shandong[0].doc_id


def test_a_citys_regulation_answers_for_its_province_named_beside_it(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "taizhou": local_regulation(
            "台州市电梯安全管理规定",
            "台州市第五届",
            "第三十条 维护保养单位接到电梯乘客被困的报警后，应当在三十分钟内到达现场并实施救援。",
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # Taizhou's articles say 本市, never 浙江: its regulation is Zhejiang's law in Taizhou all the same.
    question = "In Taizhou, Zhejiang, how fast must the lift maintenance unit arrive when passengers are trapped?"
    answer = assistant.ask(question)
    assert answer.outcome == "answered", answer.answer
    assert "三十分钟" in answer.answer


def test_a_place_the_corpus_does_not_cover_means_abstain(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "深圳在泡沫破裂低谷期设立了什么基金？") is not None


def test_a_year_the_passages_never_give_means_abstain(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "2019年技术复苏基金投入了多少？") is not None
    asked = "How much did the technology recovery fund invest in 2019?"
    assert _reason(mini_assistant, asked) == "the passages give nothing for 2019"
    # A year of the story told before the question is the asker's, not one the texts must give.
    told = "Our start-up was founded in 2019. How does the technology recovery fund support start-ups?"
    assert _reason(mini_assistant, told) != "the passages give nothing for 2019"


def test_a_missing_figure_means_abstain_and_a_present_one_does_not(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "技术复苏基金的规模有多少资金？") == "no passage gives the figure asked for"
    assert _reason(mini_assistant, "单位从转化收入中提取奖励的比例不低于多少？") is None


def test_a_day_named_relative_to_the_asking_is_like_a_year(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "明天技术复苏基金会发放补助吗？") == "the passages say nothing of 明天"
    assert _reason(mini_assistant, "Did the technology recovery fund pay out yesterday?") == (
        "the passages say nothing of yesterday"
    )
    assert _reason(mini_assistant, "Will the technology recovery fund pay out this weekend?") == (
        "the passages say nothing of this weekend"
    )
    assert _reason(mini_assistant, "下周技术复苏基金会发放补助吗？") == "the passages say nothing of 下周"


def test_a_country_the_asker_comes_from_need_not_be_in_the_passages(mini_assistant: Assistant) -> None:
    # A foreign researcher asks of the city's rule: the rule answers without naming Germany.
    story = "I'm a German researcher at a university here. What share of the transfer income goes to researchers?"
    assert _reason(mini_assistant, story) is None
    # Asked of Germany itself, the passages must speak of it.
    assert _reason(mini_assistant, "What share of the transfer income do Germany's rules give researchers?") == (
        "the passages do not mention 德国"
    )


def test_a_name_in_latin_letters_of_a_chinese_question_must_be_in_the_passages(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "技术复苏基金会资助iPhone的研发吗？") == "the passages do not mention iPhone"
    assert latin_names("华为Mate 60和iPhone 15哪个手机续航更好？") == ["Mate", "iPhone"]
    # Acronyms are written out in the texts (人工智能 for AI), and an English question has its own checks.
    assert latin_names("GDP和AI对R&D投入有什么影响？") == []
    assert latin_names("Does the iPhone count as a smart terminal?") == []


def test_a_product_name_of_an_english_question_must_be_in_the_passages(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "Would the technology recovery fund pay for a MacBook Air?") == (
        "the passages do not mention MacBook"
    )
    assert product_names("Is a MacBook Air or a ThinkPad X1 Carbon better, or an iPhone?") == [
        "MacBook",
        "ThinkPad",
        "iPhone",
    ]
    # Names of laws and bodies are capitalised word by word, never in camel case.
    assert product_names("What does the Patent Law of the PRC say about the CNIPA?") == []
    assert product_names("华为Mate和iPhone哪个好？") == []  # a Chinese question's names are ``latin_names``'


def test_a_chinese_question_most_of_whose_words_no_text_uses_is_not_covered(mini_assistant: Assistant) -> None:
    cooking = mini_assistant.prepare("红烧肉怎么做才能肥而不腻？")
    unknown = words_unknown_to_corpus(cooking, mini_assistant.index)
    assert "红烧肉" in unknown
    assert _reason(mini_assistant, "红烧肉怎么做才能肥而不腻？") == f"the texts never use {'、'.join(unknown[:3])}"
    # A word or two of the asker's own among the corpus's words is how people ask.
    plain = mini_assistant.prepare("单位拿来奖励的比例不低于多少？")
    assert words_unknown_to_corpus(plain, mini_assistant.index) == []
    assert words_unknown_to_corpus(mini_assistant.prepare("How to cook braised pork?"), mini_assistant.index) == []


def _unknown_in_a_library(assistant: Assistant, monkeypatch: pytest.MonkeyPatch, question: str) -> list[str]:
    """The question's words no text uses, once the small corpus is judged as if it were a library of laws.

    The small test corpus lacks most words of the language: its lacking one proves nothing.
    """
    assert some_words_unknown_to_corpus(assistant.prepare(question), assistant.index) == []
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)
    return some_words_unknown_to_corpus(assistant.prepare(question), assistant.index)


def _with_and_without_unknown_word_floor(assistant: Assistant) -> tuple[Assistant, Assistant]:
    """The assistant with its unknown-word floor and without, both with no relevance floor below it.

    Below the first floor nothing else is asked; above it, the unknown-word floor holds the question.
    """
    settings = assistant.settings.replace(abstain_threshold=0.0)
    floored, unfloored = (
        Assistant(settings.replace(unknown_word_floor=floor), encoder=assistant.encoder, auto_build=False)
        for floor in (settings.unknown_word_floor, 0.0)
    )
    return floored, unfloored


def test_a_chinese_question_with_a_word_no_text_uses_and_a_weak_best_passage_is_not_covered(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    cooking = "白切鸡怎么做才嫩？"
    assert _unknown_in_a_library(mini_assistant, monkeypatch, cooking) == ["白切"]
    # One such word is too few for the share rule; with a weak best passage it tells.
    assert words_unknown_to_corpus(mini_assistant.prepare(cooking), mini_assistant.index) == []
    floored, unfloored = _with_and_without_unknown_word_floor(mini_assistant)
    answer = floored.ask(cooking)
    assert answer.outcome == NOT_COVERED
    assert answer.abstain_reason == "the texts never use 白切"
    assert unfloored.ask(cooking).abstain_reason != "the texts never use 白切"
    # A question in the asker's own words (拿来) whose best passage is strong is answered.
    plain = "单位拿来奖励科研人员的比例不低于多少？"
    assert some_words_unknown_to_corpus(mini_assistant.prepare(plain), mini_assistant.index)
    assert floored.ask(plain).outcome != NOT_COVERED


def test_an_english_question_with_a_thing_no_text_says_and_a_weak_best_passage_is_not_covered(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "sunburn" has renderings (晒伤, 日晒伤), none a noun to jieba, so the things check lets it by.
    sunburn = "How should I treat a mild sunburn at home?"
    # The small corpus lacks "treat" and "home" too; a library of laws has them.
    assert "sunburn" in _unknown_in_a_library(mini_assistant, monkeypatch, sunburn)
    floored, unfloored = _with_and_without_unknown_word_floor(mini_assistant)
    answer = floored.ask(sunburn)
    assert answer.outcome == NOT_COVERED
    assert answer.abstain_reason.startswith("the texts never speak of ")
    assert "sunburn" in answer.abstain_reason
    assert "sunburn" not in (unfloored.ask(sunburn).abstain_reason or "")
    # A word that names no thing ("nothing": 没什么) is how the question asks, known or not.
    asked = "Is there nothing to pay when the grant is used for research?"
    assert "nothing" not in some_words_unknown_to_corpus(mini_assistant.prepare(asked), mini_assistant.index)
    # A question pointing at a text is judged by its evidence: the paper may say a thing in other words.
    pointing = "What does the paper say about treating a mild sunburn?"
    assert some_words_unknown_to_corpus(mini_assistant.prepare(pointing), mini_assistant.index) == []


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("现任司法部部长是谁？他毕业于哪所大学？", True),
        ("2024年诺贝尔经济学奖颁给了谁？", True),
        ("Who received the State Preeminent Science and Technology Award in 2024?", True),
        ("Who is the current mayor of Qingdao?", True),
        ("Can you give me a short biography of China's current Minister of Commerce?", True),  # a person asked about
        ("What is the career history of the incumbent Party Secretary of Heze?", True),
        # Who acts, who is appointed or who pays is a rule; a paper names its authors.
        ("国务院参事由谁聘任？", False),
        ("复检费用由谁承担？", False),
        ("这篇论文的通讯作者是谁?", False),
        ("Who approves a film crew's shoot at a protected heritage site?", False),
        ("Who receives the award under the regulation, and how are they nominated?", False),
        ("Under the current regulations, what must a company secretary keep on file?", False),
        ("Can shareholders dismiss the current director before his term ends?", False),  # a company's director
    ],
)
def test_who_holds_an_office_or_won_a_prize_is_no_rule(question: str, asks: bool) -> None:
    assert asks_who_holds_or_won(question) is asks


def test_a_question_of_who_won_a_prize_is_not_covered(mini_assistant: Assistant) -> None:
    answer = mini_assistant.ask("2024年技术复苏基金奖颁给了谁？")
    assert answer.outcome == "not_covered"
    assert answer.abstain_reason == ASKS_WHO_HOLDS_OR_WON


def test_a_term_a_question_quotes_that_no_text_says_leads_a_partial_answer(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    index = mini_assistant.index
    # The texts say 技术复苏基金 and 成果转化, never 成果转化飞地.
    unsaid = mini_assistant.prepare("“成果转化飞地”入驻单位从转化收入中提取奖励的比例不低于多少？")
    assert quoted_terms_unsaid(unsaid, index) == ["成果转化飞地"]
    answer = mini_assistant.ask(unsaid.text)
    assert answer.outcome == "partial" and answer.answer.startswith("文本均未使用“成果转化飞地”")
    assert answer.citations  # what the texts state on the matter, cited
    # A quoted term a text says, with other whitespace, counts; so does an unquoted one, and a number.
    said = mini_assistant.prepare("“技术 复苏基金”由谁设立？")
    assert quoted_terms_unsaid(said, index) == []
    assert quoted_terms_unsaid(mini_assistant.prepare("成果转化飞地入驻企业能享受哪些奖励？"), index) == []
    assert quoted_terms_unsaid(mini_assistant.prepare("第“120”条规定了什么？"), index) == []
    # A thing the dictionary names in one word and jieba cuts apart (元 / 宇宙) is looked for as a quoted term;
    # an act (买东西, "to go shopping") or a question (什么时候, "when?") so cut is not.
    assert quoted_terms_unsaid(mini_assistant.prepare("元宇宙园区企业能享受哪些奖励？"), index) == ["元宇宙"]
    assert quoted_terms_unsaid(mini_assistant.prepare("在示范市买东西遇到欺诈，什么时候能拿到奖励？"), index) == []
    # A body named by its head word (…委员会) is looked for whole, without the place it is of; so is a
    # body a title names.
    body = mini_assistant.prepare("示范市技术复苏基金管理委员会由哪些部门组成？")
    assert "技术复苏基金管理委员会" in quoted_terms_unsaid(body, index)
    titles = [document.title for document in index.documents.values()]
    named_in_a_title = next((t for t in titles if t.endswith("条例")), "")
    assert named_in_a_title, titles
    assert quoted_terms_unsaid(mini_assistant.prepare(f"{named_in_a_title}的适用范围是什么？"), index) == []
    # Below a library's vocabulary, a word a few texts lack says nothing.
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 10**9)
    assert quoted_terms_unsaid(unsaid, index) == []


def test_a_question_asking_why_a_law_lays_something_down_is_answered_in_part(mini_assistant: Assistant) -> None:
    # The regulation fixes the 50 % share and gives no reason for it: what it lays down is quoted.
    answer = mini_assistant.ask("示范市科技成果转化促进条例为什么要求单位提取不低于百分之五十的比例？")
    assert answer.outcome == "partial"
    assert answer.answer.startswith("文本只规定怎么做，未说明这样规定的理由")
    assert "百分之五十" in answer.answer and answer.citations
    english = mini_assistant.ask("Why does the regulation require units to set aside at least 50 percent of income?")
    assert english.outcome == "partial"
    assert english.answer.startswith("The texts lay down rules without giving their reasons.")
    # The same matter asked without a why is answered.
    assert mini_assistant.ask("示范市科技成果转化促进条例要求单位提取多少比例奖励科研人员？").outcome == "answered"


def test_a_word_jieba_cuts_from_the_words_that_ask_is_not_one_the_figure_must_be_about() -> None:
    question = "拿到营业执照后多少天内要去备案？"
    asking = re.search("多少天", question)
    # 多少天内 is cut 多少 / 天内: 天内 is how the question asks, and no text says it (十五日内).
    assert _only_within_asking("天内", question, asking)
    assert not _only_within_asking("备案", question, asking)
    # A word said elsewhere in the question too is the question's own.
    longer = "三天内能否办完？" + question
    assert not _only_within_asking("天内", longer, re.search("多少天", longer))
    assert not _only_within_asking("天内", question, None)


def test_the_askers_story_in_words_no_passage_says_does_not_hide_the_figure_asked_for(
    mini_assistant: Assistant,
) -> None:
    law = next(d for d, doc in mini_assistant.index.documents.items() if "条例" in doc.title)
    # The story (企业纷纷退出, 市场信号微弱 …) is the paper's words, said by no passage of the regulation;
    # the sentence giving the share says the rest (单位, 转化收入, 提取, 奖励, 科研人员).
    question = (
        "企业纷纷退出、投资大幅减少、市场信号微弱、社会资本很少进入时，单位要从转化收入中提取多少比例奖励科研人员？"
    )
    query = mini_assistant.prepare(question)
    passages = mini_assistant.retriever.search(query, 5, SearchFilter(doc_ids=(law,)))
    assert any("百分之五十" in p.text for p in passages)
    assert unsupported_reason(query, passages, mini_assistant.index) is None
    # A figure of another thing than the one the passages name (第三条: 发展规划, 协调机制) gives no answer.
    other = mini_assistant.prepare("市人民政府的发展规划对协调机制有多少比例的要求？")
    assert unsupported_reason(other, passages, mini_assistant.index) == NO_FIGURE


def test_a_person_no_text_names_is_not_covered(mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    index = mini_assistant.index
    # No text names 钟南山; a title beside a name, or a question of its life, says it is a person's.
    titled = mini_assistant.prepare("钟南山院士的主要学术成就有哪些？")
    assert persons_unnamed(titled, index) == ["钟南山"]
    assert persons_unnamed(mini_assistant.prepare("校长钟南山提出了哪些建议？"), index) == ["钟南山"]
    assert persons_unnamed(mini_assistant.prepare("钟南山的工作履历是怎样的？"), index) == ["钟南山"]
    # A name jieba cuts into single characters is one too (屠 / 呦 / 呦), up to the 的 after it.
    assert persons_unnamed(mini_assistant.prepare("屠呦呦的生平经历有哪些？"), index) == ["屠呦呦"]
    assert _reason(mini_assistant, "钟南山院士对技术复苏基金有哪些建议？") == "the texts never name 钟南山"
    assert mini_assistant.ask(titled.text).outcome == "not_covered"
    # An office the texts set up is no person; a word no text uses without a title is the asker's own.
    assert persons_unnamed(mini_assistant.prepare("技术复苏基金由哪个部长负责？"), index) == []
    assert persons_unnamed(mini_assistant.prepare("钟南山那边的企业能申请技术复苏基金吗？"), index) == []
    # Below a library's vocabulary, a name a few texts lack says nothing.
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 10**9)
    assert persons_unnamed(titled, index) == []


def test_a_name_an_english_question_quotes_that_no_text_says_leads_a_partial_answer(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    index = mini_assistant.index
    # The texts speak of innovation (创新) and of no voucher card.
    unsaid = mini_assistant.prepare("How do researchers apply for the city's 'Innovation Voucher Card'?")
    assert quoted_names_unsaid(unsaid, index) == ["Innovation Voucher Card"]
    answer = mini_assistant.ask(unsaid.text)
    assert answer.outcome == "partial" and answer.answer.startswith("No text uses “Innovation Voucher Card”")
    assert answer.citations
    # A name whose words' renderings stand in a row in a text is said (技术成熟度曲线).
    said = mini_assistant.prepare("What does the paper say about the 'Technology Maturity Curve'?")
    assert quoted_names_unsaid(said, index) == []
    # A programme named in capitalised words needs no quotes; the sentence's opening words are no part of it.
    programme = mini_assistant.prepare("Is the city's Innovation Voucher Scheme open to universities?")
    assert quoted_names_unsaid(programme, index) == ["Innovation Voucher Scheme"]
    # A term in lower case, or one capitalised word, is no name: other checks judge it.
    assert quoted_names_unsaid(mini_assistant.prepare("What counts as an 'innovation voucher card'?"), index) == []
    assert quoted_names_unsaid(mini_assistant.prepare("What does 'Voucher' mean here?"), index) == []
    # Below a library's vocabulary, a name a few texts lack says nothing.
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 10**9)
    assert quoted_names_unsaid(unsaid, index) == []


def test_a_thing_no_text_says_decides_only_with_a_weak_best_passage_or_a_question_of_general_knowledge(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "nephew" tells the asker's story; the question is of the regulation's scope and its article is close.
    asked = "My nephew is a researcher. What share of the income from a transferred result goes to the researchers?"
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    assert any(
        thing.startswith("nephew")
        for thing in things_unknown_to_corpus(mini_assistant.prepare(asked), mini_assistant.index)
    )
    relevance = mini_assistant.trace(asked).relevance
    settings = mini_assistant.settings.replace(abstain_threshold=0.0)

    def reason(unknown_word_floor: float, general_question_floor: float) -> str:
        judged = settings.replace(unknown_word_floor=unknown_word_floor, general_question_floor=general_question_floor)
        answer = Assistant(judged, encoder=mini_assistant.encoder, auto_build=False).ask(asked)
        return answer.abstain_reason or ""

    never_general = 1.01  # no question's general-knowledge probability reaches it
    assert reason(relevance + 0.01, never_general).startswith("the texts never speak of nephew")  # a weak passage
    assert "never speak" not in reason(relevance - 0.01, never_general)  # a close one, a question of the law
    assert reason(relevance - 0.01, 0.0).startswith("the texts never speak of nephew")  # read as general knowledge


def test_an_english_question_about_a_thing_no_text_says_and_pointing_at_no_text_is_not_covered(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = "What's a good stretching routine before running a half marathon?"
    # The small test corpus lacks most words of the language: its lacking one proves nothing.
    assert things_unknown_to_corpus(mini_assistant.prepare(running), mini_assistant.index) == []
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    unknown = things_unknown_to_corpus(mini_assistant.prepare(running), mini_assistant.index)
    assert any(thing.startswith("half marathon (半马") for thing in unknown)
    assert _reason(mini_assistant, running) == f"the texts never speak of {', '.join(unknown[:3])}"
    # A question that points at a text (a law, a place, the country) may name a thing in words the
    # dictionary gives and the text does not; its evidence is judged by the other checks.
    for pointing in (
        "What does the Patent Law say about half marathons?",
        "How do Shanghai's rules treat a half marathon?",
        "Does the Chinese government fund half marathons?",
    ):
        assert things_unknown_to_corpus(mini_assistant.prepare(pointing), mini_assistant.index) == []
    assert things_unknown_to_corpus(mini_assistant.prepare("半程马拉松前怎么拉伸？"), mini_assistant.index) == []


def test_a_thing_named_after_a_place_points_at_no_text_of_that_place(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Peking duck" is 北京烤鸭, a dish: the question is no more about Beijing's texts than about any.
    duck = "What's the best way to get crispy skin when roasting Peking duck at home?"
    assert "peking duck" in _unknown_in_a_library(mini_assistant, monkeypatch, duck)
    # Beijing named as a place still points at its texts, which judge the question by their evidence.
    in_beijing = "How do Beijing's rules treat roasting Peking duck at home?"
    assert some_words_unknown_to_corpus(mini_assistant.prepare(in_beijing), mini_assistant.index) == []


def test_a_term_the_texts_say_in_words_jieba_cuts_is_no_thing_they_never_speak_of(
    tmp_path: Path, use_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # jieba cuts 行政机关 ("administrative organ") into 行政, 机关: the vocabulary never holds it whole.
    articles = "".join(f"第{n}条 行政机关收到政府信息公开申请，应当在{n}日内答复。" for n in "一二三四五")
    assistant = built_assistant(tmp_path, use_encoder, {"信息公开条例": articles})
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    asked = assistant.prepare("How long does an administrative organ have to answer a request?")
    assert "行政机关" in chinese_for("administrative organ")
    assert not assistant.index.lexical.knows("行政机关")
    assert not any("administrative organ" in thing for thing in things_unknown_to_corpus(asked, assistant.index))
    # A thing whose words the texts do not all use stays unknown ("customs officer": 海关 is no word here).
    customs = assistant.prepare("How long does a customs officer have to answer a request?")
    assert any("customs officer" in thing for thing in things_unknown_to_corpus(customs, assistant.index))


def test_a_year_points_at_a_text_only_when_it_says_which_text(
    mini_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    # "the 2022 … final" dates an event: the question points at no text, and a thing no text says tells.
    final = mini_assistant.prepare("Who won the 2022 FIFA World Cup final?")
    assert things_unknown_to_corpus(final, mini_assistant.index)
    # A year naming a text's version points at it, and its evidence is judged by the other checks.
    for versioned in (
        "What did the 2021 amendment change about the World Cup?",
        "Under the rules as revised in 2019, who hosts the World Cup?",
    ):
        assert things_unknown_to_corpus(mini_assistant.prepare(versioned), mini_assistant.index) == [], versioned


def test_an_english_question_asking_which_option_is_best_and_pointing_at_no_text_is_not_covered(
    mini_assistant: Assistant,
) -> None:
    for advice in (
        "Is it better for my phone's battery to charge it overnight or in short bursts?",
        "What's the best way to keep fresh basil from wilting in the fridge?",
        "Which espresso machine is better value, a De'Longhi or a Breville?",
    ):
        assert asks_for_advice(mini_assistant.prepare(advice)), advice
        assert _reason(mini_assistant, advice) == ASKS_ADVICE
    # A place is no text: none judges the best season to visit its beaches (this small corpus
    # never mentions Qingdao, which says so first).
    assert asks_for_advice(mini_assistant.prepare("When is the best season to visit Qingdao's beaches?"))
    # A question that points at a text asks what it says is best; one asking no preference asks a rule.
    for ruled in (
        "What does the paper see as the best way to support technologies in the trough?",
        "Under Shenzhen's rules, which incentive is better for a start-up?",
        "How must schools in Hangzhou put the best interests of the child first?",  # a standard a law sets
        "How long may a phone battery be stored before recycling?",
        "根据《示范条例》，哪种补贴方式更好？",
        "手机电池回收的规定是什么？",
    ):
        assert not asks_for_advice(mini_assistant.prepare(ruled)), ruled
    # The same in Chinese.
    for advice in ("手机电池是晚上充电更好吗？", "跑马拉松前一天晚上吃什么比较好？", "哪种咖啡机最好？"):
        assert asks_for_advice(mini_assistant.prepare(advice)), advice


def test_weekends_in_general_are_no_day_relative_to_the_asking() -> None:
    assert RELATIVE_DAY.search("周末和节假日是否可以施工？") is None
    assert RELATIVE_DAY.search("Do the rules allow work at weekends?") is None


def test_a_year_in_the_legislative_history_counts(mini_assistant: Assistant) -> None:
    assert _reason(mini_assistant, "示范市科技成果转化促进条例2023年修正后，奖励比例是多少？") is None


def test_a_year_in_a_preamble_counts_and_one_elsewhere_in_a_paper_does_not(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "interpretation": (
            "# 最高人民法院关于商标法修改决定施行后商标案件法律适用问题的解释\n\n"
            "为正确审理商标案件，根据2013年8月30日通过的《关于修改〈中华人民共和国商标法〉的决定》，制定本解释。\n\n"
            "第一条 商标法修改决定施行后人民法院受理的商标民事案件，侵权行为发生在修改决定施行前，"
            "并持续到修改决定施行后的，适用修改后的商标法。\n\n"
            "第二条 商标注册申请案件，适用修改后的商标法。"
        ),
        "paper": (
            "# 科技成果转化的研究\n\n一、引言\n\n2024年，中国科技成果转化率为30%左右。\n\n"
            + "".join(f"第{i}类高校的研究侧重各有不同，产业需求与科研供给的对接方式也各不相同。" for i in range(40))
            + "\n\n二、文献\n\n2020年以来，关于科技成果转化的研究不断增多。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The decision the interpretation implements is named in its preamble, before its first article.
    assert (
        _reason(assistant, "商标法2013年修改决定施行后受理的商标民事案件，侵权行为持续到施行后，适用哪部商标法？")
        is None
    )
    assert _reason(assistant, "商标法2015年修改决定施行后受理的商标民事案件适用哪部商标法？") == (
        "the passages give nothing for 2015"
    )
    # A paper has no articles: a year its passages do not give stays unsupported though the text names it.
    query = assistant.prepare("2020年中国科技成果转化率是多少？")
    passages = [p for p in assistant.retriever.search(query, 5) if "30%" in p.text]
    assert passages and all("2020" not in p.text for p in passages)
    assert unsupported_reason(query, passages, assistant.index) == "the passages give nothing for 2020"


def test_a_place_the_best_documents_other_articles_name_counts(tmp_path: Path, use_encoder: Encoder) -> None:
    articles = "\n\n".join(f"第{n}条 示范河的河道应当保持畅通，沿岸绿化由有关部门负责养护。" for n in "五六七八九十")
    files = {
        "river": (
            "# 浙江省示范河保护管理条例\n\n第一条 为了保护示范河生态环境，制定本条例。\n\n"
            "第三条 温州市人民政府应当加强对示范河保护管理工作的领导。\n\n"
            f"{articles}\n\n"
            "第三十四条 违反本条例规定，向示范河水体倾倒人畜粪便的，对单位处一万元罚款，对个人处二百元罚款。"
        ),
        "city": "# 温州市市容和环境卫生管理条例\n\n第四十四条 违反本条例规定，随地便溺的，处五十元罚款。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    query = assistant.prepare("在温州示范河保护区内，向水体倾倒人畜粪便的，单位和个人分别罚多少钱？")
    found = assistant.retriever.search(query, 10)
    best = [p for p in found if "一万元" in p.text]
    city = [p for p in found if p.title.startswith("温州市")]
    assert best and city and "温州" not in best[0].text
    # The river's regulation names 温州 in its third article only: it is still about 温州.
    assert unsupported_reason(query, [best[0], city[0]], assistant.index) is None


def test_a_figure_heading_a_list_is_about_its_items_and_a_count_must_count_what_is_asked(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "regulation": (
            "# 示范市拆船管理条例\n\n"
            "第十七条 违反本条例规定，有下列情形之一的，主管部门可以处以1万元以上10万元以下的罚款：\n"
            "（一）废油船未经洗舱、排污、清舱和测爆即行拆解的；\n"
            "（二）任意排放或者丢弃污染物造成严重污染的。\n\n"
            "第十八条 示范市中小学校每个年级设置不超过十二个班。\n\n"
            "第十九条 示范市体育场馆每年开展安全检测3次以上。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The fine stands in the list's head, the act asked about in its item.
    assert _reason(assistant, "废油船未经洗舱、排污、清舱和测爆就拆解的，可以处多少罚款？") is None
    # Twelve classes is no number of pupils.
    assert _reason(assistant, "示范市中小学校每个班最多能有多少名学生？") == NO_FIGURE
    assert _reason(assistant, "示范市中小学校每个年级最多设置多少个班？") is None
    # Three safety checks are no number of drills: 次 counts any event, the event must be said.
    assert _reason(assistant, "示范市体育场馆每年要做几次演练？") == NO_FIGURE
    assert _reason(assistant, "示范市体育场馆每年要做几次安全检测？") is None


def test_a_count_of_sites_asks_for_a_number_of_them(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "wetlands": (
            "# 示范湿地保护条例\n\n"
            "第十四条 湿地分为重要湿地和一般湿地。重要湿地包括国家重要湿地和省级重要湿地。\n\n"
            "第十五条 国家重要湿地名录由国务院林业草原主管部门发布。\n\n"
            "第十六条 本市设立湿地保护站三处。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The regulation names national wetlands and counts none of them: 多少处 asks for a number.
    assert _reason(assistant, "示范湿地保护条例公布的国家重要湿地一共有多少处？") == NO_FIGURE
    assert _reason(assistant, "示范湿地保护条例规定本市设立多少处湿地保护站？") is None


def test_a_figure_the_texts_do_not_give_on_a_matter_they_treat_is_a_partial_answer(
    mini_assistant: Assistant,
) -> None:
    answer = mini_assistant.ask("技术复苏基金的规模有多少资金？")
    assert answer.outcome == "partial" and not answer.abstained
    assert answer.answer.startswith("文本未规定所问的金额；相关规定如下：")
    assert answer.citations and "技术复苏基金" in answer.answer  # what the texts do state, cited
    assert answer.to_dict()["outcome"] == "partial"

    english = mini_assistant.ask("How much money does the technology recovery fund hold?")
    assert english.outcome == "partial" and english.answer.startswith("The texts state no such amount.")


@pytest.mark.parametrize(
    ("sentence", "sets_a_sum"),
    [
        ("处二万元以上十万元以下罚款", True),
        ("处违法所得一倍以上五倍以下的罚款", True),  # a multiple of another sum
        ("特殊情况需要挖掘的，增缴五至十倍掘动修复费", True),
        ("并处货值金额十倍以上二十倍以下罚款", True),
        ("产量提高到原来的两倍", False),  # a multiple of no sum
        # or as a share of another sum
        ("按照房地产登记价格百分之五的标准处以罚款", True),
        ("处合同金额5%以上10%以下的罚款", True),
        ("提取不低于百分之五十的比例", False),  # a share of no sum
        ("第五条 经批准挖掘的，应当限期修复", False),
    ],
)
def test_a_sum_may_be_set_as_a_multiple_of_another(sentence: str, sets_a_sum: bool) -> None:
    assert bool(MONEY.search(sentence)) is sets_a_sum


@pytest.mark.parametrize(
    ("sentence", "sets_a_sum"),
    [
        ("处2万至5万元罚款", True),
        ("罚款5万。", True),
        ("本市行政区域内每五万常住人口至少配置一辆救护车", False),  # 五万 people, no sum
        ("全市三亿人口", False),
    ],
)
def test_ten_thousand_alone_is_a_sum_only_where_no_noun_follows(sentence: str, sets_a_sum: bool) -> None:
    assert bool(MONEY.search(sentence)) is sets_a_sum


def test_a_figures_sentence_may_say_a_chinese_questions_word_as_the_dictionary_gives_it() -> None:
    # A question says 房子 and 孩子 where a law says 房屋 and 儿童.
    assert "房屋" in _same_meaning("房子") and "儿童" in _same_meaning("孩子")
    # One character is too common to tell: the dictionary's "taxi" is also 的 (的士).
    assert all(len(word) > 1 for word in _same_meaning("出租车"))
    assert _same_meaning("示范词语不存在") == ()


def test_a_fee_a_chinese_question_names_is_the_sum_it_asks_for() -> None:
    question = "温州临时占用公共绿地要交的绿化补偿费，每平方米是多少钱？"
    assert chinese_sum_noun(question, tokenize(question)) == "补偿费"
    # A fine per square metre is another sum than the fee asked for.
    assert chinese_sum_noun("门票价格是多少？", tokenize("门票价格是多少？")) == "价格"
    assert chinese_sum_noun("消费多少钱能退税？", tokenize("消费多少钱能退税？")) is None  # 消费 spends, no fee
    # A word or two between 多少 and the sum may say which: 多少高龄津贴 asks for an allowance.
    assert chinese_sum_noun("80岁以上老人每个月能领多少高龄津贴？") == "津贴"
    # 几块钱 is how one asks for a sum in yuan every day.
    assert figure_kind("绍兴地铁的起步票价是几块钱？") == "amount"


@pytest.mark.parametrize(
    ("sentence", "kinds_asked", "of_other_kinds"),
    [
        # The article on subsidies obtained by fraud sets fines, in yuan or as a multiple.
        ("责令退回骗取的补贴，并处1万元以上5万元以下罚款", ["补贴"], True),
        ("责令退回骗取的相关补贴，并处骗取金额2倍以上5倍以下罚款", ["补贴", "补助"], True),
        ("责令退回骗取的补贴，并处1万元以上5万元以下罚款", ["罚款"], False),
        ("按每人5000元给予一次性岗位补贴", ["补贴"], False),
        ("拖欠工资的，处5000元罚款", ["工资"], True),
        ("一次性给予5000元", ["补贴"], False),  # a sum of no stated kind may be the one asked for
        ("处5000元罚款", [], False),  # the question names no kind of sum
    ],
)
def test_sums_of_another_kind_than_the_one_asked_for(
    sentence: str, kinds_asked: list[str], of_other_kinds: bool
) -> None:
    assert sums_only_of_other_kinds(sentence, kinds_asked) is of_other_kinds


def test_a_fine_in_an_article_on_subsidies_does_not_answer_how_many_yuan_of_subsidy(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    regulation = (
        "# 示范就业援助规定\n\n"
        "第十五条 用人单位招用就业困难人员的，按照国家和本市有关规定享受社会保险补贴和岗位补贴。\n\n"
        "第十九条 用人单位以欺诈手段骗取补贴的，责令退回骗取的补贴，并处1万元以上5万元以下罚款。\n\n"
        "第二十条 有关人员骗取就业援助相关补贴的，责令退回，并处骗取金额2倍以上5倍以下罚款。"
    )
    assistant = built_assistant(tmp_path, use_encoder, {"aid": regulation})
    subsidy = assistant.ask("How many yuan of subsidy does the Model Employment Aid Provisions pay per hire?")
    assert subsidy.outcome == "partial" and subsidy.answer.startswith("The texts state no such amount."), subsidy.answer
    fine = assistant.ask(
        "How many yuan is the fine for cheating to obtain a subsidy under the Model Employment Aid Provisions?"
    )
    assert fine.outcome == "answered", fine.answer


def test_an_english_question_names_the_kinds_of_sum_its_renderings_give() -> None:
    assert sum_kinds_named("补贴 补助 资助 就业") == ["补助", "补贴"]
    assert sum_kinds_named("罚款 处罚") == ["罚款"]
    # A fee is a kind of sum ("the annual fee": 年费); a verb ending in 费 names none.
    assert sum_kinds_named("年度 周年 费 年费") == ["费"]
    assert sum_kinds_named("注册 登记费") == ["费"]
    assert sum_kinds_named("消费 浪费 免费") == []


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("How much is the fine per day for reporting late?", "每日"),
        ("逾期未报告的，每日罚款多少元？", "按日"),
        ("What monthly salary in yuan must be paid?", "每月"),
        ("What daily interest rate applies?", "日利率"),
        ("How much is the fine for reporting late?", None),  # no period asked
        ("How long is annual leave?", None),  # a period, not a figure per period
        ("It was granted more than a year ago: how much may the inventor keep?", None),  # when, not per what
        # A quantity per person is not one for a whole site.
        ("城市人均公园绿地面积要达到多少平方米？", "人均"),
        ("How many square metres of park per capita must the city provide?", "每人"),
    ],
)
def test_the_period_a_figure_is_asked_for(question: str, period: str | None) -> None:
    pattern = period_asked(question)
    assert (pattern.search(period) is not None) if period else pattern is None


def test_a_figure_per_period_is_answered_only_by_a_figure_for_that_period(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "lump": "# 示范市排污报告条例\n\n第二十条 排污单位逾期未报告排污情况的，由生态环境部门责令改正，"
        "处二万元以上十万元以下的罚款。",
        "daily": "# 示范市排污许可条例\n\n第三十条 排污单位拒不改正的，自责令改正之日的次日起，"
        "按照原处罚数额按日连续处罚，每日罚款一万元。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    lump = "《示范市排污报告条例》对逾期未报告排污情况的，每日罚款多少元？"
    assert _reason(assistant, lump.replace("每日", "")) is None  # the fine itself is given
    assert _reason(assistant, lump) == NO_FIGURE  # a daily fine is not: the premise is false
    assert assistant.ask(lump).outcome == "partial"
    assert _reason(assistant, "《示范市排污许可条例》对拒不改正的排污单位每日罚款多少元？") is None


@pytest.mark.parametrize(
    ("files", "question"),
    [
        pytest.param(  # 之内 and 之后 weigh as much as 户口 where a corpus uses them rarely
            {
                "register": "# 示范市户口登记条例\n\n第七条 婴儿出生后一个月以内，由户主向户口登记机关申报出生登记。",
                "school": "# 示范市入学规定\n\n第三条 孩子入学之后，学校应当在学期之内组织体检。",
            },
            "孩子出生之后多久之内要报户口？",
            id="function-words",
        ),
        pytest.param(  # the glossary's "equity" is 股权; the dictionary's whole phrase 中外合资经营企业
            {
                "term": "# 示范市中外合资经营企业期限规定\n\n第四条 不约定合营期限的，审批机关应当在批准后30天内备案。",
                "shares": "# 示范市股权登记规定\n\n第二条 股权出质的，应当办理出质登记。",
            },
            "For a Sino-foreign equity joint venture with no set term, within how many days must it be filed?",
            id="longer-phrase",
        ),
    ],
)
def test_a_figure_is_judged_by_the_words_that_say_what_it_is_about(
    tmp_path: Path, use_encoder: Encoder, files: dict[str, str], question: str
) -> None:
    # Not by the words that say how a Chinese question is put (jieba's function words), and a
    # glossary term inside a longer phrase the dictionary knows is said by that phrase's words too.
    assistant = built_assistant(tmp_path, use_encoder, files)
    assert _reason(assistant, question) is None


def test_a_sum_or_share_a_question_states_as_its_premise_must_be_stated_by_a_passage(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "reports": "# 示范市大额交易报告条例\n\n第十条 金融机构应当执行大额交易报告制度，客户单笔交易超过规定金额的，"
        "应当及时报告。\n\n第十一条 未按规定报告的，处二十万元以上二百万元以下罚款。",
        "fund": "# 示范市住房基金条例\n\n第八条 单位缴存比例不得低于职工上一年度月平均工资的5%。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The regulation leaves the threshold to other rules: 50,000 yuan is no figure of it.
    threshold = assistant.ask("Is the large-value transaction reporting threshold under the regulation 50,000 yuan?")
    assert threshold.outcome == "partial", threshold.answer
    assert threshold.answer.startswith("The texts state no such amount."), threshold.answer
    assert assistant.ask("Is the fine for not reporting up to 2,000,000 yuan?").outcome == "answered"
    # A share likewise: 5% is the regulation's, 12% is not.
    cap = assistant.ask("《示范市住房基金条例》规定缴存比例最高不得超过12%，是第几条？")
    assert cap.outcome == "partial" and cap.answer.startswith("文本未规定所问的比例"), cap.answer
    assert assistant.ask("《示范市住房基金条例》规定缴存比例不得低于5%，是第几条？").outcome == "answered"
    # A share said as a fraction is a share too: "half" is 50 %, which the regulation does not set.
    half = assistant.ask("Under the housing fund regulation, employers pay half of the wage. Which article says so?")
    assert half.outcome == "partial" and half.answer.startswith("The texts state no such rate or share."), half.answer


def test_a_premise_that_the_texts_allow_what_they_forbid_is_answered_in_part(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "roads": "# 示范市高速公路条例\n\n第九条 禁止下列车辆进入高速公路：（一）非机动车；（二）摩托车、拖拉机。\n\n"
        "第十条 小型客车在高速公路上的限速为每小时一百二十公里。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    false_premise = assistant.ask(
        "Since the expressway regulation allows motorcycles on expressways, what is their speed limit?"
    )
    assert false_premise.outcome == "partial", false_premise.answer
    lead = false_premise.answer.partition("\n")[0]
    assert lead.startswith(
        "The texts forbid what the question takes as allowed: 《示范市高速公路条例》第九条“禁止下列车辆"
    ), lead
    assert "摩托车" in lead
    chinese = assistant.ask("既然《示范市高速公路条例》允许摩托车进入高速公路，那么摩托车的限速是多少？")
    assert chinese.outcome == "partial" and chinese.answer.startswith("文本并未允许问题所说的做法"), chinese.answer
    # A premise the texts bear out: cars are allowed, within a limit.
    true_premise = assistant.ask(
        "Since the expressway regulation allows cars on expressways, what is their speed limit?"
    )
    assert true_premise.outcome == "answered", true_premise.answer


def test_a_premise_that_the_texts_require_what_they_only_encourage_is_answered_in_part(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "weather": "# 示范市气象灾害防御条例\n\n"
        "第十一条 本市鼓励保险机构开发气象灾害保险产品，引导单位购买气象灾害保险。\n\n"
        "第十二条 建设单位应当为施工人员购买意外伤害保险。\n\n第三十条 违反本条例规定的，处一万元以下罚款。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    encouraged = assistant.ask(
        "Since the weather disaster regulation made weather disaster insurance compulsory, what is the penalty?"
    )
    assert encouraged.outcome == "partial", encouraged.answer
    lead = encouraged.answer.partition("\n")[0]
    assert lead.startswith("The texts encourage, not require, what the question takes as required: "), lead
    assert "第十一条“本市鼓励保险机构开发气象灾害保险产品，引导单位购买气象灾害保险”" in lead, lead
    # Where a passage obliges it, the premise may hold.
    obliged = assistant.ask(
        "Since the weather disaster regulation requires builders to buy accident insurance for workers, "
        "what is the penalty?"
    )
    assert not obliged.answer.startswith("The texts encourage"), obliged.answer


def test_the_length_a_question_gives_a_period_of_the_law_must_be_stated_by_a_passage(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "licence": "# 示范市执业登记条例\n\n第十条 执业登记有效期为5年。有效期届满需要继续执业的，"
        "应当在届满前30日申请延续。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The regulation's period is five years; ten is the asker's, and 第十条 is no ten years.
    wrong = assistant.ask("《示范市执业登记条例》规定执业登记有效期为10年，延续时要提前多久申请？")
    assert wrong.outcome == "partial" and wrong.answer.startswith("文本未规定所问的期限"), wrong.answer
    asked = "《示范市执业登记条例》规定执业登记有效期为{}，延续时要提前多久申请？"
    assert assistant.ask(asked.format("五年")).outcome == "answered"
    # Said in months, the same length holds; said in English, the premise is read too.
    assert assistant.ask(asked.format("60个月")).outcome == "answered"
    english = assistant.ask("The licence regulation sets a ten-year validity period; how early must one renew?")
    assert english.outcome == "partial" and english.answer.startswith("The texts state no such period."), english.answer
    # A length said of the asker's own story is no premise about the law.
    story = "My registration has been valid for ten years; how early must one apply to renew it?"
    assert assistant.ask(story).outcome == "answered"


def test_a_figure_of_the_named_document_is_asked_for_not_one_of_another_law(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # The sole proprietorship law fixes no capital; the company rules beside it do.
    files = {
        "sole": "# 示范市个人独资企业条例\n\n第八条 设立个人独资企业应当有投资人申报的出资。\n\n"
        "第九条 申请设立个人独资企业，应当向登记机关提交设立申请书。",
        "company": "# 示范市公司登记条例\n\n第十二条 有限责任公司注册资本的最低限额为人民币三万元。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = "《示范市个人独资企业条例》规定的最低注册资本是多少？"
    query = assistant.prepare(question)
    passages = assistant.retriever.search(query, 5)
    assert any(p.doc_id == "company" for p in passages), "the other law's figure is retrieved"
    named = assistant.retriever.named_documents(question)
    assert unsupported_reason(query, passages, assistant.index, named) == NO_FIGURE
    assert assistant.ask(question).outcome == "partial"
    # Named, the company rules answer; naming neither, the figure retrieved does.
    assert _reason(assistant, "《示范市公司登记条例》规定的最低注册资本是多少？") is None
    assert _reason(assistant, "有限责任公司的最低注册资本是多少？") is None


def test_a_place_the_texts_never_mention_is_not_covered_and_a_full_answer_is_answered(
    mini_assistant: Assistant,
) -> None:
    assert mini_assistant.ask("深圳在泡沫破裂低谷期设立了什么基金？").outcome == "not_covered"
    answered = mini_assistant.ask("单位从转化收入中提取奖励的比例不低于多少？")
    assert answered.outcome == "answered" and "百分之五十" in answered.answer


def test_missing_content_check_when_enabled_refuses_a_question_about_something_never_mentioned(
    mini_index: BuiltIndex,
) -> None:
    strict = Assistant(
        mini_index.settings.replace(max_missing_content=0.5), encoder=mini_index.encoder, auto_build=False
    )
    weather = strict.ask("今天示范市的天气和气温怎么样？")
    assert weather.outcome == "not_covered" and "天气" in (weather.abstain_reason or "")
    assert strict.ask("单位从转化收入中提取奖励的比例不低于多少？").outcome == "answered"


def test_the_best_passage_must_be_about_a_place_the_question_names(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "civil-servants": "第三十四条 新录用的公务员试用期为一年。试用期满合格的，予以任职。",
        "travel": "第五条 内地公民前往澳门，须向公安机关出入境管理部门申请通行证。",
        "shenzhen": "第八条 深圳市新录用的公务员试用期为六个月。",
    }
    settings = built_corpus(tmp_path, use_encoder, files)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)

    question = "澳门新录用的公务员试用期是多久？"
    passages = assistant.retriever.search(assistant.prepare(question), 5)
    assert "澳门" not in passages[0].text and any("澳门" in p.text for p in passages)
    assert _reason(assistant, question) == "the best passage's document does not mention 澳门"
    assert _reason(assistant, "深圳市新录用的公务员试用期是多久？") is None


def test_the_best_passage_may_be_of_the_province_of_a_city_the_question_names(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    ratio = "第十条 用人单位安排残疾人就业的比例不低于本单位在职职工总数的百分之一点五。"
    files = {
        "shandong": local_regulation("山东省示范残疾人就业办法", "山东省", ratio),
        "qingdao": local_regulation("青岛市示范残疾人就业办法", "青岛市", ratio.replace("一点五", "一点六")),
        "jinan": local_regulation("济南市示范残疾人权益规定", "济南市", "第三条 残疾人享有平等参与社会生活的权利。"),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    query = assistant.prepare("济南的用人单位安排残疾人就业的比例不低于多少？")
    found = assistant.retriever.search(query, 5)

    def first(doc_id: str) -> list[Passage]:
        return [p for p in found if p.doc_id == doc_id] + [p for p in found if p.doc_id != doc_id]

    # Shandong's measures are in force in Jinan, though they never name it; Qingdao's are not.
    assert unsupported_reason(query, first("shandong"), assistant.index) is None
    qingdao_first = unsupported_reason(query, first("qingdao"), assistant.index)
    assert qingdao_first == "the best passage's document does not mention 济南"


def test_a_document_the_question_names_is_asked_about_whatever_its_place(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "law": "# 中华人民共和国示范成果转化法\n\n第四十五条 未约定奖励的，从转让净收入中提取不低于百分之五十的比例。",
        "beijing": "# 北京市示范成果转化条例\n\n第十二条 未约定奖励的，从转让净收入中提取不低于百分之七十的比例。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = "《示范成果转化法》规定未约定奖励时提取的比例不低于多少？北京市的条例又规定多少？"
    query = assistant.prepare(question)
    passages = [p for p in assistant.retriever.search(query, 5) if p.doc_id == "law"] + [
        p for p in assistant.retriever.search(query, 5) if p.doc_id == "beijing"
    ]
    named = assistant.retriever.named_documents(question)
    assert named == [("law",)]
    # The national law answers first: it never says 北京, and the question named it.
    assert unsupported_reason(query, passages, assistant.index, named) is None
    assert unsupported_reason(query, passages, assistant.index) == "the best passage's document does not mention 北京"


def test_words_that_say_whose_law_name_no_thing() -> None:
    law = "第四十五条 未约定奖励的，对完成、转化职务科技成果做出重要贡献的人员给予奖励。"
    named = ["Law on Promoting the Transformation of Scientific and Technological Achievements"]
    question = (
        "What share goes to inventors under the national Law on Promoting the Transformation of "
        "Scientific and Technological Achievements?"
    )
    assert all(not thing.startswith("national") for thing in _things_unrendered(question, named, law))


def test_a_pair_opening_with_a_preposition_names_no_thing() -> None:
    # "between two" is 两国之间 ("between two countries") to the dictionary: no thing the question asks of.
    regulation = "第十一条 省、自治区、直辖市之间的边界争议，由有关省、自治区、直辖市人民政府协商解决。"
    named = ["Regulations on Handling Administrative Boundary Disputes"]
    question = (
        "Under the Regulations on Handling Administrative Boundary Disputes, how is a dispute between two "
        "provinces resolved?"
    )
    assert not any("两国之间" in thing for thing in _things_unrendered(question, named, regulation))


def test_a_name_word_in_another_number_names_no_thing() -> None:
    regulation = "第十条 建设永久性测量标志需要占用土地的，地面标志占用土地的范围为36平方米—100平方米。"
    named = ["Regulations on the Protection of Surveying Markers"]
    question = (
        "Under the Regulations on the Protection of Surveying Markers, how much land may a permanent "
        "surveying marker occupy?"
    )
    assert _things_unrendered(question, named, regulation) == []
    # A thing of the question that is no word of the name is still looked for.
    assert _things_unrendered(question.replace("occupy", "occupy near a lighthouse"), named, regulation)


def test_a_question_that_asks_also_of_a_place_the_named_document_is_not_of_is_not_held_to_its_things(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {"law": "# 中华人民共和国示范成果转化法\n\n第四十五条 未约定奖励的，从转化收入中提取百分之五十给予奖励。"}
    assistant = built_assistant(tmp_path, use_encoder, files)

    def unmentioned(question: str) -> list[str]:
        query = assistant.prepare(question)
        return unmentioned_in_document(query, assistant.retriever.search(query, 5), assistant.index, [("law",)])[1]

    law = "the Model Achievements Transformation Law"
    assert [t.split(" (")[0] for t in unmentioned(f"What reward goes to inventors under {law}?")] == ["inventors"]
    # Beijing's regulation may say 发明人: the question asks of it too.
    assert unmentioned(f"What reward goes to inventors under {law}, and what does Beijing's regulation set?") == []


PROPERTY_FILES = {
    "示范物权条例": "# 示范物权条例\n\n"
    "第一条 因加工、附合、混合而产生的物，其所有权的归属有约定的，按照约定；没有约定的，依照法律规定。\n\n"
    "第二条 拾得遗失物，应当返还权利人。\n\n"
    "第三条 饲养的动物造成他人损害的，动物饲养人或者管理人应当承担侵权责任。",
    "示范生物技术条例": "# 示范生物技术条例\n\n第一条 从事克隆技术研究的单位，应当向主管部门备案。",
}


@pytest.fixture(scope="module")
def property_assistant(tmp_path_factory: pytest.TempPathFactory, use_encoder: Encoder) -> Assistant:
    """An assistant over ``PROPERTY_FILES``, built once for the tests that only ask it."""
    settings = built_corpus(tmp_path_factory.mktemp("property"), use_encoder, PROPERTY_FILES)
    return Assistant(settings, encoder=use_encoder, auto_build=False)


def test_a_word_no_text_uses_is_looked_for_in_the_named_document_when_it_names_a_thing(
    property_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    surrogacy_question = "《示范物权条例》对代孕所生动物的所有权归属是怎么规定的？"
    # In a few texts a missing word says little (最高, 限制 may be in none): not judged.
    assert "代孕" not in property_assistant.ask(surrogacy_question).answer.partition("\n")[0]
    monkeypatch.setattr("policyqa.verify.MIN_VOCABULARY_TO_JUDGE", 0)  # as if it were a library of laws
    # Looked for when the dictionary knows it as a thing (代孕: "surrogacy"), whatever jieba tags it ...
    surrogacy = property_assistant.ask(surrogacy_question)
    assert surrogacy.outcome == "partial" and "代孕" in surrogacy.answer.partition("\n")[0], surrogacy.answer
    # ... not when it knows it only as an act or a word that asks (概括: "to summarize").
    summary = property_assistant.ask("《示范物权条例》概括来说对遗失物归属是怎么规定的？")
    assert "概括" not in summary.answer.partition("\n")[0], summary.answer


def test_a_thing_the_named_document_never_mentions_makes_a_partial_answer(property_assistant: Assistant) -> None:

    cloned = property_assistant.ask("《示范物权条例》对克隆宠物的所有权归属是怎么规定的？")
    assert cloned.citations and cloned.citations[0].title == "示范物权条例"
    # 克隆 is in another document of the corpus, not in the one the question names.
    assert cloned.outcome == "partial" and not cloned.abstained
    assert cloned.answer.startswith("《示范物权条例》未提及克隆、宠物；"), cloned.answer
    assert "归属" in cloned.answer  # what the regulation does state, cited

    # A name jieba lacks (抖音) is no noun of its tags, and is still looked for.
    app = property_assistant.ask("《示范物权条例》对通过抖音出售的遗失物归谁所有是怎么规定的？")
    assert app.outcome == "partial" and app.answer.startswith("《示范物权条例》未提及抖音"), app.answer

    # A noun the named document uses in another article than the one quoted is mentioned.
    animals = property_assistant.ask("《示范物权条例》对遗失的动物归谁所有是怎么规定的？")
    assert animals.outcome == "answered", animals.answer

    bitcoin = property_assistant.ask("What does the Model Property Regulation say about Bitcoin?")
    assert bitcoin.outcome == "partial" and "does not mention Bitcoin" in bitcoin.answer, bitcoin.answer

    # A compound whose head is one character (饲养 + 鸡) is looked for whole: 鸡 alone is no noun looked for.
    chickens = property_assistant.ask("《示范物权条例》对饲养鸡造成的损害是怎么规定的？")
    assert chickens.outcome == "partial" and chickens.answer.startswith("《示范物权条例》未提及饲养鸡"), chickens.answer


def test_a_thing_an_english_question_asks_about_must_be_rendered_in_the_named_document(
    property_assistant: Assistant,
) -> None:

    tigers = property_assistant.ask("What does the Model Property Regulation say about tigers that cause damage?")
    assert tigers.citations and tigers.citations[0].title == "示范物权条例"
    # The Chinese words looked for are shown, so that the reader can check the claim; "cause"
    # (原因, 引起, 造成: mostly verbs) asks about an act, not a thing the regulation must name.
    assert tigers.outcome == "partial", tigers.answer
    assert tigers.answer.startswith("《示范物权条例》 does not mention tigers (老虎"), tigers.answer
    assert "cause" not in tigers.answer.split(".")[0]

    animals = property_assistant.ask("What does the Model Property Regulation say about animals that cause damage?")
    assert animals.outcome == "answered", animals.answer  # 动物 is the regulation's own word


def test_a_compound_the_dictionary_lacks_is_looked_for_by_its_parts(property_assistant: Assistant) -> None:

    # "gene-edited" is in no dictionary; its part "gene" (基因) is a thing, "edited" is not.
    edited = property_assistant.ask("What does the Model Property Regulation say about gene-edited animals?")
    assert edited.citations and edited.citations[0].title == "示范物权条例"
    assert edited.outcome == "partial", edited.answer
    assert edited.answer.startswith("《示范物权条例》 does not mention gene-edited (gene: 基因"), edited.answer
    # A closed compound is read by its head, the longest ending the dictionary knows: a
    # livestreamer is a kind of streamer (飘带, 横幅, … 主播), none of them in the regulation.
    streamers = property_assistant.ask(
        "What does the Model Property Regulation say about livestreamers who lose animals?"
    )
    assert streamers.outcome == "partial", streamers.answer
    assert "livestreamers (streamers:" in streamers.answer.split("\n")[0], streamers.answer
    # A prefix names no thing: "self-" is not looked for, and 动物 is the regulation's own word.
    own = property_assistant.ask("What does the Model Property Regulation say about self-owned animals?")
    assert own.outcome == "answered", own.answer
    # Nor does an ending that makes a modifier: "-style" is no 方式 or 风格 a document must say.
    assert _compound_parts("lottery-style") == ["lottery"]
    assert _compound_parts("cloud-based") == ["cloud"]
    # "define" asks how; it is no thing the regulation must mention (定义 is in none of its articles).
    defined = property_assistant.ask("How does the Model Property Regulation define lost property?")
    assert "define" not in defined.answer.split("\n")[0], defined.answer


def test_a_thing_is_not_looked_for_in_a_document_other_than_the_one_named(property_assistant: Assistant) -> None:
    # The dictionary renders "Civil Code" whole (民法典), and no title holds it: the best passage's
    # document is not the one asked about, so what it lacks is not the Civil Code's to lack.
    # A question comparing two documents asks about things only one of them may treat.
    for question in (
        "What does the Civil Code say about tigers?",
        "How do the Model Property Regulation and the Model Biotechnology Regulation differ on tigers?",
    ):
        query = property_assistant.prepare(question)
        passages = property_assistant.retriever.search(query, 5)
        assert passages
        assert unmentioned_in_document(query, passages, property_assistant.index)[1] == [], question


def test_a_rendering_names_a_thing_when_its_head_is_a_noun(property_assistant: Assistant) -> None:
    # 元宇宙 is 元 + 宇宙 to jieba: the head, 宇宙, is a noun, so "metaverse" names a thing.
    metaverse = property_assistant.ask("What does the Model Property Regulation say about metaverse animals?")
    assert metaverse.outcome == "partial", metaverse.answer
    assert "metaverse (元宇宙)" in metaverse.answer.split("\n")[0], metaverse.answer


def test_words_that_ask_are_not_things_the_named_document_must_mention(property_assistant: Assistant) -> None:
    # 多长时间 and 界定 are nouns to jieba, but they ask; 遗失物 is the regulation's own word.
    for question in ("《示范物权条例》规定拾得遗失物后多长时间内应当返还？", "《示范物权条例》如何界定遗失物？"):
        query = property_assistant.prepare(question)
        passages = property_assistant.retriever.search(query, 5)
        assert unmentioned_in_document(query, passages, property_assistant.index) == ("示范物权条例", []), question
    # The kind of thing asked for (哪些途径: the ways) is what the answer gives, not a word it must say.
    query = property_assistant.prepare("《示范物权条例》规定拾得人可以通过哪些途径返还遗失物？")
    passages = property_assistant.retriever.search(query, 5)
    assert unmentioned_in_document(query, passages, property_assistant.index) == ("示范物权条例", [])
    # jieba tags some things as fixed expressions (无人机: l), not nouns: they are looked for too.
    query = property_assistant.prepare("《示范物权条例》对用无人机寻找遗失物有什么规定？")
    passages = property_assistant.retriever.search(query, 5)
    assert unmentioned_in_document(query, passages, property_assistant.index)[1] == ["无人机"]
    # A compound jieba knows whole counts when its parts stand in a row (平均水平: 平均生活水平), not apart.
    assert _parts_in_a_row("平均水平", "达不到当地居民的平均生活水平的")
    assert not _parts_in_a_row("平均水平", "平均分配，提高服务水平")  # apart: another matter
    assert not _parts_in_a_row("无人机", "无人驾驶的飞机")  # jieba gives it no parts of two characters
    # A count of the places or parties named points back at them (两地, 二者): it is no thing to mention.
    query = property_assistant.prepare("比较《示范物权条例》和《示范生物技术条例》：两地对遗失物有什么要求？")
    passages = property_assistant.retriever.search(query, 5)
    assert "两地" not in unmentioned_in_document(query, passages, property_assistant.index)[1]
    # A thing beside them is still looked for.
    query = property_assistant.prepare("《示范物权条例》规定拾得宠物后多长时间内应当返还？")
    assert unmentioned_in_document(query, property_assistant.retriever.search(query, 5), property_assistant.index)[1]


def test_the_named_document_is_read_when_another_one_answers(property_assistant: Assistant) -> None:
    # Only the biotechnology regulation treats cloning; the question names the property one,
    # which never mentions it: the answer quotes the other, led by what the named one lacks.
    answer = property_assistant.ask("《示范物权条例》对克隆技术研究的备案是怎么规定的？")
    assert answer.citations and answer.citations[0].title == "示范生物技术条例", answer.answer
    assert answer.outcome == "partial", answer.answer
    assert answer.answer.startswith("《示范物权条例》未提及克隆"), answer.answer
    # It quotes the named one too (its articles on 物), so the lead names no source.
    assert answer.answer.split("\n")[0].endswith("；相关的内容如下："), answer.answer


def test_the_paper_is_read_when_a_question_about_it_is_answered_from_another_document(
    mini_assistant: Assistant,
) -> None:
    index = mini_assistant.index
    paper = next(d for d, document in index.documents.items() if document.kind == "paper")
    law = SearchFilter(doc_ids=tuple(d for d in index.documents if d != paper))
    query = mini_assistant.prepare("What does the paper say about tigers in the conversion of results?")
    passages = mini_assistant.retriever.search(query, 5, law)
    assert passages and all(p.doc_id != paper for p in passages)
    title, missing = unmentioned_in_document(query, passages, index)
    assert title == index.documents[paper].title and any(m.startswith("tigers") for m in missing), missing


def test_the_documents_found_for_a_name_count_only_if_their_titles_carry_it(property_assistant: Assistant) -> None:
    index = property_assistant.index
    ids = {document.title: doc_id for doc_id, document in index.documents.items()}
    question = "What does the Demonstration Property Regulation say about cloned tigers?"
    query = property_assistant.prepare(question)
    biotech = SearchFilter(doc_ids=(ids["示范生物技术条例"],))
    passages = property_assistant.retriever.search(query, 5, biotech)
    assert passages and passages[0].title == "示范生物技术条例"
    # The regulation named (示范物权条例: 示范, a rendering of "demonstration") is read, not the one quoted.
    title, missing = unmentioned_in_document(query, passages, index, [(ids["示范物权条例"],)])
    assert title == "示范物权条例" and any(m.startswith("tigers") for m in missing), missing
    # A title found nearest a name but carrying none of its words ("negotiable", "instruments") is
    # not taken for it: the best passage's document is read, as the retriever's lift is trusted.
    other = property_assistant.prepare("What does the Negotiable Instruments Law say about cloned tigers?")
    title, _ = unmentioned_in_document(other, passages, index, [(ids["示范物权条例"],)])
    assert title == "示范生物技术条例"
    # Nor one that carries only its kind: every regulation's title ends in 条例.
    kind_only = property_assistant.prepare("What does the Model Property Regulation say about cloned tigers?")
    title, _ = unmentioned_in_document(kind_only, passages, index, [(ids["示范物权条例"],)])
    assert title == "示范生物技术条例"


def test_an_english_word_the_dictionary_knows_only_in_a_phrase_is_looked_for_as_that_phrase(
    property_assistant: Assistant,
) -> None:
    # CC-CEDICT has no "paternity", but "paternity leave" (陪产假), which the regulation never says.
    leave = property_assistant.ask("What does the Model Property Regulation say about paternity leave?")
    assert leave.outcome == "partial", leave.answer
    assert "paternity leave (陪产假)" in leave.answer.split("\n")[0], leave.answer


def test_a_question_that_points_at_no_document_or_at_one_not_found_is_not_held_to_one(
    property_assistant: Assistant,
) -> None:
    for question in ("克隆宠物的所有权归属是怎么规定的？", "《示范合同条例》对宠物的买卖是怎么规定的？"):
        query = property_assistant.prepare(question)
        passages = property_assistant.retriever.search(query, 5)
        assert passages and "示范合同条例" not in passages[0].title
        assert unmentioned_in_document(query, passages, property_assistant.index)[1] == [], question


def test_a_one_character_rendering_does_not_find_a_name(mini_assistant: Assistant) -> None:
    # "Moon" renders as 月球, 月亮 and 月; 月 stands in the regulation's dates, 月球 nowhere.
    question = "What does the Model City Regulation on Promoting the Transformation say about research on the Moon?"
    answer = mini_assistant.ask(question)
    assert answer.citations and answer.citations[0].title == "示范市科技成果转化促进条例", answer.answer
    assert "月" in mini_assistant.index.document_text(answer.citations[0].doc_id)
    assert answer.outcome == "partial" and "does not mention Moon (" in answer.answer, answer.answer


@pytest.mark.parametrize(
    ("name", "title", "confirms"),
    [
        ("Regulations on the Protection of Minors Online", "未成年人网络保护条例", True),  # protection: 保护
        ("Law on Seeds", "中华人民共和国种子法", True),
        # Their kind (条例, 办法) and little words (for: 为了) are in many titles; none of their own words is.
        ("Regulations on Cat Breeding", "未成年人网络保护条例", False),
        ("Measures for Tea Tasting", "科学技术成果登记办法", False),
        # The name rendered whole: "civil" alone gives 民事, 民用, in no such title.
        ("Civil Code", "中华人民共和国民法典", True),
    ],
)
def test_an_english_name_confirms_a_title_by_its_own_words_not_its_kind(name: str, title: str, confirms: bool) -> None:
    assert _titles_confirm([name], [title]) is confirms


MINIMUM_WAGE_ARTICLE = "第四十八条 国家实行最低工资保障制度。用人单位支付劳动者的工资不得低于当地最低工资标准。"


@pytest.mark.parametrize(
    "question",
    [
        "According to the Bai et al. paper, what did Zhejiang require of major projects?",  # 白族: an ethnic group
        "In the paper's Zhejiang case study, what did Zhejiang require of major projects?",  # 经典案例
        "In the paper's account of Zhejiang, what did Zhejiang require of major projects?",  # 帐户
        "How does the paper contrast Beijing and Guangdong on major projects?",  # 京广: a railway
        "What did Zhejiang require of pre-2020 major projects?",  # 前置
        "What VAT rule did Zhejiang set for major projects?",  # 大桶: a tub
        "May anyone open Zhejiang's major projects?",  # 阿猫阿狗: any Tom, Dick or Harry
    ],
)
def test_authors_places_acronyms_prefixes_and_words_about_the_paper_name_no_thing(question: str) -> None:
    text = "以北京和广东为例。浙江规定省级重大科技项目由企业牵头的比例不低于80%。"
    assert _things_unrendered(question, [], text) == []
    assert _names_unrendered(question, [], text) == []


def test_the_country_every_text_is_of_names_no_thing() -> None:
    article = "第十五条 中华人民共和国民用航空器的国籍标志为罗马体大写字母B。"
    question = "What nationality mark does the regulation set for Chinese civil aircraft?"
    assert _names_unrendered(question, [], article) == []
    assert all(not thing.startswith("Chinese") for thing in _things_unrendered(question, [], article))


def test_a_place_a_chinese_question_names_in_a_longer_form_is_found_in_its_short_one(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {"report": "# 示范成果转化报告\n\n合肥在全国率先成立了市级科技成果转化专班，已累计推动3061家企业落地。"}
    assistant = built_assistant(tmp_path, use_encoder, files)
    query = assistant.prepare("《示范成果转化报告》提到，合肥市级科技成果转化专班累计推动了多少家科技企业落地？")
    passages = assistant.retriever.search(query, 5)
    # 合肥市 is a noun to jieba; the report says 合肥, which names the same city.
    assert unmentioned_in_document(query, passages, assistant.index) == ("示范成果转化报告", [])
    query = assistant.prepare("《示范成果转化报告》提到，芜湖市级科技成果转化专班累计推动了多少家科技企业落地？")
    assert unmentioned_in_document(query, passages, assistant.index) == ("示范成果转化报告", ["芜湖"])


def test_articles_a_question_cites_by_number_are_no_name() -> None:
    article = "第一百一十四条 放火、决水、爆炸以及投放毒害性、放射性、传染病病原体等物质…"
    question = "What is the charge for conduct under Articles 114 and 115(1) of the Criminal Law?"
    assert not any(name.startswith("Articles") for name in _names_unrendered(question, [], article))


def test_a_name_the_text_never_renders_is_missing() -> None:
    text = "以北京和广东为例。浙江规定省级重大科技项目由企业牵头的比例不低于80%。"
    question = "What role does the European Data Protection Board play in Zhejiang's projects?"
    assert [name.split(" (")[0] for name in _names_unrendered(question, [], text)] == ["European Data Protection Board"]


def test_the_word_that_asks_for_a_figure_is_no_thing_the_document_lacks(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {"militia": "# 示范民兵工作条例\n\n第三十条 省军区、军分区两级留用的民兵事业费，不得超过全省总指标的20%。"}
    assistant = built_assistant(tmp_path, use_encoder, files)
    query = assistant.prepare("《示范民兵工作条例》对省军区、军分区两级留用民兵事业费的比例有什么限制？")
    passages = assistant.retriever.search(query, 5)
    # 比例 asks for a rate; the article gives 20%, and never says 比例.
    assert unmentioned_in_document(query, passages, assistant.index) == ("示范民兵工作条例", [])


def test_subject_to_names_no_thing() -> None:
    article = "第九条 县级以上人民政府计量行政部门对社会公用计量标准器具实行强制检定。"
    question = "Which measuring instruments are subject to compulsory verification?"
    assert all(not thing.startswith("subject") for thing in _things_unrendered(question, [], article))


def test_a_figure_is_judged_by_the_part_of_the_question_that_asks_for_it(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "district": (
            "# 示范市历史文化街区保护条例\n\n"
            "第十四条 市历史文化街区保护规划报送审批前，组织编制机关应当将保护规划草案予以公告，"
            "并征求专家和公众的意见。"
            "公告时间不少于三十日。\n\n"
            "第十六条 市住房和城乡建设部门应当会同有关部门对报批的保护规划提出意见。"
        ),
        # The later part's words stand in the corpus, elsewhere: in a library they weigh.
        "housing": (
            "# 示范市房屋征收条例\n\n第八条 房屋征收涉及搬迁补偿、产权调换、安置房源和临时过渡的，依照本条例办理。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The second part's words (房屋征收, 搬迁补偿, 安置程序) say nothing of the notice period.
    question = (
        "示范市历史文化街区保护规划报批前要公告，公告期至少多长？"
        "涉及房屋征收、搬迁补偿、产权调换、安置房源和临时过渡时还有什么程序？"
    )
    assert _reason(assistant, question) is None


def test_an_english_question_of_several_parts_is_judged_by_the_part_asking_for_the_figure(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "markers": (
            "# 示范测量标志保护条例\n\n"
            "第十条 建设永久性测量标志需要占用土地的，地面标志占用土地的范围为36平方米。\n\n"
            "第二十三条 损毁永久性测量标志的，处五万元以下的罚款。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # "the maximum fine" (罚款) is the later part's: the area is asked of the land a marker occupies.
    question = "How much land may a permanent surveying marker occupy, and what is the maximum fine for damaging one?"
    assert _reason(assistant, question) is None
    assert _reason(assistant, "How much land may a fine occupy?") == "no passage gives the figure asked for"


def test_a_light_noun_names_no_thing() -> None:
    # "the event triggering liquidation" is a 法律事实 in the law; 事件 would be a thing it lacks.
    article = "第六条 应当进行清算的法律事实发生在公司法施行前，因清算责任发生争议的，适用当时的法律。"
    assert _things_unrendered("What applies if the event triggering liquidation came before?", [], article) == []


def test_a_term_the_glossary_renders_is_found_by_its_terms() -> None:
    # "utility model" is 实用新型, a term of patent law; "utility" alone renders 功利, 效用.
    article = "第四十二条 发明专利权的期限为二十年，实用新型专利权的期限为十年。"
    assert _things_unrendered("How long do utility model patents last under the Patent Law?", [], article) == []
    assert _things_unrendered("How long do utility model patents last?", [], "第一条 专利权的期限。") != []


def test_a_pair_of_words_found_in_a_row_is_found_though_one_word_alone_is_not() -> None:
    # "minimum" renders 最低点, 最小值 and 最低限度, none of them in the article; 最低 beside 工资 is.
    assert _things_unrendered("What does the Labour Law say about the minimum wage?", [], MINIMUM_WAGE_ARTICLE) == []
    # The pair is not there, so each word is looked for as before; "minimum" bounds a figure and names no thing.
    lone = _things_unrendered("What does the Labour Law say about the minimum age?", [], MINIMUM_WAGE_ARTICLE)
    assert [thing.split(" (")[0] for thing in lone] == ["age"]


def test_a_word_with_a_nouns_ending_is_a_thing_whatever_jieba_tags_its_rendering() -> None:
    # 代孕 is a verb to jieba; "surrogacy" is a noun by its ending.
    missing = _things_unrendered("What does the Labour Law say about surrogacy?", [], MINIMUM_WAGE_ARTICLE)
    assert missing == ["surrogacy (代孕, 代理孕母)"]


FUSION_TEXT = "科技创新和产业创新深度融合，需要把握技术的核心环节。"


def test_a_pair_the_dictionary_knows_as_one_thing_is_missing_though_its_words_stand_apart() -> None:
    # 核 and 融合 are there, 核聚变 is not: the paper treats integration, not nuclear fusion.
    missing = _things_unrendered("What does the paper recommend for nuclear fusion?", [], FUSION_TEXT)
    assert missing == ["nuclear fusion (核聚变, 聚变反应)"]
    # A pair whose renderings are no nouns ("well known": 知名, 著名) names no thing to look for.
    trademark = "第十三条 为相关公众所熟知的商标，持有人认为其权利受到侵害时，可以请求驰名商标保护。"
    assert _things_unrendered("When is a trademark well known to the public protected?", [], trademark) == []


def test_a_pair_the_dictionary_renders_as_an_idiom_of_other_words_is_looked_for_word_by_word() -> None:
    # "professional escort" is 坐台小姐 (a hostess) to the dictionary: nothing of 专业 or 押运 in it.
    regulation = "第九条 专职守护、押运人员应当具备下列条件：（一）年满20周岁的中国公民，身心健康，品行良好。"
    question = "What is the minimum age for professional escort and guard personnel to be issued firearms?"
    assert not any(thing.startswith("professional escort") for thing in _things_unrendered(question, [], regulation))
    # One whose rendering is made of its words' ("half marathon": 半马, of 半 and 马拉松) is still one thing.
    running = "What's a good stretching routine before running a half marathon?"
    rules = "第三条 马拉松比赛应当保障参赛者安全，半程赛事同样适用。"
    assert "half marathon (半马)" in _things_unrendered(running, [], rules)


def test_a_rare_one_character_rendering_does_not_decide_whether_a_word_names_a_thing() -> None:
    # "unicorn" renders 独角兽 and 廌 (a mythical beast, no noun to jieba): the usual sense is a noun.
    text = "北京的科技公司数量快速增长。" + FUSION_TEXT
    missing = _things_unrendered("How many unicorn companies does the paper count?", [], text)
    assert [thing.split(" (")[0] for thing in missing] == ["unicorn"]


def test_a_court_rule_named_short_is_carried_by_its_title() -> None:
    title = "最高人民法院关于审理拒不执行判决、裁定刑事案件适用法律若干问题的解释"
    assert _carries(title, "最高法关于审理拒不执行判决、裁定刑事案件的解释")
    third = "最高人民法院关于审理劳动争议案件适用法律若干问题的解释（三）"
    assert _carries(third, "最高法关于审理劳动争议案件的司法解释（三）")
    assert not _carries(third.replace("三", "二"), "最高法关于审理劳动争议案件的司法解释（三）")
    assert not _carries(title, "最高法关于审理拒不执行判决、裁定刑事案件的规定")  # another kind
    assert not _carries(title, "最高法关于审理危害税收征管刑事案件的解释")  # another subject


def test_a_term_the_named_document_defines_is_no_thing_it_lacks(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "entities": (
            "# 市场主体登记管理条例\n\n"
            "第二条 本条例所称市场主体，是指以营利为目的从事经营活动的自然人、法人及非法人组织。\n\n"
            "第三条 市场主体应当依照本条例办理登记。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = (
        "How do the Regulations on the Registration and Administration of Market Entities define a market entity?"
    )
    query = assistant.prepare(question)
    assert "市场主体" in query.expansion  # "market entity" found whole; "entity" alone renders 实体, never said
    passages = assistant.retriever.search(query, 5)
    assert unmentioned_in_document(query, passages, assistant.index)[1] == []
    # A term the regulation does not define is still a thing it may lack.
    other = assistant.prepare(
        "How do the Regulations on the Registration and Administration of Market Entities define a unicorn?"
    )
    assert unmentioned_in_document(other, assistant.retriever.search(other, 5), assistant.index)[1]


def test_a_paper_that_records_an_act_is_found_by_the_act() -> None:
    # A paper (申请书, 通知书) records an act: a regulation says who approves the 申请.
    assert _acts_written(["用途", "申请书", "通知书", "清单"]) == ["申请", "通知"]
    text = "第十条 申请从事音像制品零售业务的，由区县文化行政管理部门审批。"
    assert _things_unrendered("Who approves an application to run a retail business?", [], text) == []
    # "application" is a law's 申请 first (the legal terms), an act and no thing a text must name.
    assert (
        _things_unrendered("Who approves an application to run a retail business?", [], "第十条 零售业务的审批。") == []
    )
    # A thing is still looked for.
    assert _things_unrendered("Who approves an application for a licence?", [], "第十条 零售业务的审批。")


def test_a_person_noun_is_found_under_another_agent_ending() -> None:
    # "user" renders 用户 and 使用者; the law on barrier-free access says 使用人.
    assert "使用人" in _agent_forms(["用户", "使用者"])
    assert "统计人员" in _agent_forms(["统计员"])
    assert _agent_forms(["无人机", "平台"]) == []  # no agent ending
    text = "无障碍设施的使用人应当爱护无障碍设施。"
    assert _things_unrendered("What must the user of barrier-free facilities do?", [], text) == []
    assert _things_unrendered("What must the user of barrier-free facilities do?", [], "无障碍设施应当维护。")


def test_an_agent_noun_is_found_by_the_act_it_is_named_after() -> None:
    # "processor" is 处理器 (a CPU) to the dictionary; the regulation says the dealer 加工 cotton.
    text = "棉花经营者加工棉花，使用国家明令禁止的棉花加工设备的，没收并监督销毁禁止的棉花加工设备。"
    assert _things_unrendered("What happens to a cotton processor that uses banned equipment?", [], text) == []
    assert "研究" in _acts_of_agent("researchers", ["研究员", "科研人员"])
    # A word the dictionary renders as no doer is no agent noun, and a thing the text lacks is still missing.
    assert _acts_of_agent("matter", ["事情", "物质"]) == []
    assert _things_unrendered("What happens to a cotton processor that uses a drone?", [], text)


def test_a_word_that_says_none_of_two_names_no_thing() -> None:
    # "neither" is 二者 to the dictionary: it says how many, not what.
    text = "科技成果完成单位未规定、也未与科技人员约定奖励和报酬的方式和数额的，按照下列标准给予奖励。"
    question = "If a unit has neither internal rules nor an agreement, what reward is due?"
    assert not any(thing.startswith("neither") for thing in _things_unrendered(question, [], text))


def test_a_sum_named_by_its_noun_is_given_by_a_share_of_that_noun_only(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "wages": "# 示范劳动合同条例\n\n第十五条 劳动者在试用期的工资不得低于本单位相同岗位最低档工资的80%。",
        "heating": "# 示范供热条例\n\n第四十五条 建筑节能达到百分之五十，是指新建住宅符合节能设计标准。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)

    def reason(question: str) -> str | None:
        query = assistant.prepare(question)
        return unsupported_reason(query, assistant.retriever.search(query, 5), assistant.index)

    # The law fixes the wage as a share of another wage: that answers the question.
    assert reason("What is the lowest wage an employer may pay during the probation period?") is None
    # A share of energy saving is no price.
    assert reason("What heating price per square metre does the heating regulation set?") == NO_FIGURE


def test_a_papers_figure_is_one_for_the_place_asked_about_only_where_it_names_that_place(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "paper.txt").write_text(
        "创新要素的空间分布研究\n\n一、引言\n\n以北京和广东为例，2023年北京和广东的研发投入强度分别为6.73%和3.54%。\n\n"
        "二、梯队\n\n数字经济发展第一梯队包括北京、广东、上海、浙江、江苏等省份。\n",
        encoding="utf-8",
    )
    (corpus / "paper.meta.json").write_text(
        json.dumps({"title": "创新要素的空间分布研究", "kind": "paper"}, ensure_ascii=False), encoding="utf-8"
    )
    settings = Settings(corpus_dirs=(corpus,), index_dir=tmp_path / "index")
    build_index(settings, use_encoder)
    assistant = Assistant(settings, encoder=use_encoder, auto_build=False)
    assert all(document.kind == "paper" for document in assistant.index.documents.values())
    assert _reason(assistant, "论文中北京2023年研发投入强度的比例是多少？") is None
    # The paper names 上海 elsewhere, but gives Beijing's and Guangdong's figures only.
    assert _reason(assistant, "论文中上海2023年研发投入强度的比例是多少？") == NO_FIGURE


def test_a_chinese_sum_must_be_of_the_noun_asked_for(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {"old-town": "# 示范古城保护管理条例\n\n第三十四条 在古城内建设无关设施的，处一万元以上五万元以下罚款。"}
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The regulation's only sum is a fine: it fixes no ticket price, though its title words are all there.
    assert _reason(assistant, "示范古城的门票价格是多少？") == NO_FIGURE
    assert _reason(assistant, "在示范古城内建设无关设施的，罚款是多少？") is None


@pytest.mark.parametrize(
    "question",
    ["What approach do Bai Xuejie and colleagues describe?", "What do the paper's co-authors propose for Hefei?"],
)
def test_words_that_say_who_wrote_the_paper_name_no_thing(question: str) -> None:
    text = "合肥坚持省级顶层设计赋能、市域实践落地。"
    assert all(not thing.startswith(("colleagues", "co-authors")) for thing in _things_unrendered(question, [], text))


def test_an_abbreviation_is_found_in_its_full_form() -> None:
    # 监管部门 is 监督管理部门; 科技成果 is 科学技术成果.
    assert _abbreviated_in("监管部门", "市场监督管理部门应当在十个工作日内复查。")
    assert _abbreviated_in("科技成果", "对完成科学技术成果的人员给予奖励。")
    # Characters scattered further apart, or a two-character word, are no abbreviation.
    assert not _abbreviated_in("监管部门", "监督工作由管理委员会的下属部门负责。")
    assert not _abbreviated_in("口号", "出口商品的编号")


def test_a_documents_version_and_a_verb_in_s_name_no_thing() -> None:
    article = "第二十二条 棉花经销商对检验结果有异议的，可以自收到检验结果之日起5日内申请复检。"
    # "2018 amendment" says which version; "disputes" between a noun and a determiner is a verb.
    question = "Under the 2018 amendment, if a cotton dealer disputes an inspection result, how long does it have?"
    assert _things_unrendered(question, [], article) == []
    # As a noun, the same word is a thing the article never renders.
    assert [t.split(" (")[0] for t in _things_unrendered("How are disputes over cotton handled?", [], article)] == [
        "disputes"
    ]


def test_a_documents_version_year_counts_where_its_text_gives_none(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {"示范古树条例(2025-01-25)": "# 示范古树条例\n\n第二条 本条例所称古树，是指树龄100年以上的树木。"}
    assistant = built_assistant(tmp_path, use_encoder, files)
    assert _reason(assistant, "2025年的《示范古树条例》所称古树是指什么？") is None
    assert _reason(assistant, "2019年的《示范古树条例》所称古树是指什么？") == "the passages give nothing for 2019"


def test_a_papers_authors_named_in_a_figure_question_say_nothing_of_the_figure(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "paper": "# 示范融合论文\n\n白雪洁, 陈晓英, 宋培\n\n融合需要政策支持。各地探索了不同模式。\n\n"
        "浙江规定省级重大科技项目中企业牵头比例不低于80%。\n\n北京的研发投入较高。"
    }
    paper: dict[str, dict[str, object]] = {"paper": {"kind": "paper", "authors": ["白雪洁", "陈晓英", "宋培"]}}
    assistant = built_assistant(tmp_path, use_encoder, files, paper)
    assert _reason(assistant, "白雪洁、陈晓英和宋培的论文里，浙江的比例是多少？") is None


def test_a_papers_authors_named_in_english_are_no_things_its_text_must_say(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {"paper": "# 示范融合论文\n\n融合需要政策支持。\n\n浙江规定省级重大科技项目中企业牵头比例不低于80%。"}
    authors = {"authors": ["白雪洁", "陈晓英", "宋培"], "authors_en": ["BAI Xuejie", "CHEN Xiaoying", "SONG Pei"]}
    assistant = built_assistant(tmp_path, use_encoder, files, {"paper": {"kind": "paper", **authors}})
    question = "According to {}'s paper, what did Zhejiang require of major projects?"
    by_authors = assistant.prepare(question.format("Bai, Chen and Song"))
    passages = assistant.retriever.search(by_authors, 5)
    assert unmentioned_in_document(by_authors, passages, assistant.index) == ("示范融合论文", [])
    # Another author's name is still looked for.
    by_others = assistant.prepare(question.format("Bai and Li"))
    _, missing = unmentioned_in_document(by_others, passages, assistant.index)
    assert [m.split(" (")[0] for m in missing] == ["Bai and Li's"]


def test_the_dictionarys_words_for_a_glossary_phrase_say_it_at_its_terms_weight(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "medicines": "# 示范中药品种保护条例\n\n第十二条 中药保护品种的保护期限为七年。",
        "clinics": "# 示范中医诊所条例\n\n第五条 中医诊所应当配备中医医师。",
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    # The glossary says 中医药 and 中医 for the phrase; the dictionary also 中药, which the text says.
    assert _reason(assistant, "How long is the protection for traditional Chinese medicine varieties?") is None


def test_a_rate_set_as_a_multiple_of_another_rate_answers_a_question_asking_for_a_rate(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    # Courts set lending caps as a multiple of a reference rate, not as a percentage.
    regulation = (
        "# 示范民间借贷规定\n\n第二十四条 借贷双方没有约定利息，出借人主张支付利息的，人民法院不予支持。\n\n"
        "第二十五条 出借人请求借款人按照合同约定利率支付利息的，人民法院应予支持，"
        "但是双方约定的利率超过合同成立时一年期贷款市场报价利率四倍的除外。\n\n"
        "第三十条 借款人可以提前偿还借款，但是当事人另有约定的除外。"
    )
    assistant = built_assistant(tmp_path, use_encoder, {"lending": regulation})
    question = "Under the Model Private Lending Provisions, above what interest rate is agreed interest not upheld?"
    answer = assistant.ask(question)
    assert answer.outcome == "answered", answer.answer
    assert "四倍" in answer.answer


def test_a_corpus_word_the_encoder_puts_close_to_a_thing_renders_it() -> None:
    article = "第七条 父母不得将未满八周岁的儿童单独留在机动车内。"
    question = "What does the Model Minors Regulation say about leaving children alone in cars?"
    # CC-CEDICT gives "children" as 子女, 儿女, 娃儿: none is the regulation's word.
    assert any(thing.startswith("children") for thing in _things_unrendered(question, [], article))
    close = {"children": ("儿童", "孩子")}
    assert not any(thing.startswith("children") for thing in _things_unrendered(question, [], article, (), close))


def test_close_words_come_from_the_encoder_above_their_floor(tmp_path: Path, use_encoder: Encoder) -> None:
    files = {
        "minors": "# 示范未成年人保护条例\n\n第一条 为了保护儿童的身心健康，制定本条例。\n\n"
        "第二条 学校应当保障儿童的安全。\n\n第三条 父母不得将未满八周岁的儿童单独留在机动车内。"
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = "What does the Model Minors Regulation say about leaving children alone in cars?"
    close = dict(assistant.prepare(question).close_words)
    assert "儿童" in close.get("children", ()), close
    answer = assistant.ask(question)
    assert answer.outcome == "answered", answer.answer
    strict = Assistant(assistant.settings.replace(close_word_floor=1.0), encoder=use_encoder, auto_build=False)
    assert strict.prepare(question).close_words == ()
    unrendered = strict.ask(question)
    assert unrendered.outcome == "partial" and "children (" in unrendered.answer.split("\n")[0], unrendered.answer


def test_the_words_that_ask_for_a_figure_name_no_thing() -> None:
    article = "第三条 职工累计工作已满1年不满10年的，年休假5天。"
    # To the dictionary "many days" is 多日赛, a race over several days: it asks how many, of days.
    question = "How many days of annual leave does the Model Leave Regulation grant?"
    assert not any(thing.startswith("many") for thing in _things_unrendered(question, [], article))


def test_a_figure_asked_of_a_described_document_is_looked_for_in_the_best_passages_document(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    files = {
        "online-auctions": (
            "# 最高人民法院关于人民法院网络司法拍卖若干问题的规定\n\n"
            "第一条 本规定所称的网络司法拍卖，是指人民法院通过互联网拍卖平台，以网络电子竞价方式处置财产的行为。\n\n"
            "第二条 人民法院以拍卖方式处置财产的，应当采取网络司法拍卖方式。\n\n"
            "第三条 网络司法拍卖应当在互联网拍卖平台上向社会全程公开，接受社会监督。"
        ),
        "auction-law": (
            "# 中华人民共和国拍卖法\n\n"
            "第五十六条 委托人、买受人与拍卖人对佣金比例未作约定，拍卖成交的，"
            "拍卖人可以向委托人、买受人各收取不超过拍卖成交价百分之五的佣金。"
        ),
    }
    assistant = built_assistant(tmp_path, use_encoder, files)
    question = (
        "What commission, as a percentage of the sale price, may the online platform charge the buyer "
        "under the Supreme People's Court's rules on online judicial auctions?"
    )
    query = assistant.prepare(question)
    passages = assistant.retriever.search(query, 5)
    assert passages[0].title.startswith("最高人民法院") and any(p.title.endswith("拍卖法") for p in passages)
    # The rules the question describes set no commission; the Auction Law's 5% is another law's.
    assert unsupported_reason(query, passages, assistant.index) == NO_FIGURE
    # A question that describes no document is answered by whichever passage gives the rate.
    plain = assistant.prepare("What commission, as a percentage of the sale price, may an auctioneer charge a buyer?")
    assert unsupported_reason(plain, assistant.retriever.search(plain, 5), assistant.index) is None


def test_a_pair_stands_in_a_row_by_a_corpus_word_close_to_one_of_its_words() -> None:
    article = "第九十一条 醉酒后驾驶机动车的，由公安机关交通管理部门约束至酒醒，处罚款，吊销机动车驾驶证。"
    question = "What is the penalty for drunk driving under the Model Traffic Regulation?"
    # CC-CEDICT renders "drunk" 醉醺醺, 湎, 酗: no rendering of it stands before 驾驶 in the article.
    assert not _close_in_a_row("drunk driving", {"driving": ("驾驶",)}, article)
    close = {"drunk": ("醉酒后",)}
    assert _close_in_a_row("drunk driving", close, article)
    assert _things_unrendered(question, [], article, (), close) == []


def test_an_article_only_an_earlier_version_has_is_answered_in_part_saying_so(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    title = "最高人民法院关于示范法庭若干问题的规定"
    earlier = (
        "\n\n".join(f"第{n}条 示范法庭审理第{n}类案件。" for n in "一二三四")
        + "\n\n第五条 本规定自2019年1月1日起施行。"
    )
    in_force = (
        "\n\n".join(f"第{n}条 示范法庭审理第{n}类上诉案件。" for n in "一二")
        + "\n\n第三条 本规定自2023年11月1日起施行。"
    )
    # The books of a code share its title and open at different articles: none is a version of another.
    code = "中华人民共和国示范法典"
    first_book = "\n\n".join(f"第{n}条 示范法典的第{n}项原则。" for n in "一二三四五")
    second_book = "\n\n".join(f"第{n}条 示范合同的第{n}项规则。" for n in "六七八")
    files = {
        "2018": f"# {title}\n\n{earlier}",
        "2023": f"# {title}\n\n{in_force}",
        "book-1": f"# {code}\n\n{first_book}",
        "book-2": f"# {code}\n\n{second_book}",
    }
    metadata = {
        "2018": {"year": 2019, "date": "2019-01-01"},
        "2023": {"year": 2023, "date": "2023-11-01"},
        "book-1": {"year": 2020},
        "book-2": {"year": 2021},
    }
    assistant = built_assistant(tmp_path, use_encoder, files, metadata)

    answer = assistant.ask(f"{title}第五条是怎么规定的？")
    assert answer.outcome == "partial"
    assert answer.answer.startswith("现行版本（2023-11-01）没有第五条；以下是2019-01-01版本的规定：")
    assert "2019年1月1日" in answer.answer  # what the earlier version's article says, quoted
    # An article the version in force has, or a year that names the earlier version, is answered.
    assert assistant.ask(f"{title}第三条是怎么规定的？").outcome == "answered"
    assert assistant.ask(f"2019年的{title}第五条是怎么规定的？").outcome == "answered"
    assert assistant.ask(f"《{code}》第五条是怎么规定的？").outcome == "answered"


def test_a_term_jieba_cuts_is_held_where_the_texts_say_its_words(tmp_path: Path, use_encoder: Encoder) -> None:
    # jieba cuts 选民参加率 ("voter participation rate") into 选民, 参加 and 率: the texts say it though no
    # word of theirs is the whole term.
    texts = {
        "vote": "# 示范选举条例\n\n第三条 选举委员会应当公布选民参加率。\n\n第四条 选民参加投票。",
        "other": "# 示范统计规定\n\n第二条 统计机构公布失业率。",
    }
    assistant = built_assistant(tmp_path, use_encoder, texts)
    assert "选民参加率" in chinese_for("voter participation rate")
    assert "选民参加率" in _renderings_held_word_by_word("What was the voter participation rate?", assistant.index)
    # A pair's words in a row are held where a passage says both: jieba cuts 职业学校 ("vocational school",
    # which the dictionary renders 高职院校 alone) into 职业 and 学校.
    school = {**texts, "school": "# 示范职业教育条例\n\n第五条 职业学校应当组织学生实习。\n\n第六条 学校保障安全。"}
    (tmp_path / "school").mkdir()
    schooled = built_assistant(tmp_path / "school", use_encoder, school)
    assert "职业学校" in _renderings_held_word_by_word("May a vocational school charge fees?", schooled.index)
    assert "职业学校" not in _renderings_held_word_by_word("May a vocational school charge fees?", assistant.index)
    # The longer words must be the texts' own: these never say 证券化 (of 证券化率, "securitization ratio").
    assert "证券化率" in chinese_for("securitization ratio")
    assert _renderings_held_word_by_word("What was the securitization ratio?", assistant.index) == []
