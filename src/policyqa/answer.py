"""Answer stage: an extractive answer whose every sentence carries its citation.

The sentences of the retrieved passages are scored against the question (their
embeddings were computed at index time), the best few are kept in reading
order, and each is followed by the marker [n] of the passage it quotes. A
sentence further down is kept when it holds question terms the others lack (the
other part of a two-part question), and a few more when they come from passages
already cited. Whether to answer at all is decided before (``Assistant``: the
relevance floor, then verification); ``not_covered`` words an abstention.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from .asks import ENCOURAGED_NOT_REQUIRED, FORBIDDEN_NOT_ALLOWED, REASONS_UNSTATED
from .definitions import asks_for_definition, definitions_asked
from .figures import asked_figure, items_asked, question_parts
from .index import LoadedIndex
from .settings import Settings
from .text import is_cjk
from .types import NOT_COVERED, PARTIAL, Answer, Citation, Passage, Query

NOT_COVERED_EN = "Not covered by the corpus: no passage answers this question closely enough."
NOT_COVERED_ZH = "语料未涵盖此问题：没有足够相关的段落可以回答。"
MAX_ANSWER_CHARS = 700
# A sentence repeated by overlapping passages, or a near paraphrase, adds nothing.
_DUPLICATE_COSINE = 0.97
# A sentence scoring this far below the best one pads the answer with a weaker source.
_MAX_SCORE_GAP = 0.2
# ... unless it holds question terms no chosen sentence holds, this share of the question's
# term weight at least: the other part of a two-part question ("按什么标准支付？…有什么上限？")
# is asked in other words than the part the best sentence answers. Within a wider gap only.
_MIN_NEW_TERM_SHARE = 0.15
_MAX_COVERAGE_GAP = 0.4
# Sentences an answer may quote beyond ``answer_sentences`` from passages it already cites:
# the rest of a cited article or paragraph costs the reader no new source to check.
_MORE_FROM_CITED = 3
# A quoted sentence that opens with one of these leans on the sentence before it.
_CONNECTIVE = re.compile(
    r"^(?:但是|但|因此|所以|同时|此外|而且|其一|其二|其三|一方面|另一方面|首先|其次|最后|例如|这|该)"
)


# Weights of a sentence's score, chosen on the gold set (docs/evaluation.md): similarity
# to the question, its passage's retrieval score, the share of the question's terms it
# holds (weighted by rarity), the same share for the earlier sentences of its paragraph
# (a paragraph that opens "当技术处于泡沫破裂低谷期" is about that stage to its end), and
# holding the kind of figure ("30%", "五万元") that the question asks for, and defining a term
# (…，是指…) when the question asks what one means.
_W_COSINE, _W_PASSAGE, _W_TERMS, _W_LEAD, _W_FIGURE = 0.3, 0.3, 0.4, 0.5, 0.2
# Chosen on the dev halves (docs/evaluation.md): 0.4 quoted other terms' definitions first.
_W_DEFINITION = 0.2


def _question_terms(query: Query, index: LoadedIndex) -> tuple[list[str], np.ndarray]:
    """The question's lexical terms (single characters only if Chinese) and their rarity (BM25's idf)."""
    terms = sorted({t for t in query.tokens if len(t) > 1 or is_cjk(t)})
    return terms, index.lexical.idf(terms)


def _sentence_scores(
    query: Query, passages: list[Passage], index: LoadedIndex, lead_sources: dict[int, int] | None = None
) -> list[tuple[float, int, int]]:
    """(score, passage rank, sentence row) for every sentence of the passages, best first.

    ``lead_sources`` is filled with the earlier sentence of its paragraph that holds more of the
    question than a sentence itself does, the one its lead came from.
    """
    seen: set[int] = set()
    rows: list[int] = []
    ranks: list[int] = []
    for rank, passage in enumerate(passages):
        for row in passage.sentence_rows:
            if row not in seen:
                seen.add(row)
                rows.append(row)
                ranks.append(rank)
    if not rows:
        return []
    cosine = index.sentence_vectors[rows] @ query.vector
    terms, weights = _question_terms(query, index)
    total = float(weights.sum())
    figure = asked_figure(query.text)
    defining: set[int] = set()
    if asks_for_definition(query.text):
        defining = definitions_asked(query.text, terms, {row: index.sentences[row].text for row in rows})
    overlaps: dict[int, float] = {}

    weighted = list(zip(terms, weights.tolist(), strict=True))

    def overlap(row: int) -> float:
        if row not in overlaps:
            overlaps[row] = _term_share(index.sentences[row].text, weighted, total)
        return overlaps[row]

    scored = []
    for row, rank, cos in zip(rows, ranks, cosine.tolist(), strict=True):
        sentence = index.sentences[row]
        lead, earlier = 0.0, row - 1
        while earlier >= 0 and (index.sentences[earlier].doc_id, index.sentences[earlier].block) == (
            sentence.doc_id,
            sentence.block,
        ):
            if overlap(earlier) > lead:
                lead = overlap(earlier)
                if lead_sources is not None and lead > overlap(row):
                    lead_sources[row] = earlier
            earlier -= 1
        if _LIST_ITEM.match(sentence.text):
            lead = max(lead, _list_head_overlap(row, index, overlap))
        has_figure = 1.0 if figure is not None and figure.search(sentence.text) else 0.0
        has_definition = 1.0 if row in defining else 0.0
        score = (
            _W_COSINE * cos
            + _W_PASSAGE * passages[rank].score
            + _W_TERMS * overlap(row)
            + _W_LEAD * lead
            + _W_FIGURE * has_figure
            + _W_DEFINITION * has_definition
        )
        scored.append((score, rank, row))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return scored


def _term_share(text: str, weighted: Sequence[tuple[str, float]], total: float) -> float:
    """The share of ``total`` that the question terms found in ``text`` weigh (``weighted``: term, rarity)."""
    lowered = text.lower()
    return sum(weight for term, weight in weighted if term in lowered) / total if total > 0 else 0.0


def _list_head_overlap(item: int, index: LoadedIndex, overlap: Callable[[int], float]) -> float:
    """The question's share in the head of the list that sentence ``item`` belongs to, 0 when no head is found.

    A list's items stand in paragraphs of their own, but each is read under its head ("被执行人为
    自然人的，被限制高消费后，不得有以下行为：" before "（一）乘坐交通工具时，选择飞机…"): the head says
    what the item is about, as the opening of a paragraph does for the sentences after it.
    """
    doc_id = index.sentences[item].doc_id
    earlier = item - 1
    for _ in range(_MAX_LIST_SENTENCES):
        if earlier < 0 or index.sentences[earlier].doc_id != doc_id:
            return 0.0
        text = index.sentences[earlier].text.rstrip()
        if text.endswith(_OPENS_LIST):
            return overlap(earlier)
        if not (_LIST_ITEM.match(text) or text.endswith(_RUNS_ON)):
            return 0.0
        earlier -= 1
    return 0.0


def not_covered(query: Query, passages: list[Passage], reason: str) -> Answer:
    """The abstention, in the question's language, with the reason."""
    message = NOT_COVERED_ZH if query.chinese else NOT_COVERED_EN
    return Answer(query.text, message, True, (), tuple(passages), reason, NOT_COVERED)


def partial(
    query: Query,
    answer: Answer,
    missing: str,
    reason: str,
    unmentioned: tuple[str, ...] = (),
    versions: tuple[str, str] | None = None,
) -> Answer:
    """The answer led by what the texts do not state ("the texts state no such amount").

    With ``unmentioned``, ``missing`` is the title of the document that never uses those words (empty:
    no text uses them, the terms the question quotes);
    with ``versions`` (an earlier version's date, the date of the one in force), ``missing`` is
    the article asked for, which only the earlier version has.
    """
    if answer.abstained:
        return answer
    if versions:
        earlier, in_force = versions
        lead = (
            f"现行版本（{in_force}）没有{missing}；以下是{earlier}版本的规定："
            if query.chinese
            else f"The version in force ({in_force}) has no {missing}. What the {earlier} version says:"
        )
        return replace(answer, answer=f"{lead}\n{answer.answer}", abstain_reason=reason, outcome=PARTIAL)
    # The document that lacks the words may not be the one quoted: others may treat the matter.
    sources = {c.title == missing for c in answer.citations}
    if unmentioned and not missing:  # terms the question quotes, which no text says
        quoted = "、".join(f"“{term}”" for term in unmentioned)
        lead = (
            f"文本均未使用{quoted}；相关的内容如下："
            if query.chinese
            else f"No text uses {quoted}. What the texts state on the matter:"
        )
    elif unmentioned and query.chinese:
        where = "其中" if sources == {True} else "其他文本中" if sources == {False} else ""
        lead = f"《{missing}》未提及{'、'.join(unmentioned)}；{where}相关的内容如下："
    elif unmentioned:
        where = "it states" if sources == {True} else "other texts state" if sources == {False} else "the texts state"
        lead = f"《{missing}》 does not mention {', '.join(unmentioned)}. What {where} on the matter:"
    elif reason == REASONS_UNSTATED:
        lead = (
            "文本只规定怎么做，未说明这样规定的理由；相关规定如下："
            if query.chinese
            else "The texts lay down rules without giving their reasons. What they state on the matter:"
        )
    elif reason == FORBIDDEN_NOT_ALLOWED:  # ``missing``: where the texts forbid it
        lead = (
            f"文本并未允许问题所说的做法，而是加以禁止：{missing}。相关规定如下："
            if query.chinese
            else f"The texts forbid what the question takes as allowed: {missing}. What they state on the matter:"
        )
    elif reason == ENCOURAGED_NOT_REQUIRED:  # ``missing``: where the texts only encourage it
        lead = (
            f"文本只是鼓励，并未强制问题所说的做法：{missing}。相关规定如下："
            if query.chinese
            else f"The texts encourage, not require, what the question takes as required: {missing}. "
            "What they state on the matter:"
        )
    elif query.chinese:
        lead = f"文本未规定所问的{missing}；相关规定如下："
    else:
        lead = f"The texts state no such {missing}. What they state on the matter:"
    return replace(answer, answer=f"{lead}\n{answer.answer}", abstain_reason=reason, outcome=PARTIAL)


def split_lead(text: str) -> tuple[str, str]:
    """A partial answer's text as its first line (what the texts do not state) and the quotes after it."""
    lead, _, rest = text.partition("\n")
    return lead, rest


def partial_lead(answer: Answer) -> str:
    """What a partial answer says first (the texts state no such figure, the document never mentions …); else ""."""
    return split_lead(answer.answer)[0] if answer.outcome == PARTIAL else ""


def compose_answer(query: Query, passages: list[Passage], index: LoadedIndex, settings: Settings) -> Answer:
    """Pick the answering sentences, order them, number their passages."""
    chosen: list[tuple[int, int]] = []
    chosen_vectors: list[np.ndarray] = []
    length = 0
    lead_sources: dict[int, int] = {}
    scored = _sentence_scores(query, passages, index, lead_sources)
    # An enumeration ("the five stages") gets room for every item it names, and one more.
    max_sentences = max(settings.answer_sentences, (items_asked(query.text) or 0) + 1)
    max_chars = MAX_ANSWER_CHARS * max_sentences // settings.answer_sentences
    from_any_passage = max_sentences
    max_sentences += _MORE_FROM_CITED
    floor = scored[0][0] - _MAX_SCORE_GAP if scored else 0.0
    for score, rank, row in scored:
        if score < floor:
            break
        if len(chosen) >= from_any_passage and all(rank != r for r, _ in chosen):
            continue
        vector = index.sentence_vectors[row]
        if any(float(vector @ v) > _DUPLICATE_COSINE for v in chosen_vectors):
            continue
        text = index.sentences[row].text
        if chosen and length + len(text) > max_chars:
            continue
        chosen.append((rank, row))
        chosen_vectors.append(vector)
        length += len(text)
        if len(chosen) == max_sentences:
            break
    if len(chosen) < max_sentences and scored:
        chosen += _covering_rest(
            query, scored, chosen, chosen_vectors, index, (from_any_passage, max_sentences), max_chars - length
        )
    if scored:
        chosen += _covering_parts(query, scored, chosen, chosen_vectors, index)
    first = next((row for _, rank, row in scored if rank == 0), None)
    if first is not None and all(rank != 0 for rank, _ in chosen):
        # The first passage ranked best of all; an answer quoting none of it has passed over the
        # likeliest evidence for sentences that share more words with the question.
        chosen.append((0, first))
    chosen = _with_lead_sources(chosen, lead_sources, passages)
    chosen = _with_clause_context(_with_leading_context(chosen, passages, index), passages, index)
    chosen = _with_list_items(chosen, passages, index)
    chosen = _with_gaps_filled(chosen, passages, index)
    chosen.sort()  # reading order: by passage rank, then by position in the passage
    numbers: dict[int, int] = {}
    quoted: dict[int, list[int]] = {}
    parts = []
    following = set(chosen)
    for rank, row in chosen:
        n = numbers.setdefault(rank, len(numbers) + 1)
        quoted.setdefault(rank, []).append(row)
        text = index.sentences[row].text
        if text.rstrip().endswith(_CONTINUES) and (rank, row + 1) in following:
            # A clause runs on into the next quoted clause: one sentence, one marker.
            parts.append(text)
        else:
            parts.append(f"{text}[{n}] ")
    answer_text = "".join(parts).rstrip()
    citations = tuple(
        Citation.of(numbers[rank], passages[rank], [index.sentences[r].text for r in quoted[rank]]) for rank in numbers
    )
    return Answer(query.text, answer_text, False, citations, tuple(passages))


def _covering_rest(
    query: Query,
    scored: list[tuple[float, int, int]],
    chosen: list[tuple[int, int]],
    chosen_vectors: list[np.ndarray],
    index: LoadedIndex,
    limits: tuple[int, int],
    room: int,
) -> list[tuple[int, int]]:
    """Sentences below the score gap that add question terms the chosen ones lack, best first.

    ``limits``: how many sentences the answer may quote from any passage, and from those it cites.
    """
    from_any_passage, max_sentences = limits
    terms, idf = _question_terms(query, index)
    weights = dict(zip(terms, idf.tolist(), strict=True))
    total = sum(weights.values())
    if total <= 0:
        return []
    covered = {t for _, row in chosen for t in terms if t in index.sentences[row].text.lower()}
    taken = {row for _, row in chosen}
    floor = scored[0][0] - _MAX_COVERAGE_GAP
    added: list[tuple[int, int]] = []
    for score, rank, row in scored:
        if score < floor or len(chosen) + len(added) >= max_sentences:
            break
        if row in taken:
            continue
        cited = any(rank == r for r, _ in chosen + added)
        if not cited and len(chosen) + len(added) >= from_any_passage:
            continue
        text = index.sentences[row].text
        new = {t for t in terms if t not in covered and t in text.lower()}
        if sum(weights[t] for t in new) < _MIN_NEW_TERM_SHARE * total or len(text) > room:
            continue
        vector = index.sentence_vectors[row]
        if any(float(vector @ v) > _DUPLICATE_COSINE for v in chosen_vectors):
            continue
        added.append((rank, row))
        covered |= new
        room -= len(text)
    return added


# A part is answered by a chosen sentence holding this share of its terms' weight.
_PART_COVERED_SHARE = 0.5
# A sentence quoted for a part must hold this share of its terms' weight, and be no longer than this.
_MIN_PART_SHARE = 0.34
_MAX_PART_SENTENCE_CHARS = 300


def _part_terms(query: Query, part: str, terms: list[str]) -> list[str]:
    """The question's terms that come from one part: its own words, or (English) its phrases' renderings."""
    if query.chinese:
        return [t for t in terms if t in part]
    lowered = part.lower()
    from_part = {t for phrase, renderings in query.renderings if phrase in lowered for t in renderings}
    return [t for t in terms if t in from_part or t in lowered]


def _covering_parts(
    query: Query,
    scored: list[tuple[float, int, int]],
    chosen: list[tuple[int, int]],
    chosen_vectors: list[np.ndarray],
    index: LoadedIndex,
) -> list[tuple[int, int]]:
    """For each part of a question of several that no chosen sentence answers, the sentence that answers it best.

    "…遛狗时犬绳长度有什么限制？携犬出户不及时清理犬粪会被罚多少钱？": the fines fill the answer, and the
    leash's length, asked first, must have its own sentence. The best is the sentence holding most
    of the part's terms (by rarity), then the best scored, among those the answer may quote.
    """
    parts = question_parts(query.text, query.chinese)
    if len(parts) < 2:
        return []
    terms, idf = _question_terms(query, index)
    weights = dict(zip(terms, idf.tolist(), strict=True))
    taken = {row for _, row in chosen}
    added: list[tuple[int, int]] = []
    vectors = list(chosen_vectors)
    floor = scored[0][0] - _MAX_COVERAGE_GAP
    for part in parts:
        weighted = [(t, weights[t]) for t in _part_terms(query, part, terms)]
        total = sum(weight for _, weight in weighted)
        if total <= 0:
            continue
        if any(
            _term_share(index.sentences[row].text, weighted, total) >= _PART_COVERED_SHARE for _, row in chosen + added
        ):
            continue
        best: tuple[float, float, int, int] | None = None
        for score, rank, row in scored:
            if score < floor:
                break
            if row in taken or len(index.sentences[row].text) > _MAX_PART_SENTENCE_CHARS:
                continue
            candidate = (_term_share(index.sentences[row].text, weighted, total), score, rank, row)
            if candidate[0] >= _MIN_PART_SHARE and (best is None or candidate[:2] > best[:2]):
                best = candidate
        if best is None:
            continue
        vector = index.sentence_vectors[best[3]]
        if any(float(vector @ v) > _DUPLICATE_COSINE for v in vectors):
            continue
        added.append((best[2], best[3]))
        taken.add(best[3])
        vectors.append(vector)
    return added


def _with_lead_sources(
    chosen: list[tuple[int, int]], lead_sources: dict[int, int], passages: list[Passage]
) -> list[tuple[int, int]]:
    """Add the sentence a quote's paragraph opens its topic with, when the quote was read under it.

    "六个月以上不满一年的，按一年计算" scores for the article's opening, "经济补偿按劳动者在本单位工作的年限，
    每满一年支付一个月工资的标准向劳动者支付", which holds the question's words: the opening is the answer's
    first half, and is quoted with it (from the same passage, cited the same way).
    """
    out = list(chosen)
    taken = {row for _, row in chosen}
    for rank, row in chosen:
        source = lead_sources.get(row)
        if source is not None and source not in taken and source in passages[rank].sentence_rows:
            out.append((rank, source))
            taken.add(source)
    return out


def _with_leading_context(
    chosen: list[tuple[int, int]], passages: list[Passage], index: LoadedIndex
) -> list[tuple[int, int]]:
    """Add the sentence before a passage's first quote when that quote opens with a connective.

    "但是, 如果技术应用失败…" needs "当技术处于泡沫破裂低谷期…" before it to be read alone; the
    added sentence is from the same paragraph and passage, and cited the same way.
    """
    out = list(chosen)
    taken = {row for _, row in chosen}
    for rank in sorted({rank for rank, _ in chosen}):
        first = min(row for r, row in chosen if r == rank)
        previous = first - 1
        sentence = index.sentences[first]
        if (
            _CONNECTIVE.match(sentence.text)
            and previous in passages[rank].sentence_rows
            and previous not in taken
            and index.sentences[previous].block == sentence.block
        ):
            out.append((rank, previous))
            taken.add(previous)
    return out


# A list item ("（一）…", "1. …", "一是…") reads only under its list head.
_LIST_ITEM = re.compile(r"^(?:[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[.、．]|[一二三四五六七八九十]+是)")
# A sentence ending so opens a list ("有下列情形之一的："); one ending so runs on into the next.
_OPENS_LIST = ("：", ":")
_RUNS_ON = ("；", ";")
_CONTINUES = _RUNS_ON + _OPENS_LIST
# How far back a quote may reach for the clauses it depends on.
_MAX_CONTEXT_SENTENCES = 4


def _with_clause_context(
    chosen: list[tuple[int, int]], passages: list[Passage], index: LoadedIndex
) -> list[tuple[int, int]]:
    """Add the clauses and list head a quote depends on, from the same passage.

    A sentence cut at "；" continues the clause before it ("非职务发明创造，申请专利的权利属于
    发明人或者设计人；申请被批准后，该发明人或者设计人为专利权人"), and a numbered item
    ("（一）…") continues the sentence that opens the list ("有下列情形之一的：").
    """
    out = list(chosen)
    taken = {row for _, row in chosen}
    for rank, row in chosen:
        rows = set(passages[rank].sentence_rows)
        sentence = index.sentences[row]
        is_item = bool(_LIST_ITEM.match(sentence.text))
        previous = row - 1
        for _ in range(_MAX_CONTEXT_SENTENCES):
            if previous not in rows:
                break
            text = index.sentences[previous].text.rstrip()
            same_block = index.sentences[previous].block == sentence.block
            if same_block and text.endswith(_CONTINUES):
                pass  # a clause of the same sentence, or the head of its list
            elif is_item and (_LIST_ITEM.match(text) or text.endswith(_OPENS_LIST)):
                pass  # an earlier item of the same list, or its head
            else:
                break
            if previous not in taken:
                out.append((rank, previous))
                taken.add(previous)
            if text.endswith(_OPENS_LIST):
                break  # the list head reached
            previous -= 1
    return out


# How many sentences after a list head ("有下列情形之一的：") a quote may take.
_MAX_LIST_SENTENCES = 8


def _with_list_items(
    chosen: list[tuple[int, int]], passages: list[Passage], index: LoadedIndex
) -> list[tuple[int, int]]:
    """Add the items a quoted list head announces, from the same passage.

    A quote ending "应当订立无固定期限劳动合同：" says that something follows and not what: the
    numbered items after it ("（一）…", "1. …") and the clauses they run on with ("…；") are the
    answer it introduces.
    """
    out = list(chosen)
    taken = {row for _, row in chosen}
    for rank, row in chosen:
        previous_text = index.sentences[row].text.rstrip()
        if not previous_text.endswith(_OPENS_LIST):
            continue
        rows = set(passages[rank].sentence_rows)
        following = row + 1
        for _ in range(_MAX_LIST_SENTENCES):
            if following not in rows:
                break
            text = index.sentences[following].text.rstrip()
            if not (_LIST_ITEM.match(text) or previous_text.endswith(_CONTINUES)):
                break
            if following not in taken:
                out.append((rank, following))
                taken.add(following)
            previous_text = text
            following += 1
    return out


# A quote may leave out at most this many sentences between two of its sentences of one paragraph.
_MAX_GAP_SENTENCES = 3


def _with_gaps_filled(
    chosen: list[tuple[int, int]], passages: list[Passage], index: LoadedIndex
) -> list[tuple[int, int]]:
    """Add the sentences between two quoted sentences of one paragraph, when few are left out.

    "产学研各方目标错位是…原因。" and "此外, 主体间缺乏长期、稳定的合作形式…" quoted with the two
    sentences between them left out read as one argument with a hole in it; the sentences
    between say what the first one means ("企业以经济效益为导向…高校和科研机构更注重学术价值…").
    """
    out = list(chosen)
    taken = {row for _, row in chosen}
    for rank in {rank for rank, _ in chosen}:
        rows = sorted(row for r, row in out if r == rank)
        for first, last in itertools.pairwise(rows):
            if not 1 < last - first <= _MAX_GAP_SENTENCES + 1:
                continue
            if index.sentences[first].block != index.sentences[last].block:
                continue
            for row in range(first + 1, last):
                if row not in taken and row in passages[rank].sentence_rows:
                    out.append((rank, row))
                    taken.add(row)
    return out
