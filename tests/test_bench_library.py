"""``bench --library``: the table's rows and ratios, the build's memory sampled over its process tree."""

from __future__ import annotations

import os
from pathlib import Path

from policyqa_tools.library import _tree_rss_kib, library_markdown, measured_run


def test_library_table_gives_ratios_to_the_floor_and_the_baseline() -> None:
    results = {
        "build": {"wall_s": 300.0, "peak_rss_mb": 1500.0, "passages_per_s": 500.0},
        "floor": {"floor_s": 600.0},
        "ask": {"p50_ms": 40.0, "p95_ms": 90.0, "p99_ms": 120.0},
        "search": {"p50_ms": 20.0, "p95_ms": 30.0, "p99_ms": 40.0},
        "baseline": {"retrieval": {"p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0}, "build_s": 1000.0},
        "cold_start": {"median_s": 2.5},
        "serving_memory_mb": {"VmRSS": 900.0, "RssAnon": 700.0, "RssFile": 200.0},
    }
    text = library_markdown(results)
    lines = text.splitlines()
    assert lines[0].startswith("| figure | measured | reference | ratio | target |")
    build = next(line for line in lines if line.startswith("| build wall time"))
    assert "| 0.50 |" in build
    search = next(line for line in lines if line.startswith("| search p95"))
    assert "| 1.50 |" in search


def test_missing_figures_show_a_dash() -> None:
    text = library_markdown({})
    assert "| build wall time (policyqa index) | – | – | – |" in text


def test_process_tree_memory_counts_this_process() -> None:
    assert _tree_rss_kib(os.getpid()) > 0


def test_measured_run_reports_wall_time_and_peak_memory(tmp_path: Path) -> None:
    out = measured_run(["--version"], tmp_path)
    assert out["wall_s"] >= 0 and out["peak_rss_mb"] >= 0
