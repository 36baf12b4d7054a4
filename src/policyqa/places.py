"""A gazetteer of the places questions and documents name (``data/places.json``), in English and Chinese.

Provinces, a few cities and foreign countries are written by hand; the other cities
(prefecture-level, sub-provincial, provincial capitals) come from CC-CEDICT
(``python -m policyqa_tools.gazetteer``). In Chinese text a city's name counts only
as a word of its own (jieba's segmentation: not 长治 in 长治久安) or with 市, and
only with 市 where CC-CEDICT lists the name as a common word too (日照 "sunshine").
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from .lexical import cut, tokenize


class Place(NamedTuple):
    english: tuple[str, ...]
    chinese: tuple[str, ...]
    city: bool  # from CC-CEDICT's cities: its Chinese name must stand as a word
    word: bool  # the city's name is also a common word: only X市 names it in Chinese
    within: tuple[str, ...] = ()  # the provinces a city lies in (Chinese names)
    foreign: bool = False  # a country other than China (or the EU)


@lru_cache(maxsize=1)
def gazetteer() -> tuple[Place, ...]:
    """Every place, with its English and Chinese names."""
    raw = json.loads(resources.files("policyqa").joinpath("data/places.json").read_text(encoding="utf-8"))
    return tuple(
        Place(
            tuple(p["en"]),
            tuple(p["zh"]),
            p.get("level") == "city",
            bool(p.get("word")),
            tuple(p.get("in", ())),
            bool(p.get("foreign")),
        )
        for p in raw["places"]
    )


@lru_cache(maxsize=1)
def _provinces_by_chinese_name() -> dict[str, tuple[str, ...]]:
    return {name: place.within for place in gazetteer() if place.within for name in place.chinese}


def in_force_at(places: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The regions whose local law is in force at these places: the places and the provinces of their cities."""
    provinces = _provinces_by_chinese_name()
    names = [name for found in places for name in found]
    return tuple(dict.fromkeys([*names, *(p for name in names for p in provinces.get(name, ()))]))


@lru_cache(maxsize=1)
def chinese_names_by_english() -> dict[str, tuple[str, ...]]:
    """Each place's English names (lower case) and its Chinese ones."""
    return {english.lower(): place.chinese for place in gazetteer() for english in place.english}


@lru_cache(maxsize=1)
def _any_name() -> re.Pattern[str]:
    """Every name of the gazetteer as one pattern: most texts name no place, and one search says so."""
    names = {name.lower() for place in gazetteer() for name in (*place.english, *place.chinese)}
    return re.compile("|".join(re.escape(name) for name in sorted(names, key=lambda n: (-len(n), n))))


@lru_cache(maxsize=1024)
def _english_name(name: str) -> re.Pattern[str]:
    """An English place name (lower case) standing as words of a lower-cased text, not inside one."""
    return re.compile(rf"(?<![a-z]){re.escape(name)}(?![a-z])")


def places_named(text: str) -> list[tuple[str, ...]]:
    """The Chinese names of every place the text mentions (in English or Chinese)."""
    return list(_places_in(text))


# A question's text is read for places by several stages (retrieval, verification, the answer): ~1 ms each time.
@lru_cache(maxsize=4096)
def _places_in(text: str) -> tuple[tuple[str, ...], ...]:
    lowered = text.lower()
    if not _any_name().search(lowered):
        return ()
    words: set[str] | None = None
    bounds: set[int] | None = None
    found = []
    for english, chinese, city, word, *_ in gazetteer():
        # The substring test first: a pattern for each of 300 places costs ~2 ms a text.
        named = any(e in lowered and _english_name(e).search(lowered) for e in english)
        if not named and any(c in text for c in chinese):
            if city and not any(f"{c}市" in text for c in chinese):
                if word:
                    continue
                words = set(tokenize(text)) if words is None else words
                named = any(c in words for c in chinese)
            else:
                bounds = _word_bounds(text) if bounds is None else bounds
                named = any(_stands_as_words(text, c, bounds) for c in chinese)
        if named:
            found.append(chinese)
    return tuple(found)


# The people and firms a question tells of by their country ("a German engineer", "a French citizen").
_PERSON_OR_FIRM = (
    r"(?:citizens?|nationals?|residents?|engineers?|employees?|workers?|experts?|students?|tourists?|visitors?"
    r"|investors?|compan(?:y|ies)|firms?|enterprises?|spouses?|wife|husband|partners?|m[ae]n|wom[ae]n|persons?"
    r"|people|clients?|customers?|suppliers?|buyers?|sellers?|teachers?|doctors?|friends?|researchers?|scientists?"
    r"|lawyers?|managers?|entrepreneurs?|businessm[ae]n|parents?|child(?:ren)?|family)"
)
_CHINESE_PERSON_OR_FIRM = "人|籍|公民|公司|企业|客户|客商|工程师|专家|留学生|游客|朋友|丈夫|妻子|投资者"
# Goods or people brought from a country: "import a prosthetic limb from Germany", "a parcel sent from
# Japan"; not "lessons drawn from Japan".
_BROUGHT_FROM = re.compile(
    r"\b(?:import|imported|importing|buy|bought|buying|order|ordered|purchase|purchased|send|sent|ship|shipped"
    r"|mail|mailed|post|posted|bring|brought|come|came|coming|move|moved|moving|relocat(?:e|ed|ing)"
    r"|return|returned|arrive|arrived"
    r"|transfer|transferred|remit|remitted|receive|received|hire|hired|recruit|recruited)\b"
    r"(?:\s+[\w'’-]+){0,6}?\s+from\s+(?:the\s+)?$"
)


def places_of_origin(text: str) -> list[tuple[str, ...]]:
    """The places a text names only as where someone or something comes from (``_places_of_origin``)."""
    return list(_places_of_origin(text))


@lru_cache(maxsize=1024)  # asked of each question several times: by retrieval, then by verification
def _places_of_origin(text: str) -> tuple[tuple[str, ...], ...]:
    """The foreign countries, and the places in China beside another asked of, that a text names only as where
    someone or something it tells of comes from.

    "I'm a German engineer seconded to China …", "import a prosthetic limb from Germany", "从德国进口":
    the asker's story, answered by China's law, which need not name the country. "Germany's
    experience", "the US dollar", "德国弗劳恩霍夫协会" ask about the country itself.
    """
    lowered = text.lower()
    found: list[tuple[str, ...]] = []
    at_home: list[tuple[str, ...]] = []  # places in China told of only as an origin
    for place in gazetteer():
        mentions = [("en", m) for e in place.english if e in lowered for m in _english_name(e).finditer(lowered)] + [
            ("zh", m) for c in place.chinese if c in text for m in re.finditer(re.escape(c), text)
        ]
        if mentions and all(_told_as_origin(text, lowered, kind, m) for kind, m in mentions):
            (found if place.foreign else at_home).append(place.chinese)
    # A place in China the asker only comes from is of the story when the question asks of another:
    # "I'm moving from Anhui to Hangzhou for a job" asks of Hangzhou's rules.
    if at_home and any(names not in at_home and names not in found for names in places_named(text)):
        found += at_home
    return tuple(found)


def places_asked(text: str) -> list[tuple[str, ...]]:
    """The places a text names but the countries it names only as an origin."""
    origins = places_of_origin(text)
    return [names for names in places_named(text) if names not in origins]


def _told_as_origin(text: str, lowered: str, kind: str, mention: re.Match[str]) -> bool:
    """Whether a mention of a country says where someone or something comes from: "from X", "a X engineer", 从X, X籍."""
    start, end = mention.span()
    if kind == "en":
        if re.match(r"['’]s\b", lowered[end:]):
            return False  # "Japan's experience" is the country's own
        return bool(
            _BROUGHT_FROM.search(lowered[:start])
            or re.match(rf"\s+(?:[a-z-]+\s+){{0,2}}?{_PERSON_OR_FIRM}\b", lowered[end:])
        )
    return text[:start].endswith("从") or re.match(_CHINESE_PERSON_OR_FIRM, text[end:]) is not None


def _word_bounds(text: str) -> set[int]:
    """Where jieba's words of ``text`` start and end (character offsets)."""
    bounds, at = {0}, 0
    for word in cut(text):
        at += len(word)
        bounds.add(at)
    return bounds


def _stands_as_words(text: str, name: str, bounds: set[int]) -> bool:
    """Whether ``name`` stands in ``text`` inside one word (河南省, 中国台湾地区) or as whole words, not across
    two words' edge: 法国 in 最高法|国际, 江西 in 浙江|西部, 海南 in 上海|南站 name no place."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if not any(start < b < end for b in bounds) or (start in bounds and end in bounds):
            return True
        start = text.find(name, start + 1)
    return False


def leading_place(title: str) -> str | None:
    """The place a title opens with (北京市…条例 → 北京), the region of a local document."""
    first_word: str | None = None
    for place in gazetteer():
        for name in place.chinese:
            if not title.startswith(name):
                continue
            if place.city and not title.startswith(f"{name}市"):
                if place.word:
                    continue
                first_word = first_word if first_word is not None else next(iter(tokenize(title)), "")
                if first_word != name:
                    continue
            return place.chinese[0]
    return None


def canonical_place(name: str) -> str | None:
    """The Chinese name of a place given in English or Chinese ("Beijing", "北京市" → 北京)."""
    found = places_named(name.strip())
    return found[0][0] if found else None
