"""Evaluation: run a gold question set and measure retrieval, answers and abstention.

Gold set: JSON Lines, one question per line, with ``id``, ``lang``, ``question``,
``evidence`` (exact substrings of the source; a passage containing any of them,
whitespace and full-width forms ignored, is relevant), ``key_points``, ``answer``, ``type``,
``section`` and optionally ``doc``. Unanswerable questions have no evidence.

Ranking metrics come from ``ir-measures`` (trec_eval underneath). Each evidence
string is one relevant unit, and a retrieved passage stands for every evidence
string it contains, so recall@5 is the share of a question's evidence found in
the first five passages. The run is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .assistant import Assistant
from .errors import ConfigError
from .types import ANSWERED, PARTIAL, Passage

# A report is JSON: nested dicts of metrics, settings and per-question records.
Report = dict[str, Any]

RANK_DEPTH = 10
CHAR_BUDGET = 1500
RECALL_CUTOFFS = (1, 2, 3, 5, 10)
_WS = re.compile(r"\s+")
_REQUIRED = ("id", "lang", "question", "evidence", "key_points", "answer", "type")


# The gold set is split in two by a hash of each id: tune on ``dev``, report ``test``
# (whose failures are never looked at while tuning). Fixed by the id alone, so a
# question keeps its half when others are added.
SPLITS = ("dev", "test")


def split_of(question_id: str) -> str:
    """``dev`` or ``test``: the half a gold question belongs to."""
    return SPLITS[hashlib.sha256(question_id.encode("utf-8")).digest()[0] & 1]


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    lang: str
    question: str
    evidence: tuple[str, ...]
    key_points: tuple[str, ...]
    answer: str
    type: str
    section: str = ""
    doc: str | None = None
    # Titles of documents that do answer an unanswerable question ("上海市促进科技成果转化条例" for a
    # question about Shanghai written for a corpus without it): where the index holds one of them,
    # the question is left out of the scores; it is unanswerable only without them.
    answerable_with: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)

    def answered_by(self, titles: Iterable[str]) -> bool:
        """Whether one of ``titles`` (an index's documents) answers this unanswerable question."""
        return any(wanted in title for wanted in self.answerable_with for title in titles)

    @property
    def split(self) -> str:
        return split_of(self.id)


def squash_for_matching(text: str) -> str:
    """Text as evidence and key points are matched: without whitespace, full-width forms as ASCII.

    One law's versions write the same article with （院） and (院), ５０ and 50: the same words.
    """
    return _WS.sub("", unicodedata.normalize("NFKC", text))


def load_gold(paths: Iterable[Path]) -> list[GoldQuestion]:
    """Read gold questions from JSONL files or folders of them; errors name the file and line."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.jsonl")))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"Gold set {str(path)!r} does not exist.")
    questions: list[GoldQuestion] = []
    seen: set[str] = set()
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{file}:{number}: not valid JSON ({exc.msg}).") from exc
            missing = [k for k in _REQUIRED if k not in record]
            if missing:
                raise ConfigError(f"{file}:{number}: missing field(s) {', '.join(missing)}.")
            if record["id"] in seen:
                raise ConfigError(f"{file}:{number}: duplicate id {record['id']!r}.")
            seen.add(record["id"])
            answerable_with = record.get("answerable_with", [])
            if not isinstance(answerable_with, list) or not all(isinstance(t, str) and t for t in answerable_with):
                raise ConfigError(f"{file}:{number}: answerable_with must be a list of document titles.")
            if answerable_with and record["evidence"]:
                raise ConfigError(f"{file}:{number}: answerable_with is for unanswerable questions (no evidence).")
            questions.append(
                GoldQuestion(
                    id=str(record["id"]),
                    lang=str(record["lang"]),
                    question=str(record["question"]),
                    evidence=tuple(record["evidence"]),
                    key_points=tuple(record["key_points"]),
                    answer=str(record["answer"]),
                    type=str(record["type"]),
                    section=str(record.get("section", "")),
                    doc=record.get("doc"),
                    answerable_with=tuple(answerable_with),
                )
            )
    if not questions:
        raise ConfigError("The gold set holds no question.")
    return questions


@dataclass
class QuestionResult:
    """One gold question's outcome."""

    id: str
    lang: str
    type: str
    question: str
    answerable: bool
    ranked: list[Report]
    evidence_ranks: list[int | None]  # first rank (1-based) of a passage holding each evidence string
    recall_1500: float | None
    answer: str
    abstained: bool
    citations: list[Report]
    key_point_coverage: float | None
    citation_precision: float | None
    latency_ms: float
    top_score: float
    outcome: str = ANSWERED
    metrics: dict[str, float] = field(default_factory=dict)


def _evidence_in(passage_text: str, evidence: Sequence[str]) -> list[int]:
    squashed = squash_for_matching(passage_text)
    return [i for i, e in enumerate(evidence) if squash_for_matching(e) in squashed]


def _recall_within(passages: Sequence[Passage], evidence: Sequence[str], budget: int) -> float:
    text, used = [], 0
    for p in passages:
        if used >= budget:
            break
        part = p.text[: budget - used]
        text.append(part)
        used += len(part)
    found = 0
    for e in evidence:
        if any(squash_for_matching(e) in squash_for_matching(t) for t in text):
            found += 1
    return found / len(evidence)


def ranking_result(gold: GoldQuestion, ranked: Sequence[Passage], latency_ms: float) -> QuestionResult:
    """The retrieval part of a question's outcome; the answer fields are left empty."""
    evidence_ranks: list[int | None] = [None] * len(gold.evidence)
    ranked_out = []
    for rank, passage in enumerate(ranked, 1):
        hits = _evidence_in(passage.text, gold.evidence)
        for i in hits:
            if evidence_ranks[i] is None:
                evidence_ranks[i] = rank
        ranked_out.append({"rank": rank, **passage.to_dict(), "evidence": hits})
    return QuestionResult(
        id=gold.id,
        lang=gold.lang,
        type=gold.type,
        question=gold.question,
        answerable=gold.answerable,
        ranked=ranked_out,
        evidence_ranks=evidence_ranks,
        recall_1500=_recall_within(ranked, gold.evidence, CHAR_BUDGET) if gold.answerable else None,
        answer="",
        abstained=False,
        citations=[],
        key_point_coverage=None,
        citation_precision=None,
        latency_ms=latency_ms,
        top_score=ranked[0].score if ranked else 0.0,
    )


def evaluate_question(assistant: Assistant, gold: GoldQuestion, k: int) -> QuestionResult:
    """Ask one gold question through ``Assistant.trace`` (what ``ask`` runs), keeping the ranking to depth 10."""
    started = time.perf_counter()
    trace = assistant.trace(gold.question, k, depth=RANK_DEPTH)
    answer = trace.answer
    ranked = list(trace.ranked)
    result = ranking_result(gold, ranked, (time.perf_counter() - started) * 1000)
    result.answer = answer.answer
    result.abstained = answer.abstained
    result.outcome = answer.outcome
    result.citations = [c.to_dict() for c in answer.citations]
    if gold.answerable:
        squashed_answer = squash_for_matching(answer.answer)
        if gold.key_points:
            found = sum(1 for kp in gold.key_points if squash_for_matching(kp) in squashed_answer)
            result.key_point_coverage = 0.0 if answer.abstained else found / len(gold.key_points)
        if answer.citations:
            relevant = sum(1 for c in answer.citations if _evidence_in(c.text, gold.evidence))
            result.citation_precision = relevant / len(answer.citations)
    return result


def _ranking_metrics(results: Sequence[QuestionResult]) -> dict[str, dict[str, float]]:
    """Per-question hit@1/3/5, recall@k, MRR@10 and nDCG@10 from ir-measures."""
    import ir_measures
    from ir_measures import RR, Success, nDCG
    from ir_measures import R as Recall

    qrels, run = [], []
    for r in results:
        if not r.answerable:
            continue
        for i in range(len(r.evidence_ranks)):
            qrels.append(ir_measures.Qrel(r.id, f"evidence-{i}", 1))
        ranked_evidence: set[int] = set()
        for entry in r.ranked:
            rank = int(entry["rank"])
            # A passage stands for each evidence string it holds first; one found again further
            # down (a merged passage, another version of the law) is no new hit, and listed
            # twice in the run its lower score would replace its rank.
            hits = [i for i in entry["evidence"] or [] if i not in ranked_evidence]
            ranked_evidence.update(hits)
            # Tiny offsets keep ties ordered.
            ids = [f"evidence-{i}" for i in hits] or [f"passage-{rank}"]
            for j, doc_id in enumerate(ids):
                run.append(ir_measures.ScoredDoc(r.id, doc_id, float(RANK_DEPTH + 1 - rank) - j * 1e-3))
    measures = {
        "hit@1": Success @ 1,
        "hit@3": Success @ 3,
        "hit@5": Success @ 5,
        "mrr@10": RR @ 10,
        "ndcg@10": nDCG @ 10,
        **{f"recall@{c}": Recall @ c for c in RECALL_CUTOFFS},
    }
    by_measure = {v: k for k, v in measures.items()}
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for metric in ir_measures.iter_calc(list(measures.values()), qrels, run):
        out[metric.query_id][by_measure[metric.measure]] = float(metric.value)
    return out


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[position], 2)


def summarise(results: Sequence[QuestionResult]) -> Report:
    """Aggregate metrics of a group of questions."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    summary: Report = {"questions": len(results), "answerable": len(answerable)}
    for name in ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", *(f"recall@{c}" for c in RECALL_CUTOFFS)):
        summary[name] = _mean(r.metrics.get(name) for r in answerable)
    summary["recall@1500chars"] = _mean(r.recall_1500 for r in answerable)
    summary["key_point_coverage"] = _mean(r.key_point_coverage for r in answerable)
    summary["citation_precision"] = _mean(r.citation_precision for r in answerable)
    # An unanswerable question is handled when the answer is not_covered or partial (it says
    # what the texts do not state); an answerable one is lost only when it is not_covered.
    declined = [r for r in results if r.outcome != ANSWERED]
    true_declines = sum(1 for r in unanswerable if r.outcome != ANSWERED)
    summary["abstention_precision"] = round(true_declines / len(declined), 4) if declined else None
    summary["abstention_recall"] = round(true_declines / len(unanswerable), 4) if unanswerable else None
    summary["false_abstention_rate"] = (
        round(sum(1 for r in answerable if r.abstained) / len(answerable), 4) if answerable else None
    )
    summary["partial_rate"] = (
        round(sum(1 for r in answerable if r.outcome == PARTIAL) / len(answerable), 4) if answerable else None
    )
    latencies = [r.latency_ms for r in results]
    summary["latency_p50_ms"] = _percentile(latencies, 0.5)
    summary["latency_p95_ms"] = _percentile(latencies, 0.95)
    return summary


def run_eval(assistant: Assistant, gold: Sequence[GoldQuestion], k: int | None = None) -> Report:
    """Evaluate every question; return the report (overall, by language, by type, per question)."""
    top_k = k or assistant.settings.top_k
    _ = assistant.index  # build or load before timing questions
    assistant.warm_up()  # first-call costs (jieba's tables, the dictionary) are not question latency
    titles = [document.title for document in assistant.index.documents.values()]
    left_out = [g.id for g in gold if g.answered_by(titles)]
    started = time.perf_counter()
    results = [evaluate_question(assistant, g, top_k) for g in gold if g.id not in left_out]
    report = report_of(results)
    return {
        "settings": assistant.settings.to_dict() | {"top_k": top_k},
        "index": {k: assistant.index.manifest[k] for k in ("encoder", "chunker", "counts", "created_at")},
        "seconds": round(time.perf_counter() - started, 2),
        # Unanswerable questions that a document of this index answers (``answerable_with``).
        "left_out": left_out,
        **report,
    }


def report_of(results: Sequence[QuestionResult]) -> Report:
    """Overall, by-language and by-type summaries of scored questions."""
    per_question = _ranking_metrics(results)
    for r in results:
        r.metrics = per_question.get(r.id, {})
    by_lang = defaultdict(list)
    by_type = defaultdict(list)
    by_split_lang: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in results:
        by_lang[r.lang].append(r)
        by_type[r.type].append(r)
        by_split_lang[split_of(r.id)].append(r)
        by_split_lang[f"{split_of(r.id)} {r.lang}"].append(r)
    return {
        "overall": summarise(results),
        "by_language": {lang: summarise(rs) for lang, rs in sorted(by_lang.items())},
        "by_type": {t: summarise(rs) for t, rs in sorted(by_type.items())},
        # "dev", "test", and each by language ("test en"): tune on dev, report test.
        "by_split": {name: summarise(rs) for name, rs in sorted(by_split_lang.items())},
        "per_question": [asdict(r) for r in results],
    }


TABLE_COLUMNS = (
    "questions",
    "hit@1",
    "hit@3",
    "hit@5",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "recall@1500chars",
    "key_point_coverage",
    "citation_precision",
    "abstention_precision",
    "abstention_recall",
    "false_abstention_rate",
    "partial_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


def markdown_table(report: Report) -> str:
    """The report as a Markdown table: overall, by language, by type."""
    rows = [("overall", report["overall"])]
    rows += [(f"split={k}", v) for k, v in report.get("by_split", {}).items()]
    rows += [(f"lang={k}", v) for k, v in report["by_language"].items()]
    rows += [(f"type={k}", v) for k, v in report["by_type"].items()]
    header = "| group | " + " | ".join(TABLE_COLUMNS) + " |"
    rule = "|---" * (len(TABLE_COLUMNS) + 1) + "|"
    lines = [header, rule]
    for name, summary in rows:
        lines.append(f"| {name} | " + " | ".join(_cell(summary.get(c)) for c in TABLE_COLUMNS) + " |")
    return "\n".join(lines)


def write_artefacts(report: Report, out_dir: Path) -> list[Path]:
    """Write report.json, report.md, per_question.jsonl and recall_by_language.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    summary = {k: v for k, v in report.items() if k != "per_question"}
    path = out_dir / "report.json"
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    written.append(path)
    path = out_dir / "report.md"
    path.write_text(
        f"# policyqa evaluation\n\nSettings: `{json.dumps(report['settings'], ensure_ascii=False)}`\n\n"
        f"{markdown_table(report)}\n",
        encoding="utf-8",
    )
    written.append(path)
    path = out_dir / "per_question.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for item in report["per_question"]:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    written.append(path)
    written.append(_plot_recall(report, out_dir / "recall_by_language.png"))
    return written


def _plot_recall(report: Report, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for lang, summary in report["by_language"].items():
        values = [summary[f"recall@{c}"] or 0.0 for c in RECALL_CUTOFFS]
        ax.plot(RECALL_CUTOFFS, values, marker="o", label=f"{lang} (n={summary['answerable']})")
    ax.set_xlabel("k (passages)")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(RECALL_CUTOFFS)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Evidence recall by question language")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
