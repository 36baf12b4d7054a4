"""Lexical stage: BM25 over jieba tokens, built once and persisted in bm25s's file format.

The index is saved as JSON and ``.npy`` arrays (never pickle) and loaded
memory-mapped, so a query only tokenises the question and reads scores. Loading
reads bm25s's files directly: a query sums the precomputed score columns of its
tokens, which needs numpy only, and importing bm25s (numba, scipy) would cost a
new process ~0.3 s before its first answer.

The scores are computed here, vectorised, from every passage's token ids
(:class:`TokenIds`, kept with the build): bm25s's "lucene" BM25 with its default
parameters, as before, but without a Python loop per passage, and so that adding
documents re-scores the whole library from the stored ids without cutting its text again.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .text import CJK_RANGE
from .user_cache import cache_home, private_folder

_TOKEN_RE = re.compile(rf"[{CJK_RANGE}]|[a-z0-9]+(?:[.%][a-z0-9]+)*", re.I)
_CHINESE_WORD = re.compile(rf"[{CJK_RANGE}]{{2,}}")
_CJK_RUN = re.compile(rf"[{CJK_RANGE}]+")
# Function words that would otherwise dominate short Chinese queries.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 为 对 等 中 将 以 其 并 而 也 都 由 从 向 于 之 被 把 这 那 该 有 个 "
    "什么 哪些 如何 怎样 怎么 多少 哪个 吗 呢 吧 哪 谁 为什么 是否 应当 可以 "
    "the a an of and or to in on for is are what which how who does do did with by as at from that this "
    "be it its into about".split()
)

# Words that ask rather than say what is asked about. "policy" is not one: in a corpus of policy
# "industrial policies" and "spatial policy" name what is asked about (产业政策 against a law's words).
QUESTION_WORDS = frozenset(
    "paper article text according say says said mean means meant should can could would will "
    "were been these those their they there here also any each other some such only own same very just not nor "
    "but we our you your me my his her he she them describe explain give list name main kind kinds type types "
    "way ways role play plays example examples define defines defined definition definitions meaning".split()
)


@lru_cache(maxsize=1)
def jieba_module():  # type: ignore[no-untyped-def]
    """The ``jieba`` module, its dictionary cache pointed at a private folder before it first loads.

    For what only jieba gives (its tags, full mode, word frequencies) and a question's
    BM25 words; a passage's are cut by jieba-rs (``cut``), which does not load jieba.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)
    # jieba caches its parsed dictionary with marshal in the shared temp folder, where
    # another local user could plant one; a folder only this user can write is used instead.
    private = cache_home() / "jieba"
    if private_folder(private):
        jieba.dt.tmp_dir = str(private)
    else:
        jieba.dt.cache_file = None
        jieba.dt.tmp_dir = None
        raise RuntimeError(f"{private} is not a private folder; refusing to load jieba's cache from it.")
    return jieba


@lru_cache(maxsize=1)
def _bm25s():  # type: ignore[no-untyped-def]
    import bm25s

    # bm25s sets its logger to DEBUG when imported, overriding the level the CLI chose,
    # so every build printed "DEBUG: Building index from tokens".
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@lru_cache(maxsize=1)
def _rjieba():  # type: ignore[no-untyped-def]
    import rjieba

    return rjieba


# jieba's own pieces of an alphanumeric run that holds no dictionary word (``finalseg``'s
# re_skip): "0.10g" -> "0.10", "g"; "2020-2035" -> "2020", "-", "2035".
_ALNUM_PIECE = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_JOINING_MARK = re.compile(r"[.\-+#&_%]")
# Rarer ideographs (extensions A and B on, compatibility ones) that jieba-rs joins into blocks
# and jieba does not; a text with one is cut by jieba itself.
_BEYOND_JIEBA_HAN = re.compile("[\u3400-\u4dbf\u9fd6-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# A character of the runs that jieba segments one by one (its re_han_default).
_JIEBA_BLOCK_CHAR = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]")


def cut(text: str) -> list[str]:
    """jieba's segmentation (exact mode, HMM on) of ``text``, by jieba-rs.

    jieba-rs reads jieba's dictionary with jieba's algorithm at about 15 times its
    speed (the whole library's BM25 cuts: 58 s against 4 s), which took jieba's share of a
    build's cores away from the encoder (docs/performance.md). Two differences are undone,
    so that both give the same words (the whole library, 20 M characters: no difference):
    an alphanumeric run joined by marks ("0.10g", "dbj14-022-2003") that no dictionary word
    covers, which jieba-rs keeps whole, is cut into jieba's pieces; a text with rare
    ideographs outside jieba's range is left to jieba.
    """
    if _BEYOND_JIEBA_HAN.search(text):
        return jieba_module().lcut(text)
    rjieba = _rjieba()
    words: list[str] = []
    for word in rjieba.cut(text):
        if len(word) > 1 and _JOINING_MARK.search(word) and not rjieba.has_word(word):
            words.extend(piece for piece in _ALNUM_PIECE.split(word) if piece)
        else:
            words.append(word)
    return words


def tokenize(text: str) -> list[str]:
    """Words for BM25: jieba's segmentation (``cut``, by jieba-rs), lower-cased, without punctuation and function words.

    The same for passages and questions. A question's words were once cut by jieba itself,
    which loads its dictionary in ~0.6 s: a new process answering an English question
    needs jieba for nothing else, and a server loads jieba-rs before it forks its workers.
    """
    return _bm25_words(cut(text.lower()))


def _bm25_words(words: Iterable[str]) -> list[str]:
    tokens: list[str] = []
    for word in words:
        word = word.strip()
        if not word or word in STOPWORDS or not _TOKEN_RE.search(word):
            continue
        tokens.append(word)
    return tokens


# Questions whose part-of-speech cut is kept: verification reads a question's nouns and its
# compounds from one cut (~0.3 ms each).
TAGGED_CACHE_SIZE = 64


@lru_cache(maxsize=TAGGED_CACHE_SIZE)
def _tagged(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's part-of-speech cut of a text: (word, tag) in order."""
    jieba_module()  # the dictionary loaded from the private cache folder
    import jieba.posseg

    return tuple((pair.word, pair.flag) for pair in jieba.posseg.lcut(text))


def nouns(text: str) -> list[str]:
    """The nouns of a text of two characters or more (jieba's part-of-speech tags n…, and l), in order.

    What a question is about (克隆, 宠物, 生物医药) rather than how it asks (怎么, 规定, 提出). jieba
    tags some names of things as fixed expressions (l): 无人机.
    """
    return [word for word, tag in _tagged(text) if len(word) >= 2 and tag.startswith(("n", "l"))]


# jieba's tags of words that say how rather than what: localizers (之内, 之后), conjunctions (因为),
# prepositions, pronouns and particles. Not adverbs: jieba tags 一期 (one term) as one.
_FUNCTION_TAGS = ("f", "c", "p", "r", "u", "y", "e", "o")


def function_words(text: str) -> set[str]:
    """The words of a text that jieba tags as function words (之内, 之后, 因为), not as what it is about."""
    return {word for word, tag in _tagged(text) if tag.startswith(_FUNCTION_TAGS)}


# Interrogatives that pick one of a kind: 哪些途径, 什么样的条件, 何种措施.
_PICKING_OPENINGS = ("哪", "什么", "何")


def nouns_asked_for(text: str) -> list[str]:
    """The nouns that name the kind of thing a question asks for: 途径 of 通过哪些途径推广.

    The answer gives things of that kind; the text that gives them need not name the kind (a
    law lists the ways an achievement is spread without the word 途径).
    """
    cut = _tagged(text)
    found = []
    for i, (word, _) in enumerate(cut):
        if not word.startswith(_PICKING_OPENINGS):
            continue
        following = cut[i + 1 : i + 3]
        if following and following[0][0] == "的":
            following = following[1:]
        if following and following[0][1].startswith("n"):
            found.append(following[0][0])
    return found


# 多少名, 几家: a number asked for, by the measure word of what is counted.
_COUNT_ASKED = re.compile(r"(?:多少|几)(个|家|项|所|名|人|件|次|条|位|辆|套)")


def counted_nouns(text: str) -> list[tuple[str, str]]:
    """The nouns a question asks the number of, each with its measure word: ("名", "学生") of 最多能有多少名学生.

    A number of classes does not answer it: the sentence that gives the number says what it
    counts, by the noun or by the measure word (四十五名).
    """
    found = []
    for match in _COUNT_ASKED.finditer(text):
        following = _tagged(text[match.end() : match.end() + 8])
        # 次 counts events, which jieba tags as verbs or abbreviations (几次体检, 几次尿检).
        tags = ("n", "v", "j") if match.group(1) == "次" else ("n",)
        if following and len(following[0][0]) >= 2 and following[0][1].startswith(tags):
            found.append((match.group(1), following[0][0]))
    return found


# One-character words jieba may tag as nouns that end a clause of time or place instead (转让科技成果时,
# 审批后): they head no compound.
_CLAUSE_MARKERS = frozenset("时后前中内外上下间")


def one_character_headed(text: str) -> list[str]:
    """Compounds of a text whose head is a one-character noun, with the word before it: 预制菜, 培养肉.

    ``nouns`` leaves one-character nouns out (菜 and 肉 stand in any food law), and so the thing
    asked about, the compound, would never be looked for. The word before is a noun or a verb of
    two characters or more (预制, 培养).
    """
    cut = _tagged(text)
    return [
        before + head
        for (before, before_tag), (head, head_tag) in zip(cut, cut[1:], strict=False)
        if len(head) == 1
        and head_tag.startswith("n")
        and head not in _CLAUSE_MARKERS
        and _CJK_RUN.fullmatch(head)
        and len(before) >= 2
        and before_tag[:1] in ("n", "v")
        and _CJK_RUN.fullmatch(before)
    ]


@lru_cache(maxsize=TAGGED_CACHE_SIZE)
def word_parts(word: str) -> tuple[str, ...]:
    """The words of two characters or more that make up a compound jieba knows whole, in order:
    平均水平 → 平均, 水平. () when they do not tile it (无人机: 无人 and 机)."""
    jieba = jieba_module()
    inner = {w for w in jieba.cut_for_search(word) if 2 <= len(w) < len(word)}
    parts: list[str] = []
    at = 0
    while at < len(word):
        part = max((w for w in inner if word.startswith(w, at)), key=len, default=None)
        if part is None:
            return ()
        parts.append(part)
        at += len(part)
    return tuple(parts)


def words_jieba_lacks(text: str, is_word: Callable[[str], bool]) -> list[str]:
    """Words of ``text`` that jieba's dictionary lacks and another one (``is_word``) has, in order.

    jieba's exact cut guesses such words by its HMM (抖音, 网红) where its part-of-speech cut,
    which ``nouns`` reads, leaves them in characters (抖, 音). A guess that no dictionary knows
    (小红 of 小红书) may be any few characters, and is left out.
    """
    jieba = jieba_module()
    return list(
        dict.fromkeys(
            w for w in jieba.lcut(text) if len(w) > 1 and _CJK_RUN.fullmatch(w) and not jieba.get_FREQ(w) and is_word(w)
        )
    )


# The head words of a body's name: a committee, an association, a federation, a league, a foundation.
_BODY_HEAD = re.compile(r"(?:委员会|协会|联合会|联盟|基金会|研究会|促进会|商会)$")
# What may stand in a body's name before its head: nouns, verbs, fixed expressions, attributes (jieba's tags).
_NAME_PART_TAGS = ("n", "v", "l", "a", "b", "j")


def bodies_named(text: str) -> list[str]:
    """The names of bodies a Chinese text gives by their head word: 国家赔偿基金管理委员会, 犬类管理委员会.

    A name runs back from its head over the words of two characters or more that may name (a noun,
    a verb, a fixed expression), to a particle, a one-character word or the text's start.
    """
    tagged = _tagged(text)
    names = []
    for i, (word, _) in enumerate(tagged):
        if not _BODY_HEAD.search(word):
            continue
        start = i
        while start > 0 and len(tagged[start - 1][0]) >= 2 and tagged[start - 1][1].startswith(_NAME_PART_TAGS):
            start -= 1
        names.append("".join(w for w, _ in tagged[start : i + 1]))
    return names


def words_jieba_cuts_apart(text: str, is_word: Callable[[str], bool], lengths: range = range(3, 6)) -> list[str]:
    """Words of ``text`` that jieba's dictionary lacks and cuts apart, and another one (``is_word``) has whole.

    "国家对元宇宙平台…" is cut 国家 / 对元 / 宇宙 / 平台: 元宇宙 (the metaverse) starts inside one of jieba's
    words and ends at the edge of the next. A word found so ends where jieba ends one and starts inside
    an earlier one: a piece inside one of jieba's words (环保部 of 环保部门) is none.
    """
    jieba = jieba_module()
    cut = jieba.lcut(text)
    found = []
    for end, word in zip(itertools.accumulate(map(len, cut)), cut, strict=True):
        start = end - len(word)
        for length in lengths:
            begin = end - length
            if begin < 0 or begin >= start:
                continue  # a longer span than the text, or one inside jieba's last word
            candidate = text[begin:end]
            if _CJK_RUN.fullmatch(candidate) and not jieba.get_FREQ(candidate) and is_word(candidate):
                found.append(candidate)
    return list(dict.fromkeys(found))


@lru_cache(maxsize=50_000)
def is_noun(word: str) -> bool:
    """Whether a Chinese word names a thing: jieba reads its head, its last word, as a noun (n…, or l).

    A Chinese compound is head-final: 元宇宙 (元 + 宇宙) and 陪产假 (陪 + 产假) name things as their
    heads do, whatever their first parts; 引起 and 造成 are verbs.
    """
    jieba_module()
    import jieba.posseg

    pieces = jieba.posseg.lcut(word)
    return bool(pieces) and pieces[-1].flag.startswith(("n", "l"))


@lru_cache(maxsize=50_000)
def term_tokens(term: str) -> tuple[str, ...]:
    """``tokenize`` of one query term (a glossary or expansion term), cut once: terms recur across questions."""
    return tuple(tokenize(term))


# bm25s's methods that add a non-occurrence term to every score; ours is "lucene", without one.
_NONOCCURRENCE_METHODS = frozenset({"bm25l", "bm25+"})


def tokenize_joined(parts: Sequence[str], separators: Sequence[str], cache: dict[str, list[str]]) -> list[str]:
    """``tokenize`` of the parts joined by the separators, each distinct part cut by jieba once.

    ``separators[i]`` (nothing or whitespace) stands between ``parts[i]`` and
    ``parts[i + 1]``. jieba splits text into blocks at every character outside its
    word class (CJK, letters, digits and ``+#&._%-``) and segments each block
    alone, so where two parts meet at such a character, or across whitespace, the
    joined text's words are the parts' words in turn. A passage's sentences end
    in 。！？；, so a passage is tokenized from its sentences, which repeat across
    overlapping passages; where two parts meet inside a block (a sentence cut for
    length), the joined text is tokenized whole.
    """
    for i, separator in enumerate(separators):
        if separator.strip():
            raise ValueError(f"separators must be whitespace or empty. Currently, one is {separator!r}.")
        left, right = parts[i], parts[i + 1]
        joins_a_block = left and right and _JIEBA_BLOCK_CHAR.match(left[-1]) and _JIEBA_BLOCK_CHAR.match(right[0])
        if not separator and joins_a_block:
            joined = "".join(p + s for p, s in zip(parts, [*separators, ""], strict=True))
            return tokenize(joined)
    tokens: list[str] = []
    for part in parts:
        if (words := cache.get(part)) is None:
            words = cache[part] = tokenize(part)
        tokens.extend(words)
    return tokens


# bm25s's defaults ("lucene" BM25), with which every index so far was built.
BM25_K1 = 1.5
BM25_B = 0.75
_BM25_PARAMS = {
    "k1": BM25_K1,
    "b": BM25_B,
    "delta": 0.5,
    "method": "lucene",
    "idf_method": "lucene",
    "dtype": "float32",
    "int_dtype": "int32",
}
TOKEN_IDS_FILE = "token_ids.npy"
TOKEN_OFFSETS_FILE = "token_offsets.npy"
_VOCAB_FILE = "vocab.index.json"


# Joins the members of a synonym set into one query token; jieba never yields it inside a word.
SYNONYM_SEPARATOR = "\x1f"
# The empty passages a word's co-occurrence mean is taken with (``LexicalIndex.cohesion``).
# Chosen on the dev half: 20 and 50 gave the same, 1 and 5 less.
COHESION_PRIOR = 20.0


def synonym_set(members: Sequence[str]) -> str:
    """One BM25 query token for several words that render one English phrase (a structured query).

    The phrase counts once in a passage, by the best of its words there, however many the passage holds.
    """
    return SYNONYM_SEPARATOR.join(members)


def flat_tokens(query_tokens: Iterable[str]) -> list[str]:
    """The query's tokens with each synonym set's members as tokens of their own (for a store without sets)."""
    return [member for token in query_tokens for member in token.split(SYNONYM_SEPARATOR)]


@dataclass(frozen=True)
class TokenIds:
    """Every passage's BM25 tokens as ids into one vocabulary, in one flat array.

    Passage ``i``'s ids are ``ids[offsets[i]:offsets[i + 1]]``; a passage without
    tokens holds the empty token, as bm25s indexed it.
    """

    vocab: dict[str, int]
    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, one more than there are passages

    @classmethod
    def from_tokens(cls, corpus_tokens: Iterable[Sequence[str]], base: TokenIds | None = None) -> TokenIds:
        """The ids of ``corpus_tokens``, appended to ``base``'s passages with its vocabulary extended."""
        vocab = dict(base.vocab) if base is not None else {}
        ids = array("i")
        lengths = array("q")
        for tokens in corpus_tokens:
            tokens = tokens or ("",)
            ids.extend(vocab.setdefault(token, len(vocab)) for token in tokens)
            lengths.append(len(tokens))
        new_ids = np.frombuffer(ids, dtype=np.int32) if ids else np.zeros(0, dtype=np.int32)
        new_lengths = np.frombuffer(lengths, dtype=np.int64) if lengths else np.zeros(0, dtype=np.int64)
        if base is None:
            return cls(vocab, new_ids.copy(), np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int64))
        offsets = np.concatenate([base.offsets, base.offsets[-1] + np.cumsum(new_lengths)]).astype(np.int64)
        return cls(vocab, np.concatenate([base.ids, new_ids]), offsets)

    @property
    def passages(self) -> int:
        return len(self.offsets) - 1

    def save(self, folder: Path) -> None:
        """The ids and offsets beside the index's files (its ``vocab.index.json`` is their vocabulary)."""
        np.save(folder / TOKEN_IDS_FILE, self.ids, allow_pickle=False)
        np.save(folder / TOKEN_OFFSETS_FILE, self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> TokenIds:
        """Read the ids a build kept; ValueError (or OSError) when they are missing or do not fit together."""
        vocab = json.loads((folder / _VOCAB_FILE).read_text(encoding="utf-8"))
        ids = np.load(folder / TOKEN_IDS_FILE, allow_pickle=False)
        offsets = np.load(folder / TOKEN_OFFSETS_FILE, allow_pickle=False)
        if not isinstance(vocab, dict) or sorted(vocab.values()) != list(range(len(vocab))):
            raise ValueError(f"{folder}/{_VOCAB_FILE} does not number its tokens 0..n-1")
        if ids.dtype != np.int32 or offsets.dtype != np.int64 or ids.ndim != 1 or offsets.ndim != 1:
            raise ValueError(f"{folder}: the token id arrays have the wrong types")
        if len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ids) or np.any(np.diff(offsets) < 0):
            raise ValueError(f"{folder}: the token offsets do not cover the token ids")
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= len(vocab)):
            raise ValueError(f"{folder}: a token id lies outside the vocabulary")
        return cls(vocab, ids, offsets)


def bm25_matrix(tokens: TokenIds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lucene BM25 scores as a token x passage matrix in CSC form: ``data``, ``indices``, ``indptr``.

    score = idf(token) * tf / (tf + k1 * (1 - b + b * length / mean length)), with
    idf = ln(1 + (N - df + 0.5) / (df + 0.5)): bm25s's "lucene" method, computed for
    all (token, passage) pairs at once.
    """
    passages = tokens.passages
    lengths = np.diff(tokens.offsets)
    owner = np.repeat(np.arange(passages, dtype=np.int64), lengths)
    # One key per (token, passage), sorted by token and then passage: the CSC order.
    keys, tf = np.unique(tokens.ids.astype(np.int64) * max(passages, 1) + owner, return_counts=True)
    del owner
    token, passage = np.divmod(keys, max(passages, 1))
    df = np.bincount(token, minlength=len(tokens.vocab))
    idf = np.log1p((passages - df + 0.5) / (df + 0.5))
    norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / max(float(lengths.mean()) if passages else 1.0, 1e-9))
    data = (idf[token] * tf / (norm[passage] + tf)).astype(np.float32)
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    return data, passage.astype(np.int32), indptr


class LexicalIndex:
    """BM25 scores for every passage of the index.

    The precomputed scores are a sparse token x passage matrix in CSC form
    (``data``, ``indices``, ``indptr``), as bm25s saves it.
    """

    # At most this many postings of synonym sets kept (8 bytes each).
    SYNONYM_POSTINGS_KEPT = 2_000_000

    def __init__(
        self,
        vocab: dict[str, int],
        data: np.ndarray,
        indices: np.ndarray,
        indptr: np.ndarray,
        num_docs: int,
        tokens: TokenIds | None = None,
    ) -> None:
        self._vocab = vocab
        self._data = data
        self._indices = indices
        self._indptr = indptr
        self._num_docs = num_docs
        self._tokens = tokens  # a fresh build's token ids, saved with it
        # English phrases recur across questions, and so do their synonym sets: each set's
        # postings are kept (bounded by their total count), so a known set costs what a token does.
        self._synonym_postings: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._synonym_postings_kept = 0
        self._synonym_lock = threading.Lock()
        # The vocabulary joined, for finding the words that hold a fragment (``words_holding``).
        self._joined_vocabulary: str | None = None
        self._vocabulary_words: list[str] = []
        self._vocabulary_starts = np.zeros(0, dtype=np.int64)

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        return cls.build_from_tokens([tokenize(t) for t in texts])

    @classmethod
    def build_from_tokens(cls, corpus_tokens: list[list[str]]) -> LexicalIndex:
        """The index of passages already tokenized (by ``tokenize`` or ``tokenize_joined``)."""
        return cls.build_from_ids(TokenIds.from_tokens(corpus_tokens))

    @classmethod
    def build_from_ids(cls, tokens: TokenIds) -> LexicalIndex:
        """The index of passages as token ids (a build's, with a new document's appended)."""
        data, indices, indptr = bm25_matrix(tokens)
        return cls(tokens.vocab, data, indices, indptr, tokens.passages, tokens)

    def save(self, folder: Path) -> None:
        """Write the index in bm25s's file format, with the token ids it was computed from."""
        if self._tokens is None:
            raise ValueError("Only a freshly built lexical index can be saved.")
        folder.mkdir(parents=True, exist_ok=True)
        for name, values in (("data", self._data), ("indices", self._indices), ("indptr", self._indptr)):
            np.save(folder / f"{name}.csc.index.npy", values, allow_pickle=False)
        (folder / _VOCAB_FILE).write_text(json.dumps(self._vocab, ensure_ascii=False), encoding="utf-8")
        params = {**_BM25_PARAMS, "num_docs": self._num_docs}
        (folder / "params.index.json").write_text(json.dumps(params, indent=1), encoding="utf-8")
        self._tokens.save(folder)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read bm25s's saved index, its arrays memory-mapped (raises ValueError or OSError if unreadable)."""
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        if not isinstance(params, dict) or not isinstance(vocab, dict) or not isinstance(params.get("num_docs"), int):
            raise ValueError(f"{folder} holds no bm25s index")
        if params.get("method") in _NONOCCURRENCE_METHODS:
            model = _bm25s().BM25.load(str(folder), mmap=True, allow_pickle=False)
            return _Bm25sIndex(model)
        # Plain arrays over the mappings: indexing a np.memmap runs Python code per call.
        data, indices, indptr = (
            np.asarray(np.load(folder / f"{name}.csc.index.npy", mmap_mode="r", allow_pickle=False))
            for name in ("data", "indices", "indptr")
        )
        return cls(vocab, data, indices, indptr, int(params["num_docs"]))

    def idf(self, tokens: list[str]) -> np.ndarray:
        """Inverse document frequency of each token (0 for a token the corpus lacks)."""
        num_docs = self._num_docs
        indptr = self._indptr
        out = np.zeros(len(tokens), dtype=np.float32)
        for i, token in enumerate(tokens):
            if (j := self._vocab.get(token)) is not None:
                df = int(indptr[j + 1] - indptr[j])
                out[i] = np.log(1 + (num_docs - df + 0.5) / (df + 0.5))
        return out

    def vocabulary(self) -> list[str]:
        return list(self._vocab)

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def knows(self, word: str) -> bool:
        """Whether ``word`` is one of the corpus's tokens."""
        return word in self._vocab

    def joined_vocabulary(self) -> str:
        """The corpus's words, one per line: a word of the texts is in it, alone or inside a compound."""
        with self._synonym_lock:
            if self._joined_vocabulary is None:
                self._vocabulary_words = list(self._vocab)
                self._vocabulary_starts = np.cumsum([0, *(len(w) + 1 for w in self._vocabulary_words[:-1])])
                self._joined_vocabulary = "\n".join(self._vocabulary_words)
            return self._joined_vocabulary

    def words_holding(self, fragment: str, limit: int) -> list[str]:
        """Up to ``limit`` of the corpus's words that hold ``fragment``, those in most passages first.

        jieba keeps compounds whole (党的二十届三中全会 gives 三中全会), so a word that stands in the
        corpus only inside them (全会, "plenary session") is no token of it: its compounds are.
        """
        joined = self.joined_vocabulary()
        positions = [m.start() for m in re.finditer(re.escape(fragment), joined)]
        rows = set(np.searchsorted(self._vocabulary_starts, positions, side="right").tolist())
        holding = {self._vocabulary_words[row - 1] for row in rows} - {fragment}
        passages = {w: int(self._indptr[self._vocab[w] + 1] - self._indptr[self._vocab[w]]) for w in holding}
        return sorted(passages, key=lambda w: (-passages[w], w))[:limit]

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (zeros if none is known).

        A synonym set (``synonym_set``) counts as one token, scored in each passage by its
        best member there.

        A repeated token counts each time, and tokens are added in query order, as
        bm25s does; within one token's column every passage appears once, so a
        plain fancy-index addition equals bm25s's ``np.add.at``.
        """
        scores = np.zeros(self._num_docs, dtype=np.float32)
        for token in query_tokens:
            if SYNONYM_SEPARATOR in token:
                rows, values = self._synonym_set_postings(token)
                scores[rows] += values
            elif (j := self._vocab.get(token)) is not None:
                start, end = int(self._indptr[j]), int(self._indptr[j + 1])
                scores[self._indices[start:end]] += self._data[start:end]
        return scores

    def cohesion(self, groups: Sequence[Sequence[str]]) -> list[list[float]]:
        """For each word of each group, how many of the other groups its passages hold, on average.

        A group is the Chinese renderings of one English phrase of a question. Of a phrase's
        dictionary senses, the one the corpus uses beside the renderings of the question's other
        phrases is likely the one meant (translation selection by co-occurrence: Ballesteros and
        Croft, 1998; Gao et al., 2001): "limitation period … defence" gives 时效, 期间 and 抗辩, which
        stand together in passages on limitation, where 限度, 时期 and 防御 seldom meet. The mean is
        taken over the word's passages plus ``COHESION_PRIOR`` empty ones, so that a word of two
        passages needs more than chance to win.
        """
        postings = [[self.passages_holding(word) for word in group] for group in groups]
        held_by = np.zeros(self._num_docs, dtype=np.int16)
        held = np.zeros(self._num_docs, dtype=bool)
        for group in postings:
            # A mask, not np.unique of the group's rows: the sort costs ten times more.
            held[:] = False
            for rows in group:
                held[rows] = True
            held_by += held
        # A word's own group is held wherever the word is: one less for each of its passages.
        return [
            [float(held_by[rows].sum(dtype=np.int64) - len(rows)) / (len(rows) + COHESION_PRIOR) for rows in group]
            for group in postings
        ]

    def said_together(self, word: str) -> bool:
        """Whether some passage holds every token of a word that jieba cuts in several (职业学校: 职业, 学校)."""
        return len(term_tokens(word)) > 1 and len(self.passages_holding(word)) > 0

    def passages_holding(self, word: str) -> np.ndarray:
        """The passages holding every token of a word (one token for most words), ascending."""
        held: np.ndarray | None = None
        for token in term_tokens(word):
            if (j := self._vocab.get(token)) is None:
                return np.zeros(0, dtype=np.int32)
            rows = self._indices[int(self._indptr[j]) : int(self._indptr[j + 1])]
            held = rows if held is None else np.intersect1d(held, rows, assume_unique=True)
        return held if held is not None else np.zeros(0, dtype=np.int32)

    def _synonym_set_postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """A synonym set's passages (each once) and its BM25 score in each, kept for sets asked again."""
        with self._synonym_lock:
            if (kept := self._synonym_postings.get(token)) is not None:
                self._synonym_postings.move_to_end(token)
                return kept
        postings = self._synonym_set_scores(token.split(SYNONYM_SEPARATOR))
        size = len(postings[0])
        with self._synonym_lock:
            if token not in self._synonym_postings and size <= self.SYNONYM_POSTINGS_KEPT:
                self._synonym_postings[token] = postings
                self._synonym_postings_kept += size
                while self._synonym_postings_kept > self.SYNONYM_POSTINGS_KEPT:
                    _, (rows, _) = self._synonym_postings.popitem(last=False)
                    self._synonym_postings_kept -= len(rows)
        return postings

    def _synonym_set_scores(self, members: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Passages holding any member, and the set's score there: that of its best member in the passage.

        The best, not the sum: a passage that holds three renderings of one English word (合伙,
        合伙人, 伙伴关系 for "partner") answers that word no better than one holding one of them;
        each member keeps its own rarity (a set's pooled document frequency, measured too, gave
        a rare right rendering the weight of the common ones beside it).
        """
        columns = [
            (self._indices[start:end], self._data[start:end])
            for member in members
            if (j := self._vocab.get(member)) is not None
            for start, end in [(int(self._indptr[j]), int(self._indptr[j + 1]))]
        ]
        if not columns:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        if len(columns) == 1:
            return columns[0]
        best = np.zeros(self._num_docs, dtype=np.float32)
        for rows, data in columns:
            best[rows] = np.maximum(best[rows], data)
        # A stored score is never 0, so every posting is held. Read through a boolean mask: numpy
        # finds the nonzero entries of a bool array about ten times faster than of a float one.
        # Rows as int32, as the postings store them: the kept sets then cost the 8 bytes a posting
        # that SYNONYM_POSTINGS_KEPT counts (numpy's int64 rows made it 12, 24 MB a server worker).
        held = np.flatnonzero(best > 0).astype(np.int32)
        return held, best[held]


class _Bm25sIndex(LexicalIndex):
    """An index of a bm25s method with a non-occurrence term, scored by bm25s itself."""

    def __init__(self, model: object) -> None:
        scores = model.scores  # type: ignore[attr-defined]
        super().__init__(
            model.vocab_dict,  # type: ignore[attr-defined]
            scores["data"],
            scores["indices"],
            scores["indptr"],
            int(scores["num_docs"]),
        )
        self._model = model

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        ids = [self._vocab[t] for t in flat_tokens(query_tokens) if t in self._vocab]
        if not ids:
            return np.zeros(self._num_docs, dtype=np.float32)
        return np.asarray(self._model.get_scores_from_ids(ids), dtype=np.float32)  # type: ignore[attr-defined]


def vocabulary_terms(vocabulary: list[str]) -> list[str]:
    """The Chinese words of a BM25 vocabulary worth matching across languages (two characters or more)."""
    return sorted(t for t in vocabulary if _CHINESE_WORD.fullmatch(t))
