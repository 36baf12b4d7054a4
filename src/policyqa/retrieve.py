"""Retrieval stage: dense (FAISS) and lexical (BM25) search, fused, de-duplicated.

Fusion adds the BM25 score, scaled into [0, 1] by the best score of the query,
to the cosine similarity with a small weight. An English question has no
Chinese tokens for BM25 beyond its glossary terms, so the lexical part can only
lift passages, never push a strong dense hit out of the top k. Overlapping
passages of one document (the chunker overlaps them by a sentence) are merged
into one. The candidate rows come from a store (``stores``): FAISS and BM25 in this
process by default, or a Milvus collection; the scoring after them is the same.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache

import numpy as np

from .articles import articles_named, asks_for_penalty, asks_what_article_says, violated_articles
from .asks import BODY_ACTING, asks_for_body, asks_for_overview
from .chunk import Chunk
from .clean import ABSTRACT
from .definitions import asks_for_definition, defined_term, english_term_asked, terms_asked
from .dictionary import chinese_for, match_phrases
from .embed import Encoder
from .expand import pairs_in_a_row, rendered_in_a_row
from .figures import YEAR, asked_figure, asks_for_list, enumerates
from .index import LoadedIndex, document_centroids
from .lexical import STOPWORDS, SYNONYM_SEPARATOR, cut, synonym_set, term_tokens
from .metadata import KIND_LOCAL_REGULATION, LEGAL_KINDS, version_year
from .named import (
    APPLYING_PREFIX,
    COUNTRY_PREFIX,
    KIND_CUES,
    KIND_WORDS,
    WrittenTitles,
    asks_to_compare,
    described_documents,
    document_names,
    issued_by_the_country,
    kind_endings,
    title_has_ending,
    usual_endings,
    without_document_names,
    without_kind,
    without_owning_issuer,
)
from .places import in_force_at, places_asked, places_named
from .settings import Settings
from .stores import CandidateStore, LocalStore
from .text import is_cjk
from .types import KIND_PAPER, Passage, Query, SearchFilter, admitted

# A name's nearest titles: those above the floor and within the margin of the nearest (measured on
# law names and their titles: the right title lay 0.52-0.79 from its English name, at most 0.02
# below the nearest).
NAMED_TITLE_FLOOR = 0.5
NAMED_TITLE_MARGIN = 0.03
# A named title's word beyond the name's renderings counts for the question when rarer than this
# (BM25's idf: in fewer than about 1 in 150 passages).
RARE_TITLE_WORD_IDF = 5.0
# Letters two English words share at their start to be one word said again ("inspection", "inspected").
_STEM_LETTERS = 5
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]+")
# Words of an English name that say which country or what kind, found in any number of titles.
_NAME_FILLER_WORDS = (
    KIND_WORDS
    | STOPWORDS
    | frozenset("china china's chinese prc people's republic national implementing implementation".split())
)
# A question whose vector lies this near a document's title points at that document as a name
# does ("被限制高消费的自然人被执行人…" at 0.66 from 最高人民法院关于限制被执行人高消费的若干规定): its title
# words leave the BM25 query (Retriever._without_title_words). Chosen on the dev half: 0.6 and
# 0.65 gave the same, 0.55 and 0.7 less.
POINTED_TITLE_FLOOR = 0.6
# A document whose bonus leads every other's by this much is the one the question singles out:
# half a kind cue ("the paper") or a name's bonus. On the dev half 0.05, 0.1 and 0.2 gave the same.
LEADING_MARGIN = 0.1
# An English term asked about points at a term its document defines when this near it (measured:
# "commercial cryptography" 0.56 from 商用密码, "key energy-using unit" 0.61 from 重点用能单位; the
# next unrelated terms 0.17-0.45).
DEFINED_TERM_FLOOR = 0.5
# A law's first article says why it was made (第一条 为了…，制定本条例): it restates the title, and
# answers only a question about the law's purpose.
_PURPOSE_ARTICLE = re.compile(r"第一条\s*(?:为了|为)[^。]{0,160}?制定本(?:法|条例|办法|规定|细则|决定|规则)")
_ASKS_PURPOSE = re.compile(r"\bpurposes?\b|\baims?\b|\bobjectives?\b|\bgoals?\b|\bwhy\b|目的|宗旨|为什么|为何", re.I)
# Chosen on the dev half at the whole library: key points 0.847 → 0.860, every other figure equal.
PURPOSE_PENALTY = 0.05
# A document described rather than named ("Guangdong's regulation on domestic services") is taken
# only when its nearest title is this much nearer than every other title.
DESCRIBED_TITLE_SEPARATION = 0.05
# Where the encoder sets no title apart (a court's rules all lie near each other), a description
# points at the one title that renders nearly all its words ("the State Council's provisions banning
# regional blockades": 国务院关于禁止在市场经济活动中实行地区封锁的规定, 1.0; the next, 0.31), shares
# weighted by rarity (``_title_word_shares``); chosen on the dev half and the read held-out sets.
DESCRIBED_SHARE_FLOOR = 0.8
DESCRIBED_SHARE_SEPARATION = 0.3
NAME_CACHE_SIZE = 4_096
# The documents found for the names of the last questions: the answer stage asks again (verification).
QUESTION_CACHE_SIZE = 256
# A passage folds overlapping neighbours of its section up to this many chunks' length; a
# neighbour that would make it longer stays out. Two chunks left out the neighbour that held
# the evidence (dev: seven texts MRR 0.888 → 0.906, within 1,500 characters 0.883 → 0.905 at
# three; 1.5 lost at the library; four and no bound gave what three gives).
MERGED_CHUNKS = 3
# Candidates read for word pairs in a row: those that can reach the first this many × k chunks
# (chunks fold into passages, so k passages may take more than k chunks).
PROXIMITY_DEPTH = 4
# How far above the article it punishes a penalty article is put: enough to stand before it.
PENALTY_LEAD = 1e-3

# The chapter of a law on what befalls a breach.
_PENALTY_CHAPTERS = ("法律责任", "罚则")
# The number that closes a title of a series: 解释（二）, 补充规定（六）.
_SERIES_NUMBER = re.compile(r"[（(]([一二三四五六七八九十]+)[）)]$")
# A name's number: （六）, (6), (VI).
_NAME_NUMBER = re.compile(r"[（(]([一二三四五六七八九十]+|\d{1,2}|[IVX]{1,4})[）)]")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}
_CHINESE_DIGITS = "一二三四五六七八九十"


def series_number(name: str) -> str | None:
    """The number of the part of a series a document's name gives, as a Chinese numeral (一 … 十), else None."""
    found = _NAME_NUMBER.search(name)
    if found is None:
        return None
    number = found.group(1)
    value = int(number) if number.isdigit() else _ROMAN.get(number)
    if value is None:
        return number  # a Chinese numeral already
    return _CHINESE_DIGITS[value - 1] if 1 <= value <= len(_CHINESE_DIGITS) else None


# A passage in the making: fused, dense and lexical scores, its first chunk, its sentence rows, its chunks.
_Kept = tuple[float, float, float, Chunk, set[int], list[Chunk]]


class Retriever:
    """Hybrid search over a loaded index; its candidate rows come from ``store`` (FAISS and BM25 by default)."""

    def __init__(
        self, index: LoadedIndex, encoder: Encoder, settings: Settings, store: CandidateStore | None = None
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self.store = store if store is not None else LocalStore(index)
        self._doc_ids = sorted(index.documents)
        self._position = {doc_id: i for i, doc_id in enumerate(self._doc_ids)}
        table = index.table
        # The table numbers documents in store order; the retriever's arrays are in sorted id order.
        sorted_position = np.asarray([self._position[d] for d in index.documents], dtype=np.int64)
        self._doc_of_row = sorted_position[table.doc]
        titles = index.title_vectors
        if titles is None:  # a build made before the titles were embedded with it
            titles = encoder.encode_documents([index.documents[d].title for d in self._doc_ids])
        self._title_vectors = titles
        self._titles = np.asarray([index.documents[d].title for d in self._doc_ids], dtype=object)
        # A numbered series' titles without their number (解释（二） → 解释), and the number, "" for none.
        numbered = [_SERIES_NUMBER.search(str(t)) for t in self._titles]
        self._series_base = np.asarray(
            [str(t)[: m.start()] if m else str(t) for t, m in zip(self._titles, numbered, strict=True)], dtype=object
        )
        self._series_number = np.asarray([m.group(1) if m else "" for m in numbered], dtype=object)
        self._joined_titles = "\n".join(self._titles.tolist())
        self._written_titles = WrittenTitles(self._titles.tolist())
        self._years = [version_year(index.documents[d].metadata) for d in self._doc_ids]
        self._superseded = _superseded(self._titles.tolist(), self._years, self._first_articles(table.article))
        self._title_offsets = np.cumsum([0] + [len(t) + 1 for t in self._titles.tolist()[:-1]])
        kinds = ["legal" if index.documents[d].kind in LEGAL_KINDS else index.documents[d].kind for d in self._doc_ids]
        self._kind_masks = {kind: np.asarray([k == kind for k in kinds], dtype=np.float32) for kind in KIND_CUES}
        self._is_legal = self._kind_masks["legal"].astype(bool)
        self._discussed: dict[tuple[str, ...], np.ndarray] = {}
        self._titled_with: dict[tuple[str, ...], np.ndarray] = {}
        regions: dict[str, list[int]] = {}
        for position, doc_id in enumerate(self._doc_ids):
            if region := str(index.documents[doc_id].metadata.get("region") or ""):
                regions.setdefault(region, []).append(position)
        self._local_mask = np.asarray(
            [index.documents[d].kind == KIND_LOCAL_REGULATION for d in self._doc_ids], dtype=np.float32
        )
        self._region_positions = {region: np.asarray(p, dtype=np.int64) for region, p in regions.items()}
        self._is_national = self._local_mask == 0
        self._title_endings: dict[tuple[str, ...], np.ndarray] = {}
        self._definitions: dict[str, list[tuple[int, str]]] = {}
        self._penalties: dict[int, dict[int, list[int]]] = {}
        # Names recur across questions ("the Labour Contract Law"), as the term matcher's phrases do.
        self._name_vector = lru_cache(maxsize=NAME_CACHE_SIZE)(self._encode_name)
        self._named_groups = lru_cache(maxsize=QUESTION_CACHE_SIZE)(self._find_named_groups)
        self._centroids = None
        if settings.centroid_weight:
            self._centroids = index.centroid_vectors
            if self._centroids is None:  # a build made before the centroids were kept
                self._centroids = document_centroids(index.chunk_vectors, self._doc_of_row, len(self._doc_ids))
        self._article_of_row = table.article
        self._is_body_row = table.of_kind("body")
        abstract_codes = np.flatnonzero(table.sections == ABSTRACT.encode("utf-8"))
        self._is_abstract_row = np.isin(table.section, abstract_codes)
        # Each chunk's sentences are the rows first[row] .. end[row] - 1 of the sentence vectors.
        offsets = index.sentence_doc_offsets
        doc_first = np.asarray([offsets.get(d, 0) for d in index.documents], dtype=np.int64)
        self._sentence_first = doc_first[table.doc] + table.sentence_start
        self._sentence_end = doc_first[table.doc] + table.sentence_end

    def forget_questions(self) -> None:
        """Drop what is kept per question (the documents its names point at): each next one is new."""
        self._named_groups.cache_clear()

    def search(self, query: Query, k: int, where: SearchFilter | None = None) -> list[Passage]:
        """The ``k`` best passages, fused, non-body text yielding, overlaps merged."""
        store, tokens, n = self.store, list(query.lexical or query.tokens), self.settings.candidates
        named = self._named_groups(query.text)
        named_mask = _any_of(named, len(self._doc_ids))
        title_similarity = self._title_vectors @ query.vector
        # A title as near the question as a name is to its title points at its document as a name does.
        pointed_at = np.maximum(named_mask, title_similarity >= POINTED_TITLE_FLOOR)
        tokens = self._without_title_words(tokens, pointed_at)
        tokens += [t for t in self._title_words_for_name_words(query, named) if t not in tokens]
        document_bonus = self._document_bonus(query, named_mask, title_similarity)
        # What ranks by similarity: the question's vector as its language's query map moves it, where there is one.
        ranking_vector = query.vector if query.ranking_vector is None else query.ranking_vector
        rows, _ = store.dense(ranking_vector, n, where)
        top_lexical, top_scores = store.lexical(tokens, n, where)
        # BM25 is scaled by the best score under the filter: the first of the lexical top k.
        best_lexical = float(top_scores.max(initial=0.0))
        candidates = list(dict.fromkeys(rows.tolist()))
        seen = set(candidates)
        candidates.extend(r for r in top_lexical.tolist() if r not in seen)
        cued = self._cued_documents(document_bonus)
        if cued is not None:
            # The documents a question points at ("the paper", a province, a named law) are
            # searched on their own too: in a library their passages may rank below the
            # global candidates' cut-off and never meet the bonus that would lift them. The one
            # they single out most clearly ("the paper", where patent laws come next by title) is
            # searched alone as well: the others' passages may fill their shared cut-off.
            leading = [self._doc_ids[d] for d in np.flatnonzero(self._leading(document_bonus)).tolist()]
            for group in [cued, leading] if len(cued) > 1 and leading else [cued]:
                seen = set(candidates)
                cued_rows, _ = store.dense(ranking_vector, n, where, group)
                candidates.extend(r for r in cued_rows.tolist() if r not in seen)
                seen.update(candidates)
                cued_lexical, _ = store.lexical(tokens, n, where, group)
                candidates.extend(r for r in cued_lexical.tolist() if r not in seen)
        compared = self._compared(query.text, named)
        for group in compared:
            # A comparison needs each document's own best passages, however the others rank.
            seen = set(candidates)
            group_rows = [*store.dense(ranking_vector, n, where, group)[0].tolist()]
            group_rows += store.lexical(tokens, n, where, group)[0].tolist()
            candidates.extend(r for r in dict.fromkeys(group_rows) if r not in seen)
        glossary_terms = query.glossary_terms if self.settings.glossary_bonus else ()
        if glossary_terms:
            # A term of the field the question names (死亡之谷 for "valley of death") gets
            # candidates of its own: in a library, passages on the expansion's common words
            # (死亡 in every law on deaths) fill both pools and the term's few passages miss them.
            seen = set(candidates)
            glossary_tokens = [t for term in glossary_terms for t in term_tokens(term)]
            term_rows, _ = store.lexical(glossary_tokens, n, where)
            candidates.extend(r for r in term_rows.tolist() if r not in seen)
        # An article number means something only in the law it belongs to: the named article of
        # the documents the question singles out is a candidate however it ranks ("Article 12 of
        # the Patent Law" may share few words with the question) and is lifted.
        articles = articles_named(query.text) if self.settings.article_bonus and cued else ()
        article_rows: set[int] = set()
        named_article_rows: set[int] = set()
        if articles and cued:
            documents = self.index.documents
            singled = {self._position[d] for d in cued if admitted(where, documents[d])}
            hits = np.flatnonzero(np.isin(self._article_of_row, articles))
            article_rows = {int(r) for r in hits if int(self._doc_of_row[r]) in singled}
            # "What does Article 188 of the Civil Code say?": the article named, of the document named,
            # is the answer, though it shares no word with the question. Not so where the article is a
            # reference ("the fine for breaching Article 12"): the answer is another article.
            if asks_what_article_says(query.text):
                named_article_rows = {r for r in article_rows if named_mask[self._doc_of_row[r]]}
            seen = set(candidates)
            candidates.extend(r for r in sorted(article_rows) if r not in seen)
        # A question asking what a term means, of a document it names: the passage where that
        # document defines the term (本条例所称市场主体，是指…) is a candidate however it ranks, and is
        # lifted; it often shares little with the question beyond the term.
        definition_rows: set[int] = set()
        if self.settings.definition_bonus and named and asks_for_definition(query.text):
            named_ids = [self._doc_ids[d] for d in np.flatnonzero(named_mask).tolist()]
            definition_rows = self._definitions_asked(query, named_ids, where)
        elif self.settings.definition_bonus and cued and query.chinese and asks_for_definition(query.text):
            # "杭州关于促进跨境电商的地方性法规中，“跨境电子商务”是怎么定义的？" names no title; the documents
            # its cues single out (Hangzhou's, the titles nearest) may define the term it writes out.
            definition_rows = self._definitions_asked(query, cued, where, verbatim=True)
        if definition_rows:
            seen = set(candidates)
            candidates.extend(r for r in sorted(definition_rows) if r not in seen)
        if not candidates:
            return []
        telling_terms = self._without_title_terms(glossary_terms, pointed_at, document_bonus)
        telling_places = {t for t in telling_terms if places_named(t)}
        shares = self._lexical_shares(tokens, candidates, best_lexical, english=not query.chinese)
        # What ranks; a passage keeps the whole question's cosine, which the relevance floor reads.
        if query.ranking_vector is None:
            dense = ranking_dense = self._dense_scores(query.vector, candidates)
        else:
            dense, ranking_dense = self._dense_scores_of((query.vector, ranking_vector), candidates)
        if named and self.settings.name_free_weight:
            ranking_dense = self._dense_without_names(query, candidates, ranking_dense, named_mask)
        mode = self.settings.retrieval
        weight = self.settings.lexical_weight
        penalty = self.settings.non_body_penalty
        # "How long…", "多少元": a passage that gives a figure of that kind may be the answer; one
        # that gives none cannot be all of it.
        figure = asked_figure(query.text) if self.settings.figure_bonus else None
        if figure is None and self.settings.body_bonus and asks_for_body(query.text):
            # "Which body approves …": of a law's articles on the applications, the one naming who acts.
            figure, figure_bonus = BODY_ACTING, self.settings.body_bonus
        else:
            figure_bonus = self.settings.figure_bonus
        purpose_yields = not _ASKS_PURPOSE.search(query.text)
        # "会被怎么处罚？": the answer is in the chapter on legal liability, which may name the act otherwise
        # (未经注册…执业的 for "没有执业证书…看病").
        asks_penalty = query.chinese and asks_for_penalty(query.text)
        penalty_chapter_bonus = self.settings.penalty_chapter_bonus if asks_penalty else 0.0
        # "In short, what does the paper propose?", "《…》构建的框架": the paper's own summary says it.
        overview_bonus = 0.0
        if asks_for_overview(query.text) and self._points_at_paper(query.text, named_mask):
            overview_bonus = self.settings.overview_bonus
        scored = []
        columns = zip(candidates, dense.tolist(), ranking_dense.tolist(), shares.tolist(), strict=True)
        for row, dense_score, ranking, lexical in columns:
            if mode == "dense":
                fused = ranking
            elif mode == "lexical":
                fused = lexical
            else:
                fused = ranking + weight * lexical
            fused += float(document_bonus[self._doc_of_row[row]])
            if row in article_rows:
                fused += self.settings.article_bonus
            if row in named_article_rows:
                fused += self.settings.named_article_bonus
            if row in definition_rows:
                fused += self.settings.definition_bonus
            text = self.index.chunks[row].text if telling_terms or figure is not None else ""
            if telling_terms:
                # A term of the field named in the question ("trough of disillusionment"
                # -> 泡沫破裂低谷期) found verbatim is stronger evidence than BM25's mix. A place
                # (浙江) is not, in a law: its own place is its region, which the document bonus
                # weighs, and its articles say 本省; another law that names it is about something else.
                legal = bool(self._is_legal[self._doc_of_row[row]])
                found = sum(1 for t in telling_terms if t in text and not (legal and t in telling_places))
                fused += self.settings.glossary_bonus * found / len(telling_terms)
            if figure is not None and figure.search(text):
                fused += figure_bonus
            if overview_bonus and self._is_abstract_row[row]:
                fused += overview_bonus
            if penalty_chapter_bonus and self._is_penalty_chapter_row[row]:
                fused += penalty_chapter_bonus
            # The article number gates the text: reading a chunk's text costs ~35 µs, every candidate's a few ms.
            first_article = purpose_yields and self._article_of_row[row] == 1
            if first_article and _PURPOSE_ARTICLE.match(self.index.chunks[row].text):
                fused -= PURPOSE_PENALTY
            if not self._is_body_row[row]:
                # Front matter, references and the English summary stay findable but
                # yield to body text that says the same thing.
                fused -= penalty
            scored.append((fused, dense_score, lexical, row))
        scored.sort(key=lambda item: (-item[0], item[3]))
        if self.settings.list_bonus and asks_for_list(query.text):
            scored = self._with_lists(scored, k)
        if self.settings.proximity_bonus and not query.chinese and (patterns := pairs_in_a_row(query.text)):
            scored = self._with_pairs_in_a_row(scored, patterns, k)
        if self.settings.penalty_depth and asks_for_penalty(query.text):
            scored = self._with_penalties_first(scored, query.vector)
        if compared:
            return self._each_compared(scored, k, compared, self._side_by_document, balanced=True)
        if self.settings.named_rank and len(named) == 1:
            # A question that names one document asks about it: its best passage keeps a place among
            # the first few, however passages of other documents that share the question's words
            # score ("capital requirements" of the Foreign Labour Service Cooperation Regulation, where
            # every banking regulation sets a minimum registered capital).
            scored = self._named_within(scored, named[0], self.settings.named_rank)
        if places := self._places_compared(query.text):
            return self._each_compared(scored, k, places, self._side_by_place, balanced=False)
        if (
            self.settings.named_rank
            and not named
            and scored
            and self._is_legal[self._doc_of_row[scored[0][3]]]
            and (asked := places_asked(query.text))
        ):
            # "Does Jining have any rule on …": the law in force there keeps its best passage among the
            # first few, however national law on the matter scores; the answer opens with it (in_force_first).
            # Not where a text outside the law comes first: "上海形成了怎样的模式" asks of the paper's account.
            scored = self._named_within(scored, self._local_in_force(asked, query.text), self.settings.named_rank)
        return self._merge(scored, k)

    def _named_within(
        self, scored: list[tuple[float, float, float, int]], group: np.ndarray, rank: int
    ) -> list[tuple[float, float, float, int]]:
        """``scored`` with the best passage of the one document named moved up to ``rank`` if it stands below."""
        position = next((i for i, item in enumerate(scored) if group[self._doc_of_row[item[3]]]), None)
        if position is None or position < rank:
            return scored
        moved = scored[position]
        return [*scored[: rank - 1], moved, *scored[rank - 1 : position], *scored[position + 1 :]]

    def _with_lists(
        self, scored: list[tuple[float, float, float, int]], k: int
    ) -> list[tuple[float, float, float, int]]:
        """``scored`` (sorted) with each candidate that lists things (下列…：, （一）) lifted by ``list_bonus``.

        "哪些情形", "which claims": the article listing them is the answer more often than one that
        shares the question's words.
        """
        return self._lifted(scored, k, self.settings.list_bonus, lambda text: float(enumerates(text)))

    def _with_penalties_first(
        self, scored: list[tuple[float, float, float, int]], vector: np.ndarray
    ) -> list[tuple[float, float, float, int]]:
        """``scored`` (sorted) with the article punishing the breach of each of the first few put just before it.

        "三门峡在禁止区域里露天烧烤怎么罚？" finds the article forbidding it (第四十条 不得…露天烧烤);
        the fine is in another article that names the act only by number (违反本条例第四十条第一款
        规定的，…处一千元以上二万元以下罚款) and shares few words with the question.
        """
        chosen: dict[int, float] = {}
        for fused, _, _, row in scored[: self.settings.penalty_depth]:
            article = int(self._article_of_row[row])
            for punishing in self._punishing(int(self._doc_of_row[row])).get(article, ()):
                if punishing != row and self._article_of_row[punishing] != article:
                    # Just above the article it punishes: a tie broken by row would be arbitrary.
                    chosen[punishing] = max(chosen.get(punishing, fused), fused + PENALTY_LEAD)
        if not chosen:
            return scored
        known = {row: (dense, lexical) for _, dense, lexical, row in scored if row in chosen}
        missing = [row for row in chosen if row not in known]
        if missing:
            dense_scores = self._dense_scores(vector, missing).tolist()
            known.update({row: (score, 0.0) for row, score in zip(missing, dense_scores, strict=True)})
        lifted = [item for item in scored if item[3] not in chosen]
        lifted += [(fused, *known[row], row) for row, fused in chosen.items()]
        lifted.sort(key=lambda item: (-item[0], item[3]))
        return lifted

    def _punishing(self, position: int) -> dict[int, list[int]]:
        """A document's rows that punish breaking its articles, by the article broken (read once per document)."""
        if (found := self._penalties.get(position)) is None:
            found = {}
            chunks = self.index.chunks
            for row in np.flatnonzero(self._doc_of_row == position).tolist():
                for article in violated_articles(chunks[row].text):
                    found.setdefault(article, []).append(row)
            self._penalties[position] = found
        return found

    def _with_pairs_in_a_row(
        self, scored: list[tuple[float, float, float, int]], patterns: list[re.Pattern[str]], k: int
    ) -> list[tuple[float, float, float, int]]:
        """``scored`` (sorted) with each candidate lifted by the share of the question's word pairs it renders in a row.

        BM25 counts "harms", "tourists", "lawful" and "rights" wherever they stand; 损害旅游者合法权益
        says them as the question does, and the article that says it is the one asked about
        (term proximity; Tao and Zhai, 2007).
        """

        def share(text: str) -> float:
            return sum(1 for pattern in patterns if pattern.search(text)) / len(patterns)

        return self._lifted(scored, k, self.settings.proximity_bonus, share)

    def _lifted(
        self,
        scored: list[tuple[float, float, float, int]],
        k: int,
        bonus: float,
        share: Callable[[str], float],
    ) -> list[tuple[float, float, float, int]]:
        """``scored`` (sorted) with each candidate lifted by ``bonus`` times the ``share`` its text earns, sorted again.

        Only candidates that the lift can bring among the first ``PROXIMITY_DEPTH`` × k are read:
        below that, none overtakes the one standing there, and reading a chunk's text parses its record.
        """
        depth = min(len(scored), PROXIMITY_DEPTH * k)
        floor = scored[depth - 1][0] - bonus if depth else 0.0
        chunks = self.index.chunks
        lifted = [
            (fused + bonus * share(chunks[row].text) if fused >= floor else fused, dense, lexical, row)
            for fused, dense, lexical, row in scored
        ]
        lifted.sort(key=lambda item: (-item[0], item[3]))
        return lifted

    def _lexical_shares(self, tokens: list[str], candidates: list[int], best: float, english: bool) -> np.ndarray:
        """Each candidate's BM25 as a share of the best score, ``best`` (that of the lexical top k).

        An English question's own words match only the corpus's English text (the paper's
        English summary and front matter, a document in English). In one query with their
        Chinese renderings, a passage holding many of them set the scale, and every Chinese
        passage's share of it shrank: the paper's summary ranked above the body text that
        answers. For such a question each part is scaled by its own best among the candidates
        (BM25 adds up over a query's words, so the Chinese part is the whole less the English
        one), and a passage keeps the larger share.
        """
        if best <= 0:
            return np.zeros(len(candidates))
        whole = self.store.lexical_scores(tokens, candidates)
        latin = [t for t in tokens if _LATIN_WORD.fullmatch(t)]
        if not english or not latin or len(latin) == len(tokens):
            return whole.astype(np.float64) / best
        in_english = self.store.lexical_scores(latin, candidates)
        parts = [in_english, np.maximum(whole - in_english, 0.0)]
        return np.max([part / top if (top := float(part.max())) > 0 else part for part in parts], axis=0)

    def relevance(self, query: Query, passages: list[Passage]) -> float:
        """How close the best passage is to the question itself, for the abstention floor.

        The ranking score lets BM25 use cross-lingual term matches, which also match
        something for a question about baking bread; this measure counts only the
        question's own words and its glossary terms, with BM25 scaled by their idf
        sum so that it does not depend on which passages came back.
        """
        if not passages:
            return 0.0
        strict = list(query.own_tokens)
        scale = float(self.index.lexical.idf(strict).sum())
        lexical = self.index.lexical.scores(strict) / scale if scale > 0 else None
        best = 0.0
        for passage in passages:
            row = self.index.table.row_of(passage.chunk_id)
            if row is None:
                raise KeyError(f"no passage {passage.chunk_id!r} in this build")
            strict_lexical = float(lexical[row]) if lexical is not None else 0.0
            best = max(best, passage.dense_score + self.settings.lexical_weight * strict_lexical)
        return best

    def _document_bonus(self, query: Query, named: np.ndarray, title_similarity: np.ndarray) -> np.ndarray:
        """Lift the documents a question names: by title similarity, kind ("the paper", "本法"), region, name.

        With a corpus of a paper and several laws, "when did the patent law take
        effect" must look inside the patent law, whose articles never say its name; in
        a library, "what does Zhejiang require" must look at Zhejiang's regulations.
        """
        bonus = self.settings.title_weight * np.maximum(0.0, title_similarity - self.settings.title_floor)
        if described := described_documents(query.text):
            # A description that singles out no title still says which titles are near what is asked.
            near = (self._title_vectors @ self._name_vectors(described).T).max(axis=1)
            bonus = np.maximum(bonus, self.settings.title_weight * np.maximum(0.0, near - self.settings.title_floor))
        if self._centroids is not None:
            closeness = self._centroids @ query.vector
            bonus += self.settings.centroid_weight * np.maximum(0.0, closeness - self.settings.centroid_floor)
        for kind, cue in KIND_CUES.items():
            if cue.search(query.text):
                bonus += self.settings.kind_bonus * self._kind_masks[kind]
        places = places_named(query.text)
        if self.settings.region_bonus and places:
            names = tuple(n for found in places for n in found)
            of_region = np.maximum(self._of_region(names, query.text), self._discussing(names))
            of_region = np.maximum(of_region, self._national_titled_with(names))
            bonus += self.settings.region_bonus * of_region
        if self.settings.other_region_penalty and places:
            # "In Zhumadian, …": Xuchang's regulation on the same matter reads alike and is no answer;
            # Henan's own regulations are in force in Zhumadian and stay. A local document named stays.
            in_force = self._of_region(in_force_at(places), query.text)
            bonus -= self.settings.other_region_penalty * (self._local_mask * (1.0 - in_force) * (1.0 - named))
        if self.settings.named_bonus and named.any():
            bonus += self.settings.named_bonus * named
        if self.settings.unplaced_local_penalty and not places:
            # Without a place the question asks about national law; a local document it names stays.
            bonus -= self.settings.unplaced_local_penalty * (self._local_mask * (1.0 - named))
        if self.settings.superseded_penalty and not YEAR.search(query.text):
            # A question that names no year asks about the law in force: of a title's versions,
            # the later one says it where both say the same.
            bonus -= self.settings.superseded_penalty * self._superseded
        return bonus

    @cached_property
    def _is_penalty_chapter_row(self) -> np.ndarray:
        """Whether each row stands in a chapter on legal liability (法律责任, 罚则): read from the table's
        distinct sections (~17 ms at the whole library), at the first question that asks a penalty."""
        sections = self.index.table.sections
        in_chapter = np.zeros(len(sections), dtype=bool)
        for word in _PENALTY_CHAPTERS:
            in_chapter |= np.char.find(sections, word.encode("utf-8")) >= 0
        return np.isin(self.index.table.section, np.flatnonzero(in_chapter))

    def _local_in_force(self, places: list[tuple[str, ...]], question: str) -> np.ndarray:
        """A mask of the local documents in force at the places (their own and their provinces')."""
        return (self._of_region(in_force_at(places), question) > 0) & (self._local_mask > 0)

    def _of_region(self, place_names: Sequence[str], question: str) -> np.ndarray:
        """1.0 for each document (sorted id order) of a region the question names, else 0.0."""
        of_region = np.zeros(len(self._doc_ids), dtype=np.float32)
        for region, positions in self._region_positions.items():
            if region in place_names or region in question:
                of_region[positions] = 1.0
        return of_region

    def _points_at_paper(self, question: str, named_mask: np.ndarray) -> bool:
        """Whether a question points at a paper: by a kind word ("the paper", 论文) or by naming one."""
        return bool(KIND_CUES[KIND_PAPER].search(question) or (named_mask * self._kind_masks[KIND_PAPER]).any())

    def _national_titled_with(self, place_names: tuple[str, ...]) -> np.ndarray:
        """1.0 for each national document whose title names one of the places, else 0.0.

        The country's rules for a place are about it as its own regulations are: 关于认可和执行台湾地区
        仲裁裁决的规定, 澳门特别行政区驻军法. A local title that holds the name (宁波杭州湾新区条例)
        is another place's.
        """
        if (found := self._titled_with.get(place_names)) is None:
            titled = np.fromiter((any(n in t for n in place_names) for t in self._titles.tolist()), dtype=bool)
            found = (titled & self._is_national).astype(np.float32)
            self._titled_with[place_names] = found
        return found

    def _discussing(self, place_names: tuple[str, ...]) -> np.ndarray:
        """1.0 for each paper or other text outside the law whose text names one of the places, else 0.0.

        A legal text's place is its jurisdiction (its region); a paper's are the places it discusses:
        its account of "the Zhejiang model" competes with Zhejiang's regulations, which say 本省.
        A national travel rule that names 澳门 is still not about Macau's civil servants.
        """
        if (found := self._discussed.get(place_names)) is None:
            found = np.zeros(len(self._doc_ids), dtype=np.float32)
            for position in np.flatnonzero(~self._is_legal).tolist():
                text = self.index.document_text(self._doc_ids[position])
                found[position] = float(any(name in text for name in place_names))
            self._discussed[place_names] = found
        return found

    def _definitions_asked(
        self, query: Query, doc_ids: list[str], where: SearchFilter | None, verbatim: bool = False
    ) -> set[int]:
        """The passages of these documents that define a term the question names.

        A Chinese question names the term in so many words; an English one through one of its
        Chinese terms ("market entity" → 市场主体, found by the vocabulary matcher). ``verbatim``: only
        a term the question writes out whole.
        """
        documents = self.index.documents
        defined = [
            (row, term)
            for doc_id in doc_ids
            if admitted(where, documents[doc_id])
            for row, term in self._defined_terms(doc_id)
        ]
        # A term written out whole is the one asked about, in an English question too ("an 'extremely poor
        # person' (特困人员)"), whose English words the embedding may put nearer another term.
        written = {row for row, term in defined if term in query.text}
        if verbatim or written:
            return written
        # A Chinese question's words count only as it writes them; an English one's by the term it
        # asks about, embedded alone as names are ("commercial cryptography" lies 0.56 from 商用密码,
        # which the dictionary renders 商业 and 密码学), else by its renderings.
        if not query.chinese and (english := english_term_asked(query.text)) and defined:
            terms_defined = sorted({term for _, term in defined})
            similarity = self._name_vectors(terms_defined) @ self._name_vector(english)
            best = float(similarity.max())
            if best >= DEFINED_TERM_FLOOR:
                nearest = {
                    t
                    for t, sim in zip(terms_defined, similarity.tolist(), strict=True)
                    if sim >= best - NAMED_TITLE_MARGIN
                }
                return {row for row, term in defined if term in nearest}
        terms = () if query.chinese else query.tokens
        asked = terms_asked(query.text, terms, dict(enumerate(term for _, term in defined)))
        return {defined[i][0] for i in asked}

    def _defined_terms(self, doc_id: str) -> list[tuple[int, str]]:
        """(passage row, term) for every term a document defines, read once per document and kept."""
        if (terms := self._definitions.get(doc_id)) is None:
            chunks = self.index.chunks
            terms = []
            for row in self.index.document_rows.get(doc_id, np.zeros(0, dtype=np.int64)).tolist():
                for sentence in chunks[row].text.split("。"):
                    if term := defined_term(sentence):
                        terms.append((int(row), term))
            self._definitions[doc_id] = terms
        return terms

    def _without_title_words(self, tokens: list[str], named: np.ndarray) -> list[str]:
        """The BM25 query less the words in the titles of the documents the question names or points at.

        Every article of 《劳动合同法》 shares 劳动 and 合同 with "under the Labour Contract Law, …",
        so those words rank nothing inside the law, which the name lifts as a whole, and outside
        it they favour passages that merely cite it; the question's other words decide. A synonym
        set keeps its members that are not title words. All of a query in the titles stays.
        """
        if not named.any():
            return tokens
        titles = [self.index.documents[self._doc_ids[i]].title for i in np.flatnonzero(named)]
        kept = []
        for token in tokens:
            members = [m for m in token.split(SYNONYM_SEPARATOR) if not any(m in title for title in titles)]
            if members:
                kept.append(synonym_set(members))  # a set of one member is that word
        return kept or tokens

    def _without_title_terms(
        self, terms: Sequence[str], pointed_at: np.ndarray, document_bonus: np.ndarray
    ) -> tuple[str, ...]:
        """The glossary terms that are in no title of the documents the question singles out: those it
        points at and the one whose bonus leads (``_leading``).

        "The paper on deepening the integration of scientific and industrial innovation" gives the
        terms 深度融合 and 产业创新 of the paper's title: they say which document is asked about, and
        inside it the passages that repeat its title are no better evidence than the one that
        answers (its 2024 conversion rate), as a named law's title words are not (``_without_title_words``).
        """
        if not terms:
            return ()
        singled_out = np.maximum(pointed_at, self._leading(document_bonus))
        titles = [str(self._titles[i]) for i in np.flatnonzero(singled_out).tolist()]
        return tuple(term for term in terms if not any(term in title for title in titles))

    def _leading(self, bonus: np.ndarray) -> np.ndarray:
        """1.0 for the document whose bonus leads every other's by ``LEADING_MARGIN``, if one does; else all 0.0.

        "The paper", a name or a description can single out one document without its title
        lying as near the question as ``POINTED_TITLE_FLOOR`` asks.
        """
        leading = np.zeros(len(bonus), dtype=np.float32)
        if len(bonus) > 1:
            first = int(np.argmax(bonus))
            if float(bonus[first]) - float(np.partition(bonus, -2)[-2]) >= LEADING_MARGIN:
                leading[first] = 1.0
        return leading

    def _title_words_for_name_words(self, query: Query, named: Sequence[np.ndarray]) -> list[str]:
        """The named document's own words for what an English question says again outside the name.

        "Under the State Council's regulation on government inspections, … the inspection
        conclusion": the dictionary renders "inspection" 检查, 检验, and the regulation (政府督查工作条例)
        says 督查 throughout. What its title holds beyond the renderings of the name's words, its
        place and its kind, is its word for the name's word the dictionary does not find there;
        kept only when rare in the corpus (工作 of the same title says nothing).
        """
        if query.chinese or len(named) != 1 or named[0].sum() != 1:
            return []
        names = [*document_names(query.text), *described_documents(query.text)]
        if len(names) != 1:
            return []
        name = names[0]
        title = str(self._titles[int(np.flatnonzero(named[0])[0])]).removeprefix(COUNTRY_PREFIX)
        outside = query.text.replace(name, " ")
        unrendered = []
        for word in re.findall(r"[A-Za-z]{4,}", name):
            renderings = [r for r in chinese_for(word.lower(), 20) if len(r) > 1]
            if word.lower() in _NAME_FILLER_WORDS or not renderings:
                continue
            if any(r in title for r in renderings):
                title = title.replace(next(r for r in renderings if r in title), " ")
            else:
                unrendered.append(word.lower())
        said_again = [w for w in unrendered if re.search(rf"\b{re.escape(w[:_STEM_LETTERS])}", outside, re.I)]
        if not said_again:
            return []
        for place in (p for names in places_named(title) for p in names):
            title = title.replace(place, " ")
        title = without_kind(title)  # 许可法 of 行政许可法 is the kind, not the law's word
        words = [w for w in cut(title) if len(w) > 1 and _CJK_WORD.fullmatch(w)]
        if not words:
            return []
        rare = self.index.lexical.idf(words) >= RARE_TITLE_WORD_IDF
        return [w for w, keep in zip(words, rare.tolist(), strict=True) if keep]

    def _find_named_groups(self, question: str) -> tuple[np.ndarray, ...]:
        """For each document name the question gives, a mask of the documents whose titles are nearest it.

        Each name is embedded alone: "Food Safety Law" lies near 中华人民共和国食品安全法 where
        the whole question does not. Titles within a small margin of the nearest are all taken
        (a law's versions, 行政处罚法 beside 行政诉讼法): the passages decide between them.
        """
        names = document_names(question)
        described = described_documents(question, names)
        written = self._written_titles.find(question)
        if not names and not described:
            return self._frozen(self._written_masks(written, ()))
        # A court's rules on applying a law are found through the law: their titles all lie near each other.
        laws = [without_owning_issuer(name.removeprefix(APPLYING_PREFIX)) for name in names]
        similarity = self._title_vectors @ self._name_vectors([*laws, *described]).T
        in_force: np.ndarray | None = None  # the documents in force where the question's places are, if needed
        for column, name in enumerate(laws):
            # A name that gives a kind ("… Law") looks among the titles of that kind, if any is near.
            if endings := kind_endings(name):
                of_kind = self._titles_ending(endings)
                if (similarity[of_kind, column] >= NAMED_TITLE_FLOOR).any():
                    similarity[~of_kind, column] = -1.0
            # A name that gives no place ("the Road Transport Regulations") names national law, if
            # a national title is near: the encoder put 河南省道路运输条例 nearer than 中华人民共和国道路运输条例.
            # Where the question names a place ("In Shangqiu, … the ancient city protection
            # regulation"), that place's own law may be the one named.
            if not (own_places := places_named(name)):
                if in_force is None:
                    in_force = self._of_region(in_force_at(places_named(question)), question)
                allowed = self._is_national | (in_force > 0)
                if (similarity[allowed, column] >= NAMED_TITLE_FLOOR).any():
                    similarity[~allowed, column] = -1.0
            else:
                # A name that gives a place ("the Zaozhuang Regulations on the Protection of Ancient and
                # Famous Trees") names a law of that place, if one is near: the encoder, which knows
                # 枣庄 little, put Shanghai's and Zhengzhou's regulations on the subject nearer.
                of_place = self._of_region(tuple(n for found in own_places for n in found), name) > 0
                if (similarity[of_place, column] >= NAMED_TITLE_FLOOR).any():
                    similarity[~of_place, column] = -1.0
        best = similarity.max(axis=0)
        chosen = similarity >= np.maximum(NAMED_TITLE_FLOOR, best - NAMED_TITLE_MARGIN)
        # Each English name's title shares (``_title_word_shares``), computed once for the two uses below.
        name_shares = {column: self._title_word_shares(name) for column, name in enumerate(laws) if name.isascii()}
        for column, shares in name_shares.items():
            # The nearest titles render few of an English name's words, and titles above the floor
            # render nearly all: the encoder was wrong ("China's Anti-Subsidy Regulations" lies nearest
            # 抗旱条例 and 反倾销条例; "subsidy" renders 补贴, which 反补贴条例 holds; "the Regulations on
            # the Administration of Housing Provident Funds" nearest 私募投资基金监督管理条例, which
            # renders only 管理条例 of it).
            if chosen[:, column].any():
                near = np.where(similarity[:, column] >= NAMED_TITLE_FLOOR, shares, 0.0)
                rendered_nearest = float((shares * chosen[:, column]).max())
                if near.max() >= DESCRIBED_SHARE_FLOOR and rendered_nearest <= near.max() - DESCRIBED_SHARE_SEPARATION:
                    chosen[:, column] = near == near.max()
        for column, name in enumerate(names):
            # Titles equally near "the Shanghai Regulations on Place Name Administration" (上海市地名管理条例,
            # 上海市企业名称登记管理规定): those of the kind its last word usually renders.
            if endings := usual_endings(name):
                of_usual_kind = chosen[:, column] & self._titles_ending(endings)
                if of_usual_kind.any():
                    chosen[:, column] = of_usual_kind
        for column, name in enumerate(laws):
            # Titles equally near "the Mine Safety Law" (国家安全法, 特种设备安全法, 矿山安全法): those that
            # render most of its words. Only a tie-break: where the dictionary lacks a name's sense
            # ("civil servant": 公职人员, not 公务员) its renderings would bring in a neighbour's title.
            # Titles still tied are told apart by the character a word's renderings share, if that does.
            for with_core_characters in (False, True):
                if name.isascii() and chosen[:, column].sum() > 1:
                    shares = self._title_word_shares(name, True) if with_core_characters else name_shares[column]
                    shares = shares * chosen[:, column]
                    if shares.max() > 0:
                        chosen[:, column] = shares == shares.max()
        for column, name in enumerate(names):
            if not name.startswith(APPLYING_PREFIX):
                continue
            # The law by the dictionary's name for it first: a law the court's rules outlived (物权法,
            # "the Property Law") has no title of its own, and its English name lies nearest others'.
            rendered = [r for r in chinese_for(laws[column], 20) if r.endswith("法")]
            if (rules := self._rules_applying(rendered)).any() or (
                rules := self._rules_applying([str(t) for t in self._titles[chosen[:, column]]])
            ).any():
                chosen[:, column] = rules
        for column, description in enumerate(described, start=len(names)):
            # A description points at a title only when no other title comes near it: "Guangdong's
            # regulation on domestic services" at 0.75 from 广东省家政服务条例, the next 0.62; the
            # Supreme People's Court's many rules lie within 0.01 of each other for any subject.
            # An issuer that is a place is looked for among that place's titles: "Zaozhuang's urban
            # greening regulation" lies as near 舟山市城市绿化条例 as 枣庄市城市绿化条例.
            among = np.ones(len(self._titles), dtype=bool)
            if places := places_named(description):
                of_place = self._of_region(in_force_at(places), description) > 0
                among = of_place if of_place.any() else among
            elif issued_by_the_country(description):
                # A national issuer's description ("the State Council regulation on protecting ancient
                # and famous trees") lies as near each city's rules on the subject as its own.
                among = self._is_national
            scores = np.where(among, similarity[:, column], -1.0)
            nearest = int(np.argmax(scores))
            others = scores[self._titles != self._titles[nearest]]
            separated = scores[nearest] - others.max(initial=-1.0) >= DESCRIBED_TITLE_SEPARATION
            separated &= scores[nearest] >= NAMED_TITLE_FLOOR
            chosen[:, column] = scores >= scores[nearest] - NAMED_TITLE_MARGIN if separated else False
            if not separated:
                shares = np.where(among, self._title_word_shares(description), 0.0)
                chosen[:, column] = self._rendering_most(shares, among)
                if not chosen[:, column].any() and scores[nearest] >= NAMED_TITLE_FLOOR:
                    chosen[:, column] = self._near_rendering_most(shares, scores, nearest)
        for column, name in enumerate(names):
            if chosen[:, column].any():
                chosen[:, column] = self._in_series(chosen[:, column], name)
        groups = [np.ascontiguousarray(chosen[:, c]) for c in range(chosen.shape[1]) if chosen[:, c].any()]
        groups += self._written_masks(written, groups)
        years = {int(y) for y in YEAR.findall(question)}
        return self._frozen([self._versions_of_years(group, years) for group in groups] if years else groups)

    def _versions_of_years(self, group: np.ndarray, years: set[int]) -> np.ndarray:
        """A group without the versions of a title that are not of a year the question names.

        "How did the 1999 Commercial Cryptography Administration Regulations define …": of
        商用密码管理条例 (1999) and (2023), the 1999 text. A title none of whose versions is of a
        year named keeps them all.
        """
        kept = group.copy()
        positions = np.flatnonzero(group).tolist()
        by_title: dict[str, list[int]] = {}
        for position in positions:
            by_title.setdefault(str(self._titles[position]), []).append(position)
        for versions in by_title.values():
            of_year = [p for p in versions if self._years[p] in years]
            if len(versions) > 1 and of_year:
                kept[[p for p in versions if p not in of_year]] = False
        return kept

    def _written_masks(self, written: list[list[int]], groups: Sequence[np.ndarray]) -> list[np.ndarray]:
        """A mask for each title written out in the question (``WrittenTitles``) that no name's group holds."""
        masks = []
        for positions in written:
            if not any(group[positions].all() for group in groups):
                mask = np.zeros(len(self._doc_ids), dtype=bool)
                mask[positions] = True
                masks.append(mask)
        return masks

    @staticmethod
    def _frozen(groups: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        for group in groups:
            group.flags.writeable = False  # kept for the question's next use (``_named_groups``)
        return tuple(groups)

    def _first_articles(self, articles: np.ndarray) -> list[int]:
        """Each document's first article number (0 for a document without articles), in sorted id order."""
        first = np.full(len(self._doc_ids), np.iinfo(np.int64).max, dtype=np.int64)
        numbered = articles > 0
        np.minimum.at(first, self._doc_of_row[numbered], articles[numbered].astype(np.int64))
        first[first == np.iinfo(np.int64).max] = 0
        return first.tolist()

    def _rendering_most(self, shares: np.ndarray, among: np.ndarray) -> np.ndarray:
        """The titles (``among``) that render nearly all of a description's words (``shares``, 0 outside
        ``among``) when no other comes near."""
        best = int(np.argmax(shares))
        others = shares[self._titles != self._titles[best]]
        if shares[best] < DESCRIBED_SHARE_FLOOR or others.max(initial=0.0) > shares[best] - DESCRIBED_SHARE_SEPARATION:
            return np.zeros(len(self._titles), dtype=bool)
        return (self._titles == self._titles[best]) & among

    def _near_rendering_most(self, shares: np.ndarray, scores: np.ndarray, nearest: int) -> np.ndarray:
        """Of the titles as near a description as the nearest (``scores``; -1 for titles not looked
        among), the one in which the dictionary renders more of its words (``shares``, 0 for titles not
        looked among) than in every other, and in no title more; else no title.

        The encoder puts "the Supreme People's Court's first set of provisions on online consumer
        disputes" 0.015 nearer its title (网络消费纠纷…规定（一）) than the court's rules on internet
        courts, and "the State Council's regulations on public health emergencies" 0.008 farther from
        突发公共卫生事件应急条例 than from 公共场所卫生管理条例; neither it nor the dictionary alone
        singles the title out, the two together do.
        """
        among = scores > -1.0
        near = scores >= scores[nearest] - NAMED_TITLE_MARGIN
        best = int(np.argmax(np.where(near, shares, -1.0)))
        same_title = self._titles == self._titles[best]
        others_near = shares[near & ~same_title].max(initial=0.0)
        # No title the dictionary prefers, however far: "rules on handling road traffic accidents" lies
        # nearest 道路交通安全违法行为处理程序规定 (violations), and renders more in 道路交通事故处理程序规定.
        if 0 < shares[best] and others_near < shares[best] >= shares.max():
            return same_title & among
        return np.zeros(len(self._titles), dtype=bool)

    def _title_word_shares(self, name: str, with_core_characters: bool = False) -> np.ndarray:
        """For each title, the share of an English name's own phrases that the dictionary finds rendered in it.

        Weighted by how few titles hold the phrase's renderings. The encoder alone puts short law
        names far off ("Bidding Law" nearest 律师法 and 拍卖法); "bid" renders 投标, which few titles
        hold. The longest phrase the dictionary knows counts whole: "Criminal Law" is 刑法, not the
        刑事 of 刑事诉讼法; "place name" is 地名. ``with_core_characters``: a phrase is also rendered by
        the character most of its renderings share ("penalty": 惩罚, 刑罚, 罚款, 判罚 share 罚, which
        行政处罚法 holds and 行政诉讼法 does not, where CC-CEDICT lacks 处罚).
        """
        shares = np.zeros(len(self._titles), dtype=np.float32)
        total = 0.0
        for match in match_phrases(name):
            if all(word in _NAME_FILLER_WORDS for word in match.english.split()):
                continue
            renderings = tuple(r for r in match.chinese[:20] if len(r) > 1)
            if not renderings:
                continue
            if with_core_characters and (core := _core_character(renderings)):
                renderings = (*renderings, core)
            holding = self._titles_holding(renderings)
            # A phrase's words rendered in a row render it too: "traffic accidents" (车祸) in 道路交通事故.
            if " " in match.english and (in_a_row := rendered_in_a_row(match.english)):
                holding = np.maximum(holding, self._titles_matching(in_a_row))
            held = float(holding.sum())
            weight = float(np.log1p((len(self._titles) - held + 0.5) / (held + 0.5)))  # BM25's idf, never below 0
            shares += weight * holding
            total += weight
        return shares / total if total > 0 else shares

    def _titles_holding(self, renderings: tuple[str, ...]) -> np.ndarray:
        """A mask of the titles that hold one of ``renderings``: one scan of all titles joined."""
        return self._titles_matching(re.compile("|".join(map(re.escape, sorted(renderings, key=len, reverse=True)))))

    def _titles_matching(self, pattern: re.Pattern[str]) -> np.ndarray:
        """A mask of the titles in which ``pattern`` finds a match."""
        found = np.zeros(len(self._titles), dtype=np.float32)
        starts = [m.start() for m in pattern.finditer(self._joined_titles)]
        if starts:
            found[np.searchsorted(self._title_offsets, starts, side="right") - 1] = 1.0
        return found

    def _rules_applying(self, laws: Sequence[str]) -> np.ndarray:
        """The court's rules whose titles say they apply one of the laws (titles): 关于适用《公司法》若干问题的规定."""
        short = [law.removeprefix(COUNTRY_PREFIX) for law in laws]
        applying = tuple(f"适用《{prefix}{law}》" for law in short for prefix in ("", COUNTRY_PREFIX))
        return np.asarray([any(a in t for a in applying) for t in self._titles], dtype=bool)

    def named_documents(self, question: str) -> list[tuple[str, ...]]:
        """For each document name the question gives, the ids of the documents whose titles are nearest it."""
        groups = self._named_groups(question)
        return [tuple(self._doc_ids[d] for d in np.flatnonzero(group).tolist()) for group in groups]

    def _named_documents(self, question: str) -> np.ndarray:
        """1 for each document whose title is nearest a document name the question gives, else 0."""
        return _any_of(self._named_groups(question), len(self._doc_ids))

    def _compared(self, question: str, named: Sequence[np.ndarray]) -> list[list[str]]:
        """The documents of each name a comparison gives ("How do the Labour Law and … differ?"), or [].

        Only names that single out documents of their own count: a name whose documents
        another name already took adds no side to the comparison.
        """
        if len(named) < 2 or not asks_to_compare(question):
            return []
        taken = np.zeros(len(self._doc_ids), dtype=bool)
        sides = []
        for mask in named:
            if not (mask & taken).any():
                sides.append([self._doc_ids[d] for d in np.flatnonzero(mask).tolist()])
                taken |= mask
        return sides if len(sides) >= 2 else []

    def _places_compared(self, question: str) -> list[tuple[str, ...]]:
        """The Chinese names of each place a comparison sets side by side ("Hefei's model … Shenzhen's"), or []."""
        if not asks_to_compare(question):
            return []
        places = list(dict.fromkeys(places_named(question)))
        return places if len(places) >= 2 else []

    def _side_by_document(self, item: _Kept, sides: Sequence[Sequence[str]]) -> int | None:
        """The side (named documents) a passage's document is one of; else None."""
        return next((i for i, side in enumerate(sides) if item[3].doc_id in side), None)

    def _side_by_place(self, item: _Kept, sides: Sequence[Sequence[str]]) -> int | None:
        """The one place a passage speaks of, in its words, section or title (本市 in 上海市…条例); else None."""
        chunk = item[3]
        text = " ".join([chunk.title, chunk.section, *(c.text for c in (chunk, *item[5]))])
        spoken = [i for i, names in enumerate(sides) if any(name in text for name in names)]
        return spoken[0] if len(spoken) == 1 else None

    def _each_compared(
        self,
        scored: list[tuple[float, float, float, int]],
        k: int,
        sides: Sequence[Sequence[str]],
        side_of: Callable[[_Kept, Sequence[Sequence[str]]], int | None],
        balanced: bool,
    ) -> list[Passage]:
        """The ``k`` best passages, with each compared side's best among them.

        A side is a document named ("How do the Labour Law and … differ?") or a place
        ("Hefei's model compared with Shenzhen's"). In a library one law's articles on the
        matter can fill the top k and leave the other side out. Position by position, a side
        that has fewer than its share of the positions so far (one in n of them, for n sides;
        ``balanced`` False: one at most) gets its best passage left; else the best passage left
        comes next. Any first k are thus the same, however many are asked for, as the answer
        and a deeper ranking must agree. A place's share is one passage: the passages that name
        it are not all about it (a city's regulation on another matter).
        """
        merged = self._kept(scored, len(scored))
        # Only the chosen become passages: a comparison keeps every candidate, hundreds.
        side_of_item = [side_of(item, sides) for item in merged]
        counts = [0] * len(sides)
        left = list(range(len(merged)))
        ranked: list[Passage] = []
        while left and len(ranked) < k:
            share = (len(ranked) + 1) // len(sides)
            share = share if balanced else min(share, 1)
            behind = [i for i in range(len(sides)) if counts[i] < share and any(side_of_item[j] == i for j in left)]
            chosen = next(j for j in left if side_of_item[j] == behind[0]) if behind else left[0]
            left.remove(chosen)
            ranked.append(self._passage(*merged[chosen]))
            if (side := side_of_item[chosen]) is not None:
                counts[side] += 1
        return ranked

    def _in_series(self, chosen: np.ndarray, name: str) -> np.ndarray:
        """The titles of a numbered series a name points at: the one of its number, or all of them.

        A court's interpretations come in series (…的解释, …的解释（二）): "两高关于办理危害生产安全刑事案件
        的司法解释" names the series and lies nearest its second part, while the first answers; "…补充规定
        （六）" names one part, and lies as near its second.
        """
        series = np.isin(self._series_base, self._series_base[chosen])
        number = series_number(name)
        if number is None:
            return chosen | series
        of_number = series & (self._series_number == number)
        return of_number if of_number.any() else chosen

    def _name_vectors(self, names: list[str]) -> np.ndarray:
        """The names' vectors, each kept (``_name_vector``) and stacked."""
        return np.stack([self._name_vector(name) for name in names])

    def _encode_name(self, name: str) -> np.ndarray:
        """A name's vector, encoded alone: the same whatever names it comes with."""
        return self.encoder.encode_documents([name])[0]

    def _titles_ending(self, endings: tuple[str, ...]) -> np.ndarray:
        """A mask of the documents (sorted id order) whose titles end as ``endings`` say, kept per ending."""
        if endings not in self._title_endings:
            self._title_endings[endings] = np.asarray([title_has_ending(t, endings) for t in self._titles], dtype=bool)
        return self._title_endings[endings]

    def _cued_documents(self, bonus: np.ndarray) -> list[str] | None:
        """The few documents a question's cues single out, or None when they single out none.

        A cue that lifts many documents alike (every law for "the law" in a library of
        laws) singles out nothing and adds no candidates.
        """
        limit = self.settings.cued_documents
        if limit == 0 or not bonus.any():
            return None
        order = np.argsort(-bonus, kind="stable")
        top = order[:limit]
        if len(order) > limit:
            # Documents tied with the first one left out are not singled out.
            top = top[bonus[top] > bonus[order[limit]]]
        top = top[bonus[top] > 0]
        if len(top) == 0:
            return None
        return [self._doc_ids[d] for d in top.tolist()]

    def _dense_without_names(
        self, query: Query, candidates: list[int], dense: np.ndarray, named_mask: np.ndarray
    ) -> np.ndarray:
        """``dense`` with the named documents' candidates scored by the question without their names.

        "Does the Wild Animal Protection Law allow people to eat wild animals?": the name says which
        document, and the named-document lift has raised it; inside it, the name's words make the
        question nearest to the articles that restate the title (第六条 任何组织和个人有保护野生动物…的义务)
        and draw it from the one that answers (第三十一条 禁止食用…). The same as the title words out of
        the BM25 query, for the vector. The named documents' candidates keep their mean score, so
        this orders them among themselves and moves none against another document's.
        """
        inside = named_mask[self._doc_of_row[np.asarray(candidates, dtype=np.int64)]] > 0
        if inside.sum() < 2:
            return dense  # nothing to order among themselves
        text = without_document_names(query.text, described=True)
        if not text.strip() or text == query.text:
            return dense
        rows = [row for row, held in zip(candidates, inside.tolist(), strict=True) if held]
        without_names = self._dense_scores(self.encoder.encode_query(text), rows)
        weight = self.settings.name_free_weight
        whole = dense[inside]
        blended = (1 - weight) * whole + weight * without_names
        scored = dense.copy()
        scored[inside] = blended - blended.mean() + whole.mean()
        return scored

    def _dense_scores(self, vector: np.ndarray, rows: list[int]) -> np.ndarray:
        """Cosine of each passage, blended with its best sentence's cosine.

        A passage often answers with one sentence among several on other points;
        the best sentence's similarity finds it where the passage average blurs it.
        """
        return self._dense_scores_of((vector,), rows)[0]

    def _dense_scores_of(self, vectors: Sequence[np.ndarray], rows: list[int]) -> list[np.ndarray]:
        """``_dense_scores`` for each of several vectors, the rows' passage and sentence vectors read once."""
        passages = self.index.chunk_vectors.reconstruct(np.asarray(rows, dtype=np.int64))
        alpha = self.settings.sentence_weight
        if alpha == 0:
            return [passages @ vector for vector in vectors]
        # Every candidate's sentences in one product, then the best of each candidate's run.
        chosen = np.asarray(rows, dtype=np.int64)
        first, lengths = self._sentence_first[chosen], self._sentence_end[chosen] - self._sentence_first[chosen]
        run_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        sentence_rows = np.repeat(first - run_starts, lengths) + np.arange(int(lengths.sum()))
        sentences = self.index.sentence_vectors[sentence_rows]
        scores = []
        for vector in vectors:
            best_sentence = np.maximum.reduceat(sentences @ vector, run_starts).astype(np.float32)
            scores.append((1 - alpha) * (passages @ vector) + alpha * best_sentence)
        return scores

    def _merge(self, scored: list[tuple[float, float, float, int]], k: int) -> list[Passage]:
        """Take the best passages; fold a passage that overlaps a better one of its section into it.

        Chunks overlap by a sentence, so neighbours often both rank well; folding
        them gives one longer passage instead of two near-duplicates, up to
        ``MERGED_CHUNKS`` times the chunk size, beyond which the lower one stays out.
        """
        return [self._passage(*item) for item in self._kept(scored, k)]

    def _kept(self, scored: list[tuple[float, float, float, int]], k: int) -> list[_Kept]:
        """What ``_merge`` makes its passages of: scores, first chunk, sentence rows and chunks of each."""
        kept: list[_Kept] = []
        limit = MERGED_CHUNKS * self.settings.chunk_chars
        per_document: dict[str, int] = {}
        cap = self.settings.max_per_document
        texts: set[str] = set()
        covered: set[int] = set()  # the sentence rows of the passages kept
        # The passages kept of each document's section, in order: only those can take a chunk in
        # (a comparison keeps every candidate, and each was checked against all kept before it).
        of_section: dict[tuple[str, str], list[int]] = {}
        first, end = self._sentence_first, self._sentence_end
        for fused, dense, lexical, row in scored:
            if len(kept) >= k and not any(r in covered for r in range(int(first[row]), int(end[row]))):
                # Once k are kept, only a passage overlapping one of them can change anything.
                continue
            chunk = self.index.chunks[row]
            if chunk.text in texts:
                # The same words in another document (a law's earlier version, a local copy of a
                # national article) add nothing to the passages already kept.
                continue
            sentences = set(self.index.sentence_index(chunk))
            section = (chunk.doc_id, chunk.section)
            for i in of_section.get(section, ()):
                k_fused, k_dense, k_lex, k_chunk, k_sentences, k_merged = kept[i]
                if k_sentences & sentences:
                    union = k_sentences | sentences
                    if sum(len(self.index.sentences[r].text) for r in union) <= limit:
                        kept[i] = (k_fused, k_dense, k_lex, k_chunk, union, [*k_merged, chunk])
                        covered |= sentences
                    break
            else:
                if len(kept) < k and not (cap and per_document.get(chunk.doc_id, 0) >= cap):
                    of_section.setdefault(section, []).append(len(kept))
                    kept.append((fused, dense, lexical, chunk, sentences, [chunk]))
                    covered |= sentences
                    per_document[chunk.doc_id] = per_document.get(chunk.doc_id, 0) + 1
                    texts.add(chunk.text)
        return kept

    def _passage(
        self, fused: float, dense: float, lexical: float, chunk: Chunk, rows: set[int], merged: list[Chunk]
    ) -> Passage:
        ordered = sorted(rows)
        own = list(self.index.sentence_index(chunk))
        if ordered == own:
            text, spans = chunk.text, chunk.spans
        else:
            # Rows of merged passages are contiguous only if the chunks touch; a gap is
            # filled so that the passage remains one verbatim stretch of the section.
            rows_range = range(ordered[0], ordered[-1] + 1)
            ordered = list(rows_range)
            text, spans = self.index.joined_sentences(rows_range)
        document = self.index.documents[chunk.doc_id]
        return Passage(
            **document.locate(spans[0][0], spans[-1][1]),  # type: ignore[arg-type]
            kind=document.kind,
            chunk_id=chunk.chunk_id,
            doc_id=chunk.doc_id,
            title=chunk.title,
            section=chunk.section,
            text=text,
            char_start=spans[0][0],
            char_end=spans[-1][1],
            score=fused,
            dense_score=dense,
            lexical_score=lexical,
            sentence_rows=tuple(ordered),
            spans=spans,
            chunk_ids=tuple(c.chunk_id for c in sorted(merged, key=lambda c: c.sentence_start)),
        )


# A word of a Latin alphabet as the tokenizer gives it (lower case); digits and CJK are the other part.
_LATIN_WORD = re.compile(r"[a-z]+")


def _any_of(masks: Sequence[np.ndarray], count: int) -> np.ndarray:
    """1.0 where any of the masks (one per name a question gives) holds, else 0.0; ``count`` zeros for none."""
    return np.logical_or.reduce(masks).astype(np.float32) if masks else np.zeros(count, dtype=np.float32)


# A character most of a phrase's renderings share is its core when at least this many renderings have it.
_CORE_RENDERINGS = 3


def _core_character(renderings: Sequence[str]) -> str | None:
    """The character more than half of a phrase's renderings share (罚 of 惩罚, 刑罚, 罚款, 判罚), if any."""
    counts = Counter(char for rendering in renderings for char in set(rendering) if is_cjk(char))
    if not counts:
        return None
    char, count = counts.most_common(1)[0]
    return char if count >= _CORE_RENDERINGS and 2 * count > len(renderings) else None


def _superseded(titles: Sequence[str], years: Sequence[int | None], first_articles: Sequence[int]) -> np.ndarray:
    """1.0 for each document that a later version supersedes, else 0.0.

    A later version bears the same title with a later year and opens at the same article: the
    books of the Civil Code share its title (中华人民共和国民法典) and open at 第一条, 第二百零五条, … —
    parts of one code, none a version of another.
    """
    latest: dict[tuple[str, int], int] = {}
    for title, year, first in zip(titles, years, first_articles, strict=True):
        if year is not None:
            latest[title, first] = max(latest.get((title, first), year), year)
    return np.asarray(
        [
            year is not None and latest[title, first] > year
            for title, year, first in zip(titles, years, first_articles, strict=True)
        ],
        dtype=np.float32,
    )
