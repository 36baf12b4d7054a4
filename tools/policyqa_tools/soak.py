"""``policyqa soak [--minutes N] [--clients 16] [--out DIR]``: hold load on a real server and report it.

One run starts the real server (``python -m policyqa_app``, the UI included) on 127.0.0.1 with a
fresh API key and its own feedback database, waits until it is ready, and then, for the given
time:

- ``--clients`` threads send a mix of ``ask`` (60 %), ``search`` (30 %) and ``ask/stream``
  (10 %) requests, in English and Chinese, on topic and off, with ``k`` from 1 to 10;
- ``--writers`` threads post ``--writes`` feedback records each, all at once after the warm-up;
- the server's resident memory (``VmRSS``) is sampled every second.

It reports the requests, the errors (any status but 200, or no answer), latency percentiles,
throughput, memory at the end of the warm-up and at the end (the growth is measured between
them), and whether every feedback record was stored. ``soak-report.json`` and
``soak-report.md`` go to ``--out``, with the server's log. The exit status is 0 when there was
no error, memory grew less than ``--max-growth`` percent and no feedback was lost; 1 otherwise.

Load goes to 127.0.0.1 only and stops after ``--minutes`` (at most a day). The server runs with
the operator's ``POLICYQA_*`` settings, except the rate limit, which is switched off: a soak
measures what the server holds, not how fast it refuses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .machine import free_port, memory_kib

DEFAULT_MINUTES = 10.0
DEFAULT_CLIENTS = 16
DEFAULT_WRITERS = 16
DEFAULT_WRITES = 50
DEFAULT_MAX_GROWTH_PERCENT = 10.0
MAX_MINUTES = 24 * 60
MAX_CLIENTS = 256
SERVER_READY_TIMEOUT_SECONDS = 300.0
REQUEST_TIMEOUT_SECONDS = 60.0
QUESTIONS = (
    "What policy fits a technology in the trough of disillusionment?",
    "技术处于泡沫破裂低谷期时需要什么政策？",
    "What should the government do at the peak of inflated expectations?",
    "技术萌芽期政府应该如何支持？",
    "How should science and technology innovation and industrial innovation be integrated?",
    "科技创新和产业创新深度融合面临哪些瓶颈？",
    "What is a technology recovery fund?",
    "技术复苏基金由谁设立？",
    "How do I bake sourdough bread at home?",
    "2023年合肥市的GDP是多少？",
    "政策",
    "科技成果转化" * 40,
)


@dataclass
class Record:
    """What the load threads saw, shared under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)

    def add(self, endpoint: str, seconds: float, outcome: str) -> None:
        with self.lock:
            self.latencies.setdefault(endpoint, []).append(seconds)
            self.statuses[outcome] += 1
            if outcome != "200":
                self.errors[f"{endpoint} {outcome}"] += 1
                if len(self.error_examples) < 10:
                    self.error_examples.append(f"{endpoint}: {outcome}")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


class Server:
    """``python -m policyqa_app`` on a free loopback port, with a fresh key and feedback database."""

    def __init__(self, args: argparse.Namespace, out: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = secrets.token_urlsafe(32)
        self.log_path = out / "server.log"
        env = {k: v for k, v in os.environ.items() if k != "POLICYQA_RATE_LIMIT"}
        env.update(
            POLICYQA_API_KEYS=self.key,
            POLICYQA_FEEDBACK_DB=str(out / "feedback.sqlite3"),
            GRADIO_ANALYTICS_ENABLED="False",
        )
        env.pop("POLICYQA_API_KEYS_FILE", None)
        # One process: the memory sampled is the server's pid (the default is now one worker a core).
        command = [sys.executable, "-m", "policyqa_app", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", "1"]
        for folder in args.corpus or ():
            command += ["--corpus", folder]
        if args.index_dir:
            command += ["--index-dir", args.index_dir]
        if args.encoder:
            command += ["--encoder", args.encoder]
        self._log = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def wait_ready(self, timeout: float = SERVER_READY_TIMEOUT_SECONDS) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with status {self.process.returncode}; see {self.log_path}")
            try:
                response = httpx.get(f"{self.url}/readyz", headers=self.headers, timeout=5)
                if response.status_code == 200:
                    return
                if response.status_code == 503 and response.json().get("status") == "error":
                    raise RuntimeError(f"the server cannot load its index: {response.text}")
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the server was not ready after {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


def _client_loop(server: Server, seed: int, stop: threading.Event, record: Record) -> None:
    import httpx

    rng = random.Random(seed)
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        while not stop.is_set():
            roll = rng.random()
            endpoint = "ask" if roll < 0.6 else "search" if roll < 0.9 else "ask/stream"
            body = {"question": rng.choice(QUESTIONS), "k": rng.randint(1, 10)}
            started = time.perf_counter()
            try:
                response = client.post(f"/api/v1/{endpoint}", json=body)
                outcome = str(response.status_code)
                if response.status_code == 200 and endpoint == "ask/stream" and "event: answer" not in response.text:
                    outcome = "200 without an answer event"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            record.add(endpoint, time.perf_counter() - started, outcome)


def _write_feedback(server: Server, run_id: str, writer: int, writes: int, start: threading.Barrier) -> list[str]:
    import httpx

    problems = []
    start.wait()
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        for i in range(writes):
            body = {
                "question": f"soak {run_id} writer {writer} record {i}",
                "answer": "技术复苏基金。[1]",
                "rating": "up" if i % 2 else "down",
                "comment": f"第{i}条 comment",
            }
            try:
                response = client.post("/api/v1/feedback", json=body)
                if response.status_code != 200:
                    problems.append(f"feedback {response.status_code}")
            except httpx.HTTPError as exc:
                problems.append(f"feedback {type(exc).__name__}")
    return problems


def _stored_feedback(server: Server, run_id: str) -> int:
    import httpx

    response = httpx.get(f"{server.url}/api/v1/feedback/export", headers=server.headers, timeout=120)
    response.raise_for_status()
    prefix = f"soak {run_id} "
    return sum(1 for line in response.text.splitlines() if json.loads(line)["question"].startswith(prefix))


def run_soak(args: argparse.Namespace) -> dict[str, object]:
    """Start the server, hold the load, and return the report (see the module docstring)."""
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="policyqa-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    duration = args.minutes * 60
    warmup = min(60.0, duration * 0.1) if args.warmup is None else args.warmup
    run_id = secrets.token_hex(4)
    server = Server(args, out)
    samples: list[tuple[float, int]] = []
    record = Record()
    stop = threading.Event()
    try:
        started = time.monotonic()
        server.wait_ready()
        ready_seconds = time.monotonic() - started

        def sample_memory() -> None:
            while not stop.is_set():
                if (kib := memory_kib(server.process.pid).get("VmRSS")) is not None:
                    samples.append((time.monotonic() - load_started, kib))
                stop.wait(1.0)

        load_started = time.monotonic()
        threads = [threading.Thread(target=sample_memory, name="soak-rss", daemon=True)]
        threads += [
            threading.Thread(target=_client_loop, args=(server, 1000 + n, stop, record), name=f"soak-client-{n}")
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        stop.wait(warmup)
        barrier = threading.Barrier(args.writers)
        results: list[list[str]] = [[] for _ in range(args.writers)]

        def writer(n: int) -> None:
            results[n] = _write_feedback(server, run_id, n, args.writes, barrier)

        writers = [threading.Thread(target=writer, args=(n,), name=f"soak-writer-{n}") for n in range(args.writers)]
        for thread in writers:
            thread.start()
        stop.wait(max(0.0, duration - (time.monotonic() - load_started)))
        stop.set()
        for thread in [*threads, *writers]:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)
        load_seconds = time.monotonic() - load_started
        stored = _stored_feedback(server, run_id)
        alive = server.process.poll() is None
    finally:
        stop.set()
        server.stop()
    feedback_problems = Counter(p for problems in results for p in problems)
    return _report(
        args, out, run_id, ready_seconds, load_seconds, warmup, record, samples, stored, feedback_problems, alive
    )


def _report(
    args: argparse.Namespace,
    out: Path,
    run_id: str,
    ready_seconds: float,
    load_seconds: float,
    warmup: float,
    record: Record,
    samples: list[tuple[float, int]],
    stored: int,
    feedback_problems: Counter[str],
    alive: bool,
) -> dict[str, object]:
    every = [s for values in record.latencies.values() for s in values]
    requests = len(every)
    errors = sum(record.errors.values())
    measured = [kib for t, kib in samples if t >= warmup]
    # The growth compares the first and the last tenth of the samples after the warm-up (their medians).
    tenth = max(1, len(measured) // 10)
    start_kib = statistics.median(measured[:tenth]) if measured else 0
    end_kib = statistics.median(measured[-tenth:]) if measured else 0
    growth = 100.0 * (end_kib - start_kib) / start_kib if start_kib else 0.0
    expected = args.writers * args.writes

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "requests": len(values),
            "p50_ms": round(1000 * percentile(values, 50), 1),
            "p95_ms": round(1000 * percentile(values, 95), 1),
            "p99_ms": round(1000 * percentile(values, 99), 1),
            "max_ms": round(1000 * max(values, default=0.0), 1),
        }

    report: dict[str, object] = {
        "run_id": run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "settings": {
            "minutes": args.minutes,
            "clients": args.clients,
            "writers": args.writers,
            "writes_per_writer": args.writes,
            "warmup_seconds": round(warmup, 1),
            "max_growth_percent": args.max_growth,
            "corpus": args.corpus or "default (POLICYQA_CORPUS_DIRS or corpus/)",
        },
        "server_ready_seconds": round(ready_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "requests": requests,
        "errors": errors,
        "error_kinds": dict(record.errors),
        "error_examples": record.error_examples,
        "statuses": dict(record.statuses),
        "throughput_rps": round(requests / load_seconds, 1) if load_seconds else 0.0,
        "latency": {"all": summary(every), **{k: summary(v) for k, v in sorted(record.latencies.items())}},
        "memory": {
            "samples": len(samples),
            "after_warmup_mib": round(start_kib / 1024, 1),
            "end_mib": round(end_kib / 1024, 1),
            "max_mib": round(max((kib for _, kib in samples), default=0) / 1024, 1),
            "growth_percent": round(growth, 2),
            "timeline_mib": [[round(t, 1), round(kib / 1024, 1)] for t, kib in samples[:: max(1, len(samples) // 60)]],
        },
        "feedback": {
            "expected": expected,
            "stored": stored,
            "lost": expected - stored,
            "refused": dict(feedback_problems),
        },
        "server_alive_at_end": alive,
    }
    failures = []
    if errors:
        failures.append(f"{errors} request(s) failed")
    if growth >= args.max_growth:
        failures.append(f"memory grew {growth:.1f}% (limit {args.max_growth}%)")
    if stored != expected or feedback_problems:
        failures.append(f"{expected - stored} feedback record(s) lost, {sum(feedback_problems.values())} refused")
    if not alive:
        failures.append("the server died")
    report["passed"] = not failures
    report["failures"] = failures
    (out / "soak-report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "soak-report.md").write_text(markdown(report), encoding="utf-8")
    report["out"] = str(out)
    return report


def markdown(report: dict[str, object]) -> str:
    """The report as a short Markdown table."""
    latency = report["latency"]
    memory = report["memory"]
    feedback = report["feedback"]
    settings = report["settings"]
    assert isinstance(latency, dict) and isinstance(memory, dict) and isinstance(feedback, dict)
    assert isinstance(settings, dict)
    lines = [
        f"# Soak run {report['run_id']} ({report['started']})",
        "",
        f"{settings['clients']} clients for {report['load_seconds']} s (warm-up {settings['warmup_seconds']} s), "
        f"{settings['writers']} feedback writers x {settings['writes_per_writer']}; "
        f"{'passed' if report['passed'] else 'FAILED: ' + '; '.join(report['failures'])}.",  # type: ignore[arg-type]
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests | {report['requests']:,} ({report['throughput_rps']} per second) |",
        f"| errors | {report['errors']} |",
    ]
    for name, values in latency.items():
        lines.append(
            f"| latency {name} (n={values['requests']:,}) | p50 {values['p50_ms']} ms, p95 {values['p95_ms']} ms, "
            f"p99 {values['p99_ms']} ms, max {values['max_ms']} ms |"
        )
    lines += [
        f"| server memory after warm-up / end / max | {memory['after_warmup_mib']} / {memory['end_mib']} / "
        f"{memory['max_mib']} MiB |",
        f"| memory growth | {memory['growth_percent']} % |",
        f"| feedback stored | {feedback['stored']} of {feedback['expected']} |",
        f"| server ready after | {report['server_ready_seconds']} s |",
        "",
    ]
    return "\n".join(lines)


def soak(args: argparse.Namespace) -> int:
    """Run the soak and print its table; 0 when it passed."""
    from policyqa import ConfigError

    if not 0 < args.minutes <= MAX_MINUTES:
        raise ConfigError(f"--minutes must be above 0 and at most {MAX_MINUTES}. Currently, it is {args.minutes}.")
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.writers <= MAX_CLIENTS:
        raise ConfigError(f"--clients and --writers must be between 1 and {MAX_CLIENTS}.")
    if args.writes < 0:
        raise ConfigError(f"--writes must be 0 or more. Currently, it is {args.writes}.")
    try:
        import httpx  # noqa: F401
    except ImportError:
        print("error: the soak needs httpx: pip install 'policyqa[serve,dev]'", file=sys.stderr)
        return 2
    try:
        report = run_soak(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown(report))
    print(f"wrote {report['out']}/soak-report.json and soak-report.md", file=sys.stderr)
    return 0 if report["passed"] else 1


def register(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``soak`` to the core's subcommands (entry point ``policyqa.commands``)."""
    parser = subparsers.add_parser(
        "soak", parents=[common_parent], help="hold mixed ask/search load on a real server; report errors and memory"
    )
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="how long (default 10)")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="concurrent ask/search clients (16)")
    parser.add_argument("--writers", type=int, default=DEFAULT_WRITERS, help="concurrent feedback writers (16)")
    parser.add_argument("--writes", type=int, default=DEFAULT_WRITES, help="feedback records per writer (50)")
    parser.add_argument(
        "--warmup", type=float, default=None, metavar="SECONDS", help="load before memory is measured (10%%, max 60 s)"
    )
    parser.add_argument(
        "--max-growth",
        type=float,
        default=DEFAULT_MAX_GROWTH_PERCENT,
        metavar="PERCENT",
        help="memory growth that fails the run (default 10)",
    )
    parser.add_argument("--out", metavar="DIR", help="write soak-report.json, soak-report.md and server.log here")
    parser.set_defaults(func=soak)
