"""A bilingual glossary that lets English questions reach Chinese text lexically.

BM25 over Chinese tokens cannot match an English question; naming the Chinese
term of an English phrase ("trough of disillusionment" -> 泡沫破裂低谷期) gives the
lexical index something to match. The terms live in ``data/glossary.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class GlossaryEntry:
    english: tuple[str, ...]
    chinese: tuple[str, ...]


@lru_cache(maxsize=1)
def load_glossary() -> tuple[GlossaryEntry, ...]:
    raw = json.loads(resources.files("policyqa").joinpath("data/glossary.json").read_text(encoding="utf-8"))
    return tuple(
        GlossaryEntry(tuple(e.strip().lower() for e in item["en"]), tuple(item["zh"])) for item in raw["entries"]
    )


# A word of the -ise/-ize family in any of its forms: "commercialisation", "commercialising",
# "commercialized" are one term. Only a derived form says it is of the family: "enterprise" ends
# in -ise and is no verb's.
_IZE_FAMILY = re.compile(r"i[sz](?:ation|ing|ed)$")


def _any_form(phrase: str) -> str:
    """A regular expression for a phrase whose -ise/-ize words may stand in any form and spelling."""
    words = []
    for word in phrase.split(" "):
        family = _IZE_FAMILY.search(word)
        words.append(re.escape(word[: family.start()]) + "i[sz](?:ations?|ing|ed|es|e)" if family else re.escape(word))
    return " ".join(words)


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    out = []
    for entry in load_glossary():
        alternatives = "|".join(_any_form(e) for e in sorted(entry.english, key=len, reverse=True))
        # The alternatives grouped: the word boundaries hold for each of them ("ai" not in "Shanghai").
        out.append((re.compile(rf"(?<![a-z])(?:{alternatives})(?![a-z])"), entry.chinese))
    return tuple(out)


def chinese_terms(question: str) -> list[str]:
    """The Chinese terms of every glossary phrase the question contains, in glossary order."""
    lowered = f" {question.lower()} "
    terms: list[str] = []
    for pattern, chinese in _patterns():
        if pattern.search(lowered):
            terms.extend(t for t in chinese if t not in terms)
    return terms


def phrases_with_terms(question: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each glossary phrase the question contains, as it stands there, with its Chinese terms."""
    lowered = f" {question.lower()} "
    return [(match.group(0), chinese) for pattern, chinese in _patterns() if (match := pattern.search(lowered))]


@lru_cache(maxsize=1)
def _chinese_vocabulary() -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for entry in load_glossary() for t in entry.chinese))


def terms_in_chinese(question: str) -> list[str]:
    """The glossary's Chinese terms a Chinese question contains verbatim, in glossary order."""
    return [t for t in _chinese_vocabulary() if t in question]
