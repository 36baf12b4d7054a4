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
from conftest import MINI_DIR, REPO_ROOT, FakeEncoder

from policyqa import Assistant, Settings
from policyqa_tools.report import TARGETS, markdown, table
from policyqa_tools.synthetic import synthetic_corpus


def test_synthetic_corpus_holds_the_passages_it_reports(tmp_path: Path, fake_encoder: FakeEncoder) -> None:
    info = synthetic_corpus([MINI_DIR], tmp_path / "synthetic", 300, seed=7)

    settings = Settings(
        corpus_dirs=(tmp_path / "synthetic",), index_dir=tmp_path / "index", encoder=FakeEncoder.encoder_id
    )
    build = Assistant(settings, encoder=fake_encoder).build()
    assert not build.skipped
    assert info["passages"] == build.chunks > 300
    assert info["files"] == build.documents


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


def test_markdown_shows_the_machine_and_one_line_per_row() -> None:
    report = {
        "quick": True,
        "started_at": "2026-11-30T00:00:00Z",
        "machine": {
            "nproc": 2,
            "cpu": "AMD EPYC",
            "memory_gb": 23.5,
            "python": "3.11",
            "numpy": "2.0",
            "faiss": "1.15.1",
            "load_average_start": [0.5],
        },
        "load_average_end": [0.7],
        "table": table({"cold_start": {"median_s": 1.5}}),
    }

    text = markdown(report)

    assert text.startswith("# policyqa bench (quick run, 2026-11-30T00:00:00Z)")
    assert "Machine: 2 cores, AMD EPYC, 23.5 GB" in text
    assert "| cold start, new process to first answer | ≤ 3 s | 1.5 s | – | – | pass |" in text
    assert len([line for line in text.splitlines() if line.startswith("| ")]) == 1 + len(report["table"])


@pytest.mark.slow
def test_quick_benchmark_reports_every_target(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the benchmark's server needs the 'serve' extra")
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
    assert results["synthetic"]["faiss"] == "hnsw-fp16"
    for name in ("search", "ask"):
        assert results["serving"][name]["requests"] > 0
        assert results["serving"][name]["latency"]["p95_ms"] > 0
    assert results["warm_shipped"]["baseline"]["p50_ms"] > 0
    assert results["warm_shipped"]["page_cache_warm_s"] >= 0  # the index read through before timing
    assert results["index_shipped"]["baseline"]["chunks_per_s"] > 0
