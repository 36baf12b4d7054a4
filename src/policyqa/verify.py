"""Verification stage: does the evidence hold what the question asks for?

Retrieval always returns something, and a plausible question about a place,
a year or an amount that the corpus never gives lands on passages that are
about the right topic. Before answering, three checks compare what the question
asks for with what the passages contain:

- a place the question names (a Chinese province, city or a country) must appear
  in the passages;
- a year the question names must appear in the passages;
- a question for an amount of money, a rate, a duration or a count needs a sentence that
  holds a figure of that kind and shares a term with the question.

A failed check means the corpus does not say; the answer abstains with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from .index import LoadedIndex
from .retrieve import Passage, Query

_DIGITS = r"[0-9０-９]"
_CN_NUMERAL = "零〇一二三四五六七八九十百千万亿两"
# A Chinese numeral needs a digit character: "亿元以上" alone is not an amount.
_NUMBER = rf"(?:{_DIGITS}+(?:[.,]{_DIGITS}+)*|[{_CN_NUMERAL}]*[零〇一二三四五六七八九十两][{_CN_NUMERAL}]*)"
_MONEY = re.compile(rf"{_NUMBER}\s*(?:多)?(?:元|万元|亿元|万|亿)(?:人民币)?")
_RATE = re.compile(
    rf"{_DIGITS}+(?:\.{_DIGITS}+)?\s*[%％]|百分之[{_CN_NUMERAL}]+|[{_CN_NUMERAL}]分之[{_CN_NUMERAL}]+|[{_CN_NUMERAL}]成"
)
_COUNT = re.compile(rf"{_NUMBER}\s*(?:个|家|项|所|名|人|件|年|倍|次|条|批)|{_DIGITS}+")
_DURATION = re.compile(rf"{_NUMBER}\s*(?:个)?(?:年|月|日|天|周|小时)")
_YEAR = re.compile(r"(?<![0-9])(19[5-9][0-9]|20[0-9]{2})(?![0-9])")

_ASKS_MONEY = re.compile(
    r"how much money|\bfees?\b|\bcost\b|\bbudget|\bfunding amount|\bin yuan\b|\bamount of (?:money|funding|subsid)|"
    r"(?:经费|资金|费用|年费|补贴|奖金).{0,6}(?:多少|几何|标准是)|多少.{0,4}(?:经费|资金|钱)|金额|预算",
    re.I,
)
_ASKS_RATE = re.compile(
    r"\b(?:rate|percentage|percent|proportion|ratio)\b|\bwhat share\b|\bshare of\b"
    r"|比例|比率|占比|百分之几|[^利]率是多少|率为多少|率有多高",
    re.I,
)
_ASKS_DURATION = re.compile(r"how long|how many (?:years|months|days)|多长时间|多久|多长|几年|期限是多|期限为多", re.I)
_ASKS_COUNT = re.compile(r"how many|多少(?:个|家|项|所|名|人|件|次|条)|几(?:个|家|项|所)", re.I)


@lru_cache(maxsize=1)
def _places() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    raw = json.loads(resources.files("policyqa").joinpath("data/places.json").read_text(encoding="utf-8"))
    return tuple((tuple(p["en"]), tuple(p["zh"])) for p in raw["places"])


def places_named(question: str) -> list[tuple[str, ...]]:
    """The Chinese names of every place the question mentions (in English or Chinese)."""
    lowered = f" {question.lower()} "
    found = []
    for english, chinese in _places():
        if any(re.search(rf"(?<![a-z]){re.escape(e)}(?![a-z])", lowered) for e in english) or any(
            c in question for c in chinese
        ):
            found.append(chinese)
    return found


def _figure_pattern(question: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """What kind of figure the question asks for, and the words that ask for it."""
    for asks, figure in (
        (_ASKS_RATE, _RATE),
        (_ASKS_MONEY, _MONEY),
        (_ASKS_DURATION, _DURATION),
        (_ASKS_COUNT, _COUNT),
    ):
        if asks.search(question):
            return figure, asks
    return None


# Share of the question's terms, weighted by their rarity in the corpus (BM25's
# idf), that the sentence giving a figure must contain: the figure must be about
# the thing asked ("补助比例"), not merely stand near it ("牵头比例").
MIN_TERM_SHARE = 0.5


def _context_text(passages: Sequence[Passage], index: LoadedIndex, front_matter: bool) -> str:
    """The passages with their documents' titles and sections (and front matter).

    A regulation of Shenzhen rarely says "深圳" in its articles, and a law's
    year of revision stands in its legislative history.
    """
    parts = [p.text for p in passages] + [f"{p.title} {p.section}" for p in passages]
    if front_matter:
        doc_ids = {p.doc_id for p in passages}
        parts += [c.text for c in index.chunks if c.doc_id in doc_ids and c.kind == "front_matter"]
    return "\n".join(parts)


def asked_figure(question: str) -> re.Pattern[str] | None:
    """The pattern of the figure a question asks for ("how many", "比例"), if any."""
    asked = _figure_pattern(question)
    return asked[0] if asked else None


def unsupported_reason(query: Query, passages: Sequence[Passage], index: LoadedIndex) -> str | None:
    """Why the passages cannot answer the question, or None when they may."""
    text = _context_text(passages, index, front_matter=False)
    for names in places_named(query.text):
        if not any(n in text for n in names):
            return f"the passages do not mention {names[0]}"
    years = _YEAR.findall(query.text)
    # The front matter is gathered only for a question that names a year: it means a
    # pass over every passage of the index.
    with_history = _context_text(passages, index, front_matter=True) if years else ""
    for year in years:
        if year not in with_history:
            return f"the passages give nothing for {year}"
    asked = _figure_pattern(query.text)
    if asked is None:
        return None
    figure, asks = asked
    # The question's own words and glossary terms: cross-lingual matches are hints for
    # ranking, too loose to judge what a sentence is about.
    terms = sorted(
        {t for t in query.own_tokens if len(t) > 1 and "\u4e00" <= t[0] <= "\u9fff" and not asks.fullmatch(t)}
    )
    weights = index.lexical.idf(terms)
    total = float(weights.sum())
    for passage in passages:
        rows = passage.sentence_rows
        for i, row in enumerate(rows):
            sentence = index.sentences[row].text
            if not figure.search(sentence):
                continue
            # The sentence before often names what a list item's figure is about, and
            # the title and section name the document and article it belongs to.
            before = index.sentences[rows[i - 1]].text if i else ""
            window = f"{passage.title} {passage.section} {before}{sentence}"
            covered = sum(w for t, w in zip(terms, weights, strict=True) if t in window)
            if total == 0 or covered >= MIN_TERM_SHARE * total:
                return None
    return "no passage gives the figure asked for"
