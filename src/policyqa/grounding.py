"""Grounding: every generated sentence is checked against the passages it cites before anyone sees it.

A sentence fails when it cites nothing, cites a passage that does not exist, states a
figure, year, place or actor its cited passages do not hold (across languages: 六个月 =
six months = 6 months, 百分之三十 = 30%, 2025年 = 2025; places from ``places``, actors
and proper names through a small table and CC-CEDICT), flips a negation, or is not
close enough in the multilingual encoder's space to any sentence (or pair of adjacent
sentences) of those passages. The threshold was calibrated on the dev half of
``eval/verifier/labelled.jsonl`` (docs/evaluation.md, "LLM answers").

The checks are deliberately conservative: a dropped true sentence costs a shorter answer
(or the extractive fallback), a kept false one costs the reader's trust.

Example:
    >>> grounder = Grounder(get_encoder("use-multilingual-v3"))
    >>> evidence = grounder.evidence(passages)
    >>> grounder.check("The law takes effect after six months [1].", evidence).ok
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .embed import Encoder
from .places import places_named
from .text import cjk_count, is_chinese
from .types import Located

# Calibrated on the dev half of the labelled set (``policyqa verifier-eval``): the cosine
# below which a sentence is not a rendering of any sentence of its passage.
DEFAULT_SIMILARITY_THRESHOLD = 0.45

# ``[1]``, ``[1, 2]``, ``【3】``, ``[1][2]``: the markers a generated sentence cites with.
MARKER = re.compile(r"\s*[\[【]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】]")
_PARTIAL_MARKER = re.compile(r"\s*[\[【][\d\s,，、]*$")
_PASSAGE_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*")
_TERMINATORS = "。！？!?"

# --- figures -------------------------------------------------------------------------------

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip
_EN_MULTIPLIERS = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
# What a figure counts, in both languages; a figure without one of these matches any unit.
_UNITS: tuple[tuple[str, str], ...] = (
    ("%", r"%|％|percent\b|per cent\b"),
    ("month", r"个月|months?\b"),
    ("year", r"(?:周)?年(?!度)|years?\b"),
    ("day", r"(?:个)?(?:工作)?日(?=内|以内|起|后|前)|天|(?:working |business )?days?\b"),
    ("yuan", r"元|yuan\b|rmb\b"),
    ("person", r"人|名|people\b|persons?\b"),
    ("times", r"倍|times\b|fold\b"),
)
_UNIT_PATTERN = "|".join(f"(?P<u{i}>{pattern})" for i, (_, pattern) in enumerate(_UNITS))
_ARABIC = re.compile(
    r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(万|亿|thousand\b|million\b|billion\b)?\s*(?:"
    + _UNIT_PATTERN
    + ")?",
    re.I,
)
_CHINESE = re.compile(
    rf"(百分之|第)?([{_CN_NUM}]+)\s*(?:" + _UNIT_PATTERN + r"|(个|项|条|家|所|种|类|次|批|章|款|岁))?"
)
_ENGLISH = re.compile(
    r"\b(" + "|".join(_EN_NUMBERS) + r")(?:[\s-]+(" + "|".join(_EN_NUMBERS) + r"))?"
    r"(?:\s+(hundred|thousand|million|billion))?\b\s*(?:" + _UNIT_PATTERN + ")?",
    re.I,
)

# A share said as a fraction: "half of the cost", "two thirds of the members", 三分之二, 一半, 半数. Not
# "half a year" or "a quarter" alone (a period): an English fraction names what it is a part of.
_EN_FRACTION = re.compile(
    r"\b(?:(one|a|two|three)[\s-]+)?(half|thirds?|quarters?)\s+of\b|\bhalf\s+(?:the|their|its|his|her|your)\b", re.I
)
_EN_FRACTION_BASE = {"half": 50.0, "third": 100 / 3, "thirds": 100 / 3, "quarter": 25.0, "quarters": 25.0}
_CN_FRACTION = re.compile(r"([一二两三四五六七八九十]+)分之([一二两三四五六七八九十]+)|一半|半数")

Figure = tuple[float, str | None]


def _fractions(text: str) -> set[Figure]:
    """The shares a text states as fractions, in per cent (66.666667 for two thirds)."""
    found: set[Figure] = set()
    for m in _EN_FRACTION.finditer(text):
        count = (m.group(1) or "one").lower()
        base = _EN_FRACTION_BASE[(m.group(2) or "half").lower()]
        found.add((round(base * (2 if count == "two" else 3 if count == "three" else 1), 6), "%"))
    for m in _CN_FRACTION.finditer(text):
        if m.group(1) is None:
            found.add((50.0, "%"))
            continue
        whole, part = chinese_number(m.group(1)), chinese_number(m.group(2))
        if whole and part is not None:
            found.add((round(100 * part / whole, 6), "%"))
    return found


def chinese_number(text: str) -> float | None:
    """The value of a Chinese numeral (三十 → 30, 五万 → 50000, 一百零五 → 105, 二〇二五 → 2025)."""
    if not text or any(ch not in _CN_NUM for ch in text):
        return None
    if all(ch in _CN_DIGITS for ch in text) and len(text) > 1:  # 二〇二五: digit by digit
        return float("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_SMALL_UNITS:
            section += (digit or 1) * _CN_SMALL_UNITS[ch]
            digit = 0
        else:
            total = (total + section + digit) * _CN_BIG_UNITS[ch]
            section, digit = 0, 0
    return float(total + section + digit)


def _unit(match: re.Match[str]) -> str | None:
    for i, (name, _) in enumerate(_UNITS):
        if match.group(f"u{i}"):
            return name
    return None


def figures(text: str, *, strict: bool = True) -> set[Figure]:
    """The figures a text states, as (value, unit); a calendar year (2025年) has no unit.

    ``strict`` (for a claim): a Chinese numeral counts only with a unit, a classifier, 第 or
    百分之, or when it is compound (三十, 五万), so 一般 and 统一 state no figure; an English
    "one" only with a unit. Evidence is read with ``strict=False``: every numeral counts, which
    only makes the check more lenient.
    """
    found: set[Figure] = set()
    text = MARKER.sub(" ", text)
    for m in _ARABIC.finditer(text):
        value: float = float(m.group(1).replace(",", ""))
        scale = (m.group(2) or "").lower()
        value *= {"万": 1e4, "亿": 1e8, "thousand": 1e3, "million": 1e6, "billion": 1e9}.get(scale, 1)
        unit = _unit(m)
        if unit == "year" and 1900 <= value <= 2100 and "." not in m.group(1):
            unit = None  # 2025年 and "in 2025" are the same calendar year
        found.add((value, unit))
    for m in _CHINESE.finditer(text):
        prefix, numeral = m.group(1), m.group(2)
        parsed = chinese_number(numeral)
        if parsed is None:
            continue
        value = parsed
        unit = _unit(m)
        if prefix == "百分之":
            unit = "%"
        elif unit == "year" and 1900 <= value <= 2100:
            unit = None
        counted = (
            prefix or unit or m.group(m.re.groups) or any(ch in "十百千万亿" for ch in numeral) or len(numeral) > 1
        )
        if strict and not counted:
            continue
        if unit is None and m.group(0).rstrip().endswith(("万", "亿")) and value < 10:
            continue  # a lone 万 or 亿 (万物, 亿万) is a word, not a figure
        found.add((value, unit))
    for m in _ENGLISH.finditer(text):
        first, second, scale = (m.group(1) or "").lower(), (m.group(2) or "").lower(), (m.group(3) or "").lower()
        unit = _unit(m)
        if first == "one" and unit is None and not scale and strict:
            continue  # "one of the", "one way": no figure
        value = float(_EN_NUMBERS[first] + (_EN_NUMBERS[second] if second else 0))
        if first == "hundred":
            value = 100.0
        if scale:
            value *= _EN_MULTIPLIERS[scale]
        found.add((value, unit))
    return found | _fractions(text)


def unsupported_figures(claim: str, evidence: str) -> list[Figure]:
    """The figures of ``claim`` that ``evidence`` does not state (same value, and same unit when both name one)."""
    held = figures(evidence, strict=False)
    missing = []
    for value, unit in figures(claim):
        if not any(abs(value - v) < 1e-9 and (unit is None or u is None or unit == u) for v, u in held):
            missing.append((value, unit))
    return missing


# --- places and actors ---------------------------------------------------------------------

# Who acts in a policy sentence, in English and Chinese: a claim naming one must find it in its
# passage ("the State Council" for 省人民政府 is a wrong actor). Specific bodies only: "the
# government" renders 政府, 国家 and 人民政府 alike and is left to the similarity check.
_ACTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"state council", ("国务院",)),
    (r"ministry of science and technology|science and technology (?:department|administrative department)",
     ("科学技术", "科技")),
    (r"ministry of finance|finance department", ("财政",)),
    (r"ministry of education|education department", ("教育",)),
    (r"people's bank", ("人民银行",)),
    (r"patent (?:administration|office|administrative department)", ("专利",)),
    (r"universit(?:y|ies)|colleges?|institutions? of higher (?:learning|education)",
     ("高等学校", "高校", "院校", "大学")),
    (r"research institut(?:e|es|ions)|scientific research institutions?",
     ("研究开发机构", "科研院所", "科研机构", "研究机构")),
    (r"enterprises?|compan(?:y|ies)|firms?", ("企业", "公司")),
    (r"financial institutions?|banks?", ("金融", "银行")),
    (r"provincial|provinces?", ("省",)),
    (r"count(?:y|ies)", ("县",)),
    (r"inventors?", ("发明人",)),
    (r"courts?", ("法院",)),
)  # fmt: skip
_ACTOR_PATTERNS = tuple((re.compile(rf"\b(?:{en})\b", re.I), zh) for en, zh in _ACTORS)
# Capitalised English phrases inside a sentence: candidate proper names ("Shenzhen", "Gartner").
_PROPER = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]+(?:\s+(?:of\s+|and\s+)?[A-Z][a-z]+)*)")


def unsupported_names(claim: str, evidence: str, lookup: Callable[[str], list[str]] | None = None) -> list[str]:
    """Places, actors and proper names of ``claim`` that ``evidence`` does not hold (in either language)."""
    missing = []
    for chinese in places_named(claim):
        if not any(name in evidence for name in chinese):
            missing.append(chinese[0])
    lowered = evidence.lower()
    english_claim = not is_chinese(claim)
    for pattern, chinese in _ACTOR_PATTERNS:
        if english_claim:
            m = pattern.search(claim)
            if m and m.group(0).lower() not in lowered and not any(z in evidence for z in chinese):
                missing.append(m.group(0))
        elif any(z in claim for z in chinese) and not any(z in evidence for z in chinese):
            missing.append(next(z for z in chinese if z in claim))
    if english_claim and lookup is not None:
        for m in _PROPER.finditer(MARKER.sub("", claim)):
            name = m.group(1)
            if name.lower() in lowered or places_named(name):
                continue
            candidates = lookup(name)
            # A name the dictionary does not know is left to the similarity check.
            if candidates and not any(c in evidence for c in candidates):
                missing.append(name)
    return missing


# --- negation ------------------------------------------------------------------------------

_NEGATION_ZH = re.compile(
    r"不得|禁止|不应|不能|不可|不予|不是|不会|不需|无需|无须|无权|未|没有|并非|严禁|不(?![断同仅少足良过久])"
)
_NEGATION_EN = re.compile(
    r"\b(?:not|no|never|cannot|neither|nor|without|prohibit\w*|forbid\w*|may only|must only)\b|n't\b", re.I
)


# A prohibition is checked on its own: a source that says 无正当理由 is negated, yet a claim
# that turns its "may" into 不得 changes what the law allows.
_PROHIBITION = re.compile(r"不得|禁止|严禁|不准|\b(?:cannot|may not|must not|shall not|prohibit\w*|forbid\w*)\b", re.I)


def negated(text: str) -> bool:
    """Whether a sentence states something negatively (不得, 未, "not", "prohibited" …)."""
    return bool(_NEGATION_ZH.search(text) if cjk_count(text) >= 2 else _NEGATION_EN.search(text))


def polarity_differs(claim: str, source: str) -> bool:
    """Whether a claim negates or prohibits where its source does not, or the other way round."""
    return negated(claim) != negated(source) or bool(_PROHIBITION.search(claim)) != bool(_PROHIBITION.search(source))


# --- sentences of a generation ---------------------------------------------------------------


def cited(sentence: str) -> tuple[int, ...]:
    """The citation numbers of a sentence, in order, without repeats."""
    seen: list[int] = []
    for m in MARKER.finditer(sentence):
        for part in re.split(r"[,，、]", m.group(1)):
            n = int(part.strip())
            if n not in seen:
                seen.append(n)
    return tuple(seen)


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s+([.。,，;；!?！？])", r"\1", MARKER.sub("", sentence)).strip()


def cut_sentences(text: str, final: bool) -> tuple[list[str], str]:
    """Complete sentences of a generation (each with the markers after it), and the rest.

    A sentence ends at 。！？!?, at a full stop followed by a space or a marker (not "2.5"),
    or at a line break; the citation markers right after it belong to it. While the stream
    runs (``final`` false), a sentence whose end could still grow markers waits.
    """
    out: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        ends = ch in _TERMINATORS or ch == "\n"
        if ch == ".":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt == "" and not final:
                break  # "2." may become "2.5"
            ends = nxt == "" or nxt.isspace() or nxt in "[【"
        if not ends:
            i += 1
            continue
        j = i + 1
        while m := MARKER.match(text, j):
            j = m.end()
        rest = text[j:]
        if not final and (not rest.strip() or _PARTIAL_MARKER.match(rest)):
            break  # a marker may still follow
        # A terminator right after markers ("… [1]。") belongs to this sentence too.
        while j < n and text[j] in _TERMINATORS + ".":
            j += 1
        piece = text[start:j].strip()
        if piece:
            out.append(piece)
        start = i = j
    rest = text[start:]
    if final:
        if rest.strip():
            out.append(rest.strip())
        rest = ""
    return out, rest


# --- the verifier ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """What the verifier found for one generated sentence.

    ``reason`` says why it failed (None when it passed); ``source`` is the closest passage
    sentence (or pair) among those it cites, in passage ``source_n`` (1-based).
    """

    sentence: str
    citations: tuple[int, ...]
    ok: bool
    reason: str | None
    source: str = ""
    source_n: int = 0
    similarity: float = 0.0


@dataclass(frozen=True)
class Evidence:
    """The passages a generation may cite, split into sentences and embedded once."""

    texts: tuple[str, ...]  # each passage's text with its title and section, for names
    units: tuple[tuple[str, ...], ...]  # per passage: its sentences and adjacent pairs
    vectors: tuple[np.ndarray, ...]


def passage_sentences(text: str) -> list[str]:
    return [s.strip() for s in _PASSAGE_SENTENCE.findall(text) if len(s.strip()) >= 4]


class Grounder:
    """Checks generated sentences against numbered passages (see the module docstring).

    ``lookup``: English phrase → Chinese words (CC-CEDICT's ``chinese_for``); None to skip
    proper names the table does not know.
    """

    def __init__(
        self,
        encoder: Encoder,
        threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
        lookup: Callable[[str], list[str]] | None = None,
        check_negation: bool = True,
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine between -1 and 1. Currently, it is {threshold}.")
        self.encoder = encoder
        self.threshold = threshold
        self.lookup = lookup
        self.check_negation = check_negation

    def evidence(self, passages: Sequence[Located] | Sequence[str]) -> Evidence:
        texts, units = [], []
        for p in passages:
            text = p if isinstance(p, str) else p.text
            context = text if isinstance(p, str) else f"{p.title}\n{p.section}\n{text}"
            sentences = passage_sentences(text) or [text]
            pairs = [a + b for a, b in zip(sentences, sentences[1:], strict=False)]
            texts.append(context)
            units.append(tuple(sentences + pairs))
        flat = [u for group in units for u in group]
        matrix = self.encoder.encode_documents(flat) if flat else np.zeros((0, 1), dtype=np.float32)
        vectors, at = [], 0
        for group in units:
            vectors.append(matrix[at : at + len(group)])
            at += len(group)
        return Evidence(tuple(texts), tuple(units), tuple(vectors))

    def similarity(self, claim: str, evidence: Evidence, numbers: Sequence[int]) -> tuple[float, str, int]:
        """The best cosine of ``claim`` with a sentence (or pair) of the cited passages, that unit, its passage."""
        vector = self.encoder.encode_documents([claim])[0]
        best = (-1.0, "", 0)
        for n in numbers:
            scores = evidence.vectors[n - 1] @ vector
            if scores.size and float(scores.max()) > best[0]:
                at = int(scores.argmax())
                best = (float(scores[at]), evidence.units[n - 1][at], n)
        return best

    def check(self, sentence: str, evidence: Evidence, *, chinese: bool | None = None) -> Check:
        """Check one generated sentence. ``chinese``: the language the answer must be in (None: any)."""
        numbers = cited(sentence)
        claim = strip_markers(sentence)
        if not numbers:
            return Check(sentence, numbers, False, "no citation")
        if missing := [n for n in numbers if not 1 <= n <= len(evidence.texts)]:
            return Check(sentence, numbers, False, f"citation [{missing[0]}] does not exist")
        if cjk_count(claim) + sum(ch.isalpha() for ch in claim) < 4:
            return Check(sentence, numbers, False, "no statement")
        if chinese is not None and is_chinese(claim) != chinese:
            return Check(sentence, numbers, False, "wrong language")
        cited_text = "\n".join(evidence.texts[n - 1] for n in numbers)
        if bad := unsupported_figures(claim, cited_text):
            return Check(sentence, numbers, False, f"figure {_show(bad[0])} not in the cited passage")
        if names := unsupported_names(claim, cited_text, self.lookup):
            return Check(sentence, numbers, False, f"{names[0]!r} not in the cited passage")
        score, source, n = self.similarity(claim, evidence, numbers)
        if score < self.threshold:
            return Check(sentence, numbers, False, "not close to the cited passage", source, n, score)
        if self.check_negation and polarity_differs(claim, source):
            return Check(sentence, numbers, False, "negation differs from the cited passage", source, n, score)
        return Check(sentence, numbers, True, None, source, n, score)


def _show(figure: Figure) -> str:
    value, unit = figure
    number = f"{value:g}"
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}" if unit else number


@lru_cache(maxsize=1)
def default_lookup() -> Callable[[str], list[str]]:
    """CC-CEDICT's English → Chinese lookup (loaded once, on first use)."""
    from .dictionary import chinese_for

    return lambda phrase: chinese_for(phrase, 5)
