"""Questions that ask what a term means, and the sentences that define one.

"《刑法》所称的国家工作人员是指什么人？", "What does the Criminal Law mean by narcotic drugs?": laws
and regulations define their terms in sentences of one form (本法所称X，是指…; X，是指…), often in
an article of their own beside the articles that use the term, and the answer quoted those
instead. Retrieval lifts the passage where a document the question names defines the term
(``Retriever._definitions_asked``); the answer stage prefers the sentence that defines the term
asked about (``answer._sentence_scores``).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .text import CHINESE_NUMERAL_CHARS

_WHAT_IS_A = r"\bwhat(?:'s|\s+(?:exactly\s+)?(?:is|are))\s+(?:exactly\s+)?"
_FIXED_BY = r"(?:under|according to|as defined|in the sense of|for the purposes? of)\b"
# How a question asks for a meaning: 是指什么, 的含义, 如何定义 (界定), 所称的X; "define", "what does X
# mean", "what (exactly) counts as X".
_ASKS = re.compile(
    r"是指什么|指的是什么|指什么|是什么意思|含义|定义|界定|所称|^什么是"
    r"|\bdefine[sd]?\b|\bdefinitions?\b|\bmeaning of\b|\bmean(?:s|t)? by\b|\bwhat (?:does|do|did) .{1,80}\bmean\b"
    r"|\b(?:what|who)\s+(?:\w+ly\s+)?counts as\b|\bwhat is meant\b|\bqualif(?:y|ies) as\b"
    r"|\bwhat makes\b[^?]{0,60}['‘\"“]"
    # "What (exactly) is a 'trust' …", "What is a public institution under the regulation?": a term asked
    # about, in quotes or before the text that fixes its meaning. Not "What is a company required to do
    # under …", which asks a duty.
    rf"|{_WHAT_IS_A}(?:an?\s+)?['‘\"“]|{_WHAT_IS_A}an?\s+(?:(?!to\b|\w+ed\b)[\w-]+\s+){{0,3}}?(?!\w+ed\b)[\w-]+,?\s+{_FIXED_BY}",
    re.I,
)
# The term an English question asks about: in quotes, or after "define", "meaning of", "counts as".
_QUOTED_TERM = re.compile(r"(?<![A-Za-z])['‘\"“]([A-Za-z][\w\s-]{1,60}?)['’\"”](?![A-Za-z])")
_TERM_AFTER = re.compile(
    r"\b(?:define[sd]?|meaning of|counts as|qualif(?:y|ies) as|what(?:'s|\s+is)\s+(?:exactly\s+)?an?)"
    r"\s+(?:an?\s+|the\s+)?"
    r"([a-z][\w-]*(?:\s+[a-z][\w-]*){0,4})",
    re.I,
)
# Words that end the term after "define": "define a market entity under the law".
_TERM_ENDS = frozenset("and or in under according for by as of to when if what how".split())
# How a text defines: "本法所称的毒品，是指…", "无固定期限劳动合同，是指…", "…系指…".
_DEFINING = re.compile(r"是指|系指|所称的?[^。；，]{1,40}[，,]\s*指")
# What stands before the term defined: an article's number or a list item's, then "本法所称的".
_ARTICLE_NUMBER = re.compile(rf"^\s*第[{CHINESE_NUMERAL_CHARS}]+条\s*")
_LIST_ITEM = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[.、．])\s*")
_REFERRED_AS = re.compile(r"^.*?所称的?", re.S)
_NOT_A_TERM_ENDINGS = ("应当", "应", "可以", "必须", "不得", "也", "都", "均", "仍", "就", "才", "即", "不", "还", "又")
# An article that opens with its term and 是 defines it (敏感个人信息是…的个人信息，包括…); the term is a
# noun phrase of a few characters, no clause.
_COPULA_DEFINITION = re.compile(r"([^\s，,。；;：:、（()）“”《》是]{2,16})是(?!指)[^。；;]{4,}的")


def asks_for_definition(question: str) -> bool:
    """Whether a question asks what a term means ("…是指什么？", "How does the law define …?")."""
    return _ASKS.search(question) is not None


def english_term_asked(question: str) -> str | None:
    """The term an English definition question asks about ("'key energy-using unit'", "define X"), if it gives one."""
    if quoted := _QUOTED_TERM.search(question):
        return quoted.group(1).strip()
    if after := _TERM_AFTER.search(question):
        words = after.group(1).split()
        end = next((i for i, w in enumerate(words) if w.lower() in _TERM_ENDS), len(words))
        return " ".join(words[:end]) or None
    return None


def defined_term(sentence: str) -> str | None:
    """The term a sentence defines as laws do ("本法所称毒品，是指…" → "毒品"), or None if it defines none.

    A law also defines a term by opening an article with it: "第二十八条 敏感个人信息是一旦泄露…的个人信息".
    """
    found = _DEFINING.search(sentence)
    if found is None:
        opening = _COPULA_DEFINITION.match(_LIST_ITEM.sub("", _ARTICLE_NUMBER.sub("", sentence)))
        # "…应当是…的主体", "…也是…": a clause that says what something must be, not a term defined.
        return opening.group(1) if opening and not opening.group(1).endswith(_NOT_A_TERM_ENDINGS) else None
    if found.group(0).startswith("所称"):  # "本条例所称科技成果，指…": the term follows 所称
        return found.group(0).removeprefix("所称").removeprefix("的").rstrip("，, 指").strip()
    # A list of definitions ("下列用语的含义：\n（一）举办单位，是指…") defines the item on the match's line.
    before = sentence[: found.start()].rsplit("\n", 1)[-1]
    before = _LIST_ITEM.sub("", _ARTICLE_NUMBER.sub("", before))
    return _REFERRED_AS.sub("", before).rstrip("，, ").strip() or None


def definitions_asked(question: str, terms: Collection[str], sentences: dict[int, str]) -> set[int]:
    """Of ``sentences`` (key → text), those that define the term the question asks about.

    A Chinese question names its term: the defining sentence whose term is the longest found in
    the question is the one ("无固定期限劳动合同" over "固定期限劳动合同", which it contains). An English
    question's term is known by its Chinese ``terms``: the term that holds most of them. When no
    term matches at all, every defining sentence may be the one.
    """
    defined = {key: term for key, text in sentences.items() if (term := defined_term(text))}
    return terms_asked(question, terms, defined) or set(defined)


def terms_asked(question: str, terms: Collection[str], defined: dict[int, str]) -> set[int]:
    """Of ``defined`` (key → term), the keys whose term the question asks about best; none if none matches.

    A term named in so many words ranks above any partial match; else the question's Chinese
    ``terms`` found within it count by their length ("domestic services" gives 服务, which
    家政服务 holds).
    """

    def strength(term: str) -> int:
        if term in question:
            return 2 * len(term)
        return sum(len(t) for t in terms if len(t) > 1 and t in term)

    strengths = {key: strength(term) for key, term in defined.items()}
    best = max(strengths.values(), default=0)
    return {key for key, value in strengths.items() if value == best} if best > 0 else set()
