"""Settings: one frozen object, read from the environment in one place.

Every knob has a named default here. ``Settings.from_env()`` is the only
function in the package that reads ``POLICYQA_*`` variables; everything else
receives a ``Settings`` explicitly. Two standard variables are honoured where
they apply: ``XDG_CACHE_HOME`` (the caches of jieba's and CC-CEDICT's indexes) and
``HF_HUB_OFFLINE`` (set, never read, before sentence-transformers loads a model).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import ConfigError

DEFAULT_CORPUS_DIR = Path("corpus")
DEFAULT_INDEX_DIR = Path("index")
# Where `policyqa add` keeps the documents it takes in; part of the corpus whenever it exists.
DEFAULT_MANAGED_DIR = Path("var/documents")
DEFAULT_ENCODER = "use-multilingual-v3"
DEFAULT_CHUNK_CHARS = 320
DEFAULT_CHUNK_OVERLAP_SENTENCES = 1
DEFAULT_TOP_K = 5
DEFAULT_CANDIDATES = 40
DEFAULT_LEXICAL_WEIGHT = 0.3
DEFAULT_USE_GLOSSARY = True
DEFAULT_ABSTAIN_THRESHOLD = 0.2
# The floor for a Chinese question holding a word no indexed text uses (白切鸡): on the dev halves and
# nine held-out sets at the whole library, no answerable question with such a word fell below it.
DEFAULT_UNKNOWN_WORD_FLOOR = 0.35
# A question the scope model (``scope.py``) takes for general knowledge or advice at this chance or
# more, whose best passage stands below the relevance that follows, is refused. Chosen on 29 read
# held-out sets and the dev halves: at 0.35 no answerable question of 1,238 was refused and 5
# unanswerable ones answered before were caught (at 0.4, 8 caught and 4 refused). 1.0 or more
# turns the check off.
DEFAULT_GENERAL_QUESTION_FLOOR = 0.6
DEFAULT_GENERAL_QUESTION_RELEVANCE = 0.35
# How far a question's ranking vector moves towards its language's learned map (``query_map.py``):
# half way, chosen on three read held-out sets (1.0 gave English MRR 0.716, 0.5 0.723); 0 turns it off.
DEFAULT_QUERY_MAP_WEIGHT = 0.5
DEFAULT_ANSWER_SENTENCES = 4
DEFAULT_RETRIEVAL = "hybrid"
RETRIEVAL_MODES = ("hybrid", "dense", "lexical")
DEFAULT_PASSAGE_CONTEXT = "title+section"
PASSAGE_CONTEXTS = ("none", "section", "title+section")
DEFAULT_NON_BODY_PENALTY = 0.05
DEFAULT_SENTENCE_WEIGHT = 0.5
DEFAULT_TERM_MATCHES = 3
# Chinese words an English question gets from CC-CEDICT (dictionary.expand_english); 0 turns it off.
DEFAULT_DICTIONARY_TERMS = 24
# At most this many of them for one English phrase (its usual senses); with structured queries a
# phrase counts once however many of its words a passage holds, so a second sense adds recall
# without adding weight.
DEFAULT_DICTIONARY_SENSES = 2
# Of an English phrase's first five senses, those the corpus uses beside the question's other
# phrases come first (expand.QueryPreparer, lexical.LexicalIndex.cohesion); 0 keeps the dictionary's
# order. Chosen on the dev half (docs/evaluation.md): 4 to 6 gave the same gains, 10 lost hit@5.
DEFAULT_SENSE_POOL = 5
# An English phrase's Chinese renderings form one BM25 term, scored by the best of them in each
# passage (lexical.synonym_set); chosen on the dev half (docs/evaluation.md).
DEFAULT_STRUCTURED_QUERY = True
DEFAULT_TERM_FLOOR = 0.5
# A dictionary rendering that is no word of the corpus (全会) is joined by up to this many of the
# corpus's words that hold it (三中全会, 四中全会: jieba keeps compounds whole); 0 turns it off.
DEFAULT_COMPOUNDS_PER_RENDERING = 3
# Verification takes a corpus word the encoder puts this close to an English word as one of its
# renderings ("storage": 储存 0.91, where the dictionary gives 储存 and 贮物; "children": 儿童 0.90,
# where it gives 子女, 儿女). Chosen on the dev half and the read held-out sets (docs/evaluation.md):
# at 0.75, "e-cigarettes" found 香烟 (0.77) in the Tobacco Monopoly Law; 1.0 turns it off.
DEFAULT_CLOSE_WORD_FLOOR = 0.8
DEFAULT_TITLE_WEIGHT = 0.2
DEFAULT_TITLE_FLOOR = 0.4
# A document of the kind a question names ("the paper", 本法) is lifted by this much; with
# the region bonus, chosen on the dev half with 1,500 national laws indexed, then raised from 0.2
# at the whole library, where "这篇论文的作者" met the Copyright Law's 作者 (docs/evaluation.md).
DEFAULT_KIND_BONUS = 0.25
DEFAULT_GLOSSARY_BONUS = 0.2
# A passage holding a figure of the kind the question asks for ("多少元", "how long") is lifted by
# this much; chosen on the dev halves at the whole library (docs/evaluation.md): 0.1 turned partial
# answers into answers that quote a figure of the same kind about something else.
DEFAULT_FIGURE_BONUS = 0.05
# A passage naming a body acting (由公安部审批) is lifted by this much for a question asking which body acts.
DEFAULT_BODY_BONUS = 0.05
# A paper's summary (摘要) is lifted by this much for a question on what the paper does as a whole.
DEFAULT_OVERVIEW_BONUS = 0.1
# A passage that lists (下列…：, （一）) is lifted by this much for a question asking for several things.
DEFAULT_LIST_BONUS = 0.05
# For a question asking what befalls a breach, the articles punishing the breach of the first this
# many candidates' articles (违反本条例第四十条规定的) are put before them; 0 turns it off.
DEFAULT_PENALTY_DEPTH = 3
# For a Chinese question asking what befalls a breach (怎么罚, 什么责任), the articles of a 法律责任 or 罚则
# chapter are lifted by this much (chosen between 0.05 and 0.1 on the read held-out sets; an English question
# asks of penalties in more ways than it means them, and lost MRR).
DEFAULT_PENALTY_CHAPTER_BONUS = 0.1
# A document of the region a question names (浙江, "Beijing") is lifted by this much.
DEFAULT_REGION_BONUS = 0.12
# A question that names no place asks about national law: a local regulation (often a copy of the
# national article, or of another province's) that the question does not name is lowered by this
# much (0 turns it off); chosen on the dev half at the whole library (docs/evaluation.md).
DEFAULT_UNPLACED_LOCAL_PENALTY = 0.05
# A question that names a place asks about the law in force there: a local regulation of another
# region (another city's regulation on the same matter) is lowered by this much; its own province's
# stay. Chosen on the dev half at the whole library (docs/evaluation.md; 0.05 to 0.2 alike there).
DEFAULT_OTHER_REGION_PENALTY = 0.1
# A candidate is lifted by up to this much, by the share of an English question's side-by-side word
# pairs it renders in a row (损害旅游者合法权益 for "harms tourists' lawful rights"); 0 turns it off.
# Chosen on the dev half at the whole library and two sets of new English questions
# (docs/evaluation.md): 0.1 lifted fewer into the top 5, 0.3 no more than 0.2.
DEFAULT_PROXIMITY_BONUS = 0.2
# The documents a question's cues single out (at most this many) are searched on their own too.
DEFAULT_CUED_DOCUMENTS = 10
# A document whose passages, on average, lie close to the question is lifted: the weight of the
# cosine of the question with the document's mean chunk vector above the floor (0 turns it off).
# Chosen on the dev half at the whole library (docs/evaluation.md).
DEFAULT_CENTROID_WEIGHT = 0.1
DEFAULT_CENTROID_FLOOR = 0.3
# At most this many of the top passages from one document (0: no limit), so one long law cannot
# fill them all. Off: at the whole library a cap of 2 or 3 lowered dev hit@5 (docs/evaluation.md).
DEFAULT_MAX_PER_DOCUMENT = 0
# A passage that is the article a question names (第九十条, "Article 120") is lifted by this much.
DEFAULT_ARTICLE_BONUS = 0.1
# The article a question names of a document it names ("Article 188 of the Civil Code") is lifted by
# this much more: enough to come first, as it is the answer however few words it shares (0 turns it off).
DEFAULT_NAMED_ARTICLE_BONUS = 1.0
# The passage where a document a question names defines the term the question asks about
# ("本条例所称市场主体，是指…") is lifted by this much (0 turns it off); chosen on the dev halves.
DEFAULT_DEFINITION_BONUS = 0.2
# Inside the documents a question names, the dense score is that of the question without their
# names by this weight (blended with the whole question's; 0 turns it off): the name says which
# document, not which of its articles (Retriever._dense_without_names). Chosen on the dev half at
# the whole library (docs/evaluation.md): 0.5 ranked alike, 1.0 also kept more within 1,500 characters.
DEFAULT_NAME_FREE_WEIGHT = 1.0
# A question that names no year asks about the law in force: a document whose title a later-dated
# version bears is lowered by this much (0 turns it off). On the dev half no figure moved at 0.02
# or 0.05; the passages of superseded versions among the gold questions' first five fell 18 → 6
# (docs/evaluation.md).
DEFAULT_SUPERSEDED_PENALTY = 0.05
# A document whose title is nearest a name the question gives (《劳动合同法》, "the Food Safety Law";
# ``named``) is lifted by this much (0 turns it off).
DEFAULT_NAMED_BONUS = 0.2
# The best passage of the one document a question names stands at this rank or better (0 turns it
# off). At 3, on the dev half and four held-out sets read, one English question's evidence came into
# the first five and none moved out; at 1, six questions' evidence fell from first to second.
DEFAULT_NAMED_RANK = 3
# Above this share (by rarity) of a question's own Chinese words missing from the evidence, the
# texts do not cover it (verify.missing_content); 1.0 turns the check off.
DEFAULT_MAX_MISSING_CONTENT = 1.0
# Whether an English question's names (organisations, programmes; not the names of documents, which
# the named-document lift finds) must be found in the evidence through the dictionary
# (verify.unnamed_in_evidence). Off: on the dev halves it handled one more unanswerable question
# for no false abstention, but the seven texts' English test questions lost 7.7 % to false
# abstentions, with no unanswerable question handled more (docs/evaluation.md).
DEFAULT_CHECK_NAMES = False
MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50
# Where retrieval finds its candidates: FAISS and BM25 in this process, or Milvus (docs/milvus.md).
DEFAULT_STORE = "faiss"
STORE_FORMS = ("faiss", "milvus://HOST:PORT", "milvus+https://HOST:PORT", "milvus-lite:PATH.db", "PATH.db")
# Generated answers (``generate``): off until POLICYQA_LLM_URL names an OpenAI-compatible endpoint.
DEFAULT_LLM_MODEL = "default"
# Seconds a single HTTP read may wait (connect, first token, between tokens).
DEFAULT_LLM_TIMEOUT = 20.0
# Seconds a whole generation may take, however the tokens trickle in.
DEFAULT_LLM_DEADLINE = 45.0
DEFAULT_LLM_MAX_TOKENS = 256
# The circuit breaker: this many failures in a row open it for this many seconds.
DEFAULT_LLM_BREAKER_FAILURES = 3
DEFAULT_LLM_BREAKER_SECONDS = 60.0
ANSWER_MODES = ("extractive", "llm")

ENV_PREFIX = "POLICYQA_"


@dataclass(frozen=True)
class Settings:
    """Everything that shapes an index and an answer.

    Example:
        >>> s = Settings(corpus_dirs=(Path("corpus"), Path("../shared/policy-texts")))
        >>> Assistant(s).ask("What policy fits a technology in the trough of disillusionment?")
    """

    corpus_dirs: tuple[Path, ...] = (DEFAULT_CORPUS_DIR,)
    index_dir: Path = DEFAULT_INDEX_DIR
    encoder: str = DEFAULT_ENCODER
    chunk_chars: int = DEFAULT_CHUNK_CHARS
    chunk_overlap_sentences: int = DEFAULT_CHUNK_OVERLAP_SENTENCES
    top_k: int = DEFAULT_TOP_K
    candidates: int = DEFAULT_CANDIDATES
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT
    use_glossary: bool = DEFAULT_USE_GLOSSARY
    abstain_threshold: float = DEFAULT_ABSTAIN_THRESHOLD
    unknown_word_floor: float = DEFAULT_UNKNOWN_WORD_FLOOR
    general_question_floor: float = DEFAULT_GENERAL_QUESTION_FLOOR
    general_question_relevance: float = DEFAULT_GENERAL_QUESTION_RELEVANCE
    query_map_weight: float = DEFAULT_QUERY_MAP_WEIGHT
    answer_sentences: int = DEFAULT_ANSWER_SENTENCES
    retrieval: str = DEFAULT_RETRIEVAL
    passage_context: str = DEFAULT_PASSAGE_CONTEXT
    non_body_penalty: float = DEFAULT_NON_BODY_PENALTY
    sentence_weight: float = DEFAULT_SENTENCE_WEIGHT
    term_matches: int = DEFAULT_TERM_MATCHES
    term_floor: float = DEFAULT_TERM_FLOOR
    close_word_floor: float = DEFAULT_CLOSE_WORD_FLOOR
    compounds_per_rendering: int = DEFAULT_COMPOUNDS_PER_RENDERING
    dictionary_terms: int = DEFAULT_DICTIONARY_TERMS
    dictionary_senses: int = DEFAULT_DICTIONARY_SENSES
    sense_pool: int = DEFAULT_SENSE_POOL
    structured_query: bool = DEFAULT_STRUCTURED_QUERY
    title_weight: float = DEFAULT_TITLE_WEIGHT
    title_floor: float = DEFAULT_TITLE_FLOOR
    kind_bonus: float = DEFAULT_KIND_BONUS
    glossary_bonus: float = DEFAULT_GLOSSARY_BONUS
    figure_bonus: float = DEFAULT_FIGURE_BONUS
    body_bonus: float = DEFAULT_BODY_BONUS
    overview_bonus: float = DEFAULT_OVERVIEW_BONUS
    list_bonus: float = DEFAULT_LIST_BONUS
    penalty_depth: int = DEFAULT_PENALTY_DEPTH
    penalty_chapter_bonus: float = DEFAULT_PENALTY_CHAPTER_BONUS
    region_bonus: float = DEFAULT_REGION_BONUS
    unplaced_local_penalty: float = DEFAULT_UNPLACED_LOCAL_PENALTY
    other_region_penalty: float = DEFAULT_OTHER_REGION_PENALTY
    proximity_bonus: float = DEFAULT_PROXIMITY_BONUS
    name_free_weight: float = DEFAULT_NAME_FREE_WEIGHT
    superseded_penalty: float = DEFAULT_SUPERSEDED_PENALTY
    cued_documents: int = DEFAULT_CUED_DOCUMENTS
    centroid_weight: float = DEFAULT_CENTROID_WEIGHT
    centroid_floor: float = DEFAULT_CENTROID_FLOOR
    max_per_document: int = DEFAULT_MAX_PER_DOCUMENT
    article_bonus: float = DEFAULT_ARTICLE_BONUS
    named_article_bonus: float = DEFAULT_NAMED_ARTICLE_BONUS
    named_bonus: float = DEFAULT_NAMED_BONUS
    named_rank: int = DEFAULT_NAMED_RANK
    definition_bonus: float = DEFAULT_DEFINITION_BONUS
    max_missing_content: float = DEFAULT_MAX_MISSING_CONTENT
    check_names: bool = DEFAULT_CHECK_NAMES
    max_question_chars: int = MAX_QUESTION_CHARS
    # None: no managed folder (``policyqa add`` refuses to work).
    managed_dir: Path | None = DEFAULT_MANAGED_DIR
    llm_url: str | None = None
    llm_model: str = DEFAULT_LLM_MODEL
    # A secret: kept out of repr, to_dict and every log line.
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout: float = DEFAULT_LLM_TIMEOUT
    llm_deadline: float = DEFAULT_LLM_DEADLINE
    llm_max_tokens: int = DEFAULT_LLM_MAX_TOKENS
    llm_breaker_failures: int = DEFAULT_LLM_BREAKER_FAILURES
    llm_breaker_seconds: float = DEFAULT_LLM_BREAKER_SECONDS
    # "faiss", or a Milvus server or milvus-lite file (docs/milvus.md): POLICYQA_STORE.
    store: str = DEFAULT_STORE

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus_dirs", tuple(Path(p) for p in self.corpus_dirs))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        if self.managed_dir is not None:
            managed = Path(self.managed_dir)
            object.__setattr__(self, "managed_dir", managed)
            # The one place the managed folder joins the corpus: when it exists, every
            # stage (load, staleness, build) sees it among the corpus folders.
            if self.corpus_dirs and managed.is_dir() and not _listed(managed, self.corpus_dirs):
                object.__setattr__(self, "corpus_dirs", (*self.corpus_dirs, managed))
        if not self.corpus_dirs:
            raise ConfigError("corpus_dirs must name at least one folder. Currently, it is empty.")
        if self.chunk_chars < 50:
            raise ConfigError(f"chunk_chars must be at least 50. Currently, it is {self.chunk_chars}.")
        if not 0 <= self.chunk_overlap_sentences <= 3:
            raise ConfigError(
                f"chunk_overlap_sentences must be between 0 and 3. Currently, it is {self.chunk_overlap_sentences}."
            )
        check_top_k(self.top_k)
        if self.candidates < self.top_k:
            raise ConfigError(f"candidates must be at least top_k ({self.top_k}). Currently, it is {self.candidates}.")
        if not 0.0 <= self.lexical_weight <= 1.0:
            raise ConfigError(f"lexical_weight must be between 0 and 1. Currently, it is {self.lexical_weight}.")
        if not 0.0 <= self.sentence_weight <= 1.0:
            raise ConfigError(f"sentence_weight must be between 0 and 1. Currently, it is {self.sentence_weight}.")
        if self.general_question_floor < 0.0 or self.general_question_relevance < 0.0:
            raise ConfigError(
                "general_question_floor and general_question_relevance must be 0 or more. "
                f"Currently, they are {self.general_question_floor} and {self.general_question_relevance}."
            )
        if not 0.0 <= self.query_map_weight <= 1.0:
            raise ConfigError(f"query_map_weight must be between 0 and 1. Currently, it is {self.query_map_weight}.")
        if self.penalty_depth < 0:
            raise ConfigError(f"penalty_depth must be 0 or more. Currently, it is {self.penalty_depth}.")
        if self.penalty_chapter_bonus < 0.0:
            raise ConfigError(
                f"penalty_chapter_bonus must be 0 or more. Currently, it is {self.penalty_chapter_bonus}."
            )
        if self.proximity_bonus < 0.0:
            raise ConfigError(f"proximity_bonus must be 0 or more. Currently, it is {self.proximity_bonus}.")
        if self.named_article_bonus < 0.0:
            raise ConfigError(f"named_article_bonus must be 0 or more. Currently, it is {self.named_article_bonus}.")
        if self.named_rank < 0:
            raise ConfigError(f"named_rank must be 0 or more. Currently, it is {self.named_rank}.")
        if self.superseded_penalty < 0.0:
            raise ConfigError(f"superseded_penalty must be 0 or more. Currently, it is {self.superseded_penalty}.")
        if not 0.0 <= self.name_free_weight <= 1.0:
            raise ConfigError(f"name_free_weight must be between 0 and 1. Currently, it is {self.name_free_weight}.")
        if not 0.0 <= self.close_word_floor <= 1.0:
            raise ConfigError(f"close_word_floor must be between 0 and 1. Currently, it is {self.close_word_floor}.")
        if not 0 <= self.compounds_per_rendering <= 10:
            raise ConfigError(
                f"compounds_per_rendering must be between 0 and 10. Currently, it is {self.compounds_per_rendering}."
            )
        if not 0 <= self.term_matches <= 10:
            raise ConfigError(f"term_matches must be between 0 and 10. Currently, it is {self.term_matches}.")
        if not 0 <= self.dictionary_terms <= 40:
            raise ConfigError(f"dictionary_terms must be between 0 and 40. Currently, it is {self.dictionary_terms}.")
        if not 1 <= self.dictionary_senses <= 5:
            raise ConfigError(f"dictionary_senses must be between 1 and 5. Currently, it is {self.dictionary_senses}.")
        if not 0 <= self.sense_pool <= 20:
            raise ConfigError(f"sense_pool must be between 0 and 20. Currently, it is {self.sense_pool}.")
        if self.retrieval not in RETRIEVAL_MODES:
            raise ConfigError(
                f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}. Currently, it is {self.retrieval!r}."
            )
        if self.passage_context not in PASSAGE_CONTEXTS:
            choices = ", ".join(PASSAGE_CONTEXTS)
            raise ConfigError(f"passage_context must be one of {choices}. Currently, it is {self.passage_context!r}.")
        if not _is_store(self.store):
            choices = ", ".join(STORE_FORMS)
            raise ConfigError(f"store must be one of {choices}. Currently, it is {self.store!r}.")
        if not 1 <= self.answer_sentences <= 10:
            raise ConfigError(f"answer_sentences must be between 1 and 10. Currently, it is {self.answer_sentences}.")
        if self.llm_url is not None and not self.llm_url.startswith(("http://", "https://")):
            raise ConfigError(f"llm_url must be an http(s) URL. Currently, it is {self.llm_url!r}.")
        if not 0 < self.llm_timeout <= 600 or not 0 < self.llm_deadline <= 600:
            raise ConfigError(
                f"llm_timeout and llm_deadline must be between 0 and 600 seconds. "
                f"Currently, they are {self.llm_timeout} and {self.llm_deadline}."
            )
        if not 16 <= self.llm_max_tokens <= 4096:
            raise ConfigError(f"llm_max_tokens must be between 16 and 4096. Currently, it is {self.llm_max_tokens}.")
        if self.llm_breaker_failures < 1 or self.llm_breaker_seconds < 0:
            raise ConfigError(
                f"llm_breaker_failures must be at least 1 and llm_breaker_seconds at least 0. Currently, they are "
                f"{self.llm_breaker_failures} and {self.llm_breaker_seconds}."
            )

    def replace(self, **changes: object) -> Settings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def index_fingerprint(self) -> str:
        """Identify what an index depends on: encoder, chunker and corpus folders.

        Indexes for different configurations live side by side under ``index_dir``
        so that switching between them (as the evaluation does) rebuilds nothing.
        The managed folder counts whether it exists yet or not: the first
        ``policyqa add`` creates it and must not move the index elsewhere.
        """
        managed = self.managed_dir.resolve() if self.managed_dir is not None else None
        key: dict[str, object] = {
            "encoder": self.encoder,
            "chunk_chars": self.chunk_chars,
            "chunk_overlap_sentences": self.chunk_overlap_sentences,
            "passage_context": self.passage_context,
            "corpus_dirs": sorted(str(p.resolve()) for p in self.corpus_dirs if p.resolve() != managed),
        }
        if managed is not None:
            key["managed_dir"] = str(managed)
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.encoder.replace('/', '_').replace(':', '_')}-{self.chunk_chars}-{digest}"

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["corpus_dirs"] = [str(p) for p in self.corpus_dirs]
        out["index_dir"] = str(self.index_dir)
        out["managed_dir"] = None if self.managed_dir is None else str(self.managed_dir)
        out.pop("llm_api_key")
        return out

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``POLICYQA_*`` variables; keyword overrides win over the environment.

        ``POLICYQA_CORPUS_DIRS`` is a list of folders separated by ``os.pathsep``
        (``:`` on Linux); ``POLICYQA_EXTRA_CORPUS_DIRS`` adds folders to the default.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if dirs := env.get(ENV_PREFIX + "CORPUS_DIRS"):
            values["corpus_dirs"] = tuple(Path(p) for p in dirs.split(os.pathsep) if p)
        if extra := env.get(ENV_PREFIX + "EXTRA_CORPUS_DIRS"):
            base = values.get("corpus_dirs", (DEFAULT_CORPUS_DIR,))
            values["corpus_dirs"] = tuple(base) + tuple(Path(p) for p in extra.split(os.pathsep) if p)  # type: ignore[arg-type]
        converters: dict[str, type] = {
            "index_dir": Path,
            "managed_dir": Path,
            "encoder": str,
            "chunk_chars": int,
            "chunk_overlap_sentences": int,
            "top_k": int,
            "candidates": int,
            "lexical_weight": float,
            "abstain_threshold": float,
            "unknown_word_floor": float,
            "general_question_floor": float,
            "general_question_relevance": float,
            "query_map_weight": float,
            "answer_sentences": int,
            "retrieval": str,
            "passage_context": str,
            "non_body_penalty": float,
            "sentence_weight": float,
            "term_matches": int,
            "term_floor": float,
            "close_word_floor": float,
            "compounds_per_rendering": int,
            "dictionary_terms": int,
            "dictionary_senses": int,
            "sense_pool": int,
            "title_weight": float,
            "title_floor": float,
            "kind_bonus": float,
            "glossary_bonus": float,
            "figure_bonus": float,
            "body_bonus": float,
            "overview_bonus": float,
            "list_bonus": float,
            "penalty_depth": int,
            "penalty_chapter_bonus": float,
            "region_bonus": float,
            "unplaced_local_penalty": float,
            "other_region_penalty": float,
            "proximity_bonus": float,
            "name_free_weight": float,
            "superseded_penalty": float,
            "cued_documents": int,
            "centroid_weight": float,
            "centroid_floor": float,
            "max_per_document": int,
            "article_bonus": float,
            "named_article_bonus": float,
            "named_bonus": float,
            "named_rank": int,
            "definition_bonus": float,
            "max_missing_content": float,
            "max_question_chars": int,
            "llm_url": str,
            "llm_model": str,
            "llm_timeout": float,
            "llm_deadline": float,
            "llm_max_tokens": int,
            "llm_breaker_failures": int,
            "llm_breaker_seconds": float,
            "store": str,
        }
        for name, convert in converters.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[name] = convert(raw)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {convert.__name__}.") from exc
        if key := env.get(ENV_PREFIX + "LLM_API_KEY"):
            values["llm_api_key"] = key
        elif key_file := env.get(ENV_PREFIX + "LLM_API_KEY_FILE"):
            try:
                values["llm_api_key"] = Path(key_file).read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                # The path is named, never the content.
                raise ConfigError(f"{ENV_PREFIX}LLM_API_KEY_FILE={key_file!r} cannot be read: {exc.strerror}.") from exc
        if (names := env.get(ENV_PREFIX + "CHECK_NAMES")) is not None:
            values["check_names"] = names.strip().lower() not in {"0", "false", "no", "off"}
        if (glossary := env.get(ENV_PREFIX + "USE_GLOSSARY")) is not None:
            values["use_glossary"] = glossary.strip().lower() not in {"0", "false", "no", "off"}
        if (structured := env.get(ENV_PREFIX + "STRUCTURED_QUERY")) is not None:
            values["structured_query"] = structured.strip().lower() not in {"0", "false", "no", "off"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _is_store(value: str) -> bool:
    """Whether ``value`` has one of the forms of ``STORE_FORMS`` (the Milvus module parses the rest)."""
    return (
        value == DEFAULT_STORE
        or value.startswith(("milvus://", "milvus+https://", "milvus-lite:"))
        or (value.endswith(".db") and len(value) > 3)
    )


def _listed(folder: Path, folders: tuple[Path, ...]) -> bool:
    """Whether ``folder`` is one of ``folders`` however each is spelled (relative, absolute)."""
    resolved = folder.resolve()
    return any(p.resolve() == resolved for p in folders)


def check_top_k(top_k: int) -> int:
    """Validate a requested number of passages; return it unchanged."""
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise ConfigError(f"top_k must be a whole number. Currently, it is {top_k!r}.")
    if not 1 <= top_k <= MAX_TOP_K:
        raise ConfigError(f"top_k must be between 1 and {MAX_TOP_K}. Currently, it is {top_k}.")
    return top_k
