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


def is_cjk(char: str) -> bool:
    """True for one CJK ideograph."""
    return "\u4e00" <= char <= "\u9fff"


def cjk_count(text: str) -> int:
    return sum(1 for ch in text if is_cjk(ch))


def is_chinese(text: str) -> bool:
    """True when the text is Chinese (holds at least two ideographs)."""
    return cjk_count(text) >= _CHINESE_MIN_CHARS
