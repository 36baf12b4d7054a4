"""Whether a question asks general knowledge or advice rather than what laws and policies say.

"How many hours of sleep does an adult need each night?" shares 睡眠 and 小时 with a detention
centre's rules, and "How much is a single bus ticket in Luoyang?" shares a fare with a transport
regulation: their words are in the texts, so the word checks of ``verify`` pass, and a weak
passage used to be quoted as the answer. What tells them apart is what they ask about, which
the question's own vector carries. A logistic regression over that vector, trained on 400
questions that ask what a rule, law or policy says and 400 that ask everyday knowledge or
advice (``python -m policyqa_tools.train_scope``), gives the chance that a question is of the
second kind. Questions people ask about rules often sound everyday ("Can I fish in the
Huangpu?"), so the chance alone decides nothing: the assistant refuses only where the best
passage is weak too (``Settings.general_question_relevance``).

The weights belong to the encoder they were trained with; with any other encoder there are
none and the check is off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

SCOPE_FILE = "data/scope.json"
GENERAL_QUESTION = "the question asks general knowledge or advice, which the laws and policy texts do not give"


@dataclass(frozen=True)
class ScopeModel:
    """A logistic regression over question vectors: the chance that a question asks general knowledge."""

    encoder_id: str
    weights: np.ndarray
    bias: float

    def general_probability(self, vector: np.ndarray) -> float:
        """The chance that the question of this (normalised) vector asks general knowledge or advice."""
        return float(1.0 / (1.0 + np.exp(-(float(vector @ self.weights) + self.bias))))

    def to_dict(self) -> dict[str, object]:
        return {"encoder": self.encoder_id, "weights": [round(float(w), 6) for w in self.weights], "bias": self.bias}


def parse_scope_model(data: object) -> ScopeModel:
    """A model from its JSON form; ``ValueError`` for anything else (the file is data, never code)."""
    if not isinstance(data, dict) or not isinstance(data.get("encoder"), str):
        raise ValueError("a scope model is an object with an encoder, weights and a bias")
    weights, bias = data.get("weights"), data.get("bias")
    if not isinstance(weights, list) or not weights or not all(isinstance(w, (int, float)) for w in weights):
        raise ValueError("a scope model's weights are a non-empty list of numbers")
    if not isinstance(bias, (int, float)):
        raise ValueError("a scope model's bias is a number")
    return ScopeModel(data["encoder"], np.asarray(weights, dtype=np.float32), float(bias))


@lru_cache(maxsize=1)
def _packaged() -> ScopeModel:
    return parse_scope_model(json.loads(resources.files("policyqa").joinpath(SCOPE_FILE).read_text("utf-8")))


def scope_model_for(encoder_id: str) -> ScopeModel | None:
    """The packaged model when it was trained with this encoder, else None (the check is off)."""
    model = _packaged()
    return model if model.encoder_id == encoder_id else None
