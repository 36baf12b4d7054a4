"""Evaluation of LLM answers: what the generator's sentences survive, and how well the verifier catches wrong ones.

``run_llm_eval`` runs the gold questions with ``mode="llm"`` and reports the share of
generated sentences kept, the fallback rate and whether answers came in the question's
language. ``verifier_report`` scores ``grounding.Grounder`` on a labelled set
(``eval/verifier/labelled.jsonl``: a passage, a claim about it, ``supported`` or
``wrong``), split into dev and test halves by a hash of the id like the gold set;
on dev it also sweeps the similarity threshold (calibrate there, report on test).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .assistant import Assistant
from .embed import get_encoder
from .errors import ConfigError
from .evaluate import GoldQuestion, split_of
from .grounding import Grounder, default_lookup
from .text import is_chinese

LABELS = ("supported", "wrong")


def run_llm_eval(assistant: Assistant, gold: Sequence[GoldQuestion], k: int | None = None) -> dict[str, Any]:
    """Generated answers on the answerable gold questions: sentences kept, fallbacks, language match."""
    rows: list[dict[str, Any]] = []
    for question in gold:
        if not question.answerable:
            continue
        answer = assistant.ask(question.question, k=k, mode="llm")
        generation = answer.generation
        if generation is None:  # abstained: nothing was generated
            rows.append({"id": question.id, "abstained": True})
            continue
        rows.append(
            {
                "id": question.id,
                "kept": len(generation.kept),
                "dropped": generation.dropped,
                "fallback": generation.fallback,
                "reasons": list(generation.dropped_reasons),
                "language_match": generation.language_match,
                "served_language_match": (not generation.fallback)
                and is_chinese(answer.answer) == is_chinese(question.question),
                "note": generation.note,
            }
        )
    asked = [r for r in rows if not r.get("abstained")]
    kept = sum(r["kept"] for r in asked)
    generated = kept + sum(r["dropped"] for r in asked)
    served = [r for r in asked if not r["fallback"]]
    reasons: dict[str, int] = {}
    for r in asked:
        for reason in r["reasons"]:
            key = reason.split(" not in ")[0] if reason.startswith(("figure", "'")) else reason
            key = "figure" if key.startswith("figure") else "name" if key.startswith("'") else key
            reasons[key] = reasons.get(key, 0) + 1
    summary = {
        "model": assistant.settings.llm_model,
        "questions": len(asked),
        "abstained": len(rows) - len(asked),
        "sentences_generated": generated,
        "kept_share": round(kept / generated, 3) if generated else None,
        "fallback_rate": round(1 - len(served) / len(asked), 3) if asked else None,
        # Generated sentences in the question's language, over every question that generated any.
        "language_match": _mean_of([r["language_match"] for r in asked]),
        "served_language_match": round(sum(r["served_language_match"] for r in served) / len(served), 3)
        if served
        else None,
        "drop_reasons": dict(sorted(reasons.items(), key=lambda item: -item[1])),
    }
    return {"summary": summary, "per_question": rows}


def _mean_of(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 3) if present else None


def load_labelled(path: Path) -> list[dict[str, Any]]:
    items = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not {"id", "passage", "claim", "label"} <= item.keys() or item["label"] not in LABELS:
            raise ConfigError(f"{path}:{line_no}: an item needs id, passage, claim and label (supported or wrong).")
        items.append(item)
    return items


def score(grounder: Grounder, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item checked as a one-passage answer citing [1]: rejected or not, and why."""
    out = []
    for item in items:
        evidence = grounder.evidence([item["passage"]])
        check = grounder.check(f"{item['claim']} [1]", evidence)
        out.append(
            {
                "id": item["id"],
                "kind": item.get("kind", ""),
                "label": item["label"],
                "rejected": not check.ok,
                "reason": check.reason,
                "similarity": round(check.similarity, 4),
            }
        )
    return out


def _metrics(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Precision and recall at catching wrong sentences (a rejected wrong sentence is a true positive)."""
    tp = sum(r["rejected"] and r["label"] == "wrong" for r in rows)
    fp = sum(r["rejected"] and r["label"] == "supported" for r in rows)
    fn = sum(not r["rejected"] and r["label"] == "wrong" for r in rows)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {
        "items": len(rows),
        "wrong": tp + fn,
        "precision": None if precision is None else round(precision, 3),
        "recall": None if recall is None else round(recall, 3),
        "supported_kept": round(1 - fp / max(1, len(rows) - tp - fn), 3),
    }


def verifier_report(
    path: Path, encoder: str, split: str | None = "test", threshold: float | None = None
) -> dict[str, Any]:
    """The verifier's precision and recall at catching wrong sentences on one half of the labelled set."""
    items = [i for i in load_labelled(path) if split is None or split_of(i["id"]) == split]
    grounder = Grounder(get_encoder(encoder), lookup=default_lookup())
    if threshold is not None:
        grounder.threshold = threshold
    rows = score(grounder, items)
    report: dict[str, Any] = {"split": split, "threshold": grounder.threshold, **_metrics(rows)}
    if split == "dev":
        # The sweep the default threshold was chosen from: with the similarity check off, every
        # other check decides once, then each threshold adds the sentences below it.
        grounder.threshold = -1.0
        base = score(grounder, items)
        sweep = {}
        for step in range(30, 80, 5):
            t = step / 100
            swept = [dict(r, rejected=r["rejected"] or r["similarity"] < t) for r in base]
            sweep[f"{t:.2f}"] = {k: v for k, v in _metrics(swept).items() if k != "items"}
        report["sweep"] = sweep
    report["by_kind"] = {
        kind: _metrics([r for r in rows if r["kind"] == kind]) for kind in sorted({r["kind"] for r in rows})
    }
    report["items"] = rows
    return report
