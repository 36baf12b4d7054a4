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
from policyqa_tools.library import (
    _no_build_guard,
    _server_env,
    _tree_rss_kib,
    add_while_serving,
    http_workers_scaling,
    library_markdown,
    measured_run,
)


def test_library_table_gives_ratios_to_the_floor_and_the_baseline() -> None:
    results = {
        "build": {"wall_s": 300.0, "peak_rss_mb": 1500.0, "passages_per_s": 500.0},
        "floor": {"floor_s": 600.0},
        "ask": {"p50_ms": 40.0, "p95_ms": 90.0, "p99_ms": 120.0},
        "search": {"p50_ms": 20.0, "p95_ms": 30.0, "p99_ms": 40.0},
        "baseline": {"retrieval": {"p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0}, "build_s": 1000.0},
        "cold_start": {"median_s": 2.5},
        "serving_memory_mb": {"VmRSS": 900.0, "RssAnon": 700.0, "RssFile": 200.0},
        "page_cache_warm_s": 12.5,
    }
    text = library_markdown(results)
    lines = text.splitlines()
    assert "| index files read into the page cache before timing | 12.5 s |" in text
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


def _served_mini_index(tmp_path: Path, encoder: Encoder) -> tuple[Settings, Path]:
    """The mini corpus indexed for a bench step that starts servers: its settings and live build."""
    pytest.importorskip("fastapi", reason="the server needs the 'serve' extra")
    pytest.importorskip("httpx", reason="the load needs httpx")
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=tmp_path / "index", managed_dir=tmp_path / "managed")
    build_index(settings, encoder)
    return settings, current_build(settings)


@pytest.mark.slow
def test_adding_a_file_while_serving_reports_when_the_server_answers_with_it(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    settings, live = _served_mini_index(tmp_path, use_encoder)
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


def test_http_workers_rows_give_both_runs_and_the_ratios_against_their_targets() -> None:
    def run(rps: float, p95: float, workers_private: list[float]) -> dict[str, object]:
        return {
            "rps": rps,
            "requests": 100,
            "errors": 0,
            "latency": {"p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.5},
            "memory_end_mb": {
                "rss_mb": 3000.0,
                "pss_mb": 2000.0,
                "each": [{"role": "main", "Private": 900.0}]
                + [{"role": "child", "Private": p} for p in workers_private],
            },
            "server_cores_used": 1.0,
            "client_cpu_share": 0.3,
            "one_client": {"latency": {"p50_ms": 7.5, "p95_ms": 12.25}},
        }

    results = {
        "http_workers": {
            "clients": 8,
            "workers_1": run(40.0, 300.0, []),
            "workers_2": run(76.0, 240.0, [110.5, 115.25]),
            "throughput_ratio": 1.9,
            "p95_ratio": 0.8,
            "second_worker_mb": 120.5,
        }
    }
    lines = library_markdown(results).splitlines()
    assert any(line.startswith("| HTTP search, 1 worker, 8 clients: throughput | 40.0 req/s |") for line in lines)
    assert any(line.startswith("| HTTP search, 2 workers: p95 | 240.0 ms |") for line in lines)
    assert any(line.startswith("| HTTP search, 2 workers: errors | 0 of 100 |") for line in lines)
    assert any(line.startswith("| HTTP search, 2 workers, 1 client alone: p95 | 12.25 ms |") for line in lines)
    ratio = next(line for line in lines if line.startswith("| throughput ratio 2 workers / 1"))
    assert "| 1.9 |" in ratio and "≥ 1.8" in ratio
    p95 = next(line for line in lines if line.startswith("| p95 ratio 2 workers / 1"))
    assert "| 0.8 |" in p95 and "≤ 1.0" in p95
    largest = [line for line in lines if line.startswith("|   private memory of the largest worker")]
    assert largest == ["|   private memory of the largest worker, 2 workers | 115.25 MB | – | – |  |"]
    second = next(line for line in lines if line.startswith("| memory of the second worker"))
    assert "| 120.5 MB |" in second and "≤ +150 MB" in second


def test_the_servers_environment_has_no_rate_limit_and_its_state_in_the_scratch_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICYQA_RATE_LIMIT", "10/minute")
    monkeypatch.setenv("POLICYQA_STATE_DB", "var/state.sqlite3")
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=tmp_path / "index", managed_dir=tmp_path / "managed")
    one, two = _server_env(settings, tmp_path, 1), _server_env(settings, tmp_path, 2)
    assert "POLICYQA_RATE_LIMIT" not in one and "POLICYQA_RATE_LIMIT" not in two
    assert "POLICYQA_STATE_DB" not in one
    assert Path(two["POLICYQA_STATE_DB"]).parent == tmp_path.resolve()
    assert Path(one["POLICYQA_FEEDBACK_DB"]).parent == tmp_path
    assert one["POLICYQA_MANAGED_DIR"] == str((tmp_path / "managed").resolve())


def test_the_no_build_guard_raises_once_a_build_folder_appears(tmp_path: Path) -> None:
    settings = Settings(corpus_dirs=(MINI_DIR,), index_dir=tmp_path / "index")
    settings.index_dir.mkdir()
    guard = _no_build_guard(settings)
    guard()
    home = settings.index_dir / settings.index_fingerprint()
    (home / ".build-20260101T000000-1-2.tmp").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="started building"):
        guard()


@pytest.mark.slow
def test_search_over_http_against_one_and_two_workers_reports_both_and_their_ratios(
    tmp_path: Path, use_encoder: Encoder
) -> None:
    settings, live = _served_mini_index(tmp_path, use_encoder)
    home_before = sorted(p.name for p in live.parent.iterdir())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    questions = ["技术成熟度曲线的阶段", "模型转让应当登记吗？", "What is the trough of disillusionment?"]

    out = http_workers_scaling(settings, questions, scratch, seconds=2.0, one_client_seconds=1.0, say=lambda _: None)

    assert out["generation"] == live.name and out["clients"] == 8 and out["rate_limit"] is None
    seen: list[int] = []
    for count in (1, 2):
        run = out[f"workers_{count}"]
        assert isinstance(run, dict)
        assert run["workers"] == count and run["server_exited"] is False
        assert run["errors"] == 0 and run["error_kinds"] == {}, run
        assert isinstance(run["requests"], int) and run["requests"] > 0
        assert isinstance(run["rps"], float) and isinstance(run["client_cpu_share"], float)
        assert isinstance(run["server_cores_used"], float) and isinstance(run["server_cpu_ms_per_request"], float)
        latency = run["latency"]
        assert isinstance(latency, dict) and {"p50_ms", "p95_ms", "p99_ms"} <= set(latency)
        alone = run["one_client"]
        assert isinstance(alone, dict) and alone["errors"] == 0 and alone["requests"] > 0
        assert {"p50_ms", "p95_ms"} <= set(alone["latency"])
        for memory in (run["memory_ready_mb"], run["memory_end_mb"]):
            assert isinstance(memory, dict)
            # 2 workers: the supervisor and its workers.
            assert memory["processes"] >= (1 if count == 1 else count + 1)
            assert memory["rss_mb"] > 0 and memory["pss_mb"] > 0 and memory["private_mb"] > 0
            seen += [int(p["pid"]) for p in memory["each"]]
        assert isinstance(run["server_ready_s"], float) and isinstance(run["settled"], bool)
    assert isinstance(out["throughput_ratio"], float) and isinstance(out["p95_ratio"], float)
    assert isinstance(out["second_worker_mb"], float)
    assert out["targets"] == {"throughput_ratio": ">= 1.8", "p95_ratio": "<= 1.0", "errors": 0}

    # Nothing was built; the shared state went to the scratch folder; every server process is gone.
    assert current_build(settings) == live
    assert sorted(p.name for p in live.parent.iterdir()) == home_before
    assert (scratch / "state-2-workers.sqlite3").is_file()
    assert not (tmp_path / "managed").exists()
    assert not [pid for pid in set(seen) if Path(f"/proc/{pid}").exists()]

    table = library_markdown({"http_workers": out})
    row = next(line for line in table.splitlines() if line.startswith("| HTTP search, 2 workers: errors"))
    assert row.split("|")[2].strip().startswith("0 of ")
