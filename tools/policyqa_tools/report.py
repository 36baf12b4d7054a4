"""The benchmark's figures against the performance targets: the table and its Markdown.

Targets are reported, never asserted: a figure moves with the machine's load, which the
report records beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Target:
    """A figure the performance issue asks for: ``key`` in the results, better when ``higher`` or lower."""

    key: str
    label: str
    limit: float
    higher: bool
    unit: str


TARGETS = (
    Target("warm_shipped.ask.p50_ms", "warm ask p50, shipped corpus", 10, False, "ms"),
    Target("warm_shipped.ask.p95_ms", "warm ask p95, shipped corpus", 30, False, "ms"),
    Target("cold_start.median_s", "cold start, new process to first answer", 3, False, "s"),
    Target("serving.rss_peak_mb", "serving process peak RSS", 400, False, "MB"),
    Target("index_shipped.cli_wall_s", "shipped corpus indexed (policyqa index, cold)", 10, False, "s"),
    Target("synthetic.search.p95_ms", "search p95 at {n} passages", 50, False, "ms"),
    Target("synthetic.recall_at_10", "FAISS recall@10 vs exact at {n} passages", 0.98, True, ""),
    Target("synthetic.chunks_per_s", "indexing throughput at {n} passages", 300, True, "chunks/s"),
    Target("serving.search.rps", "/api/v1/search throughput, 8 clients", 200, True, "req/s"),
    Target("serving.search.latency.p95_ms", "/api/v1/search p95, 8 clients", 60, False, "ms"),
    Target("serving.search.errors", "/api/v1/search errors", 0, False, ""),
)

# Baselines of the targets: the LangChain pipeline's figure for the same thing, where it has one.
TARGET_BASELINES = {
    "warm_shipped.ask.p50_ms": "warm_shipped.baseline.p50_ms",
    "warm_shipped.ask.p95_ms": "warm_shipped.baseline.p95_ms",
    "synthetic.search.p95_ms": "synthetic.baseline.search.p95_ms",
    "synthetic.chunks_per_s": "synthetic.baseline.chunks_per_s",
}

# Figures without a target, shown for context: (key, label, unit, baseline key or None).
CONTEXT = (
    ("warm_shipped.ask.p99_ms", "warm ask p99, shipped corpus", "ms", "warm_shipped.baseline.p99_ms"),
    ("warm_shipped.search.p50_ms", "warm search p50, shipped corpus", "ms", "warm_shipped.baseline.p50_ms"),
    ("warm_shipped.search.p95_ms", "warm search p95, shipped corpus", "ms", "warm_shipped.baseline.p95_ms"),
    ("warm_shipped.search.p99_ms", "warm search p99, shipped corpus", "ms", "warm_shipped.baseline.p99_ms"),
    ("warm_combined.ask.p50_ms", "warm ask p50, with the law texts", "ms", "warm_combined.baseline.p50_ms"),
    ("warm_combined.ask.p95_ms", "warm ask p95, with the law texts", "ms", "warm_combined.baseline.p95_ms"),
    ("warm_combined.ask.p99_ms", "warm ask p99, with the law texts", "ms", "warm_combined.baseline.p99_ms"),
    ("warm_combined.search.p50_ms", "warm search p50, with the law texts", "ms", "warm_combined.baseline.p50_ms"),
    ("warm_combined.search.p95_ms", "warm search p95, with the law texts", "ms", "warm_combined.baseline.p95_ms"),
    ("index_shipped.build_s", "shipped corpus build, in process", "s", "index_shipped.baseline.build_s"),
    (
        "index_shipped.chunks_per_s",
        "shipped corpus indexing throughput",
        "chunks/s",
        "index_shipped.baseline.chunks_per_s",
    ),
    ("synthetic.build_s", "synthetic corpus build", "s", "synthetic.baseline.build_s"),
    ("synthetic.load_s", "synthetic index load (new Assistant)", "s", None),
    ("synthetic.search.p50_ms", "search p50 at {n} passages", "ms", "synthetic.baseline.search.p50_ms"),
    ("synthetic.recall_at_candidates", "FAISS recall@{c} (the candidates) vs exact", "", None),
    ("serving.rss_ready_mb", "serving process RSS when ready", "MB", None),
    ("serving.search.latency.p50_ms", "/api/v1/search p50, 8 clients", "ms", None),
    ("serving.ask.rps", "/api/v1/ask throughput, 8 clients", "req/s", None),
    ("serving.ask.latency.p95_ms", "/api/v1/ask p95, 8 clients", "ms", None),
    ("serving.ask.errors", "/api/v1/ask errors", "", None),
)


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """``n`` and p50/p95/p99/mean/max of latencies in milliseconds (only ``n`` when there are none)."""
    if not ms:
        return {"n": 0}
    values = np.asarray(ms, dtype=np.float64)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "mean_ms": round(float(values.mean()), 2),
        "max_ms": round(float(values.max()), 2),
    }


def lookup(results: Mapping[str, object], key: str) -> object:
    """The value at a dotted ``key`` of nested dicts, or None when a part is missing."""
    node: object = results
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:.3f}" if abs(value) < 1 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return f"{text} {unit}".strip()


def _ratio(measured: object, baseline: object) -> float | None:
    if isinstance(measured, int | float) and isinstance(baseline, int | float) and baseline:
        return round(float(measured) / float(baseline), 3)
    return None


def table(results: Mapping[str, object]) -> list[dict[str, object]]:
    """One row per target (pass, miss or not measured) and per context figure (info), with baseline and ratio."""
    synthetic_n = lookup(results, "synthetic.passages") or 0
    candidates = lookup(results, "synthetic.candidates") or ""
    rows = []
    for target in TARGETS:
        measured = lookup(results, target.key)
        baseline_key = TARGET_BASELINES.get(target.key)
        baseline = lookup(results, baseline_key) if baseline_key else None
        if isinstance(measured, int | float):
            ok = measured >= target.limit if target.higher else measured <= target.limit
            status = "pass" if ok else "miss"
        else:
            status = "not measured"
        rows.append(
            {
                "metric": target.label.format(n=f"{synthetic_n:,}", c=candidates),
                "key": target.key,
                "target": f"{'≥' if target.higher else '≤'} {_fmt(target.limit, target.unit)}",
                "measured": measured,
                "baseline": baseline,
                "ratio": _ratio(measured, baseline),
                "unit": target.unit,
                "status": status,
            }
        )
    for key, label, unit, baseline_key in CONTEXT:
        measured = lookup(results, key)
        if measured is None:
            continue
        baseline = lookup(results, baseline_key) if baseline_key else None
        rows.append(
            {
                "metric": label.format(n=f"{synthetic_n:,}", c=candidates),
                "key": key,
                "target": "–",
                "measured": measured,
                "baseline": baseline,
                "ratio": _ratio(measured, baseline),
                "unit": unit,
                "status": "info",
            }
        )
    return rows


def markdown(report: Mapping[str, object]) -> str:
    """The table, with the machine and the load it ran under."""
    machine = report["machine"]
    rows = report["table"]
    assert isinstance(machine, dict) and isinstance(rows, list)
    lines = [
        f"# policyqa bench ({'quick' if report['quick'] else 'full'} run, {report['started_at']})",
        "",
        f"Machine: {machine['nproc']} cores, {machine['cpu']}, {machine['memory_gb']} GB; "
        f"Python {machine['python']}, numpy {machine['numpy']}, faiss {machine['faiss']}; "
        f"load average {machine['load_average_start']} at the start, {report.get('load_average_end')} at the end.",
        "",
        "Baseline: the plain LangChain pipeline (RecursiveCharacterTextSplitter 1000/200, the same encoder, "
        "FAISS IndexFlatIP). Ratio = measured ÷ baseline: below 1 is faster for times, above 1 is more for rates.",
        "",
        "| metric | target | measured | baseline | ratio | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['metric']} | {row['target']} | {_fmt(row['measured'], row['unit'])} | "
            f"{_fmt(row['baseline'], row['unit'])} | {_fmt(row['ratio'])} | {row['status']} |"
        )
    return "\n".join(lines) + "\n"
