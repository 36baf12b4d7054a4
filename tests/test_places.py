"""The gazetteer: provinces by hand, cities from CC-CEDICT, recognised in questions and titles."""

from __future__ import annotations

import json

import pytest

from policyqa.dictionary import _data, _lines
from policyqa.metadata import infer_metadata
from policyqa.places import in_force_at, leading_place, places_named, places_of_origin
from policyqa_tools.gazetteer import PLACES_FILE, cities, common_words, merged

CEDICT_LINES = [
    "紹興 绍兴 [Shao4 xing1] /Shaoxing, prefecture-level city in Zhejiang/",
    "紹興市 绍兴市 [Shao4 xing1 shi4] /Shaoxing, prefecture-level city in Zhejiang/",
    "合肥 合肥 [He2 fei2] /Hefei, capital of Anhui Province 安徽省[An1 hui1 Sheng3]/",
    "利馬 利马 [Li4 ma3] /Lima, capital of Peru/",
    "日照 日照 [Ri4 zhao4] /Rizhao, prefecture-level city in Shandong/",
    "日照 日照 [ri4 zhao4] /sunshine/",
    "榆林 榆林 [Yu2 lin2] /Yulin, prefecture-level city in Shaanxi/",
    "玉林 玉林 [Yu4 lin2] /Yulin, prefecture-level city in Guangxi/",
    "某城 某城 [Mou3 cheng2] /Capital, prefecture-level city somewhere/",
    "濟南 济南 [Ji3 nan2] /Jinan, subprovincial city and capital of Shandong province in northeast China/",
    "潮州 潮州 [Chao2 zhou1] /Chaozhou or Teochew prefecture-level city in Guangdong 廣東省|广东省/",
    "烏海 乌海 [Wu1 hai3] /Wuhait or Wuhai, prefecture-level city in Inner Mongolia/",
    "呂梁 吕梁 [Lu:3 liang2] /Lüliang prefecture-level city in Shanxi 山西/",
    "百色 百色 [Bai3 se4] /Baise prefecture-level city in Guangxi/former pr. [Bo2 se4]/",
    "百色 百色 [Bo4 se4] /Bose or Baise prefecture-level city in Guangxi/",
]


def test_cities_come_from_their_cedict_glosses() -> None:
    found = cities(CEDICT_LINES, provinces={"anhui", "zhejiang", "shandong", "shaanxi", "guangxi"})
    assert found["shaoxing"] == {"绍兴": "zhejiang"}  # 绍兴 and 绍兴市 are one city, in Zhejiang
    assert found["hefei"] == {"合肥": "anhui"}  # the capital of a province
    assert "lima" not in found  # the capital of another country
    assert found["yulin"] == {"榆林": "shaanxi", "玉林": "guangxi"}  # one English name, two cities
    assert "capital" not in found  # a gloss that is not the entry's own pinyin
    assert found["jinan"] == {"济南": "shandong"}  # "subprovincial" as CC-CEDICT also writes it
    assert cities(CEDICT_LINES, provinces={"anhui"})["shaoxing"] == {"绍兴": ""}  # a province not known
    # A gloss may give another name first; the one spelled as the entry's pinyin is the city's.
    assert found["chaozhou"] == {"潮州": ""} and "teochew" not in found
    assert "wuhai" in found and "wuhait" not in found
    assert "luliang" in found  # ü written u


def test_a_city_lies_in_its_province_whose_local_law_is_in_force_there_too() -> None:
    assert in_force_at(places_named("What does Zhumadian require of residents?")) == ("驻马店", "河南")
    assert in_force_at(places_named("What do Shenzhen and Henan require?")) == ("河南", "深圳", "广东")
    assert in_force_at(places_named("浙江省有什么规定？")) == ("浙江",)


def test_the_state_level_new_areas_are_places_of_their_provinces() -> None:
    # A question about Xiong'an is about no text that never names it; Pudong's rules are Shanghai's.
    assert places_named("How does the paper assess Xiong'an New Area as a model?") == [("雄安新区", "雄安")]
    assert in_force_at(places_named("In Pudong, how are commercial disputes mediated?"))[-1] == "上海"
    assert places_named("天津滨海新区的规定") == [("天津",), ("滨海新区",)]
    assert places_named("滨海地区的湿地保护") == []  # 滨海 alone is "coastal"
    assert places_named("南沙群岛") == []  # the islands, not the Guangzhou new area


def test_merging_keeps_hand_entries_and_marks_names_that_are_words() -> None:
    hand = [{"en": ["shandong"], "zh": ["山东"]}, {"en": ["hefei"], "zh": ["合肥"]}]
    found = cities(CEDICT_LINES, provinces={"anhui", "shandong"})
    places = merged(hand, found, common_words(CEDICT_LINES))
    assert places[1] == {"en": ["hefei"], "zh": ["合肥"]}
    # A city's province is given by its Chinese name, as the hand-written province is.
    assert {"en": ["rizhao"], "zh": ["日照"], "level": "city", "word": True, "in": ["山东"]} in places
    assert sum(1 for p in places if p["en"] == ["hefei"]) == 1
    assert [p["en"] for p in places if "百色" in p["zh"]] == [["baise"]]  # one city under one name
    # Merging again over its own output changes nothing.
    assert merged(places, found, common_words(CEDICT_LINES)) == places


def test_the_shipped_gazetteer_is_what_the_generator_makes() -> None:
    raw = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    lines = _lines(_data())
    provinces = {e for p in raw["places"] if p.get("level") != "city" for e in p["en"]}
    assert merged(raw["places"], cities(lines, provinces), common_words(lines)) == raw["places"]
    assert sum(1 for p in raw["places"] if p.get("level") == "city") > 200


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("What production steps must Shaoxing yellow rice wine go through?", [("绍兴",)]),
        ("绍兴黄酒要经过哪些主要工艺？", [("绍兴",)]),
        ("烟台市如何保护葡萄酒产区？", [("烟台",)]),
        ("如何保障长治久安？", []),  # 长治 inside a word is no city
        ("日照充足的地区有哪些扶持？", []),  # 日照 is also "sunshine": only 日照市 names the city
        ("日照市的海洋牧场条例规定了什么？", [("日照",)]),
        ("What does Rizhao require?", [("日照",)]),
        ("In Jinan, how long may green space be occupied?", [("济南",)]),
        ("What does Harbin's regulation say?", [("哈尔滨",)]),  # a capital whose name is not its pinyin
        # A people's name names its place: a Taiwanese investor's place is Taiwan (台语 is its language).
        ("What must a Taiwanese investor's complaint state?", [("台湾",)]),
        ("How are Tibetan medicine practitioners licensed?", [("西藏",)]),
    ],
)
def test_cities_are_recognised_in_questions(text: str, named: list[tuple[str, ...]]) -> None:
    assert places_named(text) == named


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # A province's or a country's name across two words' edge names no place.
        ("在最高法国际商事法庭打官司，要附中文翻译吗？", []),  # 最高法|国际, not 法国
        ("上海南站的出租车怎么排队？", [("上海",)]),  # 上海|南站, not 海南
        ("洞庭湖南岸的湿地归谁管？", []),  # 洞庭湖|南岸, not 湖南
        # Inside one word, or as words of their own, it does.
        ("河南省道路运输条例怎么罚拒载？", [("河南",)]),
        ("法国人来华工作要办什么证？", [("法国",)]),
        ("中国台湾地区居民怎么申请？", [("台湾",)]),
    ],
)
def test_a_provinces_or_countrys_name_counts_only_where_it_stands_as_words(
    text: str, named: list[tuple[str, ...]]
) -> None:
    assert places_named(text) == named


@pytest.mark.parametrize(
    ("text", "origins"),
    [
        # Someone or something of the asker's story comes from the country: China's law answers.
        ("I'm a German engineer seconded to a client project in China.", [("德国",)]),
        ("My father wants to import a prosthetic limb from Germany. Does he pay duty?", [("德国",)]),
        ("a French citizen married to a Chinese citizen", [("法国",)]),
        ("我从德国进口了一台设备，要交关税吗？", [("德国",)]),
        ("我是德国人，在上海工作。", [("德国",)]),
        # The country itself is asked about.
        ("What lessons does the paper draw from Japan's and Germany's experience?", []),
        ("What can China learn from Japan?", []),
        ("What is today's exchange rate of the US dollar?", []),
        ("德国弗劳恩霍夫协会的做法对我国有什么借鉴?", []),
        # Named once as an origin and once as itself, it is asked about.
        ("A German firm asks: how does Germany tax it?", []),
        # A place in China the asker only comes from, beside the one asked of; alone, it is asked of.
        ("I'm moving from Anhui to Hangzhou for a job. When must I register?", [("安徽",)]),
        ("我是安徽人，在杭州工作，怎么办居住证？", [("安徽",)]),
        ("I moved from Anhui last year. What must I register?", []),
    ],
)
def test_a_country_the_asker_comes_from_is_of_the_story(text: str, origins: list[tuple[str, ...]]) -> None:
    assert places_of_origin(text) == origins
    assert all(origin in places_named(text) for origin in origins)


def test_titles_and_issuers_give_local_documents_their_city() -> None:
    assert leading_place("绍兴黄酒保护和发展条例") == "绍兴"
    assert leading_place("日照市海洋牧场条例") == "日照"
    assert leading_place("白银管理办法") is None
    head = "2021年8月9日 绍兴市第九届人民代表大会常务委员会第四十次会议通过\n\n<!-- INFO END -->\n\n第一条 …"
    found = infer_metadata("黄酒保护和发展条例", head, "地方性法规/黄酒保护和发展条例.md")
    assert found["kind"] == "local_regulation"
    assert found["region"] == "绍兴"
    assert found["issuer"] == "绍兴市人民代表大会常务委员会"
