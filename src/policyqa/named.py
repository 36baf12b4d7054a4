"""The names of documents a question gives: 《劳动合同法》, "the Personal Information Protection Law".

In a library of thousands of laws, "Under the Administrative Penalty Law, how long …" must
look inside that law, whose articles never say its name. The whole question's vector is a
poor guide to the title (the rest of the question is about something else), but the name
alone is close to its title in the encoder's space, across languages too: "Food Safety Law"
and 中华人民共和国食品安全法. The retriever embeds the names found here and lifts the
documents whose titles are nearest (``Retriever._named_documents``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .lexical import QUESTION_WORDS, STOPWORDS
from .places import places_named
from .types import KIND_PAPER

# Words by which a question points at a kind of document ("the paper says …", "本法"); "law"
# stands for every legal kind. Not a law's numbered article ("Article 120"), nor the same characters
# inside other words: 科技工作者 (workers), 条文中 (in a law's provisions), 本文件 (this document). A title
# in 《》 followed by 一文 names an article (《…路径》一文). 文章 is the paper when pointed at (这篇文章,
# 文章中) or standing alone, not the asker's own (写批评文章, 我把一篇文章投给…).
KIND_CUES = {
    KIND_PAPER: re.compile(
        r"\b(paper|study|article(?!\s+(?:\d|[IVXLC]+\b))|authors?|journal)\b"
        r"|本文(?!件)|(?<![条原正全])文中|论文|(?:这篇|那篇|该篇?|此|本|上述)文章|(?<![\u4e00-\u9fff])篇?文章"
        r"|文章(?=中|里|认为|指出|提出|提到|写道)|(?<!工)作者|该文|》一文",
        re.I,
    ),
    "legal": re.compile(r"\b(law|laws|regulations?|statute|legal|article \d+)\b|法律|条例|第.{1,4}条|本法", re.I),
}

# A Chinese name stands in 《》.
_QUOTED = re.compile(r"《([^《》]{2,60})》")
# A court's or the State Council's rules named without 《》: 最高法关于审理拒不执行判决、裁定刑事案件的解释;
# the two top courts' together (两高: 最高人民法院、最高人民检察院), 两高关于执行刑法确定罪名的补充规定（六）.
_ISSUED_ABOUT = re.compile(
    r"(?:最高人民法院|最高法院|最高法|最高人民检察院|最高检|国务院|两高)(?:[、和与](?:最高人民检察院|最高检))?"
    r"关于[^，。？；：《》]{2,50}?的(?:司法解释|解释|若干规定|补充规定|规定|决定|批复|意见)"
    r"(?:[（(][一二三四五六七八九十]+[）)])?"
)
# The words that end an English name of a legal document: its kind, which many titles share.
KIND_WORDS = frozenset(
    "law code constitution regulation regulations rules provisions measures interpretation interpretations "
    "act ordinance decision".split()
)
# Longer words first: "Regulations" before "Regulation".
_HEAD = "(?:" + "|".join(sorted((w.capitalize() for w in KIND_WORDS), key=lambda w: (-len(w), w))) + ")"
# The number of one of a series of interpretations, after its head word: "Interpretation (I) on the Property
# Rights Book of the Civil Code" is 物权编的解释（一）.
_NUMBERED = r"(?:\s*\((?:[IVX]{1,4}|\d{1,2})\))?"
# "the Personal Information Protection Law", "Law on the Protection of Minors": capitalised
# words ending in a head word, or a head word followed by "on/of …" and capitalised words, which
# may hold "to" and "by" ("Regulations on Ensuring Payments to Small and Medium-sized Enterprises"),
# each perhaps with "the" ("Law on the Procedure of the Conclusion of Treaties").
_TITLED = re.compile(
    rf"\b(?:[A-Z][\w'’-]*\s+(?:(?:of|on|and|for|the|in)\s+)?)*{_HEAD}\b{_NUMBERED}"
    rf"(?:\s+(?:on|of|for)\s+(?:the\s+)?[A-Z][\w'’-]*(?:\s+(?:(?:of|on|and|for|the|in|to|by)\s+(?:the\s+)?)?[A-Z][\w'’-]*)*)?"
)
# "the consumer protection law", "the Ningbo Dongqian Lake tourist resort regulation": a name with a
# lower-case head word needs "the" (or the country's possessive: "China's personal information law")
# and one to six words before it.
# A name's words run to its head: never across another name's head word, "the" or "and".
_LOWER = re.compile(
    r"\b(?:the|China['’]s)\s+((?:(?!(?i:the|and|or|law|code|regulations?)\b)[A-Za-z][\w'’-]*\s+){1,6}(?:law|code|regulations?))\b"
)
# Issuers whose documents are national: the State Council, the NPC, the supreme court and
# procuratorate (SPC, SPP), a ministry of the State Council, the Party's Central Committee.
_NATIONAL_ISSUERS = (
    r"State Council|National People's Congress(?: Standing Committee)?|NPC(?: Standing Committee)?"
    r"|Supreme People's (?:Court|Procuratorate)|SPC|SPP|Ministry of [A-Z]\w+(?: [A-Z]\w+)*|(?:CPC )?Central Committee"
    r"|[Nn]ational|[Cc]entral [Gg]overnment"
)
NATIONAL_ISSUER = re.compile(rf"\b(?:{_NATIONAL_ISSUERS})(?:'s|’s)?(?=\s|$)")
# A national issuer before a possessive opens a name without being a word of its title: "the State
# Council's Regulations on the Administration of Housing Provident Funds" is 住房公积金管理条例.
_OWNING_NATIONAL_ISSUER = re.compile(rf"^(?:the\s+)?(?:{_NATIONAL_ISSUERS})(?:'s|’s)\s+")


def without_owning_issuer(name: str) -> str:
    """A document's English name without the national issuer that owns it ("State Council's …")."""
    return _OWNING_NATIONAL_ISSUER.sub("", name)


# Words that open a capitalised run without being part of the name, and lower-case words that make
# "the … law" a phrase about laws in general ("the relevant law", "the same law").
_OPENERS = frozenset(
    "Under According To As In By What Which How Does Do Is Are Who When Where Why The Its This That".split()
)
_GENERIC = frozenset(
    "relevant same applicable above following new old current other these those such national local "
    "existing said whole general city's province's city province".split()
)
MAX_NAMES = 4
_SPECIAL_ZONE = "Special Economic Zone"
# Words that make "the … law" about laws in general wherever they stand in it ("the city's protection regulation").
_GENERIC_INSIDE = frozenset("city's province's same relevant applicable above following".split())
# Words after which a name gives its subject: "Law on the Protection of Minors".
_OF = frozenset("on of for concerning governing".split())
# Words by which a question sets documents side by side ("How do … differ", 分别, 有何不同), or
# asks of a second one what it asked of the first ("…, and how do Guangdong's rules handle it?").
_COMPARISON = re.compile(
    r"\b(compare[sd]?|comparison|compared|differ|differs|difference|differences|different|versus|vs\.?|"
    r"both|each|respectively|whereas|between|what about|how about|and how (?:do|does|did))\b"
    r"|分别|比较|相比|对比|区别|不同|异同|差异|各自|两者",
    re.I,
)


# The State Council's rules that implement a law: "the implementing regulations of the Labour
# Contract Law" (劳动合同法实施条例), "Regulations for the Implementation of the Patent Law", "the
# Patent Law's implementing rules". Said around a law's name, they name another document.
_IMPLEMENTING_KINDS = r"(?:regulations?|rules|measures|provisions)"
# "the national Mine Safety Law": the law as against the region's rules implementing it.
_THE_LAW = r"(?:the\s+)?(?:national\s+)?"
_IMPLEMENTING_BEFORE = re.compile(
    rf"(?:implement(?:ing|ation)\s+{_IMPLEMENTING_KINDS}\s+(?:of|for|under)"
    rf"|{_IMPLEMENTING_KINDS}\s+for\s+(?:the\s+)?implementation\s+of)\s+{_THE_LAW}$",
    re.I,
)
_IMPLEMENTING_AFTER = re.compile(rf"^(?:['’]s)?\s+implement(?:ing|ation)\s+{_IMPLEMENTING_KINDS}\b", re.I)
# A region's rules implementing a national law: "Henan's measures implementing the Organic Law of …"
# (河南省实施《中华人民共和国城市居民委员会组织法》办法); the issuer said before them is part of the name.
_LOCAL_IMPLEMENTING_BEFORE = re.compile(
    rf"((?:[A-Z][\w'’-]*\s+)*)((?i:{_IMPLEMENTING_KINDS}))\s+(?:for\s+)?(?i:implementing)\s+{_THE_LAW}$"
)
# The same in Chinese: the law's name stands in 《》 between 实施 and the kind, the place before them.
_CHINESE_IMPLEMENTING = re.compile(r"实施《[^《》]{2,60}》(?:的)?(?:若干规定|规定|办法|细则|条例)")
_CHINESE_PLACE_SUFFIXES = ("省", "市", "自治区", "自治州", "县", "")
# What names only that a document implements another, without the other's name.
_IMPLEMENTING_ALONE = re.compile(
    rf"(?:the\s+)?(?:implement(?:ing|ation)\s+{_IMPLEMENTING_KINDS}(?:\s+(?:of|for|under))?"
    rf"|{_IMPLEMENTING_KINDS}\s+for\s+the\s+implementation)",
    re.I,
)
_IMPLEMENTING_NAME = re.compile(r"\bimplement(?:ing|ation)\b", re.I)
_IMPLEMENTATION_OF = re.compile(
    rf"{_IMPLEMENTING_KINDS}\s+for\s+(?:the\s+)?implementation\s+of\s+{_THE_LAW}(.+)$", re.I
)
# The Supreme People's Court's rules on applying a law (最高人民法院关于适用《公司法》若干问题的规定):
# "the court's second set of provisions on applying the Company Law", "the judicial interpretation
# of the Company Law". Said around a law's name, they name the court's rules, not the law.
_APPLYING_BEFORE = re.compile(
    rf"(?:(?:provisions|rules|interpretations?|opinions)\s+(?:on|concerning|regarding)\s+(?:the\s+)?"
    rf"(?:applying|application\s+of)|judicial\s+interpretations?\s+(?:of|on)"
    rf"|(?:court|SPC)(?:['’]s)?\s+interpretations?\s+(?:of|on))\s+{_THE_LAW}$",
    re.I,
)
APPLYING_PREFIX = "Supreme People's Court Provisions on Applying the "
_LAW_WORD = re.compile(r"\blaw\b", re.I)
IMPLEMENTING_PREFIX = "Implementing Regulations of the "


def without_document_names(question: str, described: bool = False) -> str:
    """The question with the document names it gives blanked out (a Chinese name with its 《》).

    ``described``: the documents it describes too ("the State Council regulations on railway
    accident emergency rescue and investigation"), where a description stands as written.
    """
    named = document_names(question)
    for name in named:
        question = question.replace(f"《{name}》", " ").replace(name.removeprefix(IMPLEMENTING_PREFIX), " ")
    for description in described_documents(question, named) if described else ():
        question = question.replace(description, " ")
    return question


def document_names(question: str) -> list[str]:
    """The document names a question gives, in order, without repeats (at most ``MAX_NAMES``).

    A law's name said with "implementing regulations of" (or "… for the implementation of",
    "…'s implementing rules") names the rules implementing it: "Implementing Regulations of the
    Labour Contract Law".
    """
    # Each name with where it starts and ends in the question, for the words around it.
    found = [(m.start(1), m.end(1), m.group(1).strip()) for m in _QUOTED.finditer(question)]
    # A court's rules named around the law they apply (最高法关于适用《企业破产法》若干问题的规定（三）) are
    # one name, the law's with it: the law alone is not what the question names.
    rules = [(m.start(), m.end()) for m in _ISSUED_ABOUT.finditer(_QUOTED.sub(_blanked, question))]
    found = [f for f in found if not any(start < f[0] and f[1] < end for start, end in rules)]
    found += [(start, end, question[start:end]) for start, end in rules]
    for match in _TITLED.finditer(question):
        spans = [(w.start(), w.group(0)) for w in re.finditer(r"\S+", match.group(0))]
        while spans and (spans[0][1] in _OPENERS or spans[0][1].islower()):
            spans = spans[1:]
        if len(spans) >= 2:  # "Law" alone names nothing
            found.append((match.start() + spans[0][0], match.end(), " ".join(w for _, w in spans)))
    for match in _LOWER.finditer(question):
        words = match.group(1).split()
        # "the Shenzhen regulation", "the State Council's regulations" give an issuer and a kind, no
        # name: a name says its subject, in lower-case words ("tourist resort") or capitalised ones
        # that are neither a place nor the issuer before a possessive ("Airport Economy Zone").
        issued = max((i + 1 for i, w in enumerate(words[:-1]) if w.endswith(("'s", "’s"))), default=0)
        # "Special Economic Zone" is a kind of place (经济特区), as a city is: "the Shantou Special
        # Economic Zone regulation" gives no subject.
        # A national issuer is no subject either: "the State Council regulation on …" is described.
        kept = NATIONAL_ISSUER.sub(" ", " ".join(words[issued:-1]).replace(_SPECIAL_ZONE, " ")).split()
        subject = [w for w in kept if not places_named(w)]
        if subject and words[0].lower() not in _GENERIC and not any(w in _GENERIC_INSIDE for w in subject):
            found.append((match.start(1), match.end(1), match.group(1)))
    names = []
    for start, end, name in found:
        if _IMPLEMENTING_ALONE.fullmatch(name):
            continue
        if (implemented := _IMPLEMENTATION_OF.match(name)) and _LAW_WORD.search(implemented.group(1)):
            # "Regulations for the Implementation of the Patent Law", read whole as one title. One that
            # implements no law is a title of its own: "Measures for the Implementation of Bill
            # Administration" (票据管理实施办法).
            names.append(IMPLEMENTING_PREFIX + implemented.group(1))
            continue
        local = _LOCAL_IMPLEMENTING_BEFORE.search(question[:start])
        if _APPLYING_BEFORE.search(question[:start]):
            name = APPLYING_PREFIX + name.removeprefix("the ")
        elif local and (issuer := " ".join(_without_openers(local.group(1).split()))):
            name = f"{issuer} {local.group(2).capitalize()} Implementing the {name.removeprefix('the ')}"
        elif not _IMPLEMENTING_NAME.search(name) and (
            local or _IMPLEMENTING_BEFORE.search(question[:start]) or _IMPLEMENTING_AFTER.match(question[end:])
        ):
            name = IMPLEMENTING_PREFIX + name.removeprefix("the ")
        elif (local_zh := _CHINESE_IMPLEMENTING.match(question, start - 3)) and question[start - 1] == "《":
            name = _place_before(question[: start - 3]) + local_zh.group(0)
        names.append(name)
    return list(dict.fromkeys(names))[:MAX_NAMES]


def _blanked(match: re.Match[str]) -> str:
    """A 《》 name blanked out, its length kept (offsets in the question stay true)."""
    return " " * len(match.group(0))


def _place_before(text: str) -> str:
    """The place name ``text`` ends with (河南省 of 根据河南省), or ''."""
    for length in range(min(len(text), 8), 1, -1):
        tail = text[-length:]
        named = [name for names in places_named(tail) for name in names]
        if any(tail.removesuffix(suffix) in named for suffix in _CHINESE_PLACE_SUFFIXES if tail.endswith(suffix)):
            return tail
    return ""


# "Guangdong's regulation on domestic services": a document described by its issuer, its kind and
# its subject instead of named by its title. The issuer is a run of up to six capitalised words
# (a place, a court); the subject runs to the first word that asks ("define", "say", "how") or
# ends the clause. Matched possessively (*+, {…}+) and bounded: a question of capitalised words
# without a kind word must cost a pass, not a try at every length from every word.
_KINDS = r"(regulations?|rules|provisions|measures|interpretations?)"
# An issuer is capitalised words, a year among them ("the State Council's 2017 regulation"), joint issuers
# joined by a slash among them ("the SPC/SPP interpretation").
_ISSUER = r"\b((?:[A-Z][\w'’-]*+(?:/[A-Z][\w'’-]*+)?\s+|(?:19|20)\d\d\s+){1,6}+)"
# A subject follows "on", "of" … or a verb that says what the document does to it ("restricting
# government bodies from building office buildings").
_SUBJECT_LINK = r"(on|of|for|governing|concerning|restricting|regulating|promoting|protecting|prohibiting|banning)"
# The issuer's level said before the kind ("Henan's provincial regulation on …") gives no subject.
_LEVEL_WORDS = frozenset("provincial municipal city local regional county prefectural".split())
# Nor does which of a series ("the Supreme People's Court's first set of provisions on online
# consumer disputes": 若干问题的规定（一）) or how lasting ("interim regulations": 暂行条例).
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
_LASTING = ("interim", "provisional")
_SERIES_WORDS = frozenset([*_ORDINALS, *_LASTING, "set", "of"])
_LEVEL = (
    rf"(?:(?:{'|'.join(_ORDINALS)})\s+(?:set\s+of\s+)?)?(?:(?:{'|'.join(_LASTING)})\s+)?"
    r"(?:(?:" + "|".join(sorted(_LEVEL_WORDS)) + r")\s+)?"
)
# A subject's words are lower-case but for a joined abbreviation ("S&T achievements", "R&D").
_SUBJECT_WORD = r"(?:[a-z][\w'’-]*+|[A-Z]{1,3}&[A-Z]{1,3}\b)"
_DESCRIBED = re.compile(
    rf"{_ISSUER}{_LEVEL}{_KINDS}\s+{_SUBJECT_LINK}\s+((?:[a-z][\w'’-]*+)(?:,?\s+{_SUBJECT_WORD}){{0,7}})"
)
# A subject may list its parts ("repair, replacement and return of household cars"): a comma
# continues it only into a list of single words that "and" or "or" closes.
_LISTED = re.compile(r"(?:[a-z][\w'’-]*+,\s+)*[a-z][\w'’-]*+,?\s+(?:and|or)\s")
# "Zhejiang's patent regulation": the subject stands before the kind, after a possessive issuer.
_DESCRIBED_BEFORE = re.compile(rf"{_ISSUER}((?:[a-z][\w-]*+\s+){{1,4}}){_KINDS}\b")
# Words that may stand inside a subject ("transforming scientific and technological achievements",
# "the protection of minors") but neither end it nor open it.
_SUBJECT_LINKS = frozenset("and or of the for in on to with from".split())
# The verbs by which a question says what a document does ("the interpretation on extortion set for …",
# "the regulation on parking requires …") end its subject.
_DOCUMENT_VERBS = frozenset(
    "set sets require requires provide provides stipulate stipulates allow allows prohibit prohibits specify "
    "specifies impose imposes fix fixes establish establishes permit permits cover covers treat treats".split()
)
_SUBJECT_STOP_WORDS = STOPWORDS | QUESTION_WORDS | _DOCUMENT_VERBS
# A subject's words are at most this many, not counting its links ("promoting the development and
# use of renewable energy" has five).
_MAX_SUBJECT_WORDS = 6
# "What period do SAMR's rules on repair, replacement and return of cars require?": after do, does or
# did, the last word of the clause is its verb, not the subject's.
_DO_BEFORE = re.compile(r"\b(?:do|does|did)\s+(?:the\s+)?$", re.I)
_CLAUSE_END = re.compile(r"\s*(?:[?？.。,，;；!]|$)")


# "Under the regulations on electricity supply and use, …": a kind and a subject with no issuer, in a
# question that names no place, describe the country's document (电力供应与使用条例).
_DESCRIBED_UNISSUED = re.compile(
    rf"\bthe\s+{_KINDS}\s+{_SUBJECT_LINK}\s+((?:[a-z][\w'’-]*+)(?:,?\s+{_SUBJECT_WORD}){{0,7}})"
)


def issued_by_the_country(description: str) -> bool:
    """Whether a description (``described_documents``) is of a national document: its issuer is national,
    or it has none ("regulations on electricity supply and use")."""
    return bool(NATIONAL_ISSUER.search(description) or re.match(_KINDS, description))


def _subject(question: str, match: re.Match[str], group: int) -> list[str]:
    """The words of a description's subject, matched as ``group`` of ``match``; it ends at a word that
    asks rather than says what is asked about."""
    subject: list[str] = []
    words = _listed_subject(match.group(group)).split()
    for word in words[1:] if words[0] == "the" else words:
        if word in _SUBJECT_STOP_WORDS and word not in _SUBJECT_LINKS:
            break
        if word not in _SUBJECT_LINKS and sum(w not in _SUBJECT_LINKS for w in subject) == _MAX_SUBJECT_WORDS:
            break
        subject.append(word)
    else:  # the subject runs to a comma that opens no list, or to the end of the words matched
        at_comma = len(words) < len(match.group(group).replace(",", " ").split())
        ends_clause = at_comma or _CLAUSE_END.match(question, match.end(group))
        if ends_clause and _DO_BEFORE.search(question, 0, match.start()):
            subject = subject[:-1]
    while subject and subject[-1] in _SUBJECT_LINKS:
        subject.pop()
    return [] if not subject or subject[0] in _SUBJECT_LINKS else subject


def described_documents(question: str, named: list[str] | None = None) -> list[str]:
    """Documents a question describes by issuer, kind and subject ("Guangdong's regulation on domestic services",
    "Zhejiang's patent regulation", the country's "regulations on electricity supply and use").

    Names ``document_names`` finds (``named``, if the caller has them) are left out.
    """
    named = document_names(question) if named is None else named
    described = []
    for match in _DESCRIBED.finditer(question):
        issuer = [w for w in _without_openers(match.group(1).split()) if not w.isdigit()]
        subject = _subject(question, match, 4)
        if not issuer or not subject:
            continue
        description = " ".join([*issuer, match.group(2), match.group(3), *subject])
        if not any(description in name or name in description for name in named):
            described.append(description)
    unissued = () if places_named(question) else _DESCRIBED_UNISSUED.finditer(question)
    for match in unissued:
        if subject := _subject(question, match, 3):
            description = " ".join([match.group(1), match.group(2), *subject])
            if not any(description.lower() in name.lower() for name in named):
                described.append(description)
    for match in _DESCRIBED_BEFORE.finditer(question):
        issuer = [w for w in _without_openers(match.group(1).split()) if not w.isdigit()]
        subject = match.group(2).split()
        # The issuer owns the document ("Zhejiang's patent regulation") or is a place that issues it
        # ("the Shenzhen Special Economic Zone AI industry promotion regulation").
        possessive = bool(issuer) and (issuer[-1].endswith(("'s", "’s")) or bool(places_named(" ".join(issuer))))
        # Links stand inside a subject ("soil and water conservation"), never at its ends.
        inside = [w for w in subject if w in _SUBJECT_STOP_WORDS and not (w in _SUBJECT_LINKS and w != subject[0])]
        description = " ".join([*issuer, *subject, match.group(3)])
        if (
            possessive
            and not inside
            and not all(w in _LEVEL_WORDS | _SERIES_WORDS for w in subject)
            and description not in named
        ):
            described.append(description)
    return list(dict.fromkeys(described))[:MAX_NAMES]


def _listed_subject(text: str) -> str:
    """``text`` up to its first comma that opens no list ("land use, local governments must" → "land use")."""
    for comma in re.finditer(",", text):
        if not _LISTED.match(text[comma.end() :].lstrip()):
            return text[: comma.start()].replace(",", "")
    return text.replace(",", "")


def _without_openers(words: list[str]) -> list[str]:
    """A capitalised run without the words that open a sentence rather than a name ("Under", "The")."""
    while words and words[0] in _OPENERS:
        words = words[1:]
    return words


def asks_to_compare(question: str) -> bool:
    """Whether a question sets things side by side: "how do … differ", "compare", 分别, 有何不同."""
    return _COMPARISON.search(question) is not None


# The kind a name's last word gives, as the titles of that kind end: an English "… Law" is a law
# of the National People's Congress (its title ends in 法), never a city's 条例 of the same matter;
# a Chinese name's ending is its kind.
_NATIONAL_IMPLEMENTING_ENDINGS = ("法实施条例", "法实施细则", "法实施办法")
# A region's rules implementing a law end in their kind after the law's name: 实施《…法》办法.
_IMPLEMENTING_ENDINGS = (
    *_NATIONAL_IMPLEMENTING_ENDINGS,
    "法》办法",
    "法》细则",
    "法》条例",
    "法》若干规定",
    "法》规定",
)
# How a court's rules end: 若干问题的规定, 的解释, 的批复.
_COURT_RULE_ENDINGS = ("规定", "解释", "意见", "批复", "答复")
_LAW_ENDINGS = ("法", *_NATIONAL_IMPLEMENTING_ENDINGS)  # a law, and the State Council's rules implementing it
_ENGLISH_KIND_ENDINGS = {"law": _LAW_ENDINGS, "constitution": ("宪法",)}
_CHINESE_KIND_ENDINGS = ("条例", "规定", "办法", "决定", "解释", "法")
# A judicial interpretation (司法解释) takes one of five forms, by the Supreme People's Court's
# provisions on its judicial interpretation work: "最高法关于审理行政协议案件的司法解释" names
# 最高人民法院关于审理行政协议案件若干问题的规定.
_JUDICIAL_INTERPRETATION_ENDINGS = ("解释", "规定", "规则", "批复", "决定")
# A title's trailing note in brackets ("（2018年修正）") is no part of its kind.
_TRAILING_NOTE = re.compile(r"\s*[（(][^（）()]*[）)]$")


def kind_endings(name: str) -> tuple[str, ...]:
    """How titles of the kind a document name gives end (("法",) for "Food Safety Law"); () when it gives none."""
    if name.startswith(APPLYING_PREFIX):
        return _COURT_RULE_ENDINGS
    # "Implementing Rules of the Patent Law", 专利法实施细则: no law, but the rules implementing one.
    if (
        name.endswith(_NATIONAL_IMPLEMENTING_ENDINGS)
        or _CHINESE_IMPLEMENTING.search(name)
        or (_IMPLEMENTING_NAME.search(name) and _LAW_WORD.search(name))
    ):
        return _IMPLEMENTING_ENDINGS
    if name.isascii():
        return _ENGLISH_KIND_ENDINGS.get(_kind_word(name), ())
    if name.endswith("司法解释"):
        return _JUDICIAL_INTERPRETATION_ENDINGS
    ending = _chinese_kind_ending(name)
    return _LAW_ENDINGS if ending == "法" else (ending,) if ending else ()


def _chinese_kind_ending(title: str) -> str:
    """The word that ends a Chinese title or name and gives its kind (条例, 规定, 法 …), or ""."""
    return next((e for e in _CHINESE_KIND_ENDINGS if title.endswith(e)), "")


# How the official English names render the kinds of Chinese titles: 条例 "Regulations", 规定
# "Provisions", 办法 "Measures". Translations vary (a 规定 is "Regulations" now and then), so
# the kind only settles between titles that lie equally near a name.
_USUAL_RENDERINGS = {
    "regulation": ("条例",),
    "regulations": ("条例",),
    "ordinance": ("条例",),
    "provisions": ("规定",),
    "measures": ("办法",),
    "rules": ("规则", "细则", "规定"),
    "interpretation": ("解释",),
    "interpretations": ("解释",),
    "decision": ("决定",),
}


def usual_endings(name: str) -> tuple[str, ...]:
    """How titles usually end whose English name ends as this does (("条例",) for "… Regulations"); () if unknown."""
    return _USUAL_RENDERINGS.get(_kind_word(name), ()) if name.isascii() else ()


def _kind_word(name: str) -> str:
    """The word that gives an English name's kind, lower-cased: its last, or the one before "on …"
    ("Regulations on Place Name Administration"); "" when there is none."""
    words = [w.lower() for w in name.split()]
    # "Implementing Rules of the … Law" names the rules (实施细则), not the law they implement. A name
    # made from "the … Law's implementing rules" (``IMPLEMENTING_PREFIX``) keeps the law's kind: the
    # question did not say which kind of rules.
    implementing = len(words) > 2 and words[0] == "implementing" and words[2] in _OF
    if implementing and words[1] in KIND_WORDS and not name.startswith(IMPLEMENTING_PREFIX):
        return words[1]
    if words and words[-1] in KIND_WORDS:
        return words[-1]
    return next((w for w, after in zip(words, words[1:], strict=False) if w in KIND_WORDS and after in _OF), "")


def without_kind(title: str) -> str:
    """A title without its trailing note and the word that gives its kind (条例, 规定, 法 …)."""
    title = _TRAILING_NOTE.sub("", title)
    return title.removesuffix(_chinese_kind_ending(title))


def title_has_ending(title: str, endings: tuple[str, ...]) -> bool:
    """Whether a title, its trailing note set aside, ends as ``endings`` say.

    A law's 法 is no ending of 办法 (Measures): "the Sole Proprietorship Enterprise Law" looks
    among the laws, not also among measures such as 企业国有资产产权登记管理办法.
    """
    title = _TRAILING_NOTE.sub("", title)
    kind = _chinese_kind_ending(title)
    return any(title.endswith(e) and (e != "法" or kind == "法") for e in endings)


# The country's name that opens national titles, left out when a question writes a title.
COUNTRY_PREFIX = "中华人民共和国"
# A written title is at least this long: 民法典, 公司法.
_MIN_WRITTEN_TITLE = 3
_MAX_WRITTEN_TITLE = 60
# Characters that make a title's final 法 part of another word: 监察法规, 专利法律, 刑法学 (but 法规定 is 法 + 规定).
_WORD_AFTER_FA = frozenset("规律学典院官人制")
# A law's or a regulation's short name keeps its first character, its last two and some in between,
# in order: 科技进步法 is 科学技术进步法, 农技推广法 农业技术推广法, 杭州跨境电商促进条例
# 杭州市跨境电子商务促进条例. At least this long, and this share of the name.
_MIN_SHORT_NAME = 4
_MIN_SHORT_NAME_SHARE = 0.5
_SHORTENED_KINDS = ("法", "条例")


def _is_short_name(short: str, name: str) -> bool:
    """Whether ``short`` abbreviates a law's or a regulation's ``name`` (both without 中华人民共和国)."""
    if not (_MIN_SHORT_NAME <= len(short) < len(name) and len(short) >= _MIN_SHORT_NAME_SHARE * len(name)):
        return False
    if short[0] != name[0] or short[-2:] != name[-2:]:
        return False
    remaining = iter(name)
    return all(c in remaining for c in short)


# A province's or city's place and the rest of its title: 重庆 and 港口条例 of 重庆市港口条例.
_PLACE_WITH_SUFFIX = re.compile(r"^(.{2,3}?)(?:省|市)(?=.{2})")


def _place_and_rest(title: str) -> tuple[str, str, str] | None:
    """A local title's place, that place as the title writes it and the rest: 重庆, 重庆市 and 港口条例."""
    match = _PLACE_WITH_SUFFIX.match(title)
    if not match or not _names_a_place(match.group(1)):
        return None
    return match.group(1), title[: match.end()], title[match.end() :]


@lru_cache(maxsize=4096)
def _names_a_place(name: str) -> bool:
    """Whether a title's opening characters name a place. Kept: a library's 1,852 local titles open
    with 69 places, and looking each title's up in the gazetteer took 0.7 s of every start."""
    return bool(places_named(name))


def _unbracketed(title: str) -> str:
    """A title as typed without the 《》 of the law inside it and that law's 中华人民共和国:
    "国务院实施民族区域自治法若干规定" for 国务院实施《中华人民共和国民族区域自治法》若干规定."""
    return title.replace(f"《{COUNTRY_PREFIX}", "《").replace("《", "").replace("》", "")


def _shortenable_forms(title: str) -> set[str]:
    """The ways a question may write a title out without 《》, and shorten it (``WrittenTitles``): a
    local one without the 省 or 市 after its place among them ("重庆港口条例")."""
    bare = _TRAILING_NOTE.sub("", title)
    forms = {title, bare, bare.removeprefix(COUNTRY_PREFIX), _unbracketed(bare)}
    if parts := _place_and_rest(bare):
        forms.add(parts[0] + parts[2])
    return forms


def _said_with_de(title: str) -> set[str]:
    """A local title said with 的 after its place ("北京的实验动物管理条例", "北京市的…"). Never shortened
    further: "北京市的条例" is any of Beijing's."""
    parts = _place_and_rest(_TRAILING_NOTE.sub("", title))
    return {f"{parts[0]}的{parts[2]}", f"{parts[1]}的{parts[2]}"} if parts else set()


class WrittenTitles:
    """Titles a Chinese question writes out without 《》: "浙江省促进科技成果转化条例规定，…".

    The encoder finds a bracketed name's title; a title written in the running text is the same
    name, and is found here by its exact words, the longest first, or as a law's or a regulation's
    short name (科技进步法, 杭州跨境电商促进条例). Each written title maps to every document that bears
    it (a law's dated versions), in the order the titles were given.
    """

    def __init__(self, titles: list[str]) -> None:
        self._positions: dict[str, list[int]] = {}
        shortenable: set[str] = set()
        for position, title in enumerate(titles):
            forms = _shortenable_forms(title)
            shortenable |= forms
            for form in forms | _said_with_de(title):
                if _MIN_WRITTEN_TITLE <= len(form) <= _MAX_WRITTEN_TITLE and not form.isascii():
                    self._positions.setdefault(form, []).append(position)
        self._finals = frozenset(form[-1] for form in self._positions)
        # Laws and regulations by their first character and last two, for their short names.
        self._shortened: dict[tuple[str, str], list[str]] = {}
        for form in self._positions:
            shortened_kind = form.endswith(_SHORTENED_KINDS) and not form.startswith(COUNTRY_PREFIX)
            if form in shortenable and shortened_kind and len(form) > _MIN_SHORT_NAME:
                self._shortened.setdefault((form[0], form[-2:]), []).append(form)

    def _full_name(self, short: str) -> str | None:
        """The one title ``short`` abbreviates; None when it abbreviates none, or titles of several documents
        ("河南科技条例" of both 河南省科学技术进步条例 and 河南省科学技术普及条例)."""
        names = [name for name in self._shortened.get((short[0], short[-2:]), ()) if _is_short_name(short, name)]
        return names[0] if len({tuple(self._positions[name]) for name in names}) == 1 else None

    def find(self, question: str) -> list[list[int]]:
        """For each title the question writes outside 《》, the positions of the documents bearing it."""
        text = _QUOTED.sub(_blanked, question)
        found: list[tuple[int, int, str]] = []
        for end in range(_MIN_WRITTEN_TITLE, len(text) + 1):
            if text[end - 1] not in self._finals:
                continue
            # "网络安全法规定…" is the law and 规定 (stipulates), not 法规: 规定 after 法 ends no 法规.
            if text[end - 1] == "法" and text[end : end + 1] in _WORD_AFTER_FA and text[end : end + 2] != "规定":
                continue
            shortened = text[end - 2 : end].endswith(_SHORTENED_KINDS)
            for start in range(max(0, end - _MAX_WRITTEN_TITLE), end - _MIN_WRITTEN_TITLE + 1):
                written = text[start:end]
                if written in self._positions:
                    found.append((start, end, written))
                    break  # the longest title ending here
                if shortened and (name := self._full_name(written)):
                    found.append((start, end, name))
                    break
        taken: list[tuple[int, int, str]] = []
        for start, end, title in sorted(found, key=lambda span: (span[0] - span[1], span[0])):
            if all(end <= s or start >= e for s, e, _ in taken):
                taken.append((start, end, title))
        return [self._positions[title] for _, _, title in sorted(taken)]
