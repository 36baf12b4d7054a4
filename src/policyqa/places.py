"""A gazetteer of the places questions and documents name (``data/places.json``), in English and Chinese."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def gazetteer() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """(English names, Chinese names) of every place."""
    raw = json.loads(resources.files("policyqa").joinpath("data/places.json").read_text(encoding="utf-8"))
    return tuple((tuple(p["en"]), tuple(p["zh"])) for p in raw["places"])


def places_named(text: str) -> list[tuple[str, ...]]:
    """The Chinese names of every place the text mentions (in English or Chinese)."""
    lowered = f" {text.lower()} "
    found = []
    for english, chinese in gazetteer():
        if any(re.search(rf"(?<![a-z]){re.escape(e)}(?![a-z])", lowered) for e in english) or any(
            c in text for c in chinese
        ):
            found.append(chinese)
    return found


def leading_place(title: str) -> str | None:
    """The place a title opens with (北京市…条例 → 北京), the region of a local document."""
    for _, chinese in gazetteer():
        for name in chinese:
            if title.startswith(name):
                return chinese[0]
    return None


def canonical_place(name: str) -> str | None:
    """The Chinese name of a place given in English or Chinese ("Beijing", "北京市" → 北京)."""
    found = places_named(name.strip())
    return found[0][0] if found else None
