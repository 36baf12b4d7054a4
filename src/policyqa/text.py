"""Facts about text decided once: what counts as a Chinese character and a Chinese question."""

from __future__ import annotations

import re

# The CJK Unified Ideographs block: what jieba and the tokenizer treat as Chinese words.
CJK_RANGE = "\u4e00-\u9fff"
# The characters of a Chinese numeral as laws number their articles and chapters (第一千零四十条):
# one set for every stage, so that no copy lacks 千 again.
CHINESE_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千"
CJK_CHAR = re.compile(f"[{CJK_RANGE}]")
# Two ideographs make a question Chinese: an English question quoting one term (专利) stays English.
_CHINESE_MIN_CHARS = 2
# What a text quotes, puts in brackets or names as a title is not its language: an English question
# quotes the Chinese term it asks about ("define 'paji' (扒鸡)?"), a Chinese one an English name. An
# apostrophe between letters (Dezhou's) opens no quote.
_ASIDE = re.compile(
    r"\([^()]*\)|（[^（）]*）|“[^”]*”|‘[^’]*’|「[^」]*」|《[^》]*》|\"[^\"]*\"|(?<![A-Za-z])'[^']*'(?![A-Za-z])"
)
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# A Chinese word is about two ideographs: a text is Chinese when its Chinese words are at least as
# many as its English ones ("如何申请 high-tech enterprise 认定？" is Chinese).
_CHARS_PER_CHINESE_WORD = 2


def is_cjk(char: str) -> bool:
    """True for one CJK ideograph."""
    return "\u4e00" <= char <= "\u9fff"


def cjk_count(text: str) -> int:
    return sum(1 for ch in text if is_cjk(ch))


def is_chinese(text: str) -> bool:
    """True when the text is Chinese: outside what it quotes, brackets or names as a title (or
    in all of it, when nothing else is left), it holds at least two ideographs and no more English
    words than Chinese ones."""
    frame = _ASIDE.sub(" ", text)
    if not CJK_CHAR.search(frame) and not _LATIN_WORD.search(frame):
        frame = text
    ideographs = cjk_count(frame)
    english_words = len(_LATIN_WORD.findall(frame))
    return ideographs >= _CHINESE_MIN_CHARS and ideographs >= _CHARS_PER_CHINESE_WORD * english_words
