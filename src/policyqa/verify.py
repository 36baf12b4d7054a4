"""Verification stage: does the evidence hold what the question asks for?

Retrieval always returns something, and a plausible question about a place,
a year or an amount that the corpus never gives lands on passages that are
about the right topic. Before answering, these checks compare what the question
asks for with what the passages contain:

- a place the question names (a Chinese province, city or a country) must appear
  in the passages, and one of the places it names in those of the best passage's document;
- a year the question names must appear in the passages, and so must a day it names relative
  to the asking (明天, "yesterday");
- an article the question names (第九十条, "Article 120") must be among the passages: a
  law without such an article is a false premise, not a reason to quote its neighbours;
- a question for an amount of money, a rate, a duration or a count needs a sentence that
  holds a figure of that kind and shares a term with the question;
- a question that points at a document (《民法典》, "the paper") asks about things that
  document mentions somewhere: its nouns (Chinese) or names and things (English, through
  the dictionary) are looked for in the whole of that document, whichever document answers.

A failed check of the first three kinds means the corpus does not say; the answer abstains
with the reason. A figure the passages do not give, or a thing the named document never
mentions, makes the answer partial: it says so, then quotes what the texts do state.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .articles import ARTICLE_REFERENCE, article_of, articles_named, cited_articles
from .asks import (
    ENCOURAGED_NOT_REQUIRED,
    FORBIDDEN_NOT_ALLOWED,
    REASONS_UNSTATED,
    allowed_in_premise,
    asks_for_lawmakers_reason,
    required_in_premise,
)
from .definitions import asks_for_definition, defined_term
from .dictionary import (
    GENERIC_WORDS,
    STOPWORDS,
    chinese_for,
    english_glosses,
    is_chinese_word,
    match_phrases,
    normalize_english,
)
from .expand import english_phrases, rendered_in_a_row, words_in_a_row
from .figures import (
    FIGURE_NAMES,
    MONEY,
    NUMBER,
    RATE,
    RELATIVE_DAY,
    YEAR,
    asked_figure,
    chinese_sum_noun,
    figure_asked,
    figure_kind,
    part_end_of,
    period_asked,
    sentences_that_ask,
    sum_kinds_named,
    sum_noun_asked,
    sums_only_of_other_kinds,
)
from .glossary import phrases_with_terms
from .grounding import figures as stated_figures
from .index import LoadedIndex
from .lexical import (
    bodies_named,
    counted_nouns,
    cut,
    function_words,
    is_noun,
    nouns,
    nouns_asked_for,
    one_character_headed,
    term_tokens,
    word_parts,
    words_jieba_cuts_apart,
    words_jieba_lacks,
)
from .metadata import KIND_LOCAL_REGULATION, version_year
from .named import COUNTRY_PREFIX, KIND_CUES, KIND_WORDS, described_documents, document_names
from .places import canonical_place, in_force_at, leading_place, places_asked, places_named
from .text import is_cjk
from .types import ANSWERED, KIND_PAPER, NOT_COVERED, PARTIAL, DocumentInfo, Passage, Query, Verdict

__all__ = [
    "asked_figure",
    "check",
    "in_force_first",
    "latin_names",
    "places_named",
    "product_names",
    "unsupported_reason",
    "words_unknown_to_corpus",
    "some_words_unknown_to_corpus",
    "never_said",
]


# Share of the question's terms, weighted by their rarity in the corpus (BM25's
# idf), that the sentence giving a figure must contain: the figure must be about
# the thing asked ("补助比例"), not merely stand near it ("牵头比例").
MIN_TERM_SHARE = 0.5
# A pair's words are looked for in a row by each word's first few renderings, its usual senses.
PAIR_RENDERINGS = 2
# How many words of a Chinese word's first gloss stand for it in a figure's sentence: the dictionary's
# best few (房子: 房屋, 屋子), before rarer and looser ones.
SAME_MEANING_WORDS = 4
# Words a corpus must use before a word it lacks tells that a question is about something else:
# about half the 56,008 of the 现代汉语常用词表 (Common Words of Modern Chinese).
MIN_VOCABULARY_TO_JUDGE = 25_000


# A word in Latin letters with a lower-case one, in a Chinese question, is a name (iPhone, Mate,
# ChatGPT): the texts are Chinese, and a name they hold they write as the question does. Acronyms
# (GDP, AI, PCT) are left out: a text says 人工智能 where a question says AI.
_LATIN_NAME = re.compile(r"(?<![A-Za-z])(?=[A-Za-z]*[a-z])[A-Za-z]{3,}(?![A-Za-z])")


def latin_names(question: str) -> list[str]:
    """The names a Chinese question writes in Latin letters ("华为Mate 60和iPhone 15": Mate, iPhone)."""
    return _LATIN_NAME.findall(question) if any(is_cjk(c) for c in question) else []


# A word with a capital after a lower-case letter is a brand or product (MacBook, ThinkPad, iPhone,
# WeChat): no English word, law or programme is written so.
_CAMEL_CASE_NAME = re.compile(r"(?<![A-Za-z])[A-Za-z]*[a-z][A-Z][A-Za-z]*")


def product_names(question: str) -> list[str]:
    """The brand and product names an English question writes in camel case ("a MacBook Air or a ThinkPad")."""
    return [] if any(is_cjk(c) for c in question) else _CAMEL_CASE_NAME.findall(question)


def _product_unnamed(query: Query, text: str) -> str | None:
    """The first product name of an English question that the text holds neither as written nor as its renderings.

    A Chinese text writes a brand it knows in Chinese (微信 for WeChat): the dictionary's renderings
    and the corpus words the encoder puts closest to the name count.
    """
    lowered = text.lower()
    renderings = {phrase: words for phrase, words in (*query.renderings, *query.close_words)}
    for name in product_names(query.text):
        said = [name.lower(), *chinese_for(name, 5), *renderings.get(name.lower(), ())]
        if not any(word.lower() in lowered for word in said):
            return name
    return None


# More than this share of a Chinese question's content words, and two at least, that the corpus
# never uses: the question is about something else than the library (红烧肉怎么做才能肥而不腻).
# Answerable questions use a few words of their own (拿来, 被查, 这篇), not most.
MAX_UNKNOWN_WORD_SHARE = 0.5
MIN_UNKNOWN_WORDS = 2


def _content_words(query: Query) -> list[str]:
    """A question's own Chinese words of two characters or more that say what it is about, not how it asks."""
    return sorted({t for t in query.own_tokens if len(t) >= 2 and is_cjk(t[0]) and not _asks(t)})


def _unknown_words(terms: list[str], index: LoadedIndex) -> list[str]:
    """Those of ``terms`` that no indexed text uses."""
    return [t for t, idf in zip(terms, index.lexical.idf(terms), strict=True) if idf <= 0] if terms else []


def words_unknown_to_corpus(query: Query, index: LoadedIndex) -> list[str]:
    """The content words of a Chinese question that no indexed text uses, when they are most of its words; else []."""
    if not query.chinese:
        return []
    terms = _content_words(query)
    unknown = _unknown_words(terms, index)
    if len(unknown) >= MIN_UNKNOWN_WORDS and len(unknown) > MAX_UNKNOWN_WORD_SHARE * len(terms):
        return unknown
    return []


# A term a Chinese question sets in quotes (浙江“科创飞地”入驻企业…) is the name of what it asks about.
_QUOTED_TERM = re.compile(r"[“\"「『]([^“”\"「」『』]{2,20})[”\"」』]")
# Passages holding all of a quoted term's words beyond this many are taken to say it, unread.
_QUOTED_TERM_READ_ROWS = 2_000


def quoted_terms_unsaid(query: Query, index: LoadedIndex) -> list[str]:
    """The terms a Chinese question quotes, names in one dictionary word that jieba cuts apart (元宇宙), or
    gives as a body's name (国家赔偿基金管理委员会), that no indexed text says, in a corpus large enough to judge.

    A question names a programme, a policy or a concept by quoting it (“科创飞地”, “中原科创基金”);
    where no text of the library says it, none treats it under that name, and passages on its
    words (科创, 飞地) answer something else: the answer says so first.
    """
    if not query.chinese or index.lexical.vocabulary_size() < MIN_VOCABULARY_TO_JUDGE:
        return []
    quoted = [term for term in _QUOTED_TERM.findall(query.text) if sum(map(is_cjk, term)) * 2 > len(term)]
    # A thing the dictionary names in one word that jieba cuts apart (元 / 宇宙: 元宇宙, the metaverse) is
    # named as a quoted term is: a word too new or too rare for jieba's dictionary, and for the texts.
    unquoted = [
        word
        for word in words_jieba_cuts_apart(_QUOTED_TERM.sub(" ", query.text), is_chinese_word)
        if is_noun(word) and _names_a_thing(word) and not _asks(word)
    ]
    # A body named by its head word (…委员会, …协会) that no text names is one the texts never speak of
    # (国家赔偿基金管理委员会); the place it is of is the place checks' (嘉兴市业主委员会: 业主委员会 is said).
    bodies = [
        name
        for name in map(_without_leading_places, bodies_named(query.text))
        if len(name) >= _MIN_BODY_NAME and len(term_tokens(name)) >= 2
    ]
    return [term for term in dict.fromkeys([*quoted, *unquoted, *bodies]) if not _said_by_the_texts(term, index)]


# A body's name shorter than this is its head alone, or nearly (管理委员会): every text may say it.
_MIN_BODY_NAME = 5


def _without_leading_places(name: str) -> str:
    """A name without the places it opens with: 北京市门头沟区城市管理委员会 is 城市管理委员会."""
    while opening := max(
        (n for names in places_named(name) for n in names if name.startswith(n) and len(n) < len(name)),
        key=len,
        default="",
    ):
        name = name[len(opening) :].removeprefix("自治区").removeprefix("自治州").lstrip("省市区县镇乡")
    return name


def _names_a_thing(word: str) -> bool:
    """Whether CC-CEDICT's first sense of a Chinese word names a thing: not an act ("to go shopping": 买东西)
    nor a question ("when?": 什么时候)."""
    glosses = english_glosses(word)
    return bool(glosses) and not glosses[0].startswith("to ") and "?" not in glosses[0]


# The last loaded index's titles joined, held by a weak reference: a new build's index gets its own,
# and the old one is not kept alive.
_titles: tuple[weakref.ref[LoadedIndex], str] | None = None


def _joined_titles(index: LoadedIndex) -> str:
    """Every document's title, one per line (joined once per index)."""
    global _titles
    if _titles is None or _titles[0]() is not index:
        _titles = (weakref.ref(index), "\n".join(document.title for document in index.documents.values()))
    return _titles[1]


def _said_by_the_texts(term: str, index: LoadedIndex) -> bool:
    """Whether some passage or title of the index says ``term`` (whitespace aside): its words' passages, then
    their text. A title may be the only place a case names its parties (…诉北京市门头沟区城市管理委员会…案)."""
    if not term_tokens(term):
        return True
    if term in _joined_titles(index):
        return True
    rows = index.lexical.passages_holding(term)
    if len(rows) > _QUOTED_TERM_READ_ROWS:
        return True
    wanted = "".join(term.split())
    return any(wanted in "".join(index.chunks[row].text.split()) for row in rows.tolist())


# A name an English question sets in quotes, in capitalised words ('Mind Care Card', "Belt and Road
# Joint Campus Accreditation Programme"): the name of a programme, a card, a scheme it asks about.
_QUOTED_ENGLISH_NAME = re.compile(r"['‘\"“]([A-Z][\w-]*(?:\s+(?:(?:and|of|for|the|on|in)\s+)*[A-Z][\w-]*)+)['’\"”]")
_NAME_CONNECTORS = frozenset({"and", "of", "for", "the", "on", "in"})
# A name's words stand in a passage in a row, this many characters apart at most (人才 的 绿卡).
_NAME_GAP = 2
# Passages that may hold a quoted name, read beyond this many: the name is taken as said, unread.
_NAME_READ_ROWS = 5_000


def quoted_names_unsaid(query: Query, index: LoadedIndex) -> list[str]:
    """The names an English question quotes in capitalised words, or gives a programme in them unquoted
    ("Shenzhen's Peacock Plan"), that no indexed text says, in a corpus large enough to judge (the English
    side of ``quoted_terms_unsaid``).

    A name is said where a text holds its dictionary rendering whole, or its words' renderings in a
    row ("City Brain": 城市大脑; "Red Cross unit": 红十字单位). 'Mind Care Card' is in no text: passages
    on 心理 or 卡 answer something else. A name with a word that nothing renders (the dictionary, the
    corpus words the encoder puts close to it, a place's names) is not judged.
    """
    if query.chinese or index.lexical.vocabulary_size() < MIN_VOCABULARY_TO_JUDGE:
        return []
    close = {phrase: words for phrase, words in query.close_words}
    unquoted = _QUOTED_ENGLISH_NAME.sub(" ", query.text)
    programmes = [_programme(m) for m in _PROGRAMME_NAME.findall(unquoted)]
    named = [*_QUOTED_ENGLISH_NAME.findall(query.text), *programmes]
    return [name for name in dict.fromkeys(named) if not _name_said(name, close, index)]


def _programme(found: str) -> str:
    """A programme's name without the sentence's opening words ("Is the Torch Program") or an owner's 's."""
    words = _OWNER.sub("", found).split()
    while len(words) > 2 and (words[0].lower() in STOPWORDS or words[0].lower() in _OPENING_WORDS):
        words.pop(0)
    return " ".join(words)


# Words that open a question in capitals and are no part of a name.
_OPENING_WORDS = frozenset({"under", "can", "may", "must", "should", "will", "would", "could", "according"})


# A programme named in capitalised words without quotes ("Shenzhen's Peacock Plan", "the Beijing Zhongguancun
# Gold Card") is named as a quoted one is. Only the heads of programmes: a zone, a centre or an award is
# often named in other words than a text's (the State Preeminent Science and Technology Award: 国家最高科学技术奖).
_PROGRAMME_NAME = re.compile(
    r"\b((?:[A-Z][\w-]*(?:['’]s)?\s+(?:(?:and|of|for|the|on|in)\s+)*)+"
    r"(?:Plan|Programme|Program|Scheme|Initiative|Card|Voucher|Pass|Visa))\b"
)
# The owner's possessive in a name ("Shenzhen's Peacock Plan"): the place's checks judge the place.
_OWNER = re.compile(r"['’]s\b")


def _name_said(name: str, close: Mapping[str, Sequence[str]], index: LoadedIndex) -> bool:
    """Whether some passage holds an English name's rendering whole, or its words' renderings in a row."""
    if any(len(r) > 1 and _said_by_the_texts(r, index) for r in chinese_for(name, 20)):
        return True
    renderings = []
    for word in name.split():
        key = word.lower().removesuffix("'s").removesuffix("’s")
        if key in _NAME_CONNECTORS:
            continue
        rendered = [*chinese_for(key, 20), *close.get(key, ()), *(n for names in places_named(word) for n in names)]
        if not rendered:
            return True  # a word nothing renders: the name cannot be judged
        renderings.append(sorted(set(rendered), key=len, reverse=True))
    # The passages that may hold the name: those holding its rarest word, rendered in two characters or more.
    holding = [
        np.unique(np.concatenate([index.lexical.passages_holding(r) for r in long]))
        for words in renderings
        if (long := [r for r in words if len(r) > 1])
    ]
    if not holding:
        return True
    rows = min(holding, key=len)
    if len(rows) > _NAME_READ_ROWS:
        return True
    alternatives = ["(?:" + "|".join(map(re.escape, words)) + ")" for words in renderings]
    pattern = re.compile(f".{{0,{_NAME_GAP}}}".join(alternatives))
    return any(pattern.search("".join(index.chunks[int(row)].text.split())) for row in rows.tolist())


def never_said(query: Query, unknown: Sequence[str]) -> str:
    """Why a question about words no text uses is not covered: a Chinese question's words, an English one's things."""
    if query.chinese:
        return f"the texts never use {'、'.join(unknown[:3])}"
    return f"the texts never speak of {', '.join(unknown[:3])}"


def some_words_unknown_to_corpus(query: Query, index: LoadedIndex) -> list[str]:
    """The words of a question that no indexed text uses, if the corpus is large enough to judge.

    One such word says little alone (拿来, 小孩子 are a question's own words for what a law says
    otherwise); with a weak best passage it says the question is about something else (白切鸡).
    An English question's word is one whose every dictionary rendering no text uses ("sunburn":
    晒伤, 日晒伤), counted when it names a thing and the question points at no text: a question
    that does ("the paper's view of the Third Plenary Session") is judged by its evidence.
    """
    if index.lexical.vocabulary_size() < MIN_VOCABULARY_TO_JUDGE:
        return []
    if query.chinese:
        return _unknown_words(_content_words(query), index)
    if _points_at_texts(query.text):
        return []
    return [phrase for phrase, _ in query.renderings if _thing_unknown_to_corpus(phrase, index)]


def _thing_unknown_to_corpus(phrase: str, index: LoadedIndex) -> bool:
    """Whether an English phrase names a thing and no indexed text uses any of its dictionary renderings."""
    if not _may_be_thing(phrase.split()[-1]):
        return False
    renderings = chinese_for(phrase, 20)
    return bool(renderings) and len(_unknown_words(renderings, index)) == len(renderings)


def things_unknown_to_corpus(query: Query, index: LoadedIndex) -> list[str]:
    """The things of an English question that points at no text that no indexed text says, else [].

    "What's a good stretching routine before running a half marathon?" names no document, place,
    year or kind of text, and no text here says 半马 (half marathon): the question is not about
    them. Only a corpus of many texts says something by lacking a word: the seven texts use
    3,800 words and lack 投资者 (investors); the library of laws uses 52,000. A question that
    points at a text ("under Henan's regulation", "the paper", "China's") may ask of a thing in
    other words than the dictionary's ("paternity leave": 陪产假, where a regulation says 护理假);
    its evidence is judged by the checks that follow.
    """
    if query.chinese or index.lexical.vocabulary_size() < MIN_VOCABULARY_TO_JUDGE or _points_at_texts(query.text):
        return []
    vocabulary = index.lexical.joined_vocabulary()
    if held := _renderings_held_word_by_word(query.text, index):
        vocabulary += "\n" + "\n".join(held)
    return _things_unrendered(query.text, (), vocabulary, close_words=dict(query.close_words))


def _renderings_held_word_by_word(question: str, index: LoadedIndex) -> list[str]:
    """Renderings of a question's phrases that are no word of the corpus but whose words all are.

    jieba cuts a term its dictionary lacks into words (行政机关: 行政, 机关; 土地使用权: 土地, 使用权), so
    the corpus's vocabulary never holds the term whole although its texts say it. Words of one
    character are too common to tell (晒伤, "sunburn": 晒, 伤), but one may end a term after longer
    words (优先购买权: 优先购买, 权).
    """
    lexical = index.lexical
    phrases = english_phrases(question)
    renderings = {r for phrase in phrases for r in chinese_for(phrase, 20)}
    held = [
        rendering
        for rendering in renderings
        if not lexical.knows(rendering)
        and len(words := term_tokens(rendering)) > 1
        and all(len(word) > 1 for word in words[:-1])
        and all(lexical.knows(word) for word in words)
    ]
    # A pair's words rendered in a row ("vocational school": 职业 and 学校, where the dictionary's word
    # for the pair is 高职院校) are said by the texts when one passage holds both: jieba cuts 职业学校.
    for pair in (p for p in phrases if p.count(" ") == 1):
        first, second = (
            [r for r in chinese_for(word, PAIR_RENDERINGS) if len(r) > 1 and lexical.knows(r)] for word in pair.split()
        )
        # The first pair found is enough: each look costs an intersection of two postings.
        if together := next((a + b for a in first for b in second if lexical.said_together(a + b)), None):
            held.append(together)
    return held


# "Is it better to charge a phone overnight?", "What's the best way to keep basil fresh?": which
# option is best is advice; laws and the paper state rules and findings.
# "The best interests of the child" (儿童利益最大化) is a standard a law sets, not a choice asked about.
_ASKS_PREFERENCE = re.compile(
    r"\bthe\s+best\b(?!\s+interests?\b)|\bis\s+it\s+better\b|\bbetter\s+(?:value|for\s+(?:me|my|you|your))\b"
    r"|\bwhich\b[^?]{0,60}\bbetter\b",
    re.I,
)
# "吃什么比较好？", "哪种最好", "好不好": the same in Chinese.
_ASKS_PREFERENCE_ZH = re.compile(
    r"(?:比较|最|更)好(?:吗|呢|些|一些|一点)?(?:[？?]|$)|哪(?:个|种|款|家)(?:比较|最|更)?好|好不好"
)
# A Chinese question that names a text, or a kind of text, asks what it says.
_POINTS_AT_TEXTS_ZH = re.compile(r"《|法律|法规|条例|规定|办法|细则|解释|规章|论文|文章|政策")
ASKS_ADVICE = "the question asks which option is best, which the texts do not judge"
# "现任司法部部长是谁？", "Who received the State Preeminent Science and Technology Award in 2024?": laws
# set up offices and prizes and never say who holds or won them; a paper names only its authors.
# "The current Minister of Commerce", "the incumbent Party Secretary of Heze" is a person, whatever is asked of them.
_ASKS_WHO_HOLDS_OR_WON = re.compile(
    r"\bwho\s+(?:is|was|are|were)\s+(?:the\s+)?(?:current|present|incumbent|sitting)\b"
    # A company's current director or chairman is a party to its rules, not an office holder asked about.
    r"|\b(?:current|incumbent|sitting)\s+(?:[\w'’-]+\s+){0,2}?(?:minister|mayor|governor|premier|president"
    r"|ambassador|party\s+secretary|secretary[- ]general)\b"
    r"|\bwho\s+(?:received|won|was\s+awarded|were\s+awarded)\b[^?]{0,80}?\b(?:awards?|prizes?|medals?|elections?)\b"
    r"|(?:现任|目前|当前|现在)[^？?。，,]{0,12}是谁|(?:颁给|授予|颁发给)了?谁|(?:得主|获得者|获奖者)是谁|谁(?:获得|赢得)了",
    re.I,
)
ASKS_WHO_HOLDS_OR_WON = "the question asks who holds an office or won a prize, whom the texts do not name"


def asks_who_holds_or_won(question: str) -> bool:
    """Whether a question asks who holds an office or won a prize, and not of a paper (whose authors it names)."""
    return bool(_ASKS_WHO_HOLDS_OR_WON.search(question)) and not KIND_CUES[KIND_PAPER].search(question)


# A person is named with a title before or after the name (行长潘功胜, 钟南山院士), or asked about by what a
# life holds (潘功胜的工作履历; 学术成就 is no one's).
_PERSON_TITLES = (
    "院士|教授|研究员|先生|女士|同志|博士|老师|主席|总理|总书记|书记|委员长|部长|省长|市长|县长|行长|局长|厅长|"
    "校长|院长|董事长|总经理|总裁|主任"
)
_LIFE_ASKED = "生平|履历|简历|经历|背景|成就|出生|家庭|籍贯|学历|任职|讲话|贡献"


def persons_unnamed(query: Query, index: LoadedIndex) -> list[str]:
    """The persons a Chinese question names that no indexed text names, in a corpus large enough to judge.

    "钟南山院士的生平和主要学术成就有哪些？": laws and policy texts name offices, not the people who hold
    them, and no text says 钟南山; the question is about someone the texts never speak of. A word is
    taken for a person's name when no text uses it, jieba takes it for a noun, and a title stands
    next to it or the question asks of its life.
    """
    if not query.chinese or index.lexical.vocabulary_size() < MIN_VOCABULARY_TO_JUDGE:
        return []
    # A name is a noun to jieba (潘功胜 nr, 钟南山 ns): a verb after a title is what the office does (部长负责).
    # A name jieba cuts into characters (屠 / 呦 / 呦) is one if no text says it.
    named = set(nouns(query.text))
    persons = [
        word
        for word in _unknown_words(_content_words(query), index)
        if word in named and _asked_as_person(word, query.text)
    ]
    # The index is read for a run only once the question speaks of it as of a person.
    return persons + [
        run
        for run in _character_runs(query.text)
        if _asked_as_person(run, query.text) and not _said_by_the_texts(run, index)
    ]


def _asked_as_person(word: str, question: str) -> bool:
    """Whether a question gives ``word`` a person's title or asks of its life (潘功胜行长, 屠呦呦的生平)."""
    return not re.fullmatch(_PERSON_TITLES, word) and bool(
        re.search(
            f"(?:{_PERSON_TITLES}){re.escape(word)}|{re.escape(word)}(?:{_PERSON_TITLES}|的[^，。？?]{{0,4}}?(?:{_LIFE_ASKED}))",
            question,
        )
    )


# Characters that join words rather than make names (的, 和, 在 …): a run of single characters ends there.
_JOINING_CHARACTERS = frozenset("的地得了着过和与及或在是对把被从向给为将也都就")


def _character_runs(text: str) -> list[str]:
    """The runs of two to four Chinese characters that jieba leaves one by one (屠 / 呦 / 呦: 屠呦呦)."""
    runs, current = [], ""
    for word in [*cut(text), ""]:
        if len(word) == 1 and is_cjk(word) and word not in _JOINING_CHARACTERS:
            current += word
            continue
        if 2 <= len(current) <= 4:
            runs.append(current)
        current = ""
    return runs


def asks_for_advice(query: Query) -> bool:
    """Whether a question that points at no text asks which option is best or better.

    A place is no such pointer here: no text judges the best season to visit Qingdao's beaches.
    """
    if query.chinese:
        return bool(_ASKS_PREFERENCE_ZH.search(query.text)) and not _POINTS_AT_TEXTS_ZH.search(query.text)
    preference = _ASKS_PREFERENCE.search(query.text)
    return bool(preference) and not _points_at_texts(query.text, places=False)


def _points_at_texts(question: str, places: bool = True) -> bool:
    """Whether an English question names or describes a document, a kind of text, a place (unless ``places``
    is false), a text's year or the country."""
    return bool(
        any(cue.search(question) for cue in KIND_CUES.values())
        or any(word in KIND_WORDS or word in _COUNTRY_WORDS for word in re.findall(r"[a-z']+", question.lower()))
        # A place found, it is looked for again without the things named after places (few questions).
        or (places and places_named(question) and places_named(_without_things_named_after_places(question)))
        or _YEAR_OF_A_TEXT.search(question)
        or (named := document_names(question))
        or described_documents(question, named)
    )


def _without_things_named_after_places(question: str) -> str:
    """An English question without the dictionary's names of things that hold a place ("Peking duck":
    北京烤鸭): a dish or a product named after a place points at no text of that place."""
    for match in match_phrases(question):
        words = match.english.split()
        holds_place = len(words) > 1 and places_named(match.english) and not places_named(words[-1])
        if holds_place and _may_be_thing(words[-1]):
            question = re.sub(re.escape(match.english), " ", question, flags=re.IGNORECASE)
    return question


def _context_text(passages: Sequence[Passage]) -> str:
    """The passages with their documents' titles and sections.

    A regulation of Shenzhen rarely says "深圳" in its articles.
    """
    return "\n".join([p.text for p in passages] + [f"{p.title} {p.section}" for p in passages])


def _openings(passages: Sequence[Passage], index: LoadedIndex) -> str:
    """What the passages' documents say before their first article.

    A law's year of revision stands in its legislative history (its front matter), and the
    decision a judicial interpretation implements in its preamble (根据2013年8月30日…的决定).
    A text without articles (a paper) opens with its front matter alone. The version's year
    the document's metadata gives comes first.
    """
    parts = []
    for doc_id in dict.fromkeys(p.doc_id for p in passages):
        # A text whose front matter was not kept still has its version's year (from its file name).
        if isinstance(year := index.documents[doc_id].metadata.get("year"), int):
            parts.append(f"{year}")
        rows = index.passage_rows((doc_id,))
        numbered = np.flatnonzero(index.table.article[rows] > 0)
        opening = rows[: numbered[0]] if len(numbered) else rows[index.table.of_kind("front_matter")[rows]]
        parts += [index.chunks[row].text for row in opening.tolist()]
    return "\n".join(parts)


NO_FIGURE = "no passage gives the figure asked for"
# The units of a figure a question may state as its premise, which some passage must then state
# too, by the kind of figure they make: a sum ("Is the reporting threshold 50,000 yuan?") or a share
# ("…缴存比例最高不得超过12%，是第几条？"). Days and years are said of much else (哪一天, 一年的经费).
_PREMISE_UNITS = {"yuan": "amount", "%": "rate"}
# A length a question gives a period of the law (有效期为10年, 承包期限为50年, "a two-year limitation
# period") is a premise too, unlike a length said of the asker's own story ("unpaid for two months").
_NUMBER = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百]+|[a-z]+)"
_PERIOD_PREMISE = re.compile(
    rf"(?:期|期限|时效)(?:为|是|仅为|只有|长达)?\s*{_NUMBER}\s*(?:个)?(?:年|月|日|天)"
    rf"|(?:period|term|validity)\s+(?:of|is|lasts)\s+{_NUMBER}\s+(?:years?|months?|days?)\b"
    rf"|\b{_NUMBER}-(?:year|month|day)\s+(?:[a-z]+\s+)?(?:period|term)\b",
    re.I,
)
# Months in each unit of a period, to compare lengths said in different units (a day is no part of a month).
_PERIOD_UNITS = {"year": 12.0, "month": 1.0, "day": None}
_QUOTED_NAME = re.compile(r"《[^《》]*》")


# Words that ask rather than name what is asked about; they never count as missing content.
_ASKING_WORDS = frozenset(
    "哪些 什么 怎么 怎样 如何 多少 多长 多久 多大 多高 多远 是否 有没有 为什么 "
    "规定 要求 应当 可以 主要 具体 哪个 哪里 哪种 几个 今年 现在 目前 "
    "情况 问题 方面 内容 有关 相关 关于 政策 措施 办法 方式 "
    "界定 定义 含义 概念 意思 "  # asking what a term means
    "幅度 现行".split()  # asking how far a figure ranges; which version of a text (the one in force)
)
# A word that opens with an interrogative asks too: 多长时间, 多少钱, 什么时候, 哪些方面, 几年.
_ASKING_OPENINGS = ("多长", "多少", "多久", "多大", "什么", "哪", "几", "怎")


def _asks(word: str) -> bool:
    """Whether a word of a question asks (多长时间, 如何) rather than names what is asked about."""
    return word in _ASKING_WORDS or word.startswith(_ASKING_OPENINGS)


def missing_content(query: Query, passages: Sequence[Passage], index: LoadedIndex) -> tuple[float, list[str]]:
    """The share (by rarity, BM25's idf) of the question's Chinese words absent from the evidence, and those words.

    A question about something the texts never mention ("今天北京的天气", a programme or an
    organisation they do not name) lands on passages about something nearby; its own specific
    words are then missing from them. English questions are judged by their glossary terms.
    """
    terms = _content_words(query)
    if not terms:
        return 0.0, []
    text = _context_text(passages)
    idf = index.lexical.idf(terms)
    # A word the corpus never uses weighs as much as its rarest word.
    weights = [float(w) if w > 0 else float(max(idf.max(), 1.0)) for w in idf]
    missing = [t for t in terms if t not in text]
    share = sum(w for t, w in zip(terms, weights, strict=True) if t in missing) / sum(weights)
    return share, missing


# A name in an English question: capitalised words, joined by the small words names contain
# ("Board of Trade", "Science and Technology"). Words that open a question or a clause are no name.
_NAME = re.compile(r"\b[A-Z][A-Za-z\-]+(?:'s)?(?:\s+(?:(?:of|and|for|the|on)\s+)?[A-Z][A-Za-z\-]+(?:'s)?)*")
_NOT_NAMES = frozenset(
    "what how which who whom whose when where why does do did is are was were can could should would will may "
    "under in for according to the a an if on by and of as at from with within after before during between "
    "article articles art chapter chapters section sections paragraph paragraphs "
    "please tell explain describe list give compare "
    "january february march april june july august september october november december".split()
)


def english_names(question: str) -> list[str]:
    """The names an English question mentions (organisations, programmes, laws), question words stripped."""
    names = []
    for match in _NAME.finditer(question):
        words = match.group(0).split()
        while words and words[0].lower().removesuffix("'s") in _NOT_NAMES:
            words = words[1:]
        opens_sentence = not question[: match.start()].strip() or question[: match.start()].rstrip()[-1] in ".?!"
        # One capitalised word opening a sentence is capitalised for that reason alone.
        if words and not (len(words) == 1 and opens_sentence and words[0] == match.group(0).split()[0]):
            names.append(" ".join(words))
    return names


def unnamed_in_evidence(query: Query, passages: Sequence[Passage], index: LoadedIndex) -> str | None:
    """A name of an English question whose every dictionary rendering is absent from the evidence, or None.

    "What role does the European Data Protection Board play under China's law?" lands on
    the law's passages; 欧洲 is in none of them.
    """
    if query.chinese:
        return None
    text = _context_text(passages)
    authors = _author_words(index, {p.doc_id for p in passages})
    return next(iter(_names_unrendered(query.text, document_names(query.text), text, authors)), None)


def _names_unrendered(question: str, named: Sequence[str], text: str, authors: Collection[str] = ()) -> list[str]:
    """The names of an English question (not those of documents) that no dictionary rendering finds in ``text``.

    A word the dictionary cannot render proves nothing, so a name with such a word is never
    counted missing; nor is the name of an author of the text (``authors``: their names' words,
    lower-case), which its metadata gives and its body never repeats.
    """
    # A law's English name renders badly word by word ("Civil Code" is 民法典, filed by its books
    # 总则编, 合同编): document names are the named-document lift's to find, not this check's.
    documents = " ".join(named)
    authors = {*authors, *(w.lower() for w in _CITED_AUTHORS.findall(question))}
    missing = []
    for name in english_names(question):
        if name in documents or not _may_be_name(name, authors):
            continue
        whole = chinese_for(name, 20)
        # A one-character rendering (月 for "Moon") stands in every text; a name's longer ones decide.
        whole = [w for w in whole if len(w) > 1] or whole
        if whole:
            if not any(w in text for w in whole):
                missing.append(_shown_with(name, whole))
            continue
        renderings = [
            chinese_for(word.removesuffix("'s"), 20) for word in name.split() if word.lower() not in _NOT_NAMES
        ]
        if not renderings or any(not r for r in renderings):
            continue
        if any(not any(w in text for w in r) for r in renderings):
            missing.append(_shown_with(name, [w for r in renderings for w in r[:1]]))
    return missing


def _may_be_name(name: str, authors: Collection[str]) -> bool:
    """Whether a capitalised run names something a text must render: not the text's authors (``authors``,
    the words of their names in lower case: "Bai et al.", "Bai, Chen and Song's paper"), not
    places alone ("Beijing and Guangdong": 京广 is a railway; places have their own check), not
    an acronym (the dictionary's lower-case "vat" is a tub, not value-added tax), not the country
    every text here is of ("Chinese" alone)."""
    return not (
        set(name.lower().replace("'s", "").replace("’s", "").split()) <= set(authors)
        or name.lower() in _COUNTRY_WORDS
        or _places_alone(name.split())
        or _ACRONYM.fullmatch(name) is not None
    )


def _places_alone(words: Sequence[str]) -> bool:
    """Whether words name places and nothing else ("Beijing and Guangdong"), little words aside."""
    named = [w for w in words if w.lower() not in STOPWORDS]
    return bool(named) and all(places_named(w) for w in named)


# Endings of English adjectives, adverbs and verb forms ("technological", "lawfully", "keeping",
# "commercialise"): the things a question asks about are nouns.
_NOT_NOUN_ENDINGS = ("ing", "ed", "ly", "ise", "ize", "ical", "ial", "ous", "ful", "less", "able", "ible", "ive")
_SHOWN_RENDERINGS = 3
# Endings only English nouns have ("surrogacy": 代孕, a verb to jieba; "liability", "ownership").
_NOUN_ENDINGS = ("cy", "ity", "ness", "ship", "ism")


_COUNTRY_WORDS = frozenset({"china", "china's", "chinese", "prc"})
# Words that say whose or what kind of law: "national law" (国法) names no thing a text must say.
_WHICH_LAW_WORDS = KIND_WORDS | _COUNTRY_WORDS | frozenset({"national", "state", "local"})


def _things_unrendered(
    question: str,
    named: Sequence[str],
    text: str,
    authors: Collection[str] = (),
    close_words: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The things (lower-case nouns) of an English question that no dictionary rendering finds in ``text``.

    "What does the Tobacco Monopoly Law say about e-cigarettes?": the law treats tobacco, but
    never says 电子烟. A word is a thing when most of its usual renderings are Chinese nouns
    (jieba's tags) and its ending is not an adjective's or a verb's; every rendering the dictionary
    gives (up to 20) must be absent. Words of names, of the named documents and of how the
    question asks are left to other checks. A corpus word the encoder puts close to a phrase
    (``close_words``: "storage" 储存, where the dictionary gives 贮物) renders it too.
    """
    close_words = close_words or {}
    skipped = {w for name in [*english_names(question), *named] for w in english_phrases(name)}
    # A name's words in another number are the name's too: "a permanent surveying marker" of the
    # "Regulations on the Protection of Surveying Markers".
    name_keys = {normalize_english(w) for w in skipped}
    # Every text here is China's: "Chinese civil aircraft" are 中华人民共和国民用航空器 (语文 is the school
    # subject); "national", "law" say whose law or what kind.
    skipped.update(_WHICH_LAW_WORDS)
    # Authors cited ("the Bai et al. paper": 白族 is an ethnic group) name no thing the text must say.
    skipped.update(w.lower() for w in _CITED_AUTHORS.findall(question))
    skipped.update(authors)
    # "The paper's account of the Zhejiang model": what follows a text's possessive is a part or an
    # act of the text (its account, view, case study), not a thing it must say.
    skipped.update(w.lower() for w in _TEXTS_OWN.findall(question))
    # "The Company Law (2018 amendment)", "the 2012 text": which version of a document, no thing in it.
    skipped.update(m.lower() for m in _VERSION_WORDS.findall(question))
    # "subject to" says what applies to a thing, and names none.
    if re.search(r"\bsubject to\b", question, re.I):
        skipped.add("subject")
    # "How many days", "how far ahead": the words that ask for a figure, and its unit, name no thing
    # ("many days" is 多日赛, a race, to the dictionary; "far" shares its key with "fare").
    for asking in _ASKS_HOW.finditer(question):
        skipped.update([asking[1].lower(), f"{asking[1]} {asking[2]}".lower()])
    # An acronym is no lower-case word: "VAT" is value-added tax, not the vat (大桶) the dictionary finds.
    skipped.update(w.lower() for w in _ACRONYM.findall(question))
    # A term of the field the glossary renders ("utility model": 实用新型) is found by its terms.
    for phrase, terms in phrases_with_terms(question):
        if any(term in text for term in terms):
            skipped.update([phrase, *phrase.split()])
    # "If a cotton dealer disputes an inspection result": a word in -s between a noun and a
    # determiner is a verb (it asks what may be done), whatever its dictionary senses.
    skipped.update(m.lower() for m in _VERB_BY_POSITION.findall(question))
    skipped.update(m.lower() for m in _VERB_AFTER_TO.findall(question))
    phrases = list(dict.fromkeys(english_phrases(question)))
    missing = []
    # A pair of words may name one thing ("minimum wage": 最低工资, where "minimum" renders 最低点,
    # 最小值). Found whole or by its words' renderings in a row, its words are not looked for alone.
    # A pair naming places ("Beijing and Guangdong": 京广, a railway) is the place checks' to judge; one
    # with a word about the paper ("the paper's case study") names the text, not a thing in it.
    pairs = [
        p
        for p in phrases
        if " " in p
        and p not in skipped
        and normalize_english(p) not in name_keys
        and not _places_alone(p.split())
        and not any(KIND_CUES[KIND_PAPER].search(w) for w in p.split())
        # "national product quality authority": a pair led by a word that says whose ("national", "state")
        # is that word and a thing, not the one thing the dictionary knows (国民生产总值).
        and p.split()[0] not in _WHICH_LAW_WORDS
        # "between two" (两国之间) opens with a preposition: no thing ("hand over" is an act, found whole).
        and p.split()[0] not in STOPWORDS
    ]
    for pair in pairs:
        whole = chinese_for(pair, 20)
        if (
            any(r in text for r in [*whole, *close_words.get(pair, ())])
            or ((in_a_row := rendered_in_a_row(pair)) and in_a_row.search(text))
            or _close_in_a_row(pair, close_words, text)
        ):
            skipped.update(pair.split())
        elif (
            (longer := [r for r in whole if len(r) > 1])
            and _usual_nouns(pair, longer, by_tags=True)
            and _composed_of_its_words(pair, longer)
        ):
            # A pair the dictionary knows as one thing ("nuclear fusion": 核聚变) is absent when
            # neither it nor its words in a row are there: 核 and 融合 apart are no fusion reactor.
            missing.append(_shown_with(pair, longer))
            skipped.update(pair.split())
    for word in phrases:
        # A word without a hyphen that names no thing is left, known or not (a closed compound's
        # ending is its head's); a hyphenated one may still hold a thing ("gene-edited").
        if " " in word or word in skipped or normalize_english(word) in name_keys:
            continue
        if "-" not in word and not _may_be_thing(word):
            continue
        if renderings := chinese_for(word, 20):
            looked_up = [(word, renderings)] if _may_be_thing(word) else []
        else:
            # A compound the dictionary lacks is looked up by its parts: "gene-edited" is no
            # thing, its part "gene" is; a livestreamer is a kind of streamer.
            looked_up = [(part, chinese_for(part, 20)) for part in _compound_parts(word)]
            if not looked_up:
                # A word the dictionary knows only with its neighbour: "paternity leave" (陪产假).
                # Its head must be a thing: the phrase then names one, whatever jieba tags its rendering.
                known = [
                    (p, chinese_for(p, 20))
                    for p in phrases
                    if word in p.split() and p not in skipped and _may_be_thing(p.split()[-1])
                ]
                looked_up = [(p, r) for p, r in known if r][:1]
        for part, renderings in looked_up:
            close = close_words.get(word, ()) if part == word else ()
            as_nouns = _usual_nouns(part, renderings)
            if not as_nouns:
                continue
            found_as = [
                *renderings,
                *_agent_forms(renderings),
                *_acts_written(renderings),
                *_acts_of_agent(part, renderings),
                *close,
            ]
            if not any(r in text for r in found_as):
                missing.append(_shown_with(word, as_nouns, part if part != word else None))
                break
    return missing


def _composed_of_its_words(pair: str, renderings: Sequence[str]) -> bool:
    """Whether some rendering of a pair shares a character with a rendering of one of its words.

    "nuclear fusion" is 核聚变 (核, 聚变): the pair's sense is its words'. "professional escort" is
    坐台小姐, a hostess, which shares nothing with 专业 or 押运: an idiom of one sense, not the
    question's perhaps ("professional escort and guard personnel", 专职守护押运人员), whose words are
    then looked for one by one. A word the dictionary knows only in the pair ("paternity leave":
    陪产假) leaves the pair its one sense.
    """
    senses = [chinese_for(word, 20) for word in pair.split()]
    if not all(senses):
        return True
    characters = {c for rendered in senses for rendering in rendered for c in rendering}
    return any(c in characters for rendering in renderings for c in rendering)


def _close_in_a_row(pair: str, close_words: Mapping[str, Sequence[str]], text: str) -> bool:
    """Whether a pair's words stand in ``text`` in a row, one of them by a corpus word close to it.

    "drunk driving": CC-CEDICT renders "drunk" 醉醺醺, 湎, 酗; the corpus word closest to it is 醉酒,
    and the law says 醉酒驾驶.
    """
    first, second = pair.split(" ", 1)
    if first not in close_words and second not in close_words:
        return False
    firsts = [*chinese_for(first, 20), *close_words.get(first, ())]
    seconds = [*chinese_for(second, 20), *close_words.get(second, ())]
    pattern = words_in_a_row(firsts, seconds)
    return pattern is not None and re.search(pattern, text) is not None


# A person who does something is said with one of these endings: 统计员, 统计人员; 使用者, 使用人.
_AGENT_ENDINGS = ("人员", "员", "者", "人")


def _agent_forms(renderings: Sequence[str]) -> list[str]:
    """A person-noun rendering's other agent endings ("statistician": 统计员 is 统计人员 in a law)."""
    forms = []
    for rendering in renderings:
        ending = next((e for e in _AGENT_ENDINGS if rendering.endswith(e)), None)
        if ending and len(stem := rendering[: -len(ending)]) >= 2:
            forms += [stem + e for e in _AGENT_ENDINGS if e != ending]
    return forms


# Endings of a Chinese word for one who does something, or a thing that does it (研究员, 处理器, 经销商).
_DOER_ENDINGS = (*_AGENT_ENDINGS, "器", "商", "机", "方")
_AGENT_NOUN = re.compile(r"([a-z]{3,})(?:er|or)s?")


def _acts_of_agent(word: str, renderings: Sequence[str]) -> list[str]:
    """The renderings of the act an English agent noun is named after, when the dictionary renders it as a doer.

    A "cotton processor" is 处理器 (a CPU) to the dictionary; the regulation says 棉花经营者加工棉花,
    and "process" renders 加工. Researchers (研究员) are those who 研究. A word the dictionary
    renders as no doer ("matter", "number") is no agent noun.
    """
    if not (agent := _AGENT_NOUN.fullmatch(word)) or not any(r.endswith(_DOER_ENDINGS) for r in renderings):
        return []
    stem = agent[1]
    doubled = stem[:-1] if stem[-1] == stem[-2] else ""  # "planner": plan
    for verb in (stem, f"{stem}e", doubled):  # "processor": process; "driver": drive
        if verb and (acts := [r for r in chinese_for(verb, 20) if len(r) > 1]):
            return acts
    return []


# A paper that records an act is said with one of these endings: 申请书 is the written 申请, 通知书 the 通知.
_WRITTEN_ENDINGS = ("书", "表", "单")


def _acts_written(renderings: Sequence[str]) -> list[str]:
    """The acts a paper's renderings record ("application": 申请书 is the written 申请, which a law says)."""
    return [r[:-1] for r in renderings if r.endswith(_WRITTEN_ENDINGS) and len(r) >= 3]


def _usual_nouns(english: str, renderings: Sequence[str], by_tags: bool = False) -> list[str]:
    """The usual renderings of an English word or phrase that are nouns, if most are; else [].

    Most usual renderings nouns: "cause" (原因, 引起, 造成) and "claims" (声称 …) ask about acts.
    A rare one-character rendering ("unicorn": 独角兽, 廌) says nothing of the usual sense. An
    English noun's own ending, or a phrase the dictionary knows only whole ("paternity leave"),
    says it names a thing whatever jieba tags its rendering, unless ``by_tags`` ("well known":
    知名, 著名 are no things).
    """
    usual = [r for r in renderings if len(r) > 1][:_SHOWN_RENDERINGS] or list(renderings[:_SHOWN_RENDERINGS])
    named_thing = not by_tags and (" " in english or english.endswith(_NOUN_ENDINGS))
    as_nouns = usual if named_thing else [r for r in usual if is_noun(r)]
    return as_nouns if 2 * len(as_nouns) > len(usual) else []


# A word in -s after a word that is no determiner, preposition or asking word, and before a
# determiner: "dealer disputes an", "company appeals the" (not "what fees the", "the fines the").
_VERB_BY_POSITION = re.compile(
    r"\b(?!(?:the|a|an|what|which|whose|how|of|for|on|in|to|by|with|about|under|from|at|into|over|between"
    r"|against|during|within|without|per|and|or|its|their|any|all|no)\b)[a-z]+\s+"
    # Not "that", "these", "those": "tigers that cause damage" is a noun and its relative clause.
    r"([a-z]+[^s\W]s)\s+(?:the|a|an|its|their|his|her|this|any|some)\b",
    re.I,
)
# A word after "have to", "need to", "able to" is a verb whatever its senses: "how long does the
# manufacturer have to object" asks about 异议, not an object (对象, 物体).
_VERB_AFTER_TO = re.compile(
    r"\b(?:have|has|had|having|need|needs|needed|able|unable|ought|allowed|required|entitled|obliged|how)\s+to\s+"
    r"([a-z]+)\b",
    re.I,
)
# A word that says which version of a document, after its year: "2018 amendment", "2012 text".
_VERSION_WORDS = re.compile(r"\b(?:19|20)\d{2}\s+(amendments?|revisions?|texts?|versions?|editions?)\b", re.I)
# A year that says which text or version ("the 2021 amendment", "the 2024 regulation", "as revised in
# 2019") points at a text; one that dates an event ("the 2022 FIFA World Cup final") does not.
_YEAR_OF_A_TEXT = re.compile(
    rf"{_VERSION_WORDS.pattern}|\b(?:amended|revised|adopted|issued|promulgated|enacted|passed)\s+in\s+(?:19|20)\d{{2}}\b",
    re.I,
)


# Words that bound a figure ("the minimum registered capital", "the cap on a bid bond"): a text
# says 不少于, 不得超过, 以上, never a noun for the bound.
_BOUND_WORDS = frozenset("minimum maximum cap caps ceiling ceilings threshold thresholds upper lower".split())
# Light nouns that stand for whatever the sentence is about ("the event triggering liquidation",
# "in that situation"): a law says 法律事实, 情形, never 事件 for them.
_LIGHT_NOUNS = frozenset("event events matter matters situation situations circumstance circumstances".split())


# "how many days", "how far ahead", "how often": a figure asked for, and the word after it.
_ASKS_HOW = re.compile(r"\bhow\s+(many|much|far|long|often|soon)\s+([a-z]+)", re.I)
# "VAT", "SMEs": letters that stand for words.
_ACRONYM = re.compile(r"\b[A-Z]{2,6}s?\b")
# "Bai et al.", "Bai and Chen (2026)": the surnames of a work's authors.
_CITED_AUTHORS = re.compile(r"\b([A-Z][a-z]+)(?=\s+(?:et\s+al\b|and\s+[A-Z][a-z]+\s*\(\d{4}\)))")


def _may_be_thing(word: str) -> bool:
    """Whether an English word may name a thing: no stop, generic, asking, bounding or light word, no adjective's
    or verb's form."""
    return not (
        word in STOPWORDS
        or word in GENERIC_WORDS
        or word in _NOT_NAMES
        or word in _BOUND_WORDS
        or word in _LIGHT_NOUNS
        or word.strip("-") in _PREFIXES  # "pre-" of "pre-2020"
        or word.endswith(_NOT_NOUN_ENDINGS)
        or KIND_CUES[KIND_PAPER].search(word)
        or word in _AUTHORSHIP_WORDS
    )


# "The paper's account", "the study's view": the word after a text's possessive.
_TEXTS_OWN = re.compile(r"\b(?:paper|study|article|authors?)(?:['’]s|['’])\s+([a-z]+)", re.I)
# Words that say who wrote a text ("Bai Xuejie and colleagues"): about the paper, no thing in it.
_AUTHORSHIP_WORDS = frozenset({"colleagues", "co-authors", "coauthors", "co-author", "coauthor", "collaborators"})
# Each part of a compound split at its joint has at least this many letters ("live" + "streamers").
_MIN_PART_LETTERS = 4
# Prefixes that a hyphen may set apart ("self-driving", "anti-monopoly"): they name no thing.
_PREFIXES = frozenset("anti co counter cross inter mid multi non post pre pro re self semi sub super ultra".split())
# Endings that a hyphen joins to make a modifier ("lottery-style", "cloud-based"): they name no thing.
_MODIFIER_ENDINGS = frozenset("style like type based related oriented driven free specific wide level scale".split())


def _compound_parts(word: str) -> list[str]:
    """The parts of an English compound that may name things: "lab-grown" → ["lab"]; "livestreamers" → ["streamers"].

    A hyphenated word gives its parts; a closed compound, the longest ending the dictionary knows
    after a beginning it knows too (an English compound's last part is its head: a livestreamer
    is a kind of streamer). The caller has left closed words that name no thing.
    """
    if "-" in word:
        return [
            part
            for part in word.split("-")
            if len(part) > 2 and part not in _PREFIXES | _MODIFIER_ENDINGS and _may_be_thing(part)
        ]
    for joint in range(_MIN_PART_LETTERS, len(word) - _MIN_PART_LETTERS + 1):
        head = word[joint:]
        if chinese_for(word[:joint], 1) and chinese_for(head, 1):
            return [head] if _may_be_thing(head) else []
    return []


def _shown_with(english: str, renderings: Sequence[str], part: str | None = None) -> str:
    """An English word with the Chinese words looked for, so that a reader can check: "e-cigarettes (电子烟)".

    A compound looked up by one of its parts shows that part: "livestreamers (streamers: 横幅, 彩带)".
    """
    words = ", ".join(renderings[:_SHOWN_RENDERINGS])
    return f"{english} ({part}: {words})" if part else f"{english} ({words})"


# Words of a question that name the kind of answer it wants ("哪些类型", "什么形式"), not a thing asked about.
_CATEGORY_WORDS = frozenset("类型 种类 形式 特点 作用".split())
# A count of places or parties the question has named ("比较南阳和上海…两地", "二者", "双方") points back at
# them: it names no thing of its own for the document to mention.
_POINTS_BACK = re.compile(r"[两二三四几各双][地者方省市国区县城]")


def unmentioned_in_document(
    query: Query, passages: Sequence[Passage], index: LoadedIndex, named_documents: Sequence[Sequence[str]] = ()
) -> tuple[str, list[str]]:
    """What a question that points at a document asks about and that whole document never mentions.

    "《民法典》对克隆宠物的所有权归属是怎么规定的？" finds the Civil Code's articles on ownership;
    the code never says 克隆 or 宠物, so it answers only in part. The question must name a
    document (《…》, "the Patent Law") or point at the paper (论文, "the paper"), and that
    document is read whole: a law's other articles count, its neighbours in the library do not.
    It is the best passage's document when that is the one pointed at; else the documents the
    retriever found for the one name the question gives (``named_documents``, one group of ids
    per name): "《劳动合同法》规定的陪产假是几天？" may be answered from a local regulation that grants
    it, and the law asked about still never mentions it; or the papers, for a question that
    points at "the paper" and is answered from a law. A Chinese question's nouns are looked
    for; an English question's names (Bitcoin, the European Data Protection Board) and things,
    through the dictionary. Returns the title of the document read and the words it lacks.
    """
    if not passages:
        return "", []
    named = document_names(query.text)
    if not named and not KIND_CUES[KIND_PAPER].search(query.text):
        return "", []
    documents = index.documents
    confirmed = [g for g in named_documents if _titles_confirm(named, [documents[d].title for d in g])]
    found = {d for group in confirmed for d in group}
    if _is_pointed_at(passages[0], named, found):
        doc_ids = [passages[0].doc_id]
    elif len(named_documents) == 1 and confirmed:
        doc_ids = list(confirmed[0])
    elif not named and (papers := [d for d, doc in documents.items() if doc.kind == KIND_PAPER]):
        doc_ids = papers  # "the paper" asked about, a law answering: the paper is read
    else:
        return "", []  # the answer would say what another document than the one asked about lacks
    # The documents' passages hold the retrieved ones' text; their titles and sections are added.
    headings = " ".join(f"{p.title} {p.section}" for p in passages if p.doc_id in doc_ids)
    whole = "\n".join([*(index.document_text(d) for d in doc_ids), headings])
    title = documents[doc_ids[0]].title
    if _defines_term_asked(query, whole):
        return title, []  # the document says what the term asked about means: it treats that thing
    if not query.chinese:
        authors = _author_words(index, doc_ids)
        missing = _names_unrendered(query.text, named, whole, authors)
        # A question comparing two documents asks about things only the other one may treat; so
        # does one that asks also of a place the named document is not of ("under the national
        # law …, and what does Beijing's regulation set?").
        beyond = any(not any(n in whole for n in names) for names in places_named(query.text))
        if len(named) <= 1 and not beyond:
            missing += _things_unrendered(query.text, named, whole, authors, dict(query.close_words))
        return title, missing
    # An article named (第一千一百六十五条是…) is the article checks' to find: jieba cuts 条是 a noun.
    asked = ARTICLE_REFERENCE.sub(" ", _QUOTED_NAME.sub(" ", query.text))
    kinds_asked_for = set(nouns_asked_for(asked))
    # The word that asks for a figure names its kind (比例 of 比例有什么限制): a text gives 20%, not 比例.
    figure = figure_asked(asked)
    if figure is not None:
        kinds_asked_for.update(w for w in nouns(asked) if figure[1].fullmatch(w))
    # Names jieba lacks (抖音, 网红) are no nouns of its tags, and are what such a question asks about;
    # so is a word no text uses that the dictionary knows as a thing, whatever jieba tags it (代孕: surrogacy).
    words = [
        w
        for w in [
            *nouns(asked),
            *words_jieba_lacks(asked, is_chinese_word),
            *one_character_headed(asked),
            *_things_no_text_says(query, index),
        ]
        if not _asks(w)
        and w not in kinds_asked_for
        and w not in _CATEGORY_WORDS
        and not _POINTS_BACK.fullmatch(w)
        and not KIND_CUES[KIND_PAPER].search(w)
        and not any(w in name for name in named)
        and not _place_in(w, whole)
    ]
    return title, [
        w
        for w in dict.fromkeys(words)
        if w not in whole and not _parts_in_a_row(w, whole) and not _abbreviated_in(w, whole)
    ]


def _things_no_text_says(query: Query, index: LoadedIndex) -> list[str]:
    """A Chinese question's words that no indexed text uses and that the dictionary glosses as a thing, in a
    corpus large enough to judge (in a few texts 最高 or 限制 may be missing)."""
    if index.lexical.vocabulary_size() < MIN_VOCABULARY_TO_JUDGE:
        return []
    unknown = _unknown_words(_content_words(query), index)
    return [w for w in unknown if any(_names_a_thing_in_english(gloss) for gloss in english_glosses(w))]


def _names_a_thing_in_english(gloss: str) -> bool:
    """Whether a dictionary gloss reads as a noun: "surrogacy", not "to summarize", "briefly", "since", "in outline"."""
    first = gloss.split(maxsplit=1)[0].lower() if gloss.strip() else ""
    return bool(first) and first != "to" and first not in STOPWORDS and not first.endswith("ly")


def _place_in(word: str, text: str) -> bool:
    """Whether a word names a place that ``text`` names in one of its forms (合肥市级 asks of 合肥)."""
    return any(name in text for names in places_named(word) for name in names)


# A compound's parts may stand apart by this many characters: 平均水平 in 平均生活水平.
_PARTS_GAP = 2


def _parts_in_a_row(word: str, text: str) -> bool:
    """Whether a Chinese compound's parts stand in ``text`` in order, at most ``_PARTS_GAP`` characters apart."""
    parts = word_parts(word)
    return bool(parts) and _in_order(parts, text, _PARTS_GAP)


def _in_order(pieces: Sequence[str], text: str, gap: int) -> bool:
    """Whether ``pieces`` stand in ``text`` in order, each at most ``gap`` characters after the one before."""
    return re.search(f".{{0,{gap}}}".join(map(re.escape, pieces)), text) is not None


# An abbreviation's characters stand in its full form this far apart at most: 监管 of 监督管理.
_ABBREVIATION_GAP = 2
_MIN_ABBREVIATION_CHARS = 3


def _abbreviated_in(word: str, text: str) -> bool:
    """Whether a Chinese word of three characters or more is an abbreviation of words in ``text``.

    Chinese shortens a compound by keeping a character of each of its words: 监管部门 is
    监督管理部门, 科技成果 科学技术成果. The word's characters in order, each at most
    ``_ABBREVIATION_GAP`` characters after the one before, find its full form.
    """
    return len(word) >= _MIN_ABBREVIATION_CHARS and _in_order(word, text, _ABBREVIATION_GAP)


def _defines_term_asked(query: Query, text: str) -> bool:
    """Whether a question asks what a term means and ``text`` defines that term (本条例所称市场主体，是指…).

    The term is named in so many words, or (an English question) is one of the question's
    Chinese renderings whole: "define a market entity" finds 市场主体, though "entity" alone
    renders 实体, which the regulation never says.
    """
    if not asks_for_definition(query.text):
        return False
    if query.chinese:
        return any((term := defined_term(s)) and term in query.text for s in text.split("。"))
    # A phrase's rendering counts when the dictionary confirms one of the phrase's words in it: the
    # vocabulary matcher finds the nearest corpus words even for a thing no text names ("unicorn"
    # may land on 市场主体; "market entity" holds 市场, a rendering of "market").
    # The document's name is not the term asked about ("… of Market Entities define a unicorn").
    in_names = {p for name in document_names(query.text) for p in english_phrases(name)}
    renderings = {
        term
        for phrase, terms in query.renderings
        if phrase not in in_names
        for term in terms
        if any(r in term for word in phrase.split() for r in chinese_for(word, 20) if len(r) > 1)
    }
    return any((term := defined_term(s)) and term in renderings for s in text.split("。"))


def _carries(title: str, name: str) -> bool:
    """Whether a title is a Chinese name's document: the name within it or it within the name, 中华人民共和国 aside.

    A court's rules are often named short ("最高法关于审理拒不执行判决、裁定刑事案件的解释" for
    最高人民法院关于审理拒不执行判决、裁定刑事案件适用法律若干问题的解释): their subject, between 关于 and
    的, must be within the title, and the title must end in their kind.
    """
    title, name = title.removeprefix(COUNTRY_PREFIX), name.removeprefix(COUNTRY_PREFIX)
    if not title:
        return False
    if name in title or title in name:
        return True
    about, _, kind = name.partition("关于")[2].rpartition("的")
    kind = kind.removeprefix("司法")  # 司法解释（三）: a title says 解释（三）
    return bool(about) and len(kind) >= 2 and about in title and title.endswith(kind)


# A name's kind ("Regulations": 条例) and its little words ("for": 为了) stand in any number of titles.
_UNCONFIRMING_WORDS = KIND_WORDS | STOPWORDS


def _titles_confirm(named: Sequence[str], titles: Sequence[str]) -> bool:
    """Whether the titles the retriever found nearest a question's names carry one of them.

    The titles come from the encoder's similarity, which for an English name can be far off
    ("Negotiable Instruments Law" near a customs rule); a name in 《》 must be within a title
    (or a title within it), an English one must have a word, its kind and little words aside,
    rendered in one.
    """
    for name in named:
        if is_cjk(name[0]):
            if any(_carries(t, name) for t in titles):
                return True
            continue
        words = [w for w in name.split() if w.lower() not in _UNCONFIRMING_WORDS]
        # The name rendered whole ("Civil Code": 民法典) or by its words ("Food Safety Law": 食品).
        renderings = [r for w in [name, *words] for r in chinese_for(w.removesuffix("'s"), 20) if len(r) > 1]
        if any(r in t for r in renderings for t in titles):
            return True
    return False


def _is_pointed_at(best: Passage, named: Sequence[str], found: Collection[str] = ()) -> bool:
    """Whether the best passage's document is the one the question points at, as far as can be told.

    A name in 《》 must be its title or within it (《劳动合同法》, 中华人民共和国劳动合同法), and so must an
    English name the dictionary renders whole; the paper's cue needs the paper. Another English
    name cannot be compared with a Chinese title: the documents the retriever found nearest it
    (``found``) decide, or, without them, the retriever's lift is trusted.
    """
    chinese = [n for n in named if is_cjk(n[0])]
    if chinese:
        return any(_carries(best.title, n) for n in chinese)
    title = best.title.removeprefix(COUNTRY_PREFIX)
    # An English name the dictionary renders whole ("Civil Code": 民法典) is compared as a Chinese one.
    rendered = [w for n in named for w in chinese_for(n, 20)]
    if rendered:
        return any(w in title for w in rendered)
    if named and found:
        return best.doc_id in found
    return bool(named) or best.kind == KIND_PAPER


def check(
    query: Query,
    passages: Sequence[Passage],
    index: LoadedIndex,
    max_missing: float = 1.0,
    check_names: bool = False,
    named_documents: Sequence[Sequence[str]] = (),
    judge_unknown_words: bool = True,
) -> Verdict:
    """Whether the passages answer the question, answer it in part, or do not cover it.

    A place or year the passages never mention means the question is about something
    else: not covered. A figure they do not give, on a matter they do treat, is a partial
    answer: the texts fix no such figure, and what they say on the matter is quoted.
    ``judge_unknown_words``: whether words no text uses decide (``unsupported_reason``).
    """
    if max_missing < 1.0:  # a share is at most 1: the default turns the check off, and its work
        share, missing = missing_content(query, passages, index)
        if share > max_missing:
            return Verdict(NOT_COVERED, f"the passages do not mention {'、'.join(missing[:3])}")
    if check_names and (name := unnamed_in_evidence(query, passages, index)) is not None:
        return Verdict(NOT_COVERED, f"the passages do not mention {name}")
    reason = unsupported_reason(query, passages, index, named_documents, judge_unknown_words)
    # A premise a passage contradicts outweighs what the texts do not state.
    if reason is None and (contradicted := premise_contradicted(query, passages)):
        return Verdict(PARTIAL, *contradicted)
    if reason is None and (unsaid := quoted_terms_unsaid(query, index) or quoted_names_unsaid(query, index)):
        # Partial, not refused: people quote their own name for a thing too (“两高” for the two top courts),
        # and what the texts state on the matter is quoted after what they never say.
        return Verdict(PARTIAL, f"the texts never use {'、'.join(unsaid)}", "", tuple(unsaid))
    if reason is None and (versions := article_only_in_an_earlier_version(query, passages, index, named_documents)):
        written = ARTICLE_REFERENCE.search(query.text)
        article = written.group(0) if query.chinese and written else f"Article {articles_named(query.text)[0]}"
        return Verdict(PARTIAL, f"only the version of {versions[0]} has {article}", article, versions=versions)
    if reason is None or reason == NO_FIGURE:
        title, unmentioned = unmentioned_in_document(query, passages, index, named_documents)
        if unmentioned:
            listed = ("、" if query.chinese else ", ").join(unmentioned)
            return Verdict(PARTIAL, f"{title} does not mention {listed}", title, tuple(unmentioned))
    if reason is None and (stated := premise_figure_unstated(query.text, passages)):
        english, chinese = FIGURE_NAMES[stated]
        return Verdict(
            PARTIAL, f"no passage states the {english} the question gives", chinese if query.chinese else english
        )
    if reason is None and asks_for_lawmakers_reason(query.text):
        return Verdict(PARTIAL, REASONS_UNSTATED, "")
    if reason is None:
        return Verdict(ANSWERED)
    if reason == NO_FIGURE:
        kind = figure_kind(query.text) or "amount"
        english, chinese = FIGURE_NAMES[kind]
        return Verdict(PARTIAL, reason, chinese if query.chinese else english)
    return Verdict(NOT_COVERED, reason)


def premise_figure_unstated(question: str, passages: Sequence[Passage]) -> str | None:
    """The kind (``FIGURE_NAMES``) of a sum, share or period's length the question states and no passage does."""
    stated = [(value, unit) for value, unit in stated_figures(question) if unit in _PREMISE_UNITS]
    periods = [
        (value, unit)
        for span in _PERIOD_PREMISE.finditer(question)
        for value, unit in stated_figures(span.group(0).replace("-", " "))
        if unit in _PERIOD_UNITS
    ]
    if not stated and not periods:
        return None
    held = stated_figures(_context_text(passages), strict=False)
    for value, unit in stated:
        if not any(abs(value - v) < 1e-9 and u in (unit, None) for v, u in held):
            return _PREMISE_UNITS[str(unit)]
    for value, unit in periods:
        if not any(_same_length(value, unit, v, u) for v, u in held):
            return "duration"
    return None


def _same_length(value: float, unit: str | None, other: float, other_unit: str | None) -> bool:
    """Whether two periods are of one length: 一年 is 十二个月. A bare number is none (第十条 gives no ten years)."""
    if other_unit == unit:
        return abs(value - other) < 1e-9
    months, other_months = _PERIOD_UNITS.get(str(unit)), _PERIOD_UNITS.get(str(other_unit))
    return months is not None and other_months is not None and abs(value * months - other * other_months) < 1e-9


# A rule that forbids (禁止, 不得, 严禁, 不准, 不允许), or one that only encourages (鼓励, 提倡, 引导), runs
# from the punctuation before it to the next full stop or semicolon; one about a list (禁止下列…：（一）…；
# （二）…) runs to the list's full stop.
_FORBIDDING_CLAUSE = re.compile(r"[^，,。；;：:]*(?:禁止|不得|严禁|不准|不允许)(?:[^。；;]*?下列[^。]*|[^。；;]*)")
_ENCOURAGING_CLAUSE = re.compile(r"[^，,。；;：:]*(?:鼓励|提倡|引导)(?:[^。；;]*?下列[^。]*|[^。；;]*)")
# A rule that obliges: 应当, 必须, 须 (not 无须, "need not"), 强制.
_OBLIGING_CLAUSE = re.compile(r"[^，,。；;：:]*(?:应当|必须|(?<![无毋])须|强制)[^。；;]*")
_ARTICLE_OPENING = re.compile(r"第[零一二三四五六七八九十百千]+条")
_MAX_CLAUSE_SHOWN = 160  # characters of the clause the answer quotes


def premise_contradicted(query: Query, passages: Sequence[Passage]) -> tuple[str, str] | None:
    """Why and where a passage contradicts the question's opening premise about a legal text, else None.

    "Since Shandong's expressway regulations allow motorcycles on expressways, what speed limit applies?":
    the regulation's 第九条 forbids 摩托车 on 高速公路. "Since Beijing's regulations made weather-disaster
    insurance compulsory for businesses, …": its 第三十九条 only encourages buying it (鼓励…购买气象灾害保险),
    and no passage obliges anyone to. The things the premise names (an English noun's renderings, a
    Chinese noun; all of two, all but one of more) must stand in one such clause. Returns the reason
    (``FORBIDDEN_NOT_ALLOWED``, ``ENCOURAGED_NOT_REQUIRED``) and 《title》第九条“clause”.
    """
    if (allowed := allowed_in_premise(query.text)) is not None:
        where = _clause_naming(_premise_things(allowed, query), passages, _FORBIDDING_CLAUSE)
        return (FORBIDDEN_NOT_ALLOWED, where) if where else None
    if (required := required_in_premise(query.text)) is not None:
        things = _premise_things(required, query)
        # The texts oblige it somewhere: the premise may hold.
        if _clause_naming(things, passages, _OBLIGING_CLAUSE):
            return None
        where = _clause_naming(things, passages, _ENCOURAGING_CLAUSE)
        return (ENCOURAGED_NOT_REQUIRED, where) if where else None
    return None


def _clause_naming(things: list[list[str]], passages: Sequence[Passage], clauses: re.Pattern[str]) -> str:
    """The first clause of the passages holding the things (all of two, all but one of more), as
    《title》第九条“clause”; "" if none."""
    if not things:
        return ""
    needed = len(things) if len(things) <= 2 else len(things) - 1
    for passage in passages:
        text = "".join(passage.text.split())
        for clause in clauses.finditer(text):
            if sum(any(r in clause.group(0) for r in renderings) for renderings in things) >= needed:
                # The article is the last one opened before the clause ends, else the passage's section.
                opened = list(_ARTICLE_OPENING.finditer(text, 0, clause.end()))
                article = opened[-1].group(0) if opened else passage.section.rpartition(">")[2].strip()
                said = clause.group(0)[max(0, opened[-1].end() - clause.start()) if opened else 0 :]
                return f"《{passage.title}》{article}“{said[:_MAX_CLAUSE_SHOWN]}”"
    return ""


def _premise_things(allowed: str, query: Query) -> list[list[str]]:
    """The things a premise names, each as the words that may render it in a Chinese text."""
    if query.chinese:
        return [[noun] for noun in nouns(allowed)]
    close = dict(query.close_words)
    things = []
    for word in english_phrases(allowed):
        if " " in word or not _may_be_thing(word) or places_named(word):
            continue
        renderings = chinese_for(word, 20)
        if _usual_nouns(word, renderings):
            things.append([r for r in [*renderings, *close.get(word, ())] if len(r) > 1])
    return [t for t in things if t]


def article_only_in_an_earlier_version(
    query: Query, passages: Sequence[Passage], index: LoadedIndex, named_documents: Sequence[Sequence[str]] = ()
) -> tuple[str, str] | None:
    """The dates of the earlier version that alone holds the article a question names and of the one in force.

    "最高人民法院关于知识产权法庭若干问题的规定第十五条是怎么规定的？": the 2018 version has fifteen articles,
    the one in force since 2023 eleven. A question that names no year asks about the version in
    force; the earlier version's article is what the texts have on it, and the answer says so.
    None when the question names a year, or the article is of the latest version it names.
    """
    articles = articles_named(query.text)
    if not articles or YEAR.search(query.text):
        return None
    carriers = [p for p in passages if article_of(p.section) in articles]
    if not carriers:
        return None
    documents = index.documents
    earlier = documents[carriers[0].doc_id]
    # A later version bears the same title and opens at the same article: the books of the Civil
    # Code share its title and open at 第一条, 第二百零五条, …, parts of one code, none a version of another.
    opening = _first_article(index, earlier.doc_id)
    versions = [
        documents[d]
        for group in named_documents
        if carriers[0].doc_id in group
        for d in group
        if documents[d].title == earlier.title and _first_article(index, d) == opening
    ]

    def year(document: DocumentInfo) -> int:
        return version_year(document.metadata) or 0

    latest = max(versions, key=year, default=earlier)
    if year(latest) <= year(earlier) or any(p.doc_id == latest.doc_id for p in carriers):
        return None
    if np.isin(index.articles_of(latest.doc_id), articles).any():
        return None
    return _version_date(earlier), _version_date(latest)


def _first_article(index: LoadedIndex, doc_id: str) -> int:
    """The number of the article a document opens at (0 for a document without articles)."""
    numbered = index.articles_of(doc_id)
    numbered = numbered[numbered > 0]
    return int(numbered.min()) if len(numbered) else 0


def _version_date(document: DocumentInfo) -> str:
    """A version's date as its metadata gives it, else its year."""
    date = document.metadata.get("date")
    return date if isinstance(date, str) and date else str(version_year(document.metadata) or document.doc_id)


def unsupported_reason(
    query: Query,
    passages: Sequence[Passage],
    index: LoadedIndex,
    named_documents: Sequence[Sequence[str]] = (),
    judge_unknown_words: bool = True,
) -> str | None:
    """Why the passages cannot answer the question, or None when they may.

    ``named_documents`` are the ids of the documents found for each name the question gives.
    ``judge_unknown_words``: whether a question's words that no text uses say it is about something
    else (the caller knows how close the passages are and whether it reads as general knowledge).
    """
    text = _context_text(passages)
    # A foreign country the asker only comes from, or brings something from ("a German engineer",
    # "import … from Germany"), is of the story: China's law answers without naming it.
    places = places_asked(query.text)
    # A city's regulation is of its province too: "In Taizhou, Zhejiang, …" is answered by
    # Taizhou's, whose articles say 本市 and never 浙江; and a province's regulation is in force in
    # its cities: "我家在济南，暖气…" is answered by Shandong's, which never says 济南.
    passages_places = [found for passage in passages if (found := _places_of(passage, index))]
    within = {name for found in passages_places for name in found}
    for names in places:
        in_force = in_force_at([names])
        said = any(n in text or n in within for n in names)
        if not said and not any(found[0] in in_force for found in passages_places):
            return f"the passages do not mention {names[0]}"
    lowered = text.lower()
    for name in latin_names(query.text) if query.chinese else ():
        if name.lower() not in lowered:
            return f"the passages do not mention {name}"
    if product := _product_unnamed(query, text):
        return f"the passages do not mention {product}"
    # The answer opens with the best passage: its document must be about one of the places too,
    # as the passages of it retrieved show. A passage of another document that names the place
    # (a Hong Kong travel rule) does not make the best one (a criminal-law probation) answer
    # "probation for civil servants recruited in Macau". The document is read whole: a Zhejiang
    # regulation on a Wenzhou river names 温州 in its scope and its organs, not in every article.
    # A document the question names is asked about whatever its place: "under the national law …,
    # and what does Beijing's regulation set?" is answered first from the national law.
    if places and _best_speaks_for_none(passages, places, index, named_documents):
        return f"the best passage's document does not mention {places[0][0]}"
    # A year of the story an English question tells before it asks ("Our company was registered in 2022 …
    # What do we have to do?") is the asker's, not one the texts must give.
    years = YEAR.findall(query.text if query.chinese else sentences_that_ask(query.text))
    # Their openings are gathered only for a question that names a year.
    with_history = f"{text}\n{_openings(passages, index)}" if years else ""
    for year in years:
        if year not in with_history:
            return f"the passages give nothing for {year}"
    for day in RELATIVE_DAY.findall(query.text):
        if day.lower() not in lowered:
            return f"the passages say nothing of {day}"
    # Checked after the place, year and day: those name what the texts lack more precisely.
    if judge_unknown_words and (unknown := words_unknown_to_corpus(query, index)):
        return never_said(query, unknown)
    if judge_unknown_words and (unknown := things_unknown_to_corpus(query, index)):
        return never_said(query, unknown)
    if asks_for_advice(query):
        return ASKS_ADVICE
    if asks_who_holds_or_won(query.text):
        return ASKS_WHO_HOLDS_OR_WON
    if persons := persons_unnamed(query, index):
        return f"the texts never name {'、'.join(persons)}"
    named = articles_named(query.text)
    # The article must be one of the document the question names, when the passages hold any of
    # it, else of the best passage's document: the same number in another law is another
    # article ("《行政学院工作条例》第六十条" of a 52-article text is no 行政处罚法 第六十条).
    if named:
        holders = _holders(passages, named_documents)
        if not any(article_of(p.section) in named and p.doc_id in holders for p in passages) and all(
            set(named).isdisjoint(cited_articles(p.text)) for p in passages
        ):
            return f"the passages contain no article {named[0]}"
    asked = figure_asked(query.text)
    if asked is None:
        return None
    figure, asks = asked
    period = period_asked(query.text)
    counted = counted_nouns(query.text) if query.chinese else []
    # The question's own words and glossary terms: cross-lingual matches are hints for
    # ranking, too loose to judge what a sentence is about.
    # A question of several parts ("公告期至少多长？涉及房屋征收时还有什么程序？", "how much land may a marker
    # occupy, how close to one is blasting banned, and what is the maximum fine?") is judged by the
    # part that asks for the figure and those before it: the later parts' words are not the figure's.
    asking = asks.search(query.text)
    part_end = part_end_of(query.chinese).search(query.text, asking.end()) if asking else None
    figure_part = query.text[: part_end.end()] if part_end else None
    groups: list[_TermGroup]
    if query.chinese:
        # 之内 and 因为 say how the question is put, not what the figure is about.
        function = function_words(query.text)
        terms = sorted(
            {
                t
                for t in query.own_tokens
                if len(t) > 1
                and is_cjk(t[0])
                and not asks.fullmatch(t)
                and t not in function
                and not _NUMBER_OF.fullmatch(t)
                and (figure_part is None or t in figure_part)
                and not _only_within_asking(t, query.text, asking)
            }
        )
        groups = [_TermGroup(((t,),), _same_meaning(t)) for t in terms]
        # A word of the question that no passage says (拿到 where the law says 领取, 对外收费 where it says
        # 向社会…收取费用) weighs the same against every figure's sentence: it tells none of them apart,
        # and the asker's own wording would leave every sentence short of the share.
        passages_say = "".join(f"{p.title}\n{p.text}" for p in passages)
        groups = [
            group
            for group in groups
            if any(all(t in passages_say for t in alternative) for alternative in group.alternatives)
            or any(word in passages_say for word in group.said_also)
        ]
    else:
        groups = _glossary_groups(query, asks, figure_part)
    tokens = sorted({t for group in groups for alternative in group.alternatives for t in alternative})
    idf = dict(zip(tokens, index.lexical.idf(tokens).tolist(), strict=True)) if tokens else {}
    weights = [max(sum(idf[t] for t in alternative) for alternative in group.alternatives) for group in groups]
    total = sum(weights)
    # "What is the lowest wage …": 不得低于…工资的80% gives it as a share of the wage named.
    noun = sum_noun_asked(query.text) if not query.chinese else None
    share_of = [r for r in chinese_for(noun, 20) if r in _SUM_WORDS or len(r) > 1] if noun else []
    place_names = [name for names in places for name in names]
    in_force = in_force_at(places)
    # "台儿庄古城的门票价格是多少？": a fine in yuan, in the regulation's title words, is no price.
    sum_noun = chinese_sum_noun(query.text, query.own_tokens) if query.chinese else None
    # The kinds of sum an English question names, by the dictionary's renderings of its words
    # (补贴 for "subsidy"), not the corpus's words near them ("pay": 罚款); a Chinese question's is
    # ``sum_noun``.
    kinds_asked = (
        []
        if query.chinese
        else sum_kinds_named(" ".join(w for p in english_phrases(query.text) for w in chinese_for(p, 20)))
    )
    # The figure of a document the question names is asked for: the Company Law's minimum capital
    # is no answer to "the minimum registered capital under the Sole Proprietorship Enterprise Law".
    for passage in _of_named(passages, named_documents) or _of_described(query.text, passages) or passages:
        rows = passage.sentence_rows
        authors = _authors(passage, index)
        # A local regulation speaks for its place and province (台州, 浙江), and for no other place.
        spoken_for = _places_of(passage, index)
        of_another_place = bool(in_force) and bool(spoken_for) and spoken_for[0] not in in_force
        for i, row in enumerate(rows):
            sentence = index.sentences[row].text
            as_share = not figure.search(sentence)
            if as_share and not (share_of and RATE.search(sentence)):
                continue
            if figure is MONEY and sums_only_of_other_kinds(sentence, kinds_asked):
                continue  # fines, in an article on subsidies, where a subsidy is asked for
            # The sentence before often names what a list item's figure is about, and
            # the title and section name the document and article it belongs to. A figure
            # that heads a list (有下列情形之一的，处…罚款：) is about its items.
            before = index.sentences[rows[i - 1]].text if i else ""
            items = _LIST_HEAD.search(sentence) and "".join(index.sentences[r].text for r in rows[i + 1 :])
            window = f"{passage.title} {authors} {passage.section} {before}{sentence}{items or ''}"
            window += " ".join(spoken_for)  # Taizhou's regulation speaks for Zhejiang too
            if as_share and not any(r in sentence for r in share_of):
                continue  # a share of something else than the sum asked for
            if sum_noun and sum_noun not in f"{before}{sentence}{items or ''}":
                continue  # a sum of another kind than the one asked for
            if place_names and passage.kind == KIND_PAPER and not any(n in window for n in place_names):
                continue  # a paper's figure for Beijing, where Shanghai's is asked for (a law's place is its region)
            if of_another_place and not any(n in window for n in place_names):
                continue  # Qingyuan's leash length, where Hangzhou's is asked for
            if period is not None and not period.search(window):
                continue  # a fine, where a daily fine is asked for
            if counted and not any(noun in window or _counts_by(measure, sentence) for measure, noun in counted):
                continue  # a number of classes, where a number of pupils is asked for
            covered = sum(
                weight
                if any(word in window for word in group.said_also)
                else max(sum(idf[t] for t in alternative if t in window) for alternative in group.alternatives)
                for group, weight in zip(groups, weights, strict=True)
            )
            if total == 0 or covered >= MIN_TERM_SHARE * total:
                return None
    return NO_FIGURE


def _only_within_asking(word: str, question: str, asking: re.Match[str] | None) -> bool:
    """Whether each place a question says ``word`` overlaps the words that ask for the figure.

    jieba cuts 多少天内 into 多少 and 天内: 天内 belongs to how the question asks, and no text says it
    (十五日内), yet its rarity would weigh most of all the words the figure's sentence must say.
    """
    if asking is None:
        return False
    starts = [m.start() for m in re.finditer(re.escape(word), question)]
    return bool(starts) and all(start < asking.end() and start + len(word) > asking.start() for start in starts)


def in_force_first(
    query: Query, passages: Sequence[Passage], index: LoadedIndex, named_documents: Sequence[Sequence[str]] = ()
) -> list[Passage]:
    """The passages with those of the law in force at the question's places first, where the best is of none.

    "What penalty does a taxi driver in Henan face for refusing passengers?": the best passage,
    of another province's transport rules, cannot answer for Henan (``unsupported_reason``), and
    Henan's own regulation, fifth, can. The answer opens with it instead of being refused; a
    best passage of a document the question names, or one that names the place, keeps its place.
    """
    places = places_named(query.text)
    in_force = [p for p in passages if _in_force_at_places(p, places, index)] if places else []
    if not in_force or not _best_speaks_for_none(passages, places, index, named_documents):
        return list(passages)
    return in_force + [p for p in passages if p not in in_force]


def _best_speaks_for_none(
    passages: Sequence[Passage],
    places: list[tuple[str, ...]],
    index: LoadedIndex,
    named_documents: Sequence[Sequence[str]],
) -> bool:
    """Whether the best passage's document neither is the law in force at the places nor names them.

    A document the question names speaks for them whatever its place. The document is read whole
    only when its passages retrieved do not name the places.
    """
    best = passages[0]
    if any(best.doc_id in group for group in named_documents) or _in_force_at_places(best, places, index):
        return False
    retrieved = _context_text([p for p in passages if p.doc_id == best.doc_id])
    if any(n in retrieved for names in places for n in names):
        return False
    whole = index.document_text(best.doc_id)
    return not any(n in whole for names in places for n in names)


def _in_force_at_places(passage: Passage, places: list[tuple[str, ...]], index: LoadedIndex) -> bool:
    """Whether a local regulation's passage is of a place asked about or of the province of a city asked about.

    "What share of their workforce must employers in Jinan set aside …?": Shandong's measures are
    in force in Jinan, and may answer though they never name it; Qingdao's are not.
    """
    own = _places_of(passage, index)[:1]
    return bool(own) and own[0] in in_force_at(places)


def _places_of(passage: Passage, index: LoadedIndex) -> tuple[str, ...]:
    """The places a local regulation's passage speaks for, its own first, then its province (台州, 浙江).

    Its own is the place its title opens with, else the region its document states (its issuer's):
    义乌国际贸易综合改革试验区条例, adopted by 浙江省人民代表大会常务委员会, speaks for Zhejiang.
    """
    if passage.kind != KIND_LOCAL_REGULATION:
        return ()
    own = leading_place(passage.title)
    if own is None and isinstance(region := index.documents[passage.doc_id].metadata.get("region"), str):
        own = canonical_place(region)
    return in_force_at([(own,)]) if own is not None else ()


def _of_described(question: str, passages: Sequence[Passage]) -> list[Passage]:
    """The best passage's document's passages, for a question that describes the document it asks of, else [].

    "What commission may the platform charge under the Supreme People's Court's rules on online
    judicial auctions?" finds those rules first; the Auction Law's 5% commission, fifth, is no
    answer from them.
    """
    if not passages or not described_documents(question):
        return []
    return [p for p in passages if p.doc_id == passages[0].doc_id]


def _of_named(passages: Sequence[Passage], named_documents: Sequence[Sequence[str]]) -> list[Passage]:
    """The passages of the documents the question names, or [] when none of them was retrieved.

    A name the retriever matched to no retrieved document may have been matched wrongly; the
    checks then judge by the passages as ranked.
    """
    named = {d for group in named_documents for d in group}
    return [p for p in passages if p.doc_id in named]


def _holders(passages: Sequence[Passage], named_documents: Sequence[Sequence[str]]) -> set[str]:
    """The documents an article the question names must belong to: those it names, else the best passage's."""
    return {p.doc_id for p in _of_named(passages, named_documents)} or {passages[0].doc_id}


def _author_names(index: LoadedIndex, doc_id: str, field: str) -> list[str]:
    """A document's authors as its metadata ``field`` gives them ("authors": 白雪洁; "authors_en": BAI Xuejie)."""
    names = index.documents[doc_id].metadata.get(field)
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def _author_words(index: LoadedIndex, doc_ids: Collection[str]) -> set[str]:
    """The words of the English names of these documents' authors, lower-case ("BAI Xuejie" → bai, xuejie)."""
    return {
        w.lower() for doc_id in doc_ids for name in _author_names(index, doc_id, "authors_en") for w in name.split()
    }


def _authors(passage: Passage, index: LoadedIndex) -> str:
    """The authors of a passage's document, as its metadata gives them.

    "白雪洁等人的论文…比例是多少？" names the paper by its authors: their names say nothing of the figure.
    """
    return " ".join(_author_names(index, passage.doc_id, "authors"))


# The dictionary's renderings of a glossary phrase that count beside its terms.
_PHRASE_RENDERINGS = 5


# 一户, 两名, 每人: a number and its measure word say how many, not of what (一户能养几条狗: 每户限养一只).
_NUMBER_OF = re.compile(r"[一二两三四五六七八九十百千万几每]+[户个名人位只条家所项件次]")
# "(coll.) husband", "to leak (of water)": a gloss's notes say how the word is used, and name no thing.
_GLOSS_NOTE = re.compile(r"\([^)]*\)")


def _same_meaning(word: str) -> tuple[str, ...]:
    """Other words that CC-CEDICT gives for a Chinese word's first gloss: 房屋 for 房子 ("house"), 儿童 for 孩子.

    A question says 房子 where a law says 房屋; a figure's sentence that says either is about the same thing.
    """
    glosses = english_glosses(word)
    if not glosses:
        return ()
    gloss = _GLOSS_NOTE.sub(" ", glosses[0]).strip().removeprefix("to ").strip()
    # One character is too common to tell (的 is the dictionary's "taxi", 的士, read alone).
    return tuple(w for w in chinese_for(gloss, SAME_MEANING_WORDS) if w != word and len(w) > 1) if gloss else ()


class _TermGroup(NamedTuple):
    """Words of a question that a figure's window must say: any one of ``alternatives`` (each a run of
    tokens), or one of ``said_also`` (the dictionary's words for the same phrase)."""

    alternatives: tuple[tuple[str, ...], ...]
    said_also: tuple[str, ...] = ()


def _glossary_groups(query: Query, asks: re.Pattern[str], part: str | None = None) -> list[_TermGroup]:
    """An English question's glossary terms, those of one phrase as one group of alternatives (their tokens),
    with the dictionary's words for its phrase.

    "University" is 高校, 高等学校 or 高等院校: a sentence saying one of them says all the phrase
    does, and the phrase weighs as its heaviest term, not as the three together. The dictionary's
    words for the whole phrase say it as well, at the terms' weight: "traditional Chinese
    medicine" is the glossary's 中医药 (the field) and the dictionary's 中药 (its medicines).
    Only the phrases of ``part`` count, when it is given (the parts asking for the figure).
    """
    own = set(query.own_tokens)  # the glossary terms of a document's name are not among them
    written = part or query.text
    longer = [match for match in match_phrases(written) if " " in match.english]
    groups = []
    for phrase, terms in phrases_with_terms(written):
        if KIND_CUES[KIND_PAPER].search(phrase):
            continue  # "the paper by Bai and co-authors": the text and who wrote it, not what its figure is about
        alternatives = tuple(
            alternative
            for term in terms
            if own.issuperset(tokens := term_tokens(term))
            and (alternative := tuple(t for t in tokens if len(t) > 1 and not asks.fullmatch(t)))
        )
        if alternatives:
            said_also = tuple(r for r in chinese_for(phrase, _PHRASE_RENDERINGS) if len(r) > 1)
            # A phrase inside a longer one the dictionary knows is said by that one's words too:
            # "equity" (股权) of "Sino-foreign equity joint venture" (中外合资经营企业).
            inside = re.compile(rf"\b{re.escape(phrase.lower())}\b")
            said_also += tuple(
                r
                for match in longer
                if match.english != phrase.lower() and inside.search(match.english)
                for r in match.chinese[:_PHRASE_RENDERINGS]
                if len(r) > 1
            )
            groups.append(_TermGroup(alternatives, said_also))
    grouped = {t for group in groups for alternative in group.alternatives for t in alternative}
    # Chinese words the question writes itself (《专利法》 in an English question) count alone.
    alone = [
        t for t in own if len(t) > 1 and is_cjk(t[0]) and t not in grouped and t in written and not asks.fullmatch(t)
    ]
    return groups + [_TermGroup(((t,),)) for t in sorted(alone)]


# Measure words that count anything (个, 次 …): 检测3次 does not say that urine tests are counted.
_GENERAL_MEASURES = frozenset("个次项件条")


def _counts_by(measure: str, sentence: str) -> bool:
    """Whether a sentence gives a number in a measure word that tells what it counts (四十五名 for 名)."""
    return measure not in _GENERAL_MEASURES and re.search(rf"{NUMBER}\s*{measure}", sentence) is not None


# One-character renderings of a sum's noun that name it in a law: 费 (fee), 价 (price).
_SUM_WORDS = frozenset("费价")
# A sentence that introduces a list: its figure applies to the items after it.
_LIST_HEAD = re.compile(r"下列|如下|[：:]$")
