"""``policyqa compare``: the variants kept for one index, the LangChain baseline through the embedding cache.

Real encoder (USE), real FAISS and BM25 over the mini corpus.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BuiltIndex, CountingEncoder

from policyqa.compare import LangChainBaseline, compare_configurations, configurations, langchain_baseline
from policyqa.evaluate import GoldQuestion
from policyqa.settings import Settings


def _unanswerable(question_id: str, question: str, answerable_with: tuple[str, ...] = ()) -> GoldQuestion:
    return GoldQuestion(question_id, "zh", question, (), (), "", "none", answerable_with=answerable_with)


MINI_GOLD = [
    GoldQuestion(
        id="mini-definition",
        lang="zh",
        question="本条例所称科技成果转化是指什么？",
        evidence=("科技成果转化，是指为提高生产力水平而对科技成果进行的后续试验、开发、应用和推广等活动",),
        key_points=("后续试验",),
        answer="",
        type="definition",
    ),
    _unanswerable("mini-weather", "今天北京的天气怎么样？"),
    # A question written for a corpus without the regulation: here it is answered, so left out.
    _unanswerable("mini-answered-here", "示范市的科技成果转化由谁协调？", ("示范市科技成果转化促进条例",)),
]


def test_same_index_keeps_only_variants_that_score_the_default_index() -> None:
    base = Settings()
    everything = dict(configurations(base, quick=False))
    kept = dict(configurations(base, quick=False, same_index=True))
    assert "default" in kept and "BM25 (jieba) only, with query expansion" in kept
    assert "default without the library's document evidence" in kept
    assert all(s.index_fingerprint() == base.index_fingerprint() for s in kept.values())
    rebuilt = set(everything) - set(kept)
    assert "default, chunks of 500 characters" in rebuilt and "default with encoder e5-small-q4" in rebuilt
    assert all(everything[name].index_fingerprint() != base.index_fingerprint() for name in rebuilt)


def test_baseline_chunks_go_through_the_embedding_cache(mini_index: BuiltIndex, tmp_path: Path) -> None:
    settings = mini_index.settings.replace(index_dir=tmp_path / "index")
    counting = CountingEncoder(mini_index.encoder)
    first = LangChainBaseline.build(settings, counting)
    assert counting.texts_encoded == len(first.passages) > 0
    second = LangChainBaseline.build(settings, counting)
    assert counting.texts_encoded == len(first.passages), "the second build embedded its chunks again"
    found = second.search("泡沫破裂低谷期政府可以设立什么基金？", 1)[0]
    assert "技术复苏基金" in found.text and found.doc_id == "tech-maturity-policy"


def test_a_comparison_on_one_index_builds_nothing_else(mini_index: BuiltIndex, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(mini_index.settings.index_dir, index_dir)
    base = mini_index.settings.replace(index_dir=index_dir)
    before = sorted(p.name for p in index_dir.iterdir())
    rows = {row["configuration"]: row for row in compare_configurations(base, MINI_GOLD, quick=True, same_index=True)}
    assert sorted(p.name for p in index_dir.iterdir()) == before
    names = [name for name, _ in configurations(base, quick=True, same_index=True)]
    assert list(rows) == [*names, "LangChain baseline (1000/200, use-multilingual-v3)"]
    assert rows["default"]["recall@5"] == pytest.approx(1.0)
    assert rows["default"]["abstention_recall"] == pytest.approx(1.0)
    baseline = rows["LangChain baseline (1000/200, use-multilingual-v3)"]
    # The baseline never abstains, and it is scored on the same two questions as the default.
    assert baseline["abstention_recall"] == pytest.approx(0.0)
    assert baseline["recall@5"] == pytest.approx(1.0)
    assert langchain_baseline(base, MINI_GOLD, 5)["overall"]["questions"] == 2
