"""Search filters from what a person types: kinds, regions (English or Chinese), a year or a range."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import QuestionError
from .metadata import KIND_LABELS
from .places import canonical_place
from .types import SearchFilter

_YEAR_RANGE = re.compile(r"^\s*(\d{4})?\s*(-|–|\.\.)?\s*(\d{4})?\s*$")
_REGION_SUFFIX = re.compile(r"(?:省|市|自治区|特别行政区|经济特区)$")


def make_filter(
    kinds: Iterable[str] = (), regions: Iterable[str] = (), years: str | None = None, doc_ids: Iterable[str] = ()
) -> SearchFilter:
    """A ``SearchFilter``; a kind, region or year that cannot be understood is a ``QuestionError`` naming it."""
    kinds = tuple(k.strip() for k in kinds if k.strip())
    unknown = [k for k in kinds if k not in KIND_LABELS]
    if unknown:
        raise QuestionError(f"Unknown document kind {unknown[0]!r}; kinds are: {', '.join(sorted(KIND_LABELS))}.")
    year_from, year_to = _years(years)
    return SearchFilter(
        doc_ids=tuple(d for d in doc_ids if d),
        kinds=kinds,
        regions=tuple(_region(r) for r in regions if r.strip()),
        year_from=year_from,
        year_to=year_to,
    )


def _region(name: str) -> str:
    # Known places by their Chinese name; others (a city the gazetteer lacks) as typed, without 省/市.
    return canonical_place(name) or _REGION_SUFFIX.sub("", name.strip())


def _years(text: str | None) -> tuple[int | None, int | None]:
    """'2019' → (2019, 2019); '2015-2021' → (2015, 2021); '2015-' → (2015, None); '-2015' → (None, 2015)."""
    if text is None or not text.strip():
        return None, None
    match = _YEAR_RANGE.match(text)
    if not match or not (match.group(1) or match.group(3)):
        raise QuestionError(f"A year filter is a year or a range such as 2015-2021. Currently, it is {text!r}.")
    start, dash, end = match.groups()
    if not dash:
        if start and end:
            raise QuestionError(f"A year filter is a year or a range such as 2015-2021. Currently, it is {text!r}.")
        start = end = start or end
    year_from, year_to = (int(start) if start else None), (int(end) if end else None)
    if year_from is not None and year_to is not None and year_from > year_to:
        raise QuestionError(f"The year range {text!r} ends before it starts.")
    return year_from, year_to
