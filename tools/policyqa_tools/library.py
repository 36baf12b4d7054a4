"""``policyqa bench --library DIR``: the benchmark on a real library instead of the synthetic corpus.

One run, in this order (each figure on the same machine, in the same run as its reference):

- the build: ``policyqa index`` in a child process (wall time; peak resident memory of
  it and its worker processes together, sampled from ``/proc`` every 0.2 s); passages/s;
  whether the embedding cache was empty (cold) or already held texts (warm);
- the encoder floor: the time to encode every distinct sentence of the index once, in
  plain batches of 256 (no sorting), on every core (one process a core, one BLAS thread
  each), measured on a random sample and extrapolated by the count (said in the report);
- a new process's ``policyqa ask`` to its first answer (cold start, median);
- warm ``ask`` and ``search`` over the gold questions (p50/p95/p99);
- a serving process's memory: resident, private (``RssAnon``: what each further worker
  adds) and shared file pages (``RssFile``: the mapped index, shared between workers);
- the plain LangChain pipeline (``policyqa.compare``: 1,000/200 character chunks, the
  same encoder, exact FAISS): its chunks counted, its build extrapolated from encoding a
  sample, its retrieval (encode the question, exact search over as many vectors) timed.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from policyqa import Assistant, Settings

from .machine import child_env
from .measure import WARM_UP_ASKS, WARM_UP_QUESTION, _cli, _corpus_args, _loaded_index, timed
from .report import latency_summary

FLOOR_SAMPLE = 4_096
FLOOR_BATCH = 256
BASELINE_SAMPLE = 300
SAMPLE_SEED = 13
POLL_S = 0.2


def _tree_rss_kib(root: int) -> int:
    """Resident KiB of ``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        total += _status(pid).get("VmRSS", 0)
    return total


def _status(pid: int | str) -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    found[key] = int(value.split()[0])
    except (OSError, ValueError):
        return {}
    return found


def measured_run(args: list[str], scratch: Path) -> dict[str, float]:
    """Wall seconds and peak resident MB (the process tree's sum) of ``policyqa ARGS`` in a child process."""
    started = time.perf_counter()
    with open(scratch / "build.log", "w", encoding="utf-8") as log:
        child = subprocess.Popen([*_cli(), *args], stdout=log, stderr=subprocess.STDOUT, env=child_env(scratch))
        peak = 0
        while child.poll() is None:
            peak = max(peak, _tree_rss_kib(child.pid))
            time.sleep(POLL_S)
    if child.returncode != 0:
        raise RuntimeError(f"policyqa {' '.join(args)} failed (exit {child.returncode}); see {scratch / 'build.log'}")
    return {"wall_s": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak / 1024, 1)}


def _cached_texts(index_dir: Path) -> int:
    total = 0
    for keys in (index_dir / "cache").glob("*/keys.json"):
        total += len(json.loads(keys.read_text(encoding="utf-8")))
    return total


def _distinct_sentences(folder: Path) -> list[str]:
    seen: dict[str, None] = {}
    with (folder / "passages.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith('{"type": "sentence"'):
                seen.setdefault(json.loads(line)["text"], None)
    return list(seen)


_floor_encoder: dict[str, object] = {}


def _floor_init(name: str) -> None:
    from policyqa.embed import get_encoder

    _floor_encoder["encoder"] = get_encoder(name)


def _floor_encode(texts: list[str]) -> int:
    encoder = _floor_encoder["encoder"]
    encoder.encode_documents(texts)  # type: ignore[attr-defined]
    return len(texts)


def encoder_floor(settings: Settings, sentences: Sequence[str], sample: int) -> dict[str, object]:
    """Seconds to encode ``sentences`` once on every core in plain batches, from a timed random sample."""
    import multiprocessing

    from policyqa.index.workers import worker_count

    chosen = random.Random(SAMPLE_SEED).sample(list(sentences), min(sample, len(sentences)))
    batches = [chosen[i : i + FLOOR_BATCH] for i in range(0, len(chosen), FLOOR_BATCH)]
    cores = worker_count()
    with multiprocessing.get_context("spawn").Pool(cores, _floor_init, (settings.encoder,)) as pool:
        pool.map(_floor_encode, [["预热"]] * cores)  # every worker has loaded the encoder
        started = time.perf_counter()
        pool.map(_floor_encode, batches, chunksize=1)
        seconds = time.perf_counter() - started
    return {
        "distinct_sentences": len(sentences),
        "sampled": len(chosen),
        "processes": cores,
        "sample_s": round(seconds, 1),
        "floor_s": round(seconds * len(sentences) / max(1, len(chosen)), 1),
        "note": "extrapolated from the sample by the count of distinct sentences",
    }


def _serving_memory(settings: Settings, questions: Sequence[str], scratch: Path) -> dict[str, object]:
    code = (
        "import json, sys\n"
        "from policyqa import Assistant, Settings\n"
        "from pathlib import Path\n"
        "args = json.loads(sys.argv[1])\n"
        "s = Settings(corpus_dirs=tuple(Path(p) for p in args['corpus']), index_dir=Path(args['index_dir']))\n"
        "a = Assistant(s)\n"
        "for q in args['questions']:\n"
        "    a.ask(q)\n"
        "print(json.dumps({k: v for k, v in (l.split(':', 1) for l in open('/proc/self/status'))"
        " if k in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile')}))\n"
    )
    payload = json.dumps(
        {
            "corpus": [str(p) for p in settings.corpus_dirs],
            "index_dir": str(settings.index_dir),
            "questions": list(questions),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", code, payload], capture_output=True, text=True, check=True, env=child_env(scratch)
    )
    status = json.loads(done.stdout.strip().splitlines()[-1])
    return {key: round(int(value.split()[0]) / 1024, 1) for key, value in status.items()}


def _cold_start(settings: Settings, question: str, runs: int, scratch: Path) -> dict[str, object]:
    args = [*_cli(), "ask", question, *_corpus_args(settings), "--index-dir", str(settings.index_dir)]
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, env=child_env(scratch))
        if i:  # the first run warms the page cache
            times.append(time.perf_counter() - started)
    return {"runs_s": [round(t, 2) for t in times], "median_s": round(statistics.median(times), 2)}


def _baseline(
    settings: Settings, assistant: Assistant, questions: Sequence[str], passes: int, sample: int
) -> dict[str, object]:
    from threadpoolctl import threadpool_limits

    from policyqa.index import VectorSearch

    from .synthetic import baseline_chunks

    encoder = assistant.encoder
    chunks = baseline_chunks(settings.corpus_dirs)
    chosen = random.Random(SAMPLE_SEED).sample(chunks, min(sample, len(chunks)))
    started = time.perf_counter()
    encoder.encode_documents([c.text for c in chosen])
    sample_s = time.perf_counter() - started
    build_s = sample_s * sum(len(c.text) for c in chunks) / max(1, sum(len(c.text) for c in chosen))
    # Its retrieval: encode the question, exact search over as many vectors as it has chunks
    # (our own passage vectors, repeated to its count: exact search costs the same for any).
    own = _loaded_index(assistant).chunk_vectors
    rows = np.resize(np.arange(own.size), len(chunks))
    exact = VectorSearch.exact(own.reconstruct(rows))
    ms: list[float] = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for _ in range(passes):
            for question in questions:
                t0 = time.perf_counter()
                exact.search(encoder._encode([question], is_query=True)[0].astype(np.float32), settings.top_k)
                ms.append((time.perf_counter() - t0) * 1000)
    return {
        "chunks": len(chunks),
        "sampled_chunks": len(chosen),
        "build_s": round(build_s, 1),
        "retrieval": latency_summary(ms),
        "note": "build extrapolated from encoding a random sample of its chunks by characters; "
        "retrieval: the question encoded (uncached) and exact FAISS over as many vectors",
    }


def run_library(
    settings: Settings, questions: Sequence[str], scratch: Path, *, passes: int, skip_build: bool, log: object
) -> dict[str, object]:
    """Every figure of the library benchmark for ``settings`` (its corpus folders and index folder)."""
    say = log if callable(log) else print
    results: dict[str, object] = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    cached = _cached_texts(settings.index_dir)
    if not skip_build:
        say(f"[1/6] policyqa index of {len(settings.corpus_dirs)} folder(s), {cached:,} texts cached before")
        build = measured_run(["index", "-q", *_corpus_args(settings), "--index-dir", str(settings.index_dir)], scratch)
        results["build"] = {**build, "cached_texts_before": cached, "cold": cached == 0}
    assistant = Assistant(settings, auto_build=False)
    index = _loaded_index(assistant)
    counts = index.manifest["counts"]
    results["corpus"] = {**counts, "faiss": index.manifest.get("faiss")}
    if "build" in results:
        build_info = results["build"]
        assert isinstance(build_info, dict)
        build_info["passages_per_s"] = round(counts["chunks"] / build_info["wall_s"], 1)
    say(f"[2/6] encoder floor on a sample of {FLOOR_SAMPLE:,} distinct sentences")
    results["floor"] = encoder_floor(settings, _distinct_sentences(index.folder), FLOOR_SAMPLE)
    say(f"[3/6] warm ask and search, {len(questions)} gold questions x {passes}")
    assistant.search(WARM_UP_QUESTION, k=1)
    for question in questions[:WARM_UP_ASKS]:
        assistant.ask(question)
    encoder = assistant.encoder

    def fresh(call: Callable[[str], object]) -> Callable[[str], object]:
        # Every question as if new: the encoder's query cache would serve repeats for free.
        def run(question: str) -> object:
            encoder.__dict__.pop("_query_cache", None)
            return call(question)

        return run

    results["ask"] = latency_summary(timed(fresh(assistant.ask), questions, passes))
    results["search"] = latency_summary(timed(fresh(assistant.search), questions, passes))
    say("[4/6] the plain LangChain pipeline: build from a sample, retrieval")
    results["baseline"] = _baseline(settings, assistant, questions, passes, BASELINE_SAMPLE)
    del assistant, index
    say("[5/6] cold start, 3 runs of policyqa ask")
    results["cold_start"] = _cold_start(settings, questions[0], 3, scratch)
    say("[6/6] a serving process's memory after 20 questions")
    results["serving_memory_mb"] = _serving_memory(settings, questions[:20], scratch)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _ratio(a: object, b: object) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return "–"
    return f"{a / b:.2f}"


def library_markdown(results: dict[str, object]) -> str:
    """The headline table: measured, reference, ratio and the issue's target."""
    get = lambda *path: _dig(results, path)  # noqa: E731
    rows = [
        ("build wall time (policyqa index)", get("build", "wall_s"), "s", get("floor", "floor_s"), "≤ 1.0 × floor"),
        ("build peak RSS (with its workers)", get("build", "peak_rss_mb"), "MB", None, "≤ 2,048 MB"),
        ("build passages/s", get("build", "passages_per_s"), "/s", None, ""),
        ("encoder floor (all cores, batches of 256)", get("floor", "floor_s"), "s", None, "(extrapolated)"),
        ("warm ask p50", get("ask", "p50_ms"), "ms", get("baseline", "retrieval", "p50_ms"), ""),
        ("warm ask p95", get("ask", "p95_ms"), "ms", get("baseline", "retrieval", "p95_ms"), "≤ 2 × baseline"),
        ("warm ask p99", get("ask", "p99_ms"), "ms", get("baseline", "retrieval", "p99_ms"), ""),
        ("search p50", get("search", "p50_ms"), "ms", get("baseline", "retrieval", "p50_ms"), ""),
        ("search p95", get("search", "p95_ms"), "ms", get("baseline", "retrieval", "p95_ms"), "≤ 1.5 × baseline"),
        ("search p99", get("search", "p99_ms"), "ms", get("baseline", "retrieval", "p99_ms"), ""),
        ("cold start (new process to first answer)", get("cold_start", "median_s"), "s", None, "≤ 3 s"),
        ("serving RSS, one process", get("serving_memory_mb", "VmRSS"), "MB", None, "≤ 1,024 MB"),
        ("  of which private (each further worker)", get("serving_memory_mb", "RssAnon"), "MB", None, "≤ +150 MB"),
        ("  of which mapped files (shared)", get("serving_memory_mb", "RssFile"), "MB", None, ""),
        ("LangChain baseline build (extrapolated)", get("baseline", "build_s"), "s", None, ""),
    ]
    lines = ["| figure | measured | reference | ratio | target |", "|---|---|---|---|---|"]
    for label, value, unit, reference, target in rows:
        shown = "–" if value is None else f"{value:,} {unit}"
        ref = "–" if reference is None else f"{reference:,}"
        lines.append(f"| {label} | {shown} | {ref} | {_ratio(value, reference)} | {target} |")
    return "\n".join(lines) + "\n"


def _dig(data: object, path: Sequence[str]) -> object:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
