"""Train ``src/policyqa/data/scope.json``: which questions ask general knowledge rather than rules.

The training questions are in ``scope_questions/``: 400 that ask what a Chinese law, regulation,
judicial interpretation, policy or the paper says (``in_scope.jsonl``) and 400 that ask everyday
knowledge or advice (``everyday.jsonl``), each half English and half Chinese. They were written
for this purpose, apart from every gold and held-out question. A plain L2-regularised logistic
regression over the default encoder's question vectors, fitted by full-batch gradient descent,
is deterministic: the same questions and encoder give the same weights.

    python -m policyqa_tools.train_scope            # rewrites src/policyqa/data/scope.json
    python -m policyqa_tools.train_scope --check    # cross-validated rates, nothing written
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from policyqa.embed import get_encoder
from policyqa.scope import SCOPE_FILE, ScopeModel
from policyqa.settings import DEFAULT_ENCODER

QUESTIONS_DIR = Path(__file__).resolve().parent / "scope_questions"
MODEL_FILE = Path(__file__).resolve().parents[2] / "src" / "policyqa" / SCOPE_FILE
L2 = 1.0
STEPS = 3000
LEARNING_RATE = 0.5
FOLDS = 5


def read_questions(path: Path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines() if line.strip()]


def fit(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression, by full-batch gradient descent."""
    weights = np.zeros(vectors.shape[1])
    bias = 0.0
    n = len(labels)
    for _ in range(STEPS):
        error = 1.0 / (1.0 + np.exp(-(vectors @ weights + bias))) - labels
        weights -= LEARNING_RATE * (vectors.T @ error / n + L2 * weights / n)
        bias -= LEARNING_RATE * float(error.mean())
    return weights, bias


def cross_validated(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each question's probability from a model fitted without its fold."""
    order = np.random.default_rng(0).permutation(len(labels))
    probabilities = np.zeros(len(labels))
    for fold in np.array_split(order, FOLDS):
        kept = np.ones(len(labels), dtype=bool)
        kept[fold] = False
        weights, bias = fit(vectors[kept], labels[kept])
        probabilities[fold] = 1.0 / (1.0 + np.exp(-(vectors[fold] @ weights + bias)))
    return probabilities


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report cross-validated rates, write nothing")
    parser.add_argument("--out", type=Path, default=MODEL_FILE, help="where to write the model")
    args = parser.parse_args(argv)
    in_scope = read_questions(QUESTIONS_DIR / "in_scope.jsonl")
    everyday = read_questions(QUESTIONS_DIR / "everyday.jsonl")
    encoder = get_encoder(DEFAULT_ENCODER)
    vectors = np.array([encoder.encode_query(q) for q in in_scope + everyday], dtype=np.float64)
    labels = np.array([0.0] * len(in_scope) + [1.0] * len(everyday))
    if args.check:
        probabilities = cross_validated(vectors, labels)
        for floor in (0.5, 0.6, 0.7, 0.8):
            flagged = int((probabilities[labels == 0] >= floor).sum())
            caught = int((probabilities[labels == 1] >= floor).sum())
            print(f"at {floor}: in-scope taken as general {flagged}/{len(in_scope)}, everyday {caught}/{len(everyday)}")
        return 0
    weights, bias = fit(vectors, labels)
    model = ScopeModel(encoder.encoder_id, weights.astype(np.float32), round(bias, 6))
    args.out.write_text(json.dumps(model.to_dict()) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(in_scope)} in scope, {len(everyday)} everyday, encoder {encoder.encoder_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
