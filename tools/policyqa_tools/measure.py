"""In-process measurements: index builds, a new process's first answer, warm latency, and a synthetic corpus.

Each goes through the public API (``Assistant``, ``Assistant.build`` and its ``BuildReport``,
``Assistant.ask``/``search``/``documents``, ``policyqa.compare.LangChainBaseline``) except where
only the loaded index can say, through ``_loaded_index``: its manifest (sentence count, FAISS
kind, how passage vectors were made) and its chunk vectors, searched beside an exact
``policyqa.index.VectorSearch`` over the same vectors for FAISS recall, their HNSW parameters
read from the FAISS object. The encoder is loaded once per process by the core, so each new
``Assistant`` shares it.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from policyqa import Assistant, Settings
from policyqa.index import read_through

from .machine import child_env
from .report import latency_summary
from .synthetic import SYNTHETIC_SEED, baseline_chunks, synthetic_corpus

WARM_UP_QUESTION = "预热 warm-up"
WARM_UP_ASKS = 10  # first calls compile regexes and fill small caches
CLI_TIMEOUT_S = 600


class StageClock:
    """A build progress callback that records when each stage was first and last reported."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._seen: dict[str, list[float]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter() - self.started
        self._seen.setdefault(stage, [now, now])[1] = now

    def stages(self) -> dict[str, float]:
        """Seconds from the previous stage's end to this stage's end, in order."""
        out: dict[str, float] = {}
        previous = 0.0
        for stage, (_, last) in sorted(self._seen.items(), key=lambda kv: kv[1][1]):
            out[stage] = round(last - previous, 2)
            previous = last
        return out


def timed(call: Callable[[str], object], questions: Sequence[str], passes: int) -> list[float]:
    """Milliseconds of ``call(question)`` for every question, ``passes`` times over."""
    ms = []
    for _ in range(passes):
        for question in questions:
            started = time.perf_counter()
            call(question)
            ms.append((time.perf_counter() - started) * 1000)
    return ms


def _loaded_index(assistant: Assistant) -> Any:
    """The assistant's loaded index (internal: its manifest and chunk vectors have no public call yet)."""
    return assistant.index


def _passages(assistant: Assistant) -> int:
    return sum(doc.chunks for doc in assistant.documents())


# --- the shipped corpus ----------------------------------------------------------------------------


def index_shipped(settings: Settings, scratch: Path) -> dict[str, object]:
    """Build the shipped corpus with an empty cache, in this process and as ``policyqa index``; and the baseline."""
    from policyqa.compare import LangChainBaseline

    assistant = Assistant(settings.replace(index_dir=scratch / "index-inprocess"))
    build = assistant.build()
    counts = _loaded_index(assistant).manifest["counts"]
    wall = run_cli(["index", "-q", *_corpus_args(settings), "--index-dir", str(scratch / "index-cli")], scratch)
    started = time.perf_counter()
    baseline = LangChainBaseline.build(settings)
    baseline_s = time.perf_counter() - started
    return {
        "documents": build.documents,
        "passages": build.chunks,
        "sentences": counts["sentences"],
        "build_s": round(build.seconds, 2),
        "chunks_per_s": round(build.chunks / build.seconds, 1),
        "cli_wall_s": round(wall, 2),
        "baseline": {
            "chunks": len(baseline.passages),
            "build_s": round(baseline_s, 2),
            "chunks_per_s": round(len(baseline.passages) / baseline_s, 1),
        },
    }


def warm_latency(settings: Settings, questions: Sequence[str], passes: int) -> dict[str, object]:
    """``ask`` and ``search`` per question on a loaded index, and the baseline's retrieval."""
    from policyqa.compare import LangChainBaseline

    assistant = Assistant(settings)
    assistant.warm_up()  # as a server does before its first request
    page_cache_s = read_through(_loaded_index(assistant).folder)
    for question in questions[:WARM_UP_ASKS]:
        assistant.ask(question)
    ask = timed(assistant.ask, questions, passes)
    search = timed(assistant.search, questions, passes)
    baseline = LangChainBaseline.build(settings)
    baseline.search(questions[0], settings.top_k)
    baseline_ms = timed(lambda q: baseline.search(q, settings.top_k), questions, passes)
    return {
        "passages": _passages(assistant),
        "questions": len(questions),
        "passes": passes,
        "page_cache_warm_s": page_cache_s,
        "ask": latency_summary(ask),
        "search": latency_summary(search),
        "baseline": latency_summary(baseline_ms),
    }


def build_seconds(settings: Settings) -> float:
    """Build ``settings``'s index in this process; the seconds the build took (``BuildReport.seconds``)."""
    return Assistant(settings).build().seconds


# --- the synthetic corpus ------------------------------------------------------------------------


def _recall(found: Sequence[np.ndarray], truth: Sequence[np.ndarray], k: int) -> float:
    return float(np.mean([len(set(t.tolist()) & set(f.tolist())) / k for t, f in zip(truth, found, strict=True)]))


def synthetic(
    settings: Settings,
    sources: Sequence[Path],
    questions: Sequence[str],
    scratch: Path,
    target_chunks: int,
    search_passes: int,
    baseline_sample_chunks: int,
) -> dict[str, object]:
    """Build a resampled corpus of ``target_chunks`` passages; its search, recall and the baseline's costs."""
    from threadpoolctl import threadpool_limits

    from policyqa.index import VectorSearch

    started = time.perf_counter()
    corpus = synthetic_corpus(sources, scratch / "synthetic", target_chunks)
    generate_s = time.perf_counter() - started
    syn = settings.replace(corpus_dirs=(scratch / "synthetic",), index_dir=scratch / "index-synthetic")
    builder = Assistant(syn)
    encoder = builder.encoder
    clock = StageClock()
    build = builder.build(clock)
    manifest = _loaded_index(builder).manifest
    del builder

    started = time.perf_counter()
    assistant = Assistant(syn, encoder=encoder, auto_build=False)
    assistant.search(WARM_UP_QUESTION, k=1)
    load_s = time.perf_counter() - started
    search = timed(assistant.search, questions, search_passes)

    index = _loaded_index(assistant).chunk_vectors
    exact = VectorSearch.exact(index.reconstruct(np.arange(index.size)))
    queries = [np.asarray(encoder.encode_query(q), dtype=np.float32) for q in questions]
    candidates = syn.candidates
    recall = {
        k: _recall([index.search(q, k)[0] for q in queries], [exact.search(q, k)[0] for q in queries], k)
        for k in (10, candidates)
    }
    # One loop per index (interleaved, FAISS's OpenMP threads of one search still spin in the
    # next), on one thread: on a busy 2-core machine a second OpenMP thread made an exact
    # search of 100,000 vectors take 32 ms instead of 8, which would flatter us against the baseline.
    ann_ms: list[float] = []
    exact_ms: list[float] = []
    baseline_ms: list[float] = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for target, out in ((index, ann_ms), (exact, exact_ms)):
            for query in queries:
                t0 = time.perf_counter()
                target.search(query, candidates)
                out.append((time.perf_counter() - t0) * 1000)
        for question in questions:  # the baseline: encode the question, exact search over as many vectors
            t0 = time.perf_counter()
            exact.search(encoder.encode_query(question), syn.top_k)
            baseline_ms.append((time.perf_counter() - t0) * 1000)
    graph = getattr(index.index, "hnsw", None)  # the FAISS index in use; read before it is freed
    hnsw = (
        None
        if graph is None
        else {"M": graph.nb_neighbors(1), "efConstruction": graph.efConstruction, "efSearch": graph.efSearch}
    )
    del assistant, index, exact, graph

    # The baseline's build, extrapolated: encoding its 1,000-character chunks is all its
    # cost, and all of them would take longer than the whole benchmark.
    base_chunks = baseline_chunks(syn.corpus_dirs)
    sample = random.Random(SYNTHETIC_SEED).sample(base_chunks, min(baseline_sample_chunks, len(base_chunks)))
    t0 = time.perf_counter()
    encoder.encode_documents([p.text for p in sample])
    sample_s = time.perf_counter() - t0
    chars = sum(len(p.text) for p in base_chunks)
    base_build_s = sample_s * chars / max(1, sum(len(p.text) for p in sample))
    return {
        "target_chunks": target_chunks,
        "files": corpus["files"],
        "passages": build.chunks,
        "sentences": manifest["counts"]["sentences"],
        "source_sentences": corpus["source_sentences"],
        "generate_s": round(generate_s, 1),
        "build_s": round(build.seconds, 1),
        "chunks_per_s": round(build.chunks / build.seconds, 1),
        "stages_s": clock.stages(),
        "faiss": manifest.get("faiss"),
        "passage_vectors": manifest.get("passage_vectors", "encoded"),
        "hnsw": hnsw,
        "load_s": round(load_s, 2),
        "search": latency_summary(search),
        "recall_at_10": round(recall[10], 4),
        "recall_at_candidates": round(recall[candidates], 4),
        "candidates": candidates,
        "faiss_search": latency_summary(ann_ms),
        "exact_search": latency_summary(exact_ms),
        "baseline": {
            "chunks": len(base_chunks),
            "sampled_chunks": len(sample),
            "build_s": round(base_build_s, 1),
            "chunks_per_s": round(len(base_chunks) / base_build_s, 1),
            "search": latency_summary(baseline_ms),
            "note": "build extrapolated from encoding a random sample of its chunks; "
            "search: exact FAISS at the same size",
        },
    }


# --- a new process: the CLI ------------------------------------------------------------------------


def _corpus_args(settings: Settings) -> list[str]:
    return [arg for folder in settings.corpus_dirs for arg in ("--corpus", str(folder))]


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("policyqa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "policyqa.cli"]


def run_cli(args: list[str], scratch: Path) -> float:
    """Wall seconds of ``policyqa ARGS`` in a new process (it must succeed)."""
    started = time.perf_counter()
    subprocess.run([*_cli(), *args], check=True, capture_output=True, env=child_env(scratch), timeout=CLI_TIMEOUT_S)
    return time.perf_counter() - started


def cold_start(settings: Settings, question: str, runs: int, scratch: Path) -> dict[str, object]:
    """Wall time of ``policyqa ask`` in a new process, the index already built (one unmeasured run first)."""
    args = ["ask", question, *_corpus_args(settings), "--index-dir", str(settings.index_dir)]
    run_cli(args, scratch)  # builds nothing (the index exists); warms the page cache
    times = [run_cli(args, scratch) for _ in range(runs)]
    return {
        "runs_s": [round(t, 3) for t in times],
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
    }
