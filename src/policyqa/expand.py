"""Query expansion: give an English question Chinese words for the lexical index.

Three sources, all offline:

- the bilingual glossary of the field (``glossary.py``), exact and curated, for the
  field's own terms that a general dictionary lacks (泡沫破裂低谷期);
- CC-CEDICT (``dictionary.py``), a general Chinese-English dictionary: the longest
  dictionary phrases of the question and their usual Chinese words;
- cross-lingual term matching: each English content word and word pair of the
  question is embedded and matched against the Chinese words of the corpus
  vocabulary (embedded at index time by the same multilingual encoder); the
  closest few above a similarity floor join the BM25 query. This is
  dictionary-free query translation, limited to words that occur in the corpus.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

from .dictionary import chinese_for, expand_english, readings
from .embed import Encoder
from .glossary import chinese_terms, terms_in_chinese
from .index.vectors import VectorSearch
from .lexical import QUESTION_WORDS, STOPWORDS, LexicalIndex, cut, synonym_set, term_tokens, tokenize
from .named import without_document_names
from .places import chinese_names_by_english, places_named
from .query_map import query_map_for
from .settings import Settings
from .text import is_chinese
from .types import Query

# A word (of one letter or more), or any other character that is not a space: punctuation, a
# digit, a Chinese character. Every one of them stands between the words before and after it.
_TOKEN = re.compile(r"([a-z][a-z\-']*)|\S")
MIN_WORD_CHARS = 3


def english_phrases(question: str) -> list[str]:
    """Content words of an English question, and the pairs of them that stand side by side.

    A pair is a phrase only when nothing stands between its words: "penalty law" in "the
    Administrative Penalty Law", not "law long" across ", how long" nor "violation undetected"
    across "go". Such pairs matched unrelated words and cost a vector each.
    """
    matches = list(_TOKEN.finditer(question.lower()))
    tokens = [match.group(0) for match in matches]
    content = [_is_content(match.group(1)) for match in matches]
    words = [token for token, is_content in zip(tokens, content, strict=True) if is_content]
    pairs = [
        f"{a} {b}"
        for a, b, a_content, b_content in zip(tokens, tokens[1:], content, content[1:], strict=False)
        if a_content and b_content
    ]
    return words + pairs


# A pair's words in a row: at most this many characters between their renderings, each taken by
# its first two characters (婴幼儿配方食品 holds 幼儿 and 配方 of 配方奶; 竞业限制协议, 竞业 and 协议).
_IN_A_ROW_GAP = 2
_IN_A_ROW_PREFIX = 2
# Enough for every pair of the questions asked in a while: each costs two dictionary lookups.
PAIR_CACHE_SIZE = 4096


@lru_cache(maxsize=PAIR_CACHE_SIZE)
def rendered_in_a_row(pair: str) -> re.Pattern[str] | None:
    """What finds a pair of English words rendered in Chinese as one: "minimum wage" in 最低工资标准.

    A rendering of the whole pair (CC-CEDICT's 最低工资), or the first two characters of a
    rendering of its first word standing just before those of one of its second's. None when
    the dictionary gives no rendering of two characters or more to make either of.
    """
    first, second = (chinese_for(word, 20) for word in pair.split(" ", 1))
    alternatives = [re.escape(r) for r in sorted({r for r in chinese_for(pair, 20) if len(r) > 1})]
    if in_a_row := words_in_a_row(first, second):
        alternatives.append(in_a_row)
    return re.compile("|".join(alternatives)) if alternatives else None


def words_in_a_row(first: Iterable[str], second: Iterable[str]) -> str | None:
    """A pattern of one of ``first`` standing just before one of ``second``, each by its first two characters.

    None when either has no word of two characters or more.
    """
    firsts, seconds = ({r[:_IN_A_ROW_PREFIX] for r in words if len(r) > 1} for words in (first, second))
    if not (firsts and seconds):
        return None
    before, after = ("|".join(map(re.escape, sorted(r))) for r in (firsts, seconds))
    return f"(?:{before}).{{0,{_IN_A_ROW_GAP}}}(?:{after})"


def pairs_in_a_row(question: str) -> list[re.Pattern[str]]:
    """The patterns of ``rendered_in_a_row`` for the pairs of an English question's words that stand side by side."""
    return [p for pair in dict.fromkeys(english_phrases(question)) if " " in pair and (p := rendered_in_a_row(pair))]


def _is_content(word: str | None) -> bool:
    return word is not None and len(word) >= MIN_WORD_CHARS and word not in STOPWORDS and word not in QUESTION_WORDS


class TermMatcher:
    """Finds corpus words close to English phrases in the encoder's space."""

    # Phrases recur across questions ("technology", "patent law"); their matches (those at
    # or above the floor) are kept so that a question embeds only phrases not seen before.
    # Bounded by count.
    CACHE_SIZE = 20_000

    def __init__(
        self,
        encoder: Encoder,
        terms: list[str],
        vectors: np.ndarray,
        per_phrase: int,
        floor: float,
        search: VectorSearch | None = None,
    ):
        self.encoder = encoder
        self.terms = terms
        self.vectors = vectors
        self.search = search  # the vocabulary's HNSW index, for a large vocabulary
        self.per_phrase = per_phrase
        self.floor = floor
        self._cache: dict[str, list[tuple[str, float]]] = {}
        # Server threads share one matcher: the cache is read and filled under the lock.
        self._lock = threading.Lock()

    def matches(self, question: str) -> list[tuple[str, float]]:
        """Corpus words close to the question's phrases, with their similarity, best per phrase first."""
        found: dict[str, float] = {}
        for _, term, similarity in self.matches_by_phrase(question):
            found[term] = max(found.get(term, 0.0), similarity)
        return list(found.items())

    def matches_by_phrase(self, question: str) -> list[tuple[str, str, float]]:
        """(phrase, corpus word, similarity) for each of the question's phrases, best per phrase first."""
        phrases = english_phrases(question)
        if not phrases or not self.terms or self.per_phrase == 0:
            return []
        with self._lock:
            known = {p: self._cache[p] for p in phrases if p in self._cache}
        missing = list(dict.fromkeys(p for p in phrases if p not in known))
        if missing:
            known.update(self._closest_terms(missing))
            with self._lock:
                if len(self._cache) + len(missing) > self.CACHE_SIZE:
                    self._cache.clear()
                self._cache.update((p, known[p]) for p in missing)
        return [
            (phrase, term, similarity)
            for phrase in dict.fromkeys(phrases)
            for term, similarity in known.get(phrase, ())
        ]

    def _closest_terms(self, phrases: list[str]) -> dict[str, list[tuple[str, float]]]:
        """Each phrase's ``per_phrase`` most similar corpus words at or above the floor, best first.

        Only words at or above the floor are ever used: they are picked with one comparison
        over all phrases' similarities, which costs far less than partitioning every
        phrase's row of ~50,000 similarities as before. The similarities are the same
        product as before, so the words and their values are too.
        """
        k = min(self.per_phrase, len(self.terms))
        if self.search is not None:
            return self._searched(phrases, k)
        similarities = self.encoder.encode_documents(phrases) @ self.vectors.T
        phrase_rows, term_columns = np.nonzero(similarities >= self.floor)
        values = similarities[phrase_rows, term_columns]
        # By phrase, then most similar first.
        order = np.lexsort((term_columns, -values, phrase_rows))
        term_columns, values = term_columns[order], values[order]
        group_starts = np.searchsorted(phrase_rows[order], np.arange(len(phrases) + 1))
        closest: dict[str, list[tuple[str, float]]] = {}
        for row, phrase in enumerate(phrases):
            start, end = group_starts[row], group_starts[row + 1]
            leading = values[start : min(start + k + 1, end)]
            if np.any(leading[1:] == leading[:-1]):
                # Words the encoder cannot tell apart (unknown characters: 甬江, 岷江) tie;
                # the full partition orders them as it always has.
                closest[phrase] = self._partitioned(similarities[row], k)
                continue
            best = slice(start, min(start + k, end))
            closest[phrase] = [(self.terms[j], float(v)) for j, v in zip(term_columns[best], values[best], strict=True)]
        return closest

    def _searched(self, phrases: list[str], k: int) -> dict[str, list[tuple[str, float]]]:
        """Each phrase's ``k`` nearest words by the vocabulary's HNSW index, those at or above the floor.

        One search a phrase: a batch would start FAISS's OpenMP threads inside a server's request threads.
        """
        assert self.search is not None
        closest: dict[str, list[tuple[str, float]]] = {}
        for phrase, vector in zip(phrases, self.encoder.encode_documents(phrases), strict=True):
            rows, scores = self.search.search(vector, k)
            order = np.lexsort((rows, -scores))  # equal similarities in vocabulary order
            closest[phrase] = [(self.terms[int(rows[i])], float(scores[i])) for i in order if scores[i] >= self.floor]
        return closest

    def _partitioned(self, similarities: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` best of one phrase's similarities by a full partition, those at or above the floor."""
        best = np.argpartition(-similarities, k - 1)[:k]
        ranked = [(self.terms[j], float(similarities[j])) for j in best[np.argsort(-similarities[best])]]
        return [(term, value) for term, value in ranked if value >= self.floor]


# A name written in pinyin that the dictionary lacks ("the Jiaodong water diversion project": 胶东): a
# capitalised word of four letters or more. Its title words that sound alike render it for BM25.
_ROMANIZED = re.compile(r"\b[A-Z][a-z]{3,}(?:['’-][a-z]+)?\b")
# Readings tried per character (行: hang, xing): a name's characters rarely have more.
_READINGS_PER_CHARACTER = 2
# What a place's name ends in, which English says in a word of its own: 会稽山 is "Kuaiji Mountain".
_FEATURE_ENDINGS = tuple("山河湖江溪岛湾港峡")


def _holds_places_of(phrase: str, term: str, places: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether a corpus word matched to a phrase holds the Chinese name of every place the phrase names.

    The matcher knows a place's name by its neighbours: "Chaozhou's built-up" lies near 衢州市 and
    胶州市, other cities, whose rules would then rank for a question about Chaozhou.
    """
    names = {phrase.removesuffix("'s"), *(word.removesuffix("'s") for word in phrase.split())}
    return all(any(chinese in term for chinese in places[name]) for name in names if name in places)


class SoundIndex:
    """The words of the documents' titles by their sound in pinyin without tones: 胶东 under "jiaodong".

    A local name that no dictionary lists (a river, a peninsula, a wetland) is in the title of the
    document about it, and an English question writes it in pinyin. Built at the first such question.
    """

    def __init__(self, titles: Sequence[str]) -> None:
        self._titles = titles
        self._by_sound: dict[str, list[str]] | None = None
        self._lock = threading.Lock()

    def words_sounding(self, romanized: str) -> list[str]:
        """The title words read as ``romanized`` ("Jiaodong", "Xi'an"), most frequent first."""
        key = re.sub(r"[^a-z]", "", romanized.lower())
        return list(self._index().get(key, ())) if key else []

    def _index(self) -> dict[str, list[str]]:
        if self._by_sound is None:
            with self._lock:
                if self._by_sound is None:
                    self._by_sound = self._built()
        return self._by_sound

    def _built(self) -> dict[str, list[str]]:
        counts: dict[str, int] = {}
        for title in self._titles:
            for word in cut(title):
                if 2 <= len(word) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in word):
                    counts[word] = counts.get(word, 0) + 1
        character_readings = readings({character for word in counts for character in word})
        by_sound: dict[str, list[str]] = {}
        for word in sorted(counts, key=lambda w: (-counts[w], w)):
            sounds = _spellings(word, character_readings)
            if len(word) >= 3 and word.endswith(_FEATURE_ENDINGS):
                sounds += _spellings(word[:-1], character_readings)
            for spelled in sounds:
                by_sound.setdefault(spelled, []).append(word)
        return by_sound


def _spellings(word: str, character_readings: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A word's readings in pinyin without tones, run together: 胶东 "jiaodong"."""
    spellings = [""]
    for character in word:
        syllables = character_readings.get(character, ())[:_READINGS_PER_CHARACTER]
        spellings = [s + syllable for s in spellings for syllable in syllables]
    return spellings


class QueryPreparer:
    """Turns a question into a ``Query``: its vector, and BM25 tokens with Chinese terms for an English question."""

    def __init__(
        self,
        encoder: Encoder,
        terms: list[str],
        term_vectors: np.ndarray,
        settings: Settings,
        term_search: VectorSearch | None = None,
        lexical: LexicalIndex | None = None,
        titles: Sequence[str] = (),
    ) -> None:
        self.encoder = encoder
        self.settings = settings
        self._sounds = SoundIndex(titles)
        self._lexical = lexical  # the corpus, for picking a phrase's senses by what stands beside them
        self._matcher = TermMatcher(
            encoder, terms, term_vectors, settings.term_matches, settings.term_floor, term_search
        )
        self._query_map = query_map_for(encoder.encoder_id, encoder.dimension) if settings.query_map_weight else None

    def prepare(self, question: str) -> Query:
        chinese = is_chinese(question)
        # A document's name is the named-document lift's to find: "penalty" in "the Administrative
        # Penalty Law" (行政处罚法) asks about no fine (罚款), the glossary's sense of the word.
        terms = chinese_terms(_without_document_names(question)) if self.settings.use_glossary else []
        glossary_terms = tuple(terms)
        translated: list[str] = []
        renderings: dict[str, list[str]] = {}
        close_words: dict[str, list[str]] = {}
        if not chinese and self.settings.dictionary_terms:
            pairs = expand_english(
                question,
                self.settings.dictionary_terms,
                self.settings.dictionary_senses,
                skip=QUESTION_WORDS,
                order=self._by_cohesion if self._lexical is not None and self.settings.sense_pool else None,
            )
            pairs = self._with_compounds(pairs)
            translated = [zh for _, zh in pairs if zh not in terms]
            terms += translated
            for english, zh in pairs:
                renderings.setdefault(english.lower(), []).append(zh)
        if not chinese:
            # A place's rendering is its Chinese name, or a corpus word holding it (深圳市 for 深圳): the
            # vocabulary matcher knows a name it has not learnt only by its letters' pieces ("hefei":
            # 肥沃, 粪肥), and a nearby one by its neighbours ("guangdong": 粤东).
            places = chinese_names_by_english()
            matched = [
                (phrase, term, similarity)
                for phrase, term, similarity in self._matcher.matches_by_phrase(question)
                if _holds_places_of(phrase, term, places)
            ]
            terms += list(dict.fromkeys(t for _, t, _ in matched if t not in terms))
            for phrase, term, similarity in matched:
                renderings.setdefault(phrase, []).append(term)
                if similarity >= self.settings.close_word_floor:
                    close_words.setdefault(phrase, []).append(term)
        # The question's own words and its glossary terms: what the relevance floor and
        # verification judge by. Dictionary words (a general dictionary gives wrong senses
        # too) and embedding matches only help ranking.
        # A letter alone is what an apostrophe leaves ("what's", "I'm", "aren't"): it names nothing, and
        # matches only list labels in Latin letters (s)重度排尿障碍) and stray English.
        own_tokens = [t for t in tokenize(question) if not (len(t) == 1 and "a" <= t <= "z")]
        for term in glossary_terms:
            own_tokens.extend(term_tokens(term))
        tokens = list(own_tokens)
        for term in terms[len(glossary_terms) :]:
            tokens.extend(term_tokens(term))
        if chinese and self.settings.use_glossary:
            # A term of the field in a Chinese question counts as it does in an English one (the
            # retriever's own candidates and bonus for it); its words are the question's already.
            glossary_terms = tuple(terms_in_chinese(question))
        # Names in pinyin only rank: that a title sounds like a name says nothing of what the question asks.
        sounded = self._sounded_names(question) if not chinese else {}
        for words in sounded.values():
            tokens.extend(w for w in words if w not in tokens)
        lexical = tuple(tokens)
        if (renderings or sounded) and self.settings.structured_query:
            lexical = tuple(structured_query(own_tokens, {**renderings, **sounded}, glossary_terms))
        # The question without the names of the documents it names orders their passages (the retriever):
        # encoded with the question, in one call.
        name_free = without_document_names(question, described=True)
        asked = [question, name_free] if name_free.strip() and name_free != question else [question]
        vector = self.encoder.encode_queries(asked)[0]
        ranking_vector = None
        if self._query_map is not None:
            language = "zh" if chinese else "en"
            ranking_vector = self._query_map.ranking_vector(vector, language, self.settings.query_map_weight)
        by_phrase = tuple((phrase, tuple(words)) for phrase, words in renderings.items())
        return Query(
            question,
            vector,
            tuple(tokens),
            glossary_terms,
            tuple(terms),
            chinese,
            tuple(own_tokens),
            lexical,
            by_phrase,
            tuple((phrase, tuple(words)) for phrase, words in close_words.items()),
            ranking_vector,
        )

    def _sounded_names(self, question: str) -> dict[str, list[str]]:
        """The title words that sound like each name the question writes in pinyin and the dictionary lacks.

        They replace the vocabulary matcher's words for it, which it finds by the name's letters
        ("jiaodong": 东渡, 东太).
        """
        sounded: dict[str, list[str]] = {}
        for name in dict.fromkeys(_ROMANIZED.findall(question)):
            key = name.lower()
            if key in STOPWORDS or chinese_for(key, 1) or places_named(name):
                continue
            words = self._sounds.words_sounding(name)
            if self._lexical is not None:  # BM25 matches the corpus's words: 胶 东 cut apart holds no 胶东
                words = [w for w in words if self._lexical.knows(w)]
            if words:
                sounded[key] = words
        return sounded

    def _with_compounds(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Each rendering, followed by the corpus's compounds that hold it when it is no word of the corpus.

        "Plenary session" renders 全会, which the corpus says only inside 三中全会 and 四中全会, jieba's
        words: as a BM25 term 全会 would match nothing.
        """
        if self._lexical is None or not self.settings.compounds_per_rendering:
            return pairs
        extended = []
        for english, zh in pairs:
            extended.append((english, zh))
            if len(zh) >= 2 and not self._lexical.knows(zh):
                holding = self._lexical.words_holding(zh, self.settings.compounds_per_rendering)
                extended += [(english, word) for word in holding]
        return extended

    def _by_cohesion(self, senses: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """Each phrase's first ``sense_pool`` dictionary words, those used beside the other phrases' first.

        CC-CEDICT lists a word's senses by how common each is in general ("limitation": 限度,
        局限性, 时效); the question's other phrases say which one it means (``LexicalIndex.cohesion``).
        Equal cohesion keeps the dictionary's order; words past the pool follow in it.
        """
        assert self._lexical is not None
        pool = self.settings.sense_pool
        if len(senses) < 2 or all(len(words) == 1 for words in senses):
            return senses
        heads = [words[:pool] for words in senses]
        ordered = []
        for head, cohesion, words in zip(heads, self._lexical.cohesion(heads), senses, strict=True):
            most_cohesive_first = np.argsort(-np.asarray(cohesion), kind="stable")
            ordered.append(tuple(head[i] for i in most_cohesive_first) + words[pool:])
        return ordered


def structured_query(
    own_tokens: Sequence[str], renderings: Mapping[str, Sequence[str]], glossary_terms: Iterable[str] = ()
) -> list[str]:
    """A BM25 query in which each English phrase's Chinese renderings count as one term.

    In a flat query, a phrase with three renderings weighs three times: the vocabulary matcher
    gave "partner" 合伙, 合伙人 and 伙伴关系, and a partnership law's articles, which hold all
    three, ranked first for how companies partner with universities. As a synonym set
    (``lexical.synonym_set``) the phrase counts once in a passage, by its best rendering there.
    A rendering goes to the first phrase that has it; one that jieba cuts into several words
    stays as those words, and a glossary term is among the question's own tokens already.
    """
    query = list(own_tokens)
    placed = set(glossary_terms)
    for terms in renderings.values():
        members: list[str] = []
        for term in dict.fromkeys(terms):
            if term in placed:
                continue
            placed.add(term)
            words = term_tokens(term)
            if len(words) == 1:
                members.append(words[0])
            else:
                query.extend(words)
        members = list(dict.fromkeys(members))
        if len(members) == 1:
            query.append(members[0])
        elif members:
            query.append(synonym_set(members))
    return query


def _without_document_names(question: str) -> str:
    """An English question with the document names it gives blanked out (a Chinese one as it is)."""
    return question if is_chinese(question) else without_document_names(question)
