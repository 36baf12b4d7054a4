"""``policyqa bench``: the synthetic corpus, the report's table, and one quick run end to end.

Speed targets are reported by the benchmark, never asserted here: the quick run
checks the report's structure and that its figures are positive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINI_DIR, REPO_ROOT

pytest.importorskip("fastapi")
from policyqa.chunk import chunk_document  # noqa: E402
from policyqa.documents import load_corpus  # noqa: E402
from policyqa.settings import Settings  # noqa: E402
from policyqa_app.bench import TARGETS, synthetic_corpus, table  # noqa: E402


def test_synthetic_corpus_holds_the_passages_it_reports(tmp_path: Path) -> None:
    settings = Settings()

    info = synthetic_corpus([MINI_DIR], tmp_path / "synthetic", 300, seed=7)

    documents, skipped = load_corpus([tmp_path / "synthetic"])
    passages = sum(
        len(chunk_document(d, settings.chunk_chars, settings.chunk_overlap_sentences).chunks) for d in documents
    )
    assert not skipped
    assert info["passages"] == passages > 300
    assert info["files"] == len(documents)


def test_synthetic_corpus_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    synthetic_corpus([MINI_DIR], tmp_path / "a", 200, seed=7)
    synthetic_corpus([MINI_DIR], tmp_path / "b", 200, seed=7)

    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_text(encoding="utf-8") == (tmp_path / "b" / path.name).read_text(encoding="utf-8")


def test_table_marks_each_target_pass_or_miss_with_the_baseline_ratio() -> None:
    results = {
        "warm_shipped": {"ask": {"p50_ms": 4.0, "p95_ms": 45.0}, "baseline": {"p50_ms": 2.0, "p95_ms": 3.0}},
        "synthetic": {"passages": 100_000, "chunks_per_s": 900.0, "baseline": {"chunks_per_s": 30.0}},
    }

    rows = {row["key"]: row for row in table(results)}

    assert rows["warm_shipped.ask.p50_ms"]["status"] == "pass"
    assert rows["warm_shipped.ask.p50_ms"]["ratio"] == 2.0
    assert rows["warm_shipped.ask.p95_ms"]["status"] == "miss"
    assert rows["synthetic.chunks_per_s"]["status"] == "pass"
    assert rows["synthetic.chunks_per_s"]["ratio"] == 30.0
    assert "100,000" in rows["synthetic.chunks_per_s"]["metric"]
    assert rows["cold_start.median_s"]["status"] == "not measured"
    assert len([r for r in rows.values() if r["target"] != "–"]) == len(TARGETS)


@pytest.mark.slow
def test_quick_benchmark_reports_every_target(tmp_path: Path) -> None:
    out = tmp_path / "bench-out"
    result = subprocess.run(
        [sys.executable, "-m", "policyqa.cli", "bench", "--quick", "--json", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert json.loads((out / "bench.json").read_text(encoding="utf-8"))["table"] == report["table"]
    assert "| metric | target | measured | baseline | ratio | status |" in (out / "bench.md").read_text(
        encoding="utf-8"
    )
    assert report["quick"] is True and report["machine"]["nproc"] >= 1
    rows = {row["key"]: row for row in report["table"]}
    for target in TARGETS:
        row = rows[target.key]
        assert row["status"] in {"pass", "miss"}, row
        if target.key.endswith("errors"):
            assert row["measured"] >= 0
        else:
            assert row["measured"] > 0, row
    results = report["results"]
    assert results["synthetic"]["passages"] > 20_000
    assert results["synthetic"]["faiss"] == "hnsw"
    for name in ("search", "ask"):
        assert results["serving"][name]["requests"] > 0
        assert results["serving"][name]["latency"]["p95_ms"] > 0
    assert results["warm_shipped"]["baseline"]["p50_ms"] > 0
    assert results["index_shipped"]["baseline"]["chunks_per_s"] > 0
