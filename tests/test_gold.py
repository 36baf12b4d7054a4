"""The public gold set is well formed and every evidence string is verbatim in its source."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import require_policy_texts

from policyqa.evaluate import load_gold

ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = ROOT / "eval"
POLICY_TEXTS = ROOT.parent / "shared" / "policy-texts"
TYPES = {"fact", "concept", "framework", "case", "bottleneck", "multi", "unanswerable"}


def _sources() -> dict[str, str]:
    files = sorted((ROOT / "corpus").glob("*.txt")) + sorted(POLICY_TEXTS.glob("*.md"))
    return {f.stem: f.read_text(encoding="utf-8") for f in files if f.name != "SOURCES.md"}


def test_gold_set_loads_with_unique_ids_and_known_types():
    gold = load_gold([GOLD_DIR])
    assert len(gold) >= 100
    assert len({g.id for g in gold}) == len(gold)
    assert {g.type for g in gold} <= TYPES
    assert {g.lang for g in gold} == {"en", "zh"}


def test_gold_set_has_the_promised_mix():
    gold = load_gold([GOLD_DIR])
    paper = [g for g in gold if g.id.startswith("paper-")]
    laws = [g for g in gold if g.id.startswith("law-")]
    assert len(paper) >= 70 and len(laws) >= 30
    assert abs(sum(g.lang == "en" for g in paper) - sum(g.lang == "zh" for g in paper)) <= 2
    assert sum(g.type == "multi" for g in paper) >= 8
    assert sum(g.type == "unanswerable" for g in paper) >= 10
    stages = {
        "萌芽期": "innovation-trigger",
        "期望膨胀期": "inflated expectations",
        "泡沫破裂低谷期": "disillusionment",
        "稳步爬升复苏期": "enlightenment",
        "生产成熟期": "plateau of productivity",
    }
    for chinese, english in stages.items():
        assert any(chinese in g.question + g.answer for g in paper if g.lang == "zh"), chinese
        assert any(english in (g.question + g.answer).lower() for g in paper if g.lang == "en"), english


def test_unanswerable_questions_have_no_evidence_and_answerable_ones_do():
    for g in load_gold([GOLD_DIR]):
        assert (g.type == "unanswerable") == (not g.evidence), g.id
        if g.type == "unanswerable":
            assert not g.key_points, g.id


def test_every_evidence_string_and_key_point_is_verbatim_in_a_source():
    require_policy_texts()
    sources = _sources()
    for g in load_gold([GOLD_DIR]):
        if not g.evidence:
            continue
        candidates = [sources[g.doc]] if g.type != "multi" and g.doc in sources else list(sources.values())
        for evidence in g.evidence:
            assert any(evidence in text for text in candidates), f"{g.id}: {evidence!r} is not in its source"
        for point in g.key_points:
            assert any(point in text for text in candidates), f"{g.id}: key point {point!r} is not in its source"


def test_gold_files_are_json_lines_in_utf8():
    for path in sorted(GOLD_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert isinstance(json.loads(line), dict)
