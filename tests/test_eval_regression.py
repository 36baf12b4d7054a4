"""The default configuration must not fall clearly below its recorded numbers on the gold set.

The recorded figures (eval/recorded.json) come from `make eval`; a change that costs
more than the tolerance on any of them fails here. Real encoder, real FAISS, the
real paper and laws.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import require_policy_texts

from policyqa import Assistant, Settings
from policyqa.evaluate import load_gold, run_eval

pytestmark = pytest.mark.slow  # the paper and the laws indexed, then the whole gold set asked

ROOT = Path(__file__).resolve().parents[1]
POLICY_TEXTS = ROOT.parent / "shared" / "policy-texts"
# A rate may drop by this much before it counts as a regression (about 2-3 questions).
TOLERANCE = 0.03
HIGHER_IS_BETTER = (
    "hit@1",
    "hit@5",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "recall@1500chars",
    "key_point_coverage",
    "citation_precision",
    "abstention_recall",
)


# Questions from outside the field: the abstention floor was set between these and the
# answerable gold questions (docs/evaluation.md).
OFF_TOPIC = (
    "How do I bake sourdough bread at home?",
    "What is the capital of France?",
    "How do I reset my email password?",
    "What's the weather like tomorrow?",
    "Explain quantum entanglement.",
    "What is the best recipe for dumplings?",
    "如何在家烤面包？",
    "今天天气怎么样？",
    "谁是世界杯冠军？",
    "怎么学习弹钢琴？",
)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    require_policy_texts()
    settings = Settings(
        corpus_dirs=(ROOT / "corpus", POLICY_TEXTS), index_dir=tmp_path_factory.mktemp("regression-index")
    )
    return Assistant(settings)


@pytest.fixture(scope="module")
def report(assistant: Assistant) -> dict[str, object]:
    return run_eval(assistant, load_gold([ROOT / "eval"]))


def _recorded() -> dict[str, dict[str, float]]:
    return json.loads((ROOT / "eval" / "recorded.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("group", ["overall", "en", "zh", "test", "test en", "test zh"])
def test_default_configuration_holds_its_recorded_quality(report: dict[str, object], group: str) -> None:
    recorded = _recorded()[group]
    if group == "overall":
        measured = report["overall"]
    elif group.startswith("test"):
        measured = report["by_split"][group]  # type: ignore[index]
    else:
        measured = report["by_language"][group]  # type: ignore[index]
    for metric in HIGHER_IS_BETTER:
        if recorded.get(metric) is None:
            continue
        assert measured[metric] >= recorded[metric] - TOLERANCE, (  # type: ignore[index]
            f"{group} {metric}: {measured[metric]} < recorded {recorded[metric]}"  # type: ignore[index]
        )
    if recorded.get("false_abstention_rate") is not None:
        assert measured["false_abstention_rate"] <= recorded["false_abstention_rate"] + TOLERANCE  # type: ignore[index]


def test_flagship_questions_cite_the_trough_passage(report: dict[str, object]) -> None:
    by_id = {q["id"]: q for q in report["per_question"]}  # type: ignore[union-attr]
    for qid in ("paper-en-016", "paper-zh-015"):
        answer = by_id[qid]
        assert not answer["abstained"]
        assert any("技术复苏基金" in c["text"] for c in answer["citations"]), qid


def test_off_topic_questions_abstain(assistant: Assistant) -> None:
    answered = [q for q in OFF_TOPIC if not assistant.ask(q).abstained]
    assert len(answered) <= 1, answered
