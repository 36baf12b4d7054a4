"""``policyqa soak``, short: 16 clients for 20 s against the real server in its own process.

The ten-minute run (``policyqa soak --minutes 10``) is a separate command; its figures are in
docs/reliability.md. This one checks that the command holds what the long one promises on a
short run: no failed request, every feedback record of 16 concurrent writers stored, memory
measured, and a report written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MINI_DIR
from test_cli import run_cli

pytest.importorskip("httpx", reason="the soak needs the 'dev' extra: pip install -e '.[serve,dev]'")
pytest.importorskip("gradio", reason="the soak's server needs the 'serve' extra: pip install -e '.[serve,dev]'")

from policyqa_tools.soak import percentile  # noqa: E402

SECONDS = 20


def test_percentiles_are_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([], 95) == 0.0 and percentile([7.0], 50) == 7.0


@pytest.mark.slow  # 20 s of load from 16 clients on a real server
def test_a_short_soak_holds_16_clients_without_an_error_or_a_lost_write(tmp_path: Path) -> None:
    out = tmp_path / "soak"
    result = run_cli(
        "soak",
        "--minutes",
        str(SECONDS / 60),
        "--clients",
        "16",
        "--writers",
        "16",
        "--writes",
        "50",
        "--out",
        str(out),
        "--corpus",
        str(MINI_DIR),
        "--index-dir",
        str(tmp_path / "index"),
    )

    report = json.loads((out / "soak-report.json").read_text(encoding="utf-8"))
    assert result.returncode == 0, (result.stdout, result.stderr, report["failures"])
    assert report["passed"] and report["errors"] == 0 and report["server_alive_at_end"]
    assert report["requests"] >= 16 * 10  # every client was answered many times
    assert {"ask", "search", "ask/stream"} <= set(report["latency"])
    assert report["feedback"] == {"expected": 800, "stored": 800, "lost": 0, "refused": {}}
    assert report["memory"]["samples"] >= SECONDS - 5 and report["memory"]["growth_percent"] < 10
    assert "| errors | 0 |" in result.stdout and (out / "soak-report.md").is_file() and (out / "server.log").is_file()
