"""Train ``src/policyqa/data/query_map.npz``: question vectors moved towards their answers, a map per language.

Training questions: ``query_map_questions.jsonl`` (English and Chinese questions with the
verbatim evidence of their answers, from the held-out sets read while developing; sets never
read and the gold test halves are kept out) and the questions of the gold dev halves
(``eval/``). Each language's questions train its own map. Each
question's positives are the index's passages holding its evidence; its negatives, the other
passages of those documents (up to ``SAME_DOCUMENT``) and the passages the ranking, without a
map, puts first. The loss is the softmax cross-entropy of the positives among them by the cosine
of the mapped question (temperature ``TEMPERATURE``), plus ``L2`` times the squared size of the
map's difference from the identity; Adam, ``EPOCHS`` full-batch steps from the identity, one
thread: the same questions and index give the same map.

Needs torch (`make setup-st`) and an index that holds the questions' documents: the paper, the
policy texts and the unpacked library, as `make eval-library` builds it.

    python -m policyqa_tools.train_query_map --corpus corpus --corpus ../shared/policy-texts \\
        --corpus ~/.cache/policyqa/library --index-dir ~/.cache/policyqa/library-index
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policyqa.assistant import Assistant
from policyqa.evaluate import split_of, squash_for_matching
from policyqa.query_map import LANGUAGES, QUERY_MAP_FILE, QueryMap, write_query_map
from policyqa.settings import Settings

QUESTIONS_FILE = Path(__file__).resolve().parent / "query_map_questions.jsonl"
GOLD_DIR = Path(__file__).resolve().parents[2] / "eval"
MAP_FILE = Path(__file__).resolve().parents[2] / "src" / "policyqa" / QUERY_MAP_FILE
SAME_DOCUMENT = 400
RANKED = 30
L2 = 0.01
TEMPERATURE = 0.05
EPOCHS = 60
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class TrainingQuestion:
    language: str
    question: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    """A question's vector, and the vectors of the passages that answer it (first) and that do not."""

    vector: np.ndarray
    passages: np.ndarray
    positives: int


def training_questions(questions_file: Path, gold_dir: Path) -> list[TrainingQuestion]:
    """The held-out questions read while developing, and the dev questions of the gold set."""
    found = [
        TrainingQuestion(d["lang"], d["question"], tuple(d["evidence"]))
        for d in map(json.loads, questions_file.read_text("utf-8").splitlines())
    ]
    for path in sorted(gold_dir.rglob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            d = json.loads(line)
            if d.get("lang") in LANGUAGES and d.get("evidence") and split_of(d["id"]) == "dev":
                found.append(TrainingQuestion(d["lang"], d["question"], tuple(d["evidence"])))
    return found


def pairs(assistant: Assistant, questions: Sequence[TrainingQuestion]) -> list[Pair]:
    """Each question whose evidence the index holds, with its positive and negative rows."""
    loaded = assistant.index
    texts = [squash_for_matching(chunk.text) for chunk in loaded.chunks]
    doc_of_row = loaded.table.doc
    found = []
    for item in questions:
        evidence = [squash_for_matching(e) for e in item.evidence]
        positives = [row for row, text in enumerate(texts) if any(e in text for e in evidence)]
        if not positives:
            continue
        query = assistant.prepare(item.question)
        documents = np.isin(doc_of_row, doc_of_row[positives])
        same_document = [int(r) for r in np.flatnonzero(documents)[:SAME_DOCUMENT] if r not in positives]
        ranked = [loaded.table.row_of(p.chunk_id) for p in assistant.retriever.search(query, RANKED)]
        negatives = [*same_document, *(r for r in ranked if r is not None and r not in positives)]
        rows = np.asarray([*positives, *dict.fromkeys(negatives)], dtype=np.int64)
        found.append(Pair(query.vector, loaded.chunk_vectors.reconstruct(rows), len(positives)))
    return found


def train(pairs: Sequence[Pair]) -> np.ndarray:
    """The map's difference from the identity, by Adam on the contrastive loss."""
    import torch

    torch.set_num_threads(1)
    dimension = len(pairs[0].vector)
    delta = torch.zeros(dimension, dimension, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=LEARNING_RATE)
    items = [(torch.tensor(p.vector), torch.tensor(p.passages), p.positives) for p in pairs]
    for _ in range(EPOCHS):
        loss = torch.zeros(())
        for vector, passages, positives in items:
            mapped = vector + vector @ delta
            scores = passages @ (mapped / mapped.norm()) / TEMPERATURE
            loss = loss + torch.logsumexp(scores, 0) - torch.logsumexp(scores[:positives], 0)
        loss = loss / len(items) + L2 * (delta**2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return delta.detach().numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", type=Path, required=True, help="corpus folder (repeat)")
    parser.add_argument("--index-dir", type=Path, required=True, help="the folder of that corpus's index")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE, help="training questions (JSONL)")
    parser.add_argument("--gold", type=Path, default=GOLD_DIR, help="gold set whose dev questions join them")
    parser.add_argument("--out", type=Path, default=MAP_FILE, help="where to write the map")
    args = parser.parse_args(argv)
    # The negatives are what the ranking puts first without a map.
    settings = Settings.from_env(corpus_dirs=tuple(args.corpus), index_dir=args.index_dir, query_map_weight=0.0)
    assistant = Assistant(settings, auto_build=False)
    questions = training_questions(args.questions, args.gold)
    deltas = {}
    for language in LANGUAGES:
        found = pairs(assistant, [q for q in questions if q.language == language])
        if found:
            deltas[language] = train(found)
            print(f"{language}: {len(found)} questions")
    if not deltas:
        print("no training question's evidence is in this index", file=sys.stderr)
        return 1
    write_query_map(args.out, QueryMap(assistant.encoder.encoder_id, deltas))
    print(f"wrote {args.out}: encoder {assistant.encoder.encoder_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
