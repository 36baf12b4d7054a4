"""The verifier of generated sentences: figures across languages, citations, actors, negation, similarity.

Hand cases for each check, then the labelled set (``eval/verifier/labelled.jsonl``): its
test half must keep the precision and recall reported in docs/evaluation.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO_ROOT

from policyqa.embed import Encoder
from policyqa.evaluate import split_of
from policyqa.grounding import Grounder, cited, cut_sentences, default_lookup, figures, unsupported_figures
from policyqa.llm_eval import _metrics, load_labelled, score

LABELLED = REPO_ROOT / "eval" / "verifier" / "labelled.jsonl"
PASSAGE = "申请人自外观设计在中国第一次提出专利申请之日起六个月内，又向国务院专利行政部门就相同主题提出专利申请的，可以享有优先权。"  # noqa: E501


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("六个月内", "within six months"),
        ("六个月内", "within 6 months"),
        ("百分之三十", "30%"),
        ("2025年", "in 2025"),
        ("五万元", "50,000 yuan"),
        ("二〇二五年", "2025"),
        ("十二个月", "twelve months"),
        # A share said as a fraction is its share in per cent.
        ("一半的维修费用", "half of the repair cost"),
        ("三分之一以上", "one third of the members"),
        ("半数", "百分之五十"),
        ("四分之一", "a quarter of the fee"),
    ],
)
def test_figures_are_the_same_across_languages_and_scripts(a: str, b: str) -> None:
    assert figures(a) == figures(b)
    assert unsupported_figures(b, a) == []


def test_a_changed_figure_or_unit_is_unsupported() -> None:
    assert unsupported_figures("within six years", "六个月内") == [(6.0, "year")]
    assert unsupported_figures("30%", "百分之五") == [(30.0, "%")]
    assert unsupported_figures("本条例自2021年起施行", "本条例自2020年1月1日起施行") == [(2021.0, None)]
    assert unsupported_figures("two thirds of the members", "三分之二以上") == []
    assert unsupported_figures("half of the cost", "三分之一") == [(50.0, "%")]


def test_words_that_only_look_like_numerals_state_no_figure() -> None:
    assert figures("一般情况下统一管理") == set()
    assert figures("one of the stages") == set()
    # A half or a quarter of time is a period, not a share; "half" names a share of what follows it.
    assert figures("within half a year") == set()
    assert figures("every quarter") == set()


def test_a_stream_is_cut_into_sentences_with_their_markers() -> None:
    done, rest = cut_sentences("The fund helps [1]. It grows 2.", final=False)
    assert done == ["The fund helps [1]."]
    assert rest == " It grows 2."  # "2." may become "2.5"
    assert cut_sentences("政府设立基金[1]。企业退出[2]", final=True)[0] == ["政府设立基金[1]。", "企业退出[2]"]
    assert cut_sentences("Stage one. [1][2] Next", final=False)[0] == ["Stage one. [1][2]"]
    assert cited("a [1, 3][2] b") == (1, 3, 2)


@pytest.fixture(scope="module")
def grounder(use_encoder: Encoder) -> Grounder:
    return Grounder(use_encoder, lookup=default_lookup())


def test_a_faithful_english_rendering_of_the_cited_passage_passes(grounder: Grounder) -> None:
    evidence = grounder.evidence([PASSAGE])
    claim = "A design applicant who files again in China within six months may enjoy priority [1]."
    check = grounder.check(claim, evidence)
    assert check.ok, check.reason
    assert check.source == PASSAGE and check.source_n == 1


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("A design applicant may enjoy priority.", "no citation"),
        ("A design applicant may enjoy priority [2].", "citation [2] does not exist"),
        ("A design applicant who files again within twelve months may enjoy priority [1].", "figure 12 month"),
        ("The Shenzhen government grants the priority within six months [1].", "深圳"),
        # Caught by its negation, or earlier by its distance from the passage: either way, dropped.
        ("A design applicant who files again within six months cannot enjoy priority [1].", "negation|not close"),
        ("Universities must publish their licences every quarter [1].", "Universities"),
        ("The weather in spring is mild and pleasant [1].", "not close"),
    ],
)
def test_an_unsupported_sentence_fails_with_its_reason(grounder: Grounder, sentence: str, reason: str) -> None:
    check = grounder.check(sentence, grounder.evidence([PASSAGE]))
    assert not check.ok
    assert any(r in (check.reason or "") for r in reason.split("|"))


def test_a_sentence_in_the_wrong_language_fails(grounder: Grounder) -> None:
    check = grounder.check("外观设计六个月内可以享有优先权[1]。", grounder.evidence([PASSAGE]), chinese=False)
    assert (check.ok, check.reason) == (False, "wrong language")


def _labelled(split: str) -> list[dict[str, object]]:
    return [i for i in load_labelled(Path(LABELLED)) if split_of(str(i["id"])) == split]


def test_the_labelled_set_has_both_halves_and_every_kind_of_wrong_sentence() -> None:
    for split in ("dev", "test"):
        items = _labelled(split)
        assert {i["label"] for i in items} == {"supported", "wrong"}
    kinds = {i["kind"] for i in load_labelled(LABELLED) if i["label"] == "wrong"}
    assert {"changed_figure", "wrong_year", "wrong_actor", "negation", "unrelated"} <= kinds


def test_every_wrong_figure_year_actor_and_unrelated_claim_of_the_labelled_set_is_caught(grounder: Grounder) -> None:
    items = [i for i in load_labelled(LABELLED) if i["kind"] in ("changed_figure", "wrong_year", "wrong_actor")]
    rows = score(grounder, items)
    assert [r["id"] for r in rows if not r["rejected"]] == []


def test_the_verifier_keeps_its_precision_and_recall_on_the_test_half(grounder: Grounder) -> None:
    # docs/evaluation.md reports precision 0.83 and recall 1.00 on this half (threshold from dev).
    metrics = _metrics(score(grounder, _labelled("test")))
    assert metrics["recall"] >= 0.9
    assert metrics["precision"] >= 0.75
