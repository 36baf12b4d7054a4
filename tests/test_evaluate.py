"""Ranking metrics of the evaluation (``evaluate.report_of``): each evidence string counts at its first rank."""

from __future__ import annotations

from policyqa.evaluate import QuestionResult, _evidence_in, report_of


def _result(question_id: str, evidence_by_rank: list[list[int]], evidence_count: int) -> QuestionResult:
    ranked = [{"rank": rank, "evidence": hits} for rank, hits in enumerate(evidence_by_rank, 1)]
    first: list[int | None] = [None] * evidence_count
    for rank, hits in enumerate(evidence_by_rank, 1):
        for i in hits:
            first[i] = first[i] or rank
    return QuestionResult(
        id=question_id,
        lang="en",
        type="fact",
        question="?",
        answerable=True,
        ranked=ranked,
        evidence_ranks=first,
        recall_1500=None,
        answer="",
        abstained=False,
        citations=[],
        key_point_coverage=None,
        citation_precision=None,
        latency_ms=1.0,
        top_score=1.0,
    )


def test_an_evidence_string_found_again_further_down_keeps_its_first_rank() -> None:
    # Rank 2 holds both evidence strings; rank 10 holds them again (another version of the law).
    again = _result("again", [[], [0, 1], [], [], [], [], [1], [], [], [0, 1]], evidence_count=3)
    once = _result("once", [[], [0, 1], [], [], [], [], [], [], [], []], evidence_count=3)
    report_of([again, once])
    assert again.metrics == once.metrics
    assert again.metrics["hit@1"] == 0.0
    assert again.metrics["hit@5"] == 1.0
    assert again.metrics["mrr@10"] == 0.5
    assert abs(again.metrics["recall@5"] - 2 / 3) < 1e-9


def test_evidence_is_found_in_another_version_that_writes_it_in_full_width_forms() -> None:
    # The 2019 and 2022 versions of one regulation write the same article with (院) and （院）.
    evidence = ["中学、小学校园周围200米范围内和居民住宅楼(院)内不得设立互联网上网服务营业场所"]
    later_version = "第九条 中学、小学校园周围２００米范围内和居民住宅楼（院）内不得设立互联网上网服务营业场所。"
    assert _evidence_in(later_version, evidence) == [0]
    assert _evidence_in("居民住宅楼（院）外可以设立", evidence) == []
