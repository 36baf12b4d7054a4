"""The HTTP server under load: uvicorn running ``policyqa_app.create_app`` in its own process on 127.0.0.1.

Concurrent ``httpx`` clients POST questions to one endpoint for a bounded time; every
answer but a 200 counts as an error. The server's memory and CPU time are read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from policyqa import Settings

from .machine import child_env, cpu_seconds, free_port, memory_kib
from .report import latency_summary

HTTP_CLIENTS = 8
SERVER_START_TIMEOUT_S = 180.0
MAX_WARMUP_S = 3.0
REQUEST_TIMEOUT_S = 30.0

# Run with ``python -c``: the app is imported in the server's process only, never in the tools'.
_SERVER = """
import json, sys
from pathlib import Path
import uvicorn
from policyqa import Settings
from policyqa_app import AppSettings, create_app
cfg = json.loads(sys.argv[1])
settings = Settings.from_env(corpus_dirs=tuple(Path(p) for p in cfg["corpus"]), index_dir=Path(cfg["index_dir"]))
app = create_app(settings, security=AppSettings(feedback_db=Path(cfg["feedback_db"])))
uvicorn.run(app, host="127.0.0.1", port=cfg["port"], log_level="warning", access_log=False)
"""


def _mb(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def _warmup_seconds(seconds: float) -> float:
    return min(MAX_WARMUP_S, seconds / 5)


async def load(base_url: str, path: str, questions: Sequence[str], seconds: float, clients: int) -> dict[str, object]:
    """``clients`` concurrent loops POSTing the questions in turn for ``seconds``, after a short unrecorded warm-up."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:

        async def worker(deadline: float, record: bool) -> None:
            while time.perf_counter() < deadline:
                question = questions[next(counter) % len(questions)]
                started = time.perf_counter()
                try:
                    response = await client.post(path, json={"question": question})
                    outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                if record:
                    if outcome == "ok":
                        latencies.append((time.perf_counter() - started) * 1000)
                    else:
                        errors[outcome] = errors.get(outcome, 0) + 1

        warm_deadline = time.perf_counter() + _warmup_seconds(seconds)
        await asyncio.gather(*(worker(warm_deadline, False) for _ in range(clients)))
        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(clients)))
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - cpu
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "requests": len(latencies) + sum(errors.values()),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "latency": latency_summary(latencies),
        "client_cpu_share": round(client_cpu / elapsed, 2),
    }


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop a server process: SIGTERM, and SIGKILL when it has not exited within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def wait_ready(
    server: subprocess.Popen[bytes],
    base_url: str,
    log_path: Path,
    timeout: float = SERVER_START_TIMEOUT_S,
    check: Callable[[], None] | None = None,
) -> float:
    """Seconds until the server's ``/readyz`` answers 200; RuntimeError when it exits or the time runs out.

    ``check``: called at every poll; what it raises ends the wait (e.g. the server started a build).
    """
    import httpx

    started = time.perf_counter()
    while True:
        if check is not None:
            check()
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}; see {log_path}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"the server was not ready after {timeout:.0f} s; see {log_path}")
        time.sleep(0.25)


def serving(settings: Settings, questions: Sequence[str], seconds: float, scratch: Path) -> dict[str, object]:
    """Start the server for ``settings``'s index, load ``/api/v1/search`` then ``/api/v1/ask``, read its memory."""
    port = free_port()
    config = {
        "corpus": [str(p) for p in settings.corpus_dirs],
        "index_dir": str(settings.index_dir),
        "port": port,
        "feedback_db": str(scratch / "feedback.sqlite3"),
    }
    log_path = scratch / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, json.dumps(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(scratch),
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            ready_s = wait_ready(server, base_url, log_path)
            results: dict[str, object] = {
                "ready_s": round(ready_s, 2),
                "rss_ready_mb": _mb(memory_kib(server.pid).get("VmRSS")),
            }
            for name in ("search", "ask"):
                cpu = cpu_seconds(server.pid)
                figures = asyncio.run(load(base_url, f"/api/v1/{name}", questions, seconds, HTTP_CLIENTS))
                # Includes the short unrecorded warm-up: an upper bound per request, and the cores the server used.
                used = cpu_seconds(server.pid) - cpu
                requests = figures["requests"]
                measured_s = figures["seconds"]
                assert isinstance(requests, int) and isinstance(measured_s, float)
                figures["server_cpu_ms_per_request"] = round(1000 * used / (requests + 1), 2)
                figures["server_cores_used"] = round(used / (measured_s + _warmup_seconds(seconds)), 2)
                results[name] = figures
            memory = memory_kib(server.pid)
            results["rss_end_mb"] = _mb(memory.get("VmRSS"))
            results["rss_peak_mb"] = _mb(memory.get("VmHWM"))
            return results
        finally:
            stop_process(server)
