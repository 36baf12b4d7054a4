"""Follow-up questions resolved against the conversation, deterministically.

"What about the growth stage?" after "What policy fits a technology in the trough of
disillusionment?" asks the earlier question of another subject. A short question that
opens or closes like a follow-up ("what about", "and", "how about"; 那…呢, 还有) takes the
earlier question and swaps the field's term it named for the one the follow-up names
(the glossary's terms: stages, actors, instruments); without such a pair, the follow-up's
words are added to the earlier question. The resolved question is what is searched, and
it is shown to the user.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .glossary import load_glossary
from .text import cjk_count, is_chinese

_EN_CUE = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+|^\s*and\s+(?:for|in|the)?\s*|^\s*what\s+of\s+", re.I)
_ZH_OPEN = re.compile(r"^\s*(?:那么|那|还有|另外|再问一下)[，,\s]*")
_ZH_CLOSE = re.compile(r"(?:又如何|怎么样|如何|呢)[？?。.\s]*$")
_TRAILING = re.compile(r"[?？。.!！\s]+$")
# A follow-up is short: longer questions stand on their own.
_MAX_EN_WORDS = 8
_MAX_ZH_CHARS = 14


def _english_match(text: str) -> tuple[str, int, int] | None:
    """The longest glossary phrase in English text: (phrase, start, end)."""
    lowered = text.lower()
    best: tuple[str, int, int] | None = None
    for entry in load_glossary():
        for phrase in entry.english:
            for match in re.finditer(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", lowered):
                if best is None or len(phrase) > len(best[0]):
                    best = (phrase, match.start(), match.end())
    return best


def _chinese_match(text: str) -> tuple[str, int, int] | None:
    """The longest glossary term in Chinese text: (term, start, end)."""
    best: tuple[str, int, int] | None = None
    for entry in load_glossary():
        for term in entry.chinese:
            start = text.find(term)
            if start >= 0 and (best is None or len(term) > len(best[0])):
                best = (term, start, start + len(term))
    return best


def follow_up_subject(question: str) -> str | None:
    """What a follow-up asks about ("the growth stage", 成长期), or None when it stands on its own."""
    text = question.strip()
    if is_chinese(text):
        if cjk_count(text) > _MAX_ZH_CHARS:
            return None
        opened, closed = _ZH_OPEN.search(text), _ZH_CLOSE.search(text)
        if not (opened or closed):
            return None
        subject = _ZH_CLOSE.sub("", _ZH_OPEN.sub("", text)).strip("，, ")
        return subject or None
    if len(text.split()) > _MAX_EN_WORDS or not (cue := _EN_CUE.search(text)):
        return None
    subject = _TRAILING.sub("", text[cue.end() :]).strip()
    return subject or None


def resolve_follow_up(question: str, earlier: Sequence[str]) -> str | None:
    """The question a follow-up stands for, given the earlier questions (latest last); None if it is no follow-up."""
    if not earlier:
        return None
    subject = follow_up_subject(question)
    if subject is None:
        return None
    previous = earlier[-1].strip()
    if is_chinese(previous):
        old = _chinese_match(previous)
        new = _chinese_match(subject) if is_chinese(subject) else None
    else:
        old = _english_match(previous)
        new = _english_match(subject) if not is_chinese(subject) else None
    if old is not None and new is not None:
        _, start, end = old
        # The follow-up's own words for the new term ("Zhejiang", not the glossary's "zhejiang").
        replacement = subject[new[1] : new[2]] if not is_chinese(previous) else subject
        return previous[:start] + replacement + previous[end:]
    joiner = "，" if is_chinese(previous) else " — "
    return f"{_TRAILING.sub('', previous)}{joiner}{subject}"
