"""Compare retrieval configurations on a gold set, with a plain LangChain baseline.

Every configuration is evaluated by the same code as ``policyqa eval``; indexes
of all configurations share one embedding cache, so only new texts are embedded.
The baseline is the textbook LangChain pipeline: RecursiveCharacterTextSplitter
(1,000 characters, 200 overlap) over the raw files, the same encoder, exact
FAISS search, no lexical part, no cleaning. Its vectors go to the same cache.

In a library a configuration with other chunks or another encoder is a new build
of every document; ``same_index`` keeps the configurations that score the default
index differently, and the baseline with the default encoder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .assistant import Assistant
from .documents import Document, load_corpus
from .embed import Encoder, get_encoder
from .evaluate import GoldQuestion, Report, ranking_result, report_of, run_eval
from .index import ProgressFn, VectorSearch, read_through
from .index.parts import embedding_cache
from .settings import Settings
from .types import Passage

COLUMNS = (
    "recall@5",
    "recall@5 en",
    "recall@5 zh",
    "mrr@10",
    "ndcg@10",
    "recall@1500chars",
    "key_point_coverage",
    "abstention_recall",
    "false_abstention_rate",
    "latency_p50_ms",
)


def configurations(base: Settings, quick: bool, same_index: bool = False) -> list[tuple[str, Settings]]:
    """The variants that matter: each encoder, BM25 alone, fusion weights, and the default less one feature.

    ``same_index``: only those that search the default configuration's index (no other build).
    """
    encoders = ["use-multilingual-v3"] if quick else ["use-multilingual-v3", "e5-small-q4", "use+e5"]
    rows: list[tuple[str, Settings]] = [("default", base)]
    for encoder in encoders:
        rows.append((f"dense only, {encoder}", base.replace(encoder=encoder, retrieval="dense")))
    rows.append(("BM25 (jieba) only, with query expansion", base.replace(retrieval="lexical")))
    for weight in (0.1, 0.2, 0.5):
        rows.append((f"default, BM25 weight {weight}", base.replace(lexical_weight=weight)))
    rows += [
        ("default without glossary", base.replace(use_glossary=False)),
        ("default without glossary-term bonus", base.replace(glossary_bonus=0.0)),
        ("default without cross-lingual term matching", base.replace(term_matches=0)),
        ("default without sentence-level scores", base.replace(sentence_weight=0.0)),
        ("default without document cues", base.replace(title_weight=0.0, kind_bonus=0.0)),
        (
            "default without the library's document evidence",
            # What a library needs beyond title and kind cues: the document's centroid, the documents
            # and articles a question names, its region (others' local law lowered), national law
            # when it names no place.
            base.replace(
                centroid_weight=0.0,
                named_bonus=0.0,
                named_rank=0,
                article_bonus=0.0,
                definition_bonus=0.0,
                region_bonus=0.0,
                unplaced_local_penalty=0.0,
                other_region_penalty=0.0,
            ),
        ),
        ("default without dictionary expansion (CC-CEDICT)", base.replace(dictionary_terms=0)),
        ("default without synonym sets (a flat BM25 query)", base.replace(structured_query=False)),
        ("default, dictionary senses in the dictionary's order", base.replace(sense_pool=0)),
        ("default, at most 2 passages per document", base.replace(max_per_document=2)),
        ("default without front-matter penalty", base.replace(non_body_penalty=0.0)),
        ("default without penalty articles first", base.replace(penalty_depth=0)),
        ("default without the penalty chapter lifted", base.replace(penalty_chapter_bonus=0.0)),
        ("default, passages without headings or title", base.replace(passage_context="none")),
        ("default, passages under headings only", base.replace(passage_context="section")),
        ("default, no sentence overlap", base.replace(chunk_overlap_sentences=0)),
    ]
    for size in (200, 500, 800):
        rows.append((f"default, chunks of {size} characters", base.replace(chunk_chars=size)))
    for encoder in encoders[1:]:
        rows.append((f"default with encoder {encoder}", base.replace(encoder=encoder)))
    if same_index:
        fingerprint = base.index_fingerprint()
        rows = [(name, settings) for name, settings in rows if settings.index_fingerprint() == fingerprint]
    return rows


def _row(name: str, report: Report) -> Report:
    overall = report["overall"]
    by_lang = report["by_language"]
    row: Report = {"configuration": name}
    for column in COLUMNS:
        if column.endswith((" en", " zh")):
            metric, lang = column.rsplit(" ", 1)
            row[column] = by_lang.get(lang, {}).get(metric)
        else:
            row[column] = overall.get(column)
    return row


def langchain_passages(documents: Sequence[Document]) -> list[Passage]:
    """The baseline's chunks: RecursiveCharacterTextSplitter(1000, 200) over each raw text."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    passages: list[Passage] = []
    for doc in documents:
        for piece in splitter.create_documents([doc.text], metadatas=[{"doc_id": doc.doc_id}]):
            start = int(piece.metadata["start_index"])
            text = piece.page_content
            passages.append(
                Passage(
                    chunk_id=f"{doc.doc_id}@{start}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section="",
                    text=text,
                    char_start=start,
                    char_end=start + len(text),
                    score=0.0,
                    dense_score=0.0,
                    lexical_score=0.0,
                    sentence_rows=(),
                    spans=((start, start + len(text)),),
                )
            )
    return passages


class LangChainBaseline:
    """The textbook pipeline over a corpus: its chunks, the same encoder, exact FAISS search.

    Example:
        >>> baseline = LangChainBaseline.build(Settings())
        >>> baseline.search("What is the trough of disillusionment?", 5)[0].text
    """

    def __init__(self, passages: list[Passage], index: VectorSearch, encoder: Encoder) -> None:
        self.passages = passages
        self.index = index
        self.encoder = encoder

    @classmethod
    def build(
        cls, settings: Settings, encoder: Encoder | None = None, progress: ProgressFn | None = None
    ) -> LangChainBaseline:
        """Chunk ``settings``'s corpus and embed the chunks, through the index folder's embedding cache.

        At a library the chunks take as long to embed as a build's passages: the cache's worker
        processes use every core, and a second comparison embeds nothing.
        """
        encoder = encoder or get_encoder(settings.encoder)
        documents, _ = load_corpus(settings.corpus_dirs)
        passages = langchain_passages(documents)
        cache = embedding_cache(settings, encoder)
        vectors = cache.embed(encoder, [p.text for p in passages], progress, "embed baseline chunks")
        return cls(passages, VectorSearch.exact(vectors), encoder)

    def search(self, question: str, k: int) -> list[Passage]:
        """The ``k`` nearest chunks by cosine, best first."""
        rows, _ = self.index.search(self.encoder.encode_query(question), k)
        return [self.passages[r] for r in rows.tolist()]


def langchain_baseline(
    settings: Settings, gold: Sequence[GoldQuestion], k: int, progress: ProgressFn | None = None
) -> Report:
    """RecursiveCharacterTextSplitter(1000, 200) + the same encoder + FAISS, evaluated like ours."""
    baseline = LangChainBaseline.build(settings, progress=progress)
    # The questions ``run_eval`` leaves out (a document of this corpus answers them) are left out here too.
    titles = {p.title for p in baseline.passages}
    results = []
    for g in gold:
        if g.answered_by(titles):
            continue
        started = time.perf_counter()
        ranked = baseline.search(g.question, max(k, 10))
        results.append(ranking_result(g, ranked, (time.perf_counter() - started) * 1000))
    return report_of(results)


def compare_configurations(
    base: Settings,
    gold: Sequence[GoldQuestion],
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    same_index: bool = False,
    build_progress: ProgressFn | None = None,
) -> list[Report]:
    rows = []
    for number, (name, settings) in enumerate(configurations(base, quick, same_index)):
        if progress:
            progress(f"evaluating: {name}")
        assistant = Assistant(settings)
        if number == 0:
            # The later rows find the build's pages in memory; the first would pay the disk alone.
            read_through(assistant.index.folder)
        rows.append(_row(name, run_eval(assistant, gold)))
    baseline_encoders = [base.encoder] if quick or same_index else ["use-multilingual-v3", "e5-small-q4"]
    for encoder in baseline_encoders:
        if progress:
            progress(f"evaluating: LangChain baseline with {encoder}")
        rows.append(
            _row(
                f"LangChain baseline (1000/200, {encoder})",
                langchain_baseline(base.replace(encoder=encoder), gold, base.top_k, build_progress),
            )
        )
    return rows


def comparison_table(rows: Sequence[Report]) -> str:
    header = "| configuration | " + " | ".join(COLUMNS) + " |"
    lines = [header, "|---" * (len(COLUMNS) + 1) + "|"]
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row.get(column)
            cells.append(
                "–" if value is None else (f"{value:.3f}" if isinstance(value, float) and value <= 1 else str(value))
            )
        lines.append(f"| {row['configuration']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
