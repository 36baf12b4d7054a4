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
- a serving process's memory: resident, anonymous (``RssAnon``) and file pages (``RssFile``);
- the plain LangChain pipeline (``policyqa.compare``: 1,000/200 character chunks, the
  same encoder, exact FAISS): its chunks counted, its build extrapolated from encoding a
  sample, its retrieval (encode the question, exact search over as many vectors) timed;
- with ``--add FILE``: ``policyqa add FILE`` while ``policyqa serve`` answers a search load,
  both on a scratch copy of the index (the measured one never changes): the command's wall
  time, the time from its start until the server answers a search within the new
  document, the server's search latency and errors before and during the add, its memory;
- with ``--http-workers``: ``/api/v1/search`` over HTTP from 8 concurrent clients against the
  real ``policyqa serve --workers 1`` and then ``--workers 2`` on the measured index (never
  built: a stale index is refused): requests/s, latency, errors, the server's processes'
  memory (resident, proportional, private) and CPU, the load generator's CPU, the ratios
  2 workers / 1, and what the second worker adds (the server's PSS, 2 workers less 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from policyqa import Assistant, Settings
from policyqa.embed import Encoder
from policyqa.errors import IndexMismatchError
from policyqa.index import check_compatible, current_build, index_home, is_stale, read_manifest, read_through

from .http_load import HTTP_CLIENTS, load, stop_process, wait_ready
from .machine import child_env, free_port
from .measure import WARM_UP_ASKS, _cli, _corpus_args, _loaded_index, timed
from .report import latency_summary

if TYPE_CHECKING:
    import httpx

FLOOR_SAMPLE = 4_096
FLOOR_BATCH = 256
BASELINE_SAMPLE = 300
SAMPLE_SEED = 13
POLL_S = 0.2
WORKERS_LOAD_S = 60.0  # the recorded load against each server, after the load's own warm-up
ONE_CLIENT_LOAD_S = 10.0  # then one client alone, for the latency of a request without a queue


def _tree_rss_kib(root: int) -> int:
    """Resident KiB of ``root`` and every process below it."""
    return sum(_status(pid).get("VmRSS", 0) for pid in _tree_pids(root))


def _tree_pids(root: int) -> list[int]:
    """``root`` and every process below it (``root`` first)."""
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
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        found.append(pid)
    return found


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (the 3rd field first); empty when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process so far (0 when it is gone)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if len(fields) > 12 else 0.0


def _tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and every process below it (those alive now)."""
    return sum(_cpu_s(pid) for pid in _tree_pids(root))


def _smaps_kib(pid: int) -> dict[str, int]:
    """``Pss`` (private pages and a share of the shared ones) and ``Private`` (pages no other process maps), KiB."""
    found = {"Pss": 0, "Private": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key == "Pss":
                    found["Pss"] = int(value.split()[0])
                elif key in ("Private_Clean", "Private_Dirty"):
                    found["Private"] += int(value.split()[0])
    except (OSError, ValueError):
        pass
    return found


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
    settings: Settings,
    questions: Sequence[str],
    scratch: Path,
    *,
    passes: int,
    skip_build: bool,
    log: object,
    add: Path | None = None,
    only_add: bool = False,
    http_workers: bool = False,
    only_http_workers: bool = False,
    http_seconds: float = WORKERS_LOAD_S,
) -> dict[str, object]:
    """Every figure of the library benchmark for ``settings`` (its corpus folders and index folder).

    ``add``: adding that file while a server answers (``add_while_serving``, on a scratch
    copy of the index). ``http_workers``: last, the search load over HTTP against one then
    two server workers (``http_workers_scaling``, ``http_seconds`` of load each).
    ``only_add``, ``only_http_workers``: those steps alone (the one or both named), after
    the build unless ``skip_build``.
    """
    say = log if callable(log) else print
    only = only_add or only_http_workers
    run_add = add is not None and (only_add or not only)
    run_http = only_http_workers or (http_workers and not only)
    steps = 6 + int(add is not None) + int(http_workers or only_http_workers)
    results: dict[str, object] = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    cached = _cached_texts(settings.index_dir)
    if not skip_build:
        say(f"[1/{steps}] policyqa index of {len(settings.corpus_dirs)} folder(s), {cached:,} texts cached before")
        build = measured_run(["index", "-q", *_corpus_args(settings), "--index-dir", str(settings.index_dir)], scratch)
        results["build"] = {**build, "cached_texts_before": cached, "cold": cached == 0}
    if only:
        manifest = read_manifest(current_build(settings))
        counts = manifest["counts"]
        assert isinstance(counts, dict)
        results["corpus"] = {**counts, "faiss": manifest.get("faiss")}
        _passages_per_s(results, counts)
        named = (("--only-add", only_add), ("--only-http-workers", only_http_workers))
        flags = " and ".join(flag for flag, on in named if on)
        say(f"      the other steps left out: {flags}")
    else:
        _in_process_steps(settings, questions, scratch, passes, steps, say, results)
    if run_add:
        assert add is not None
        say(f"[7/{steps}] adding {add.name} while a server answers")
        results["add"] = add_while_serving(settings, add, questions, scratch, say=say)
    if run_http:
        say(f"[{steps}/{steps}] search over HTTP, {HTTP_CLIENTS} clients, {http_seconds:.0f} s, 1 then 2 workers")
        results["http_workers"] = http_workers_scaling(settings, questions, scratch, seconds=http_seconds, say=say)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _each_as_new(call: Callable[[str], object], forget: Callable[[], None]) -> Callable[[str], object]:
    """``call`` with every question as if new: what is kept per question would serve repeats for free."""

    def run(question: str) -> object:
        forget()
        return call(question)

    return run


def _in_process_steps(
    settings: Settings,
    questions: Sequence[str],
    scratch: Path,
    passes: int,
    steps: int,
    say: Callable[[str], object],
    results: dict[str, object],
) -> None:
    """Steps 2 to 6: the encoder floor, warm latency, the baseline, cold start, a serving process's memory."""
    assistant = Assistant(settings, auto_build=False)
    index = _loaded_index(assistant)
    counts = index.manifest["counts"]
    results["corpus"] = {**counts, "faiss": index.manifest.get("faiss")}
    _passages_per_s(results, counts)
    say(f"[2/{steps}] encoder floor on a sample of {FLOOR_SAMPLE:,} distinct sentences")
    results["floor"] = encoder_floor(settings, _distinct_sentences(index.folder), FLOOR_SAMPLE)
    say(f"[3/{steps}] warm ask and search, {len(questions)} gold questions x {passes}")
    assistant.warm_up()  # as a server does before its first request
    results["page_cache_warm_s"] = read_through(index.folder)
    for question in questions[:WARM_UP_ASKS]:
        assistant.ask(question)
    for name, call in (("ask", assistant.ask), ("search", assistant.search)):
        results[name] = latency_summary(timed(_each_as_new(call, assistant.forget_questions), questions, passes))
    say(f"[4/{steps}] the plain LangChain pipeline: build from a sample, retrieval")
    results["baseline"] = _baseline(settings, assistant, questions, passes, BASELINE_SAMPLE)
    del assistant, index
    say(f"[5/{steps}] cold start, 3 runs of policyqa ask")
    results["cold_start"] = _cold_start(settings, questions[0], 3, scratch)
    say(f"[6/{steps}] a serving process's memory after 20 questions")
    results["serving_memory_mb"] = _serving_memory(settings, questions[:20], scratch)


def _passages_per_s(results: dict[str, object], counts: dict[str, int]) -> None:
    build_info = results.get("build")
    if isinstance(build_info, dict):
        build_info["passages_per_s"] = round(counts["chunks"] / build_info["wall_s"], 1)


# --- adding a document while a server answers ------------------------------------------------------

ADD_WARMUP_S = 2.0  # the load's first requests after /readyz, left out of the baseline
ADD_BASELINE_S = 10.0  # the load before the add: the baseline
ADD_AFTER_S = 5.0  # the load once the document is answerable
ADD_POLL_S = 0.5  # the probe's period, from the start of the add
ADD_TIMEOUT_S = 1_800.0  # the add command, at most
ANSWERABLE_TIMEOUT_S = 120.0  # once the add ended, the longest wait for the server to find the document
SERVER_READY_TIMEOUT_S = 600.0
REQUEST_TIMEOUT_S = 60.0
PROBE_QUESTION_CHARS = 80
OUTPUT_LINES = 5


@dataclass(frozen=True)
class _Request:
    """One request of the load: when it started (seconds from the load's start), its milliseconds, its outcome."""

    at: float
    ms: float
    outcome: str


@dataclass(frozen=True)
class _Probe:
    """What the server is asked until it finds the added document: ``question`` within ``doc_id``."""

    question: str
    doc_id: str


def _probe_question(title: str, text: str, stem: str) -> str:
    """The document's title, or its first line when the title is only the file name."""
    if title.strip() and title != stem:
        return title.strip()[:PROBE_QUESTION_CHARS]
    first = next((line.strip() for line in text.splitlines() if line.strip()), stem)
    return first[:PROBE_QUESTION_CHARS]


def _scratch_index(settings: Settings, scratch: Path) -> Settings:
    """Settings of a scratch index folder holding a copy of the live build, with a managed folder of its own.

    The managed folder is part of the fingerprint, so the copy goes under the scratch
    settings' fingerprint folder, named by a ``CURRENT`` file. ``cache`` is a link to the
    real index folder's embedding cache (the added document's sentences are cached there).
    """
    index_dir = (scratch / "add-index").resolve()
    managed = (scratch / "add-managed").resolve()
    copy = settings.replace(index_dir=index_dir, managed_dir=managed)
    live = current_build(settings)
    home = index_home(copy)
    home.mkdir(parents=True)
    shutil.copytree(live, home / live.name)
    (home / "CURRENT").write_text(live.name + "\n", encoding="utf-8")
    cache = settings.index_dir / "cache"
    if cache.is_dir():
        (index_dir / "cache").symlink_to(cache.resolve(), target_is_directory=True)
    managed.mkdir()
    return copy.replace()  # the managed folder exists now: among the corpus folders


def _remove_scratch_index(copy: Settings) -> None:
    """Delete the scratch index and managed folders: the cache link goes, never what it points to."""
    link = copy.index_dir / "cache"
    if link.is_symlink():
        link.unlink()
    shutil.rmtree(copy.index_dir, ignore_errors=True)
    if copy.managed_dir is not None:
        shutil.rmtree(copy.managed_dir, ignore_errors=True)


def _check_loadable(copy: Settings, encoder: Encoder) -> str:
    """The copy's live build; RuntimeError when ``Assistant(copy, auto_build=False)`` would refuse to load it."""
    folder = current_build(copy)
    manifest = read_manifest(folder)
    try:
        check_compatible(manifest, copy, encoder)
    except IndexMismatchError as exc:
        raise RuntimeError(f"the index cannot be served as it is: {exc}") from exc
    if is_stale(manifest, copy):
        raise RuntimeError(
            f"{folder.name} is stale for its corpus folders (a file changed since the build): a server "
            "would rebuild it, and the step would measure a build; build the index first"
        )
    return folder.name


def _load(base_url: str, questions: Sequence[str], stop: threading.Event, origin: float, out: list[_Request]) -> None:
    """POST ``/api/v1/search`` with ``questions`` in turn, one at a time, until ``stop``; every request recorded."""
    import httpx

    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        turn = 0
        while not stop.is_set():
            question = questions[turn % len(questions)]
            turn += 1
            started = time.perf_counter()
            try:
                response = client.post("/api/v1/search", json={"question": question})
                outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            out.append(_Request(started - origin, (time.perf_counter() - started) * 1000, outcome))


def _window(requests: Sequence[_Request], start: float, end: float) -> dict[str, object]:
    """The requests started in ``[start, end)``: count, errors, and the latency of those answered."""
    chosen = [r for r in requests if start <= r.at < end]
    errors: dict[str, int] = {}
    for request in chosen:
        if request.outcome != "ok":
            errors[request.outcome] = errors.get(request.outcome, 0) + 1
    return {
        "seconds": round(max(0.0, end - start), 2),
        "requests": len(chosen),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        **latency_summary([r.ms for r in chosen if r.outcome == "ok"]),
    }


def _found(client: httpx.Client, question: str, doc_ids: list[str] | None = None, k: int | None = None) -> list[str]:
    """The doc ids of ``/api/v1/search``'s passages, best first; none when it does not answer 200."""
    import httpx

    body: dict[str, object] = {"question": question}
    if doc_ids is not None:
        body["doc_ids"] = doc_ids
    if k is not None:
        body["k"] = k
    try:
        response = client.post("/api/v1/search", json=body)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:
        return []  # 422 unknown_document until the server serves a build with it
    return [str(p["doc_id"]) for p in response.json()["passages"]]


def _mb_of(status: dict[str, int]) -> dict[str, float]:
    return {key: round(value / 1024, 1) for key, value in status.items()}


def _tail(path: Path, lines: int = OUTPUT_LINES) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return [line for line in text.splitlines() if line.strip()][-lines:]


def add_while_serving(
    settings: Settings,
    path: Path,
    questions: Sequence[str],
    scratch: Path,
    *,
    baseline_s: float = ADD_BASELINE_S,
    after_s: float = ADD_AFTER_S,
    say: Callable[[str], object] = print,
) -> dict[str, object]:
    """``policyqa add PATH`` on a scratch copy of the index while ``policyqa serve`` answers a search load.

    The measured index is never changed: the server and the add work on a copy of its live
    build (``_scratch_index``), deleted at the end. From the start of the add the server is
    asked, every ``ADD_POLL_S``, the document's title within the document (``doc_ids``):
    ``answerable_s`` is the time from the start of the add until it answers with it. The
    load's latency and errors are given before the add (baseline), from its start until
    the document is answerable, and after.
    """
    from policyqa.documents import load_document
    from policyqa.embed import get_encoder
    from policyqa.library import HASH_CHARS

    path = path.resolve()
    doc = load_document(path)
    probe = _Probe(_probe_question(doc.title, doc.text, path.stem), doc.sha256[:HASH_CHARS])  # the managed file's stem
    out: dict[str, object] = {
        "file": path.name,
        "bytes": path.stat().st_size,
        "pages": len(doc.pages) or None,
        "probe_question": probe.question,
    }
    started = time.perf_counter()
    copy = _scratch_index(settings, scratch)
    out["scratch_copy_s"] = round(time.perf_counter() - started, 1)
    try:
        before = _check_loadable(copy, get_encoder(settings.encoder))
        counts_before = read_manifest(current_build(copy))["counts"]
        served = _serve_and_add(copy, _corpus_args(settings), path, probe, questions, scratch, baseline_s, after_s, say)
        out.update(served)
        live = current_build(copy)
        manifest = read_manifest(live)
        out.update(
            {
                "build_before": before,
                "build_after": live.name,
                "extended": manifest.get("extended_from") == before,
                "extended_from": manifest.get("extended_from"),
                "build_s": manifest.get("build_seconds"),  # the build inside the add, as its manifest says
                "counts_before": counts_before,
                "counts_after": manifest["counts"],
            }
        )
    finally:
        _remove_scratch_index(copy)
    return out


def _serve_and_add(
    copy: Settings,
    corpus_args: list[str],
    path: Path,
    probe: _Probe,
    questions: Sequence[str],
    scratch: Path,
    baseline_s: float,
    after_s: float,
    say: Callable[[str], object],
) -> dict[str, object]:
    """Start the server on the copy, load it, run the add and probe; every figure of the step."""
    import httpx

    assert copy.managed_dir is not None
    env = {**child_env(scratch), "POLICYQA_MANAGED_DIR": str(copy.managed_dir)}
    # The measured settings' corpus folders; the scratch managed folder comes in through the environment.
    where = [*corpus_args, "--index-dir", str(copy.index_dir)]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server_log = scratch / "add-server.log"
    requests: list[_Request] = []
    stop = threading.Event()
    with server_log.open("w") as log:
        # One process, as in the runs this step is compared with (the default is now one worker a core).
        command = [*_cli(), "serve", *where, "--port", str(port), "--workers", "1"]
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            say(f"      policyqa serve on port {port}, a copy of the index; waiting for /readyz")
            out: dict[str, object] = {
                "server_ready_s": round(wait_ready(server, base_url, server_log, SERVER_READY_TIMEOUT_S), 2)
            }
            out["server_rss_ready_mb"] = _mb_of(_status(server.pid))
            origin = time.perf_counter()
            loader = threading.Thread(
                target=_load, args=(base_url, questions, stop, origin, requests), name="bench-load", daemon=True
            )
            loader.start()
            try:
                say(f"      search load from one client: {ADD_WARMUP_S + baseline_s:.0f} s before the add")
                time.sleep(ADD_WARMUP_S + baseline_s)
                say(f"      policyqa add {path.name}, asking the server every {ADD_POLL_S} s")
                added = _run_add([*_cli(), "add", str(path), *where], env, scratch, origin, base_url, probe)
                say(f"      search load for {after_s:.0f} s more")
                time.sleep(after_s)
            finally:
                stop.set()
                loader.join(timeout=REQUEST_TIMEOUT_S + 5)
            ended = time.perf_counter() - origin
            start, add_end, answerable = added.pop("_start"), added.pop("_end"), added.pop("_answerable")
            assert isinstance(start, float) and isinstance(add_end, float)
            until = answerable if isinstance(answerable, float) else add_end
            out.update(added)
            doc_id = str(added["doc_id"])
            with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
                ranked = list(dict.fromkeys(_found(client, probe.question, k=5)))
                ready = client.get("/readyz")
            out["unfiltered_rank"] = ranked.index(doc_id) + 1 if doc_id in ranked else None
            out["unfiltered_top5"] = doc_id in ranked[:5]
            out["served_generation"] = ready.json().get("generation") if ready.status_code == 200 else None
            out["search_baseline"] = _window(requests, ADD_WARMUP_S, start)
            out["search_during_add"] = _window(requests, start, until)
            out["search_after"] = _window(requests, until, ended)
            out["load_requests"] = len(requests)
            out["load_errors"] = sum(1 for r in requests if r.outcome != "ok")
            out["server_memory_end_mb"] = _mb_of(_status(server.pid))
            return out
        finally:
            stop_process(server)


def _run_add(
    args: list[str], env: dict[str, str], scratch: Path, origin: float, base_url: str, probe: _Probe
) -> dict[str, object]:
    """Run the add, sampling its memory; from its start, probe the server every ``ADD_POLL_S`` until it answers."""
    import httpx

    stdout, stderr = scratch / "add.out", scratch / "add.err"
    ended: list[float] = []
    answerable: float | None = None
    probes = peak = 0
    doc_id = probe.doc_id
    with (
        stdout.open("w") as out,
        stderr.open("w") as err,
        httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client,
    ):
        start = time.perf_counter() - origin
        add = subprocess.Popen(args, stdout=out, stderr=err, env=env)

        def wait() -> None:
            add.wait()
            ended.append(time.perf_counter() - origin)

        waiter = threading.Thread(target=wait, name="bench-add-wait", daemon=True)
        waiter.start()
        next_probe = start
        while True:
            now = time.perf_counter() - origin
            if not ended:
                peak = max(peak, _tree_rss_kib(add.pid))
                if now - start > ADD_TIMEOUT_S:
                    add.kill()
                    waiter.join()
                    raise RuntimeError(f"policyqa add took more than {ADD_TIMEOUT_S:.0f} s; see {stderr}")
            else:
                if add.returncode != 0:
                    waiter.join()
                    raise RuntimeError(f"policyqa add failed (exit {add.returncode}): {' | '.join(_tail(stderr))}")
                said = re.search(r": added as (\S+)$", stdout.read_text(encoding="utf-8"), re.MULTILINE)
                if said is None:
                    raise RuntimeError(f"policyqa add added nothing: {' | '.join(_tail(stdout) + _tail(stderr))}")
                doc_id = said.group(1)  # the same as predicted, unless the library names files otherwise
                if answerable is not None or now - ended[0] > ANSWERABLE_TIMEOUT_S:
                    break
            if answerable is None and now >= next_probe:
                next_probe = now + ADD_POLL_S
                probes += 1
                if doc_id in _found(client, probe.question, [doc_id]):
                    answerable = time.perf_counter() - origin
            time.sleep(0.05)
    waiter.join()
    return {
        "doc_id": doc_id,
        "add_s": round(ended[0] - start, 2),
        "add_peak_rss_mb": round(peak / 1024, 1),
        "add_output": _tail(stdout) + _tail(stderr),
        "answerable": answerable is not None,
        "answerable_s": None if answerable is None else round(answerable - start, 2),
        "answerable_after_add_s": None if answerable is None else round(answerable - ended[0], 2),
        "probes": probes,
        "_start": start,
        "_end": ended[0],
        "_answerable": answerable,
    }


# --- search over HTTP with one and two server workers ----------------------------------------------

WORKER_COUNTS = (1, 2)
SETTLE_CORES = 0.25  # the server's processes are settled once they use less than this over a second
SETTLE_TIMEOUT_S = 180.0
READY_IN_A_ROW = 5  # /readyz answers 200 this many times in a row, a worker
STOP_TIMEOUT_S = 30.0
THROUGHPUT_RATIO_TARGET = 1.8
P95_RATIO_TARGET = 1.0
# Removed from the servers' environment: the rate limit (none: the app's default) must not
# throttle the load; the shared state is the SQLite file of ``--workers N``, in the scratch folder.
_SERVER_ENV_DROPPED = ("POLICYQA_RATE_LIMIT", "POLICYQA_REDIS_URL", "POLICYQA_STATE_DB", "POLICYQA_READ_ONLY")


def http_workers_scaling(
    settings: Settings,
    questions: Sequence[str],
    scratch: Path,
    *,
    seconds: float = WORKERS_LOAD_S,
    workers: Sequence[int] = WORKER_COUNTS,
    clients: int = HTTP_CLIENTS,
    one_client_seconds: float = ONE_CLIENT_LOAD_S,
    say: Callable[[str], object] = print,
) -> dict[str, object]:
    """``/api/v1/search`` under ``clients`` concurrent clients against ``policyqa serve --workers N``, for each N.

    Each server runs on the measured index as it is: a stale or incompatible index is refused
    before any server starts, and a server that starts a build (a new entry in the index
    folder) is stopped, the run failing. Each is measured once all its workers answer
    ``/readyz`` and its processes are idle: ``seconds`` of load (``http_load.load``, after its
    unrecorded warm-up), the CPU of its processes over the load, their memory after it.
    """
    from policyqa.embed import get_encoder

    generation = _check_loadable(settings, get_encoder(settings.encoder))
    out: dict[str, object] = {
        "generation": generation,
        "clients": clients,
        "load_s": seconds,
        "distinct_questions": len(set(questions)),
        "rate_limit": None,
        "note": "POLICYQA_RATE_LIMIT, POLICYQA_REDIS_URL and POLICYQA_STATE_DB removed from the servers' "
        "environment (no rate limit, the app's default); with more than one worker POLICYQA_STATE_DB is a "
        "SQLite file in the scratch folder, as `policyqa serve --workers N` sets var/state.sqlite3. The "
        "questions repeat: after the first pass each worker has their vectors in its query cache.",
    }
    for count in workers:
        say(f"      policyqa serve --workers {count}: waiting for every worker, then {seconds:.0f} s of load")
        figures = _serve_and_load(settings, count, questions, (seconds, one_client_seconds), clients, scratch)
        latency = figures["latency"]
        assert isinstance(latency, dict)
        say(
            f"      {count} worker(s): {figures['rps']} req/s, p95 {latency.get('p95_ms')} ms, "
            f"{figures['errors']} errors"
        )
        out[f"workers_{count}"] = figures
    one, two = out.get("workers_1"), out.get("workers_2")
    if isinstance(one, dict) and isinstance(two, dict):
        out["throughput_ratio"] = _quotient(_dig(two, ["rps"]), _dig(one, ["rps"]))
        out["p95_ratio"] = _quotient(_dig(two, ["latency", "p95_ms"]), _dig(one, ["latency", "p95_ms"]))
        # What the second worker costs: the whole server's proportional memory, 2 workers less 1.
        pss_two, pss_one = _dig(two, ["memory_end_mb", "pss_mb"]), _dig(one, ["memory_end_mb", "pss_mb"])
        if isinstance(pss_two, int | float) and isinstance(pss_one, int | float):
            out["second_worker_mb"] = round(pss_two - pss_one, 1)
        out["targets"] = {
            "throughput_ratio": f">= {THROUGHPUT_RATIO_TARGET}",
            "p95_ratio": f"<= {P95_RATIO_TARGET}",
            "errors": 0,
        }
    return out


def _quotient(a: object, b: object) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return None
    return round(a / b, 2)


def _server_env(settings: Settings, scratch: Path, workers: int) -> dict[str, str]:
    env = child_env(scratch)  # the feedback database in the scratch folder
    for name in _SERVER_ENV_DROPPED:
        env.pop(name, None)
    if settings.managed_dir is not None:  # part of the index's fingerprint: the server's must be the measured one
        env["POLICYQA_MANAGED_DIR"] = str(settings.managed_dir.resolve())
    if workers > 1:
        env["POLICYQA_STATE_DB"] = str((scratch / f"state-{workers}-workers.sqlite3").resolve())
    return env


def _no_build_guard(settings: Settings) -> Callable[[], None]:
    """A check that raises once a new fingerprint folder or build folder appears in the index folder (a build).

    Only those: a loading server also writes caches there (``corpus-hashes.json``).
    """
    home = index_home(settings)

    def entries() -> set[str]:
        found = {
            f"{settings.index_dir}/{name}"
            for name in os.listdir(settings.index_dir)
            if Path(settings.index_dir, name).is_dir()
        }
        if home.is_dir():
            found |= {f"{home}/{name}" for name in os.listdir(home) if name.lstrip(".").startswith("build-")}
        return found

    before = entries()

    def check() -> None:
        new = entries() - before
        if new:
            raise RuntimeError(
                f"the server started building the index ({', '.join(sorted(new))} appeared); it was stopped. "
                "Build the index first"
            )

    return check


def _serve_and_load(
    settings: Settings,
    workers: int,
    questions: Sequence[str],
    seconds: tuple[float, float],
    clients: int,
    scratch: Path,
) -> dict[str, object]:
    """Start ``policyqa serve --workers WORKERS``, wait for every worker, load it, read its processes; stop it.

    ``seconds``: of the load by ``clients`` clients, then of one client alone.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = scratch / f"http-workers-{workers}.log"
    args = [
        *_cli(),
        "serve",
        *_corpus_args(settings),
        "--index-dir",
        str(settings.index_dir),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    guard = _no_build_guard(settings)
    started: dict[int, str] = {}  # every process of the server seen, with its start time
    with log_path.open("w") as log:
        env = _server_env(settings, scratch, workers)
        server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            ready_s = wait_ready(server, base_url, log_path, SERVER_READY_TIMEOUT_S, check=guard)
            settle = _settle(server, base_url, workers, guard)
            started.update(_started(server.pid))
            memory_ready = _tree_memory_mb(server.pid)
            cpu = _tree_cpu_s(server.pid)
            began = time.perf_counter()
            figures = asyncio.run(load(base_url, "/api/v1/search", questions, seconds[0], clients))
            wall = time.perf_counter() - began  # the load's warm-up included: so is its CPU
            used = _tree_cpu_s(server.pid) - cpu
            # One client alone: a request's own latency, without the queue of the loaded run
            # (where a 40 ms stall in every request once hid behind the queueing).
            alone = asyncio.run(load(base_url, "/api/v1/search", questions, seconds[1], 1))
            guard()
            started.update(_started(server.pid))
            requests = figures["requests"]
            assert isinstance(requests, int)
            return {
                "workers": workers,
                **figures,
                "server_cores_used": round(used / wall, 2),
                "server_cpu_ms_per_request": round(1000 * used / max(1, requests), 2),
                "server_ready_s": round(ready_s, 2),
                "one_client": {key: alone[key] for key in ("seconds", "requests", "errors", "rps", "latency")},
                **settle,
                "memory_ready_mb": memory_ready,
                "memory_end_mb": _tree_memory_mb(server.pid),
                "server_exited": server.poll() is not None,
            }
        finally:
            _stop(server, started)


def _settle(
    server: subprocess.Popen[bytes], base_url: str, workers: int, guard: Callable[[], None]
) -> dict[str, object]:
    """Wait until ``/readyz`` answers 200 ``READY_IN_A_ROW`` times a worker in a row and the processes are idle.

    One worker's 200 says nothing of the others (they share the socket); a worker still
    loading the index uses a core, so idle processes are the better sign. After
    ``SETTLE_TIMEOUT_S`` the load starts anyway (``settled`` False).
    """
    import httpx

    began = time.perf_counter()
    cores = None
    while time.perf_counter() - began < SETTLE_TIMEOUT_S:
        guard()
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        cpu, t0 = _tree_cpu_s(server.pid), time.perf_counter()
        time.sleep(1.0)
        cores = (_tree_cpu_s(server.pid) - cpu) / (time.perf_counter() - t0)
        ready = True
        for _ in range(READY_IN_A_ROW * workers):
            try:
                ready = httpx.get(f"{base_url}/readyz", timeout=5.0).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready:
                break
        if ready and cores < SETTLE_CORES:
            return {"settle_s": round(time.perf_counter() - began, 2), "settled": True}
    return {"settle_s": round(time.perf_counter() - began, 2), "settled": False, "idle_cores_last": cores}


def _tree_memory_mb(root: int) -> dict[str, object]:
    """The server's processes' memory: resident, anonymous, proportional (PSS, shared pages split), private."""
    each = []
    for pid in _tree_pids(root):
        status = _status(pid)
        if not status:
            continue
        each.append({"pid": pid, "role": "main" if pid == root else "child", **_mb_of(status)})
        each[-1].update({key: round(kib / 1024, 1) for key, kib in _smaps_kib(pid).items()})

    def total(key: str) -> float:
        return round(sum(float(p.get(key, 0.0)) for p in each), 1)  # type: ignore[arg-type]

    return {
        "processes": len(each),
        "rss_mb": total("VmRSS"),
        "anon_mb": total("RssAnon"),
        "pss_mb": total("Pss"),
        "private_mb": total("Private"),
        "each": each,
    }


def _started(root: int) -> dict[int, str]:
    """The server's processes, each with its start time (so that a reused process id is never signalled)."""
    out = {}
    for pid in _tree_pids(root):
        fields = _stat_fields(pid)
        if len(fields) > 19:
            out[pid] = fields[19]
    return out


def _stop(server: subprocess.Popen[bytes], started: dict[int, str]) -> None:
    """SIGTERM to the server (its supervisor stops the workers); SIGKILL to any of its processes left."""
    started = {**started, **_started(server.pid)}
    stop_process(server, STOP_TIMEOUT_S)
    deadline = time.perf_counter() + STOP_TIMEOUT_S
    while True:
        left = [pid for pid, start in started.items() if pid != server.pid and _stat_fields(pid)[19:20] == [start]]
        if not left:
            return
        if time.perf_counter() > deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        time.sleep(0.2)


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
        ("index files read into the page cache before timing", get("page_cache_warm_s"), "s", None, ""),
        ("warm ask p50", get("ask", "p50_ms"), "ms", get("baseline", "retrieval", "p50_ms"), ""),
        ("warm ask p95", get("ask", "p95_ms"), "ms", get("baseline", "retrieval", "p95_ms"), "≤ 2 × baseline"),
        ("warm ask p99", get("ask", "p99_ms"), "ms", get("baseline", "retrieval", "p99_ms"), ""),
        ("search p50", get("search", "p50_ms"), "ms", get("baseline", "retrieval", "p50_ms"), ""),
        ("search p95", get("search", "p95_ms"), "ms", get("baseline", "retrieval", "p95_ms"), "≤ 1.5 × baseline"),
        ("search p99", get("search", "p99_ms"), "ms", get("baseline", "retrieval", "p99_ms"), ""),
        ("cold start (new process to first answer)", get("cold_start", "median_s"), "s", None, "≤ 3 s"),
        ("serving RSS, one process", get("serving_memory_mb", "VmRSS"), "MB", None, "≤ 1,024 MB"),
        ("  of which anonymous (RssAnon)", get("serving_memory_mb", "RssAnon"), "MB", None, ""),
        ("  of which mapped files (shared)", get("serving_memory_mb", "RssFile"), "MB", None, ""),
        ("LangChain baseline build (extrapolated)", get("baseline", "build_s"), "s", None, ""),
    ]
    if isinstance(results.get("add"), dict):
        during, before = ("add", "search_during_add"), ("add", "search_baseline")
        rows += [
            (
                f"adding {get('add', 'file')} while serving, until answerable",
                get("add", "answerable_s"),
                "s",
                None,
                "≤ 60 s",
            ),
            ("  policyqa add (the command)", get("add", "add_s"), "s", None, ""),
            ("  of which the build (its manifest)", get("add", "build_s"), "s", None, ""),
            ("  peak RSS of policyqa add (with its workers)", get("add", "add_peak_rss_mb"), "MB", None, ""),
            ("  server search p50 during the add", get(*during, "p50_ms"), "ms", get(*before, "p50_ms"), ""),
            ("  server search p95 during the add", get(*during, "p95_ms"), "ms", get(*before, "p95_ms"), ""),
            ("  server search errors during the add", get(*during, "errors"), "", get(*before, "errors"), "0"),
            ("  server cold start (to /readyz 200)", get("add", "server_ready_s"), "s", None, ""),
            ("  server RSS at the end", get("add", "server_memory_end_mb", "VmRSS"), "MB", None, ""),
            ("  server peak RSS (VmHWM)", get("add", "server_memory_end_mb", "VmHWM"), "MB", None, ""),
        ]
    if isinstance(results.get("http_workers"), dict):
        rows += _http_workers_rows(results)
    lines = ["| figure | measured | reference | ratio | target |", "|---|---|---|---|---|"]
    for label, value, unit, reference, target in rows:
        shown = "–" if value is None else f"{value:,} {unit}".rstrip()
        ref = "–" if reference is None else f"{reference:,}"
        lines.append(f"| {label} | {shown} | {ref} | {_ratio(value, reference)} | {target} |")
    return "\n".join(lines) + "\n"


def _http_workers_rows(results: dict[str, object]) -> list[tuple[str, object, str, object, str]]:
    get = lambda *path: _dig(results, ("http_workers", *path))  # noqa: E731
    clients = get("clients")
    rows: list[tuple[str, object, str, object, str]] = []
    for count in WORKER_COUNTS:
        run = f"workers_{count}"
        name = f"{count} worker{'s' if count > 1 else ''}"
        rows += [
            (f"HTTP search, {name}, {clients} clients: throughput", get(run, "rps"), "req/s", None, ""),
            (f"HTTP search, {name}: p50", get(run, "latency", "p50_ms"), "ms", None, ""),
            (f"HTTP search, {name}: p95", get(run, "latency", "p95_ms"), "ms", None, ""),
            (f"HTTP search, {name}: p99", get(run, "latency", "p99_ms"), "ms", None, ""),
            (f"HTTP search, {name}: errors", get(run, "errors"), f"of {get(run, 'requests')}", None, "0"),
            (f"HTTP search, {name}, 1 client alone: p50", get(run, "one_client", "latency", "p50_ms"), "ms", None, ""),
            (f"HTTP search, {name}, 1 client alone: p95", get(run, "one_client", "latency", "p95_ms"), "ms", None, ""),
            (f"  server RSS, {name} (every process)", get(run, "memory_end_mb", "rss_mb"), "MB", None, ""),
            (f"  server PSS, {name} (shared pages split)", get(run, "memory_end_mb", "pss_mb"), "MB", None, ""),
            *(
                [(f"  private memory of the largest worker, {name}", _largest_worker(get(run)), "MB", None, "")]
                if count > 1
                else []
            ),
            (f"  server CPU, {name}", get(run, "server_cores_used"), "cores", None, ""),
            (f"  load generator's CPU, {name}", get(run, "client_cpu_share"), "cores", None, ""),
        ]
    rows += [
        ("throughput ratio 2 workers / 1", get("throughput_ratio"), "", None, f"≥ {THROUGHPUT_RATIO_TARGET}"),
        ("p95 ratio 2 workers / 1", get("p95_ratio"), "", None, f"≤ {P95_RATIO_TARGET}"),
        ("memory of the second worker (server PSS, 2 workers − 1)", get("second_worker_mb"), "MB", None, "≤ +150 MB"),
    ]
    return rows


def _largest_worker(run: object) -> float | None:
    """The largest private memory among a server's forked workers after the load (shared pages aside)."""
    each = _dig(run, ["memory_end_mb", "each"])
    sizes = [p["Private"] for p in each if p.get("role") == "child"] if isinstance(each, list) else []
    return max(sizes) if sizes else None


def _dig(data: object, path: Sequence[str]) -> object:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
