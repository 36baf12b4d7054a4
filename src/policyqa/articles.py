"""Article numbers: the ones a question names (第九十条, "Article 120"), the one a law's section is,
and the ones a penalty article punishes breaking (违反本条例第四十条第一款规定的).

A question that names an article asks about that article; a library's laws have many
articles that share its words, and a law may have no such article at all, which is a
question the texts do not cover (a false premise, not a passage about something nearby).
"""

from __future__ import annotations

import re

from .text import CHINESE_NUMERAL_CHARS

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = f"[{CHINESE_NUMERAL_CHARS}0-9０-９]+"
_CHINESE_ARTICLE = re.compile(f"第({_NUMERAL})条")
# An article a Chinese text refers to, numbered (第一千一百六十五条, 第十条之一): no word of the question's.
ARTICLE_REFERENCE = re.compile(f"第{_NUMERAL}条(?:之[一二三四五六七八九十]+)?")
_ENGLISH_ARTICLE = re.compile(r"\b(?:article|art\.)\s*(\d{1,4})\b", re.I)
# A question asking what an article says: "What does Article 188 of the Civil Code say/provide?",
# "《民法典》第一千零七十九条是怎么规定的？", "第三十九条规定了什么？", "第四十条对…有何规定？", "第十条的内容是什么".
_ASKS_WHAT_ARTICLE_SAYS = re.compile(
    r"^\s*what\s+(?:does|do|did)\s+(?:article|art\.)\s*\d+\b.*\b(?:say|says|provide|provides|state|states|"
    r"stipulate|stipulates|set out|lay down|cover|require)\b[^,;]*\??\s*$"
    rf"|第{_NUMERAL}条(?:对[^，。？?]{{1,40}})?(?:是)?(?:有何|有什么|怎么|如何|怎样)?(?:规定|说)"
    r"(?:了|的是)?(?:什么|哪些内容|的)?(?:内容)?[？?。]?\s*$"
    rf"|第{_NUMERAL}条的?(?:内容|规定)是什么[？?。]?\s*$",
    re.I,
)

# A passage punishing the breach of its own law's articles: 违反本条例第四十条第一款规定的,
# 违反本法第十条、第十一条规定, 违反第八条规定. The references run up to the 规定 that closes them;
# another law's articles are named with its title (违反《森林法》第十条规定) and are not its own.
_VIOLATED = re.compile(r"违反(?:本(?:法|条例|办法|规定|细则|决定|规则|准则)?)?(第[^。；，,]{1,80}?)规定")
# A question asking what befalls a breach: 怎么罚, 处罚, 处分, 法律责任, 后果; "what fine", "the penalty
# for", "be fined", "liable", "what happens if". An English question names a penalty as what it asks,
# not as the matter it asks about ("publishes an administrative penalty", "challenge a penalty
# imposed": how long it stays public, how to seek reconsideration).
_PENALTY_WORDS = r"(?:penalt(?:y|ies)|fines?|punishments?|sanctions?|consequences?)"
_ASKS_PENALTY = re.compile(
    r"罚|处分|法律责任|什么责任|后果"
    rf"|\b(?:what|which)\s+(?:[\w-]+\s+){{0,3}}?{_PENALTY_WORDS}\b|\b{_PENALTY_WORDS}\s+(?:for|of)\b"
    rf"|\babout\s+(?:the\s+)?{_PENALTY_WORDS}|\b(?:top|maximum|minimum|highest|lowest|largest)\s+{_PENALTY_WORDS}\b"
    rf"|\bhow\s+(?:much|large|big|heavy|high|severe|serious)\s+(?:[\w-]+\s+){{0,2}}?{_PENALTY_WORDS}\b"
    r"|\b(?:be|is|are|was|were|get|gets|got|being|been)\s+(?:[\w'-]+\s+){0,3}?(?:fined|punished|penali[sz]ed|sanctioned)\b"
    r"|\bpunish(?:es|ed)?\b|\bliab(?:le|ility)\b"
    r"|\bwhat\s+(?:happens|will happen|would happen|can happen)\b",
    re.I,
)


def chinese_number(text: str) -> int | None:
    """The value of a Chinese or Arabic numeral as articles are numbered (一百二十, 二十三, 120); None if it is none."""
    text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit():
        return int(text)
    total, digit = 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            # "十" alone at the start means ten (十二 = 12).
            total += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            return None
    return total + (digit or 0) if (total or digit is not None) else None


def articles_named(question: str) -> tuple[int, ...]:
    """The article numbers a question names, in order, without repeats."""
    found = [chinese_number(m) for m in _CHINESE_ARTICLE.findall(question)]
    found += [int(m) for m in _ENGLISH_ARTICLE.findall(question)]
    return tuple(dict.fromkeys(n for n in found if n))


def article_of(section: str) -> int | None:
    """The number of the article a section path ends in (… > 第二十三条), or None."""
    found = _CHINESE_ARTICLE.findall(section)
    return chinese_number(found[-1]) if found else None


# An article another text cites by its law's name: 铁路法第十七条, 刑法第一百二十条之一, 《条例》第三十条.
_CITED = re.compile(f"(?:法|条例|规定|办法|》)第({_NUMERAL})条")


def cited_articles(text: str) -> tuple[int, ...]:
    """The article numbers a text cites after a law's name, in order, without repeats."""
    return tuple(dict.fromkeys(n for m in _CITED.findall(text) if (n := chinese_number(m))))


def asks_what_article_says(question: str) -> bool:
    """Whether a question asks what an article says, not of something an article is a reference for.

    "What does Article 188 of the Civil Code say?" asks for the article; "the fine for breaching
    Article 12" and "依照第十二条规定，申请人应当提交哪些材料？" ask for another article's answer.
    """
    return _ASKS_WHAT_ARTICLE_SAYS.search(question) is not None


def violated_articles(text: str) -> tuple[int, ...]:
    """The articles of its own law whose breach a passage punishes (违反本条例第四十条第一款规定的 → 40)."""
    found = [chinese_number(m) for refs in _VIOLATED.findall(text) for m in _CHINESE_ARTICLE.findall(refs)]
    return tuple(dict.fromkeys(n for n in found if n))


def asks_for_penalty(question: str) -> bool:
    """Whether a question asks what befalls a breach ("会怎么处罚", "What happens if a temple …")."""
    return _ASKS_PENALTY.search(question) is not None
