"""``bench --library``: the table's rows and ratios, the build's memory over its process tree, an add while serving."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import MINI_DIR

from policyqa import Settings
from policyqa.embed import Encoder
from policyqa.index import build_index, current_build
from policyqa_tools.library import _tree_rss_kib, add_while_serving, library_markdown, measured_run


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


@pytest.mark.slow
def test_adding_a_file_while_serving_reports_when_the_server_answers_with_it(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    pytest.importorskip("fastapi", reason="the server needs the 'serve' extra")
    pytest.importorskip("httpx", reason="the load needs httpx")
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=tmp_path / "index", managed_dir=tmp_path / "managed")
    build_index(settings, use_encoder)
    live = current_build(settings)
    live_manifest = (live / "manifest.json").read_bytes()
    (settings.index_dir / "cache" / "kept.txt").write_text("the real cache", encoding="utf-8")
    new = tmp_path / "incoming" / "社区食堂卫生管理办法.txt"
    new.parent.mkdir()
    text = (
        "社区食堂卫生管理办法\n\n第一条 社区食堂的餐具应当每餐消毒，消毒记录保存六个月。\n"
        "第二条 食堂从业人员每年体检一次。\n"
    )
    new.write_text(text, encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    questions = ["技术成熟度曲线的阶段", "模型转让应当登记吗？", "What is the trough of disillusionment?"]

    out = add_while_serving(settings, new, questions, scratch, baseline_s=1.0, after_s=1.0, say=lambda _: None)

    assert out["file"] == new.name
    assert out["doc_id"] == hashlib.sha256(new.read_bytes()).hexdigest()[:16]
    assert out["probe_question"] == "社区食堂卫生管理办法"
    assert out["answerable"] is True and isinstance(out["answerable_s"], float)
    assert isinstance(out["add_s"], float) and isinstance(out["build_s"], float) and out["probes"] >= 1
    assert any(": added as " in line for line in out["add_output"])  # type: ignore[attr-defined]
    assert out["extended"] is True and out["extended_from"] == live.name == out["build_before"]
    assert out["served_generation"] == out["build_after"] != live.name
    assert out["unfiltered_top5"] is True and out["unfiltered_rank"] is not None
    counts_before, counts_after = out["counts_before"], out["counts_after"]
    assert isinstance(counts_before, dict) and isinstance(counts_after, dict)
    assert counts_after["documents"] == counts_before["documents"] + 1
    assert counts_after["chunks"] > counts_before["chunks"]
    for window in ("search_baseline", "search_during_add", "search_after"):
        figures = out[window]
        assert isinstance(figures, dict)
        assert figures["errors"] == 0, (window, figures)
    baseline = out["search_baseline"]
    assert isinstance(baseline, dict) and baseline["requests"] > 0 and baseline["p95_ms"] > 0
    assert out["load_errors"] == 0 and isinstance(out["load_requests"], int) and out["load_requests"] > 0
    memory = out["server_memory_end_mb"]
    assert isinstance(memory, dict) and memory["VmHWM"] >= memory["VmRSS"] > 0
    assert isinstance(out["server_ready_s"], float)

    # The measured index is as it was; the scratch copy is gone, the real cache is not.
    assert current_build(settings) == live
    assert (live / "manifest.json").read_bytes() == live_manifest
    assert not (scratch / "add-index").exists() and not (scratch / "add-managed").exists()
    assert (settings.index_dir / "cache" / "kept.txt").read_text(encoding="utf-8") == "the real cache"
    assert not (tmp_path / "managed").exists()

    table = library_markdown({"add": out})
    row = next(line for line in table.splitlines() if line.startswith(f"| adding {new.name} while serving"))
    assert "| ≤ 60 s |" in row
    assert row.split("|")[2].strip() != "–"
