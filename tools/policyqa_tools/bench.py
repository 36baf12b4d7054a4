"""``policyqa bench [--json] [--out DIR] [--quick]``: where the time goes, on this machine.

One run measures, against the targets of the performance issue and beside the
plain LangChain pipeline (``policyqa.compare.LangChainBaseline``: 1,000/200
character chunks, the same encoder, exact FAISS search):

- index build time and throughput, shipped corpus, cold (empty embedding cache);
- cold start: a new ``policyqa ask`` process to its first answer (index built);
- warm ``ask`` and ``search`` latency over the gold questions, on the shipped
  corpus and with the extra corpus (the law texts) added;
- a synthetic corpus of 100,000 passages resampled from the real sentences:
  build throughput, ``search`` latency, FAISS recall@10 against exact search;
- the HTTP server (uvicorn running ``create_app``): requests per second and
  latency of ``/api/v1/search`` and ``/api/v1/ask`` with 8 concurrent clients,
  errors, and the server's peak resident memory.

It writes ``bench.json`` and ``bench.md`` (a table: target, measured, baseline,
ratio, pass/miss) and prints the table. Targets are reported, never asserted:
figures move with the machine's load, which the report records. Temporary
indexes and the synthetic corpus live in a temporary folder, removed at the end.
Load is sent to 127.0.0.1 only, for a bounded time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from policyqa import Assistant, Settings, __version__
from policyqa.cli import settings_from_args

from . import http_load, measure
from .machine import describe
from .report import markdown, table

DEFAULT_GOLD = Path("eval")
DEFAULT_EXTRA_CORPUS = Path("../shared/policy-texts")
EXIT_MISSING_EXTRA = 2
DEFAULT_HTTP_SECONDS = 60.0  # --http-seconds: the load against each server of --http-workers


@dataclass(frozen=True)
class Plan:
    """How long and how large each measurement is (``--quick`` shrinks them)."""

    cold_start_runs: int
    warm_passes: int
    synthetic_chunks: int
    load_seconds: float
    baseline_sample_chunks: int


FULL = Plan(cold_start_runs=5, warm_passes=3, synthetic_chunks=100_000, load_seconds=60.0, baseline_sample_chunks=300)
QUICK = Plan(cold_start_runs=3, warm_passes=1, synthetic_chunks=20_000, load_seconds=10.0, baseline_sample_chunks=60)


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _questions(gold: Path) -> list[str]:
    from policyqa.evaluate import load_gold

    return [g.question for g in load_gold([gold])]


def run(settings: Settings, gold: Path, extra_corpus: Path | None, plan: Plan, quick: bool) -> dict[str, object]:
    """Every measurement, in an order that keeps each one's process state clean; the report with its table."""
    began = time.perf_counter()
    report: dict[str, object] = {
        "policyqa_version": __version__,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": quick,
        "plan": asdict(plan),
    }
    _ = Assistant(settings).encoder  # loading it sets the BLAS thread limit, before the machine is described
    report["machine"] = describe()
    report["settings"] = settings.to_dict()
    questions = _questions(gold)
    extra = extra_corpus if extra_corpus is not None and extra_corpus.is_dir() else None
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        scratch = Path(tmp)
        shipped = settings.replace(index_dir=scratch / "index-inprocess")
        _log(f"[1/6] index build, shipped corpus ({', '.join(str(p) for p in settings.corpus_dirs)}), cold")
        results["index_shipped"] = measure.index_shipped(settings, scratch)
        _log(f"[2/6] cold start, {plan.cold_start_runs} runs of policyqa ask")
        results["cold_start"] = measure.cold_start(shipped, questions[0], plan.cold_start_runs, scratch)
        _log(f"[3/6] warm ask and search, {len(questions)} gold questions x {plan.warm_passes}")
        results["warm_shipped"] = measure.warm_latency(shipped, questions, plan.warm_passes)
        if extra is not None:
            combined = settings.replace(
                corpus_dirs=(*settings.corpus_dirs, extra), index_dir=scratch / "index-combined"
            )
            _log(f"[4/6] warm ask and search with {extra} added")
            build_s = measure.build_seconds(combined)
            results["warm_combined"] = {
                "build_s": round(build_s, 2),
                **measure.warm_latency(combined, questions, plan.warm_passes),
            }
        else:
            results["warm_combined"] = {"skipped": f"no folder {extra_corpus}"}
        sources = [*settings.corpus_dirs, *([extra] if extra is not None else [])]
        _log(f"[5/6] synthetic corpus of {plan.synthetic_chunks:,} passages: build, search, recall")
        results["synthetic"] = measure.synthetic(
            settings,
            sources,
            questions,
            scratch,
            target_chunks=plan.synthetic_chunks,
            search_passes=max(1, plan.warm_passes - 1),
            baseline_sample_chunks=plan.baseline_sample_chunks,
        )
        _log(f"[6/6] HTTP server, {http_load.HTTP_CLIENTS} clients, {plan.load_seconds:.0f} s per endpoint")
        results["serving"] = http_load.serving(shipped, questions, plan.load_seconds, scratch)
    report["results"] = results
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - began, 1)
    report["table"] = table(results)
    return report


def bench(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table (or the JSON report) and write both to ``--out``."""
    try:
        import httpx  # noqa: F401
        import langchain_text_splitters  # noqa: F401
    except ImportError as exc:
        print(f"error: the benchmark needs {exc.name}: pip install 'policyqa[serve,dev]'", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    settings = settings_from_args(args)
    if (args.add or args.only_add) and not args.library:
        print("error: --add and --only-add go with --library", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    if args.only_add and not args.add:
        print("error: --only-add needs --add FILE", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    if (args.http_workers or args.only_http_workers) and not args.library:
        print("error: --http-workers and --only-http-workers go with --library", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    if args.http_seconds <= 0:
        print("error: --http-seconds must be positive", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    if args.add and not Path(args.add).is_file():
        print(f"error: --add {args.add}: no such file", file=sys.stderr)
        return EXIT_MISSING_EXTRA
    if args.library:
        return _bench_library(args, settings)
    extra = None if args.no_extra_corpus else Path(args.extra_corpus)
    report = run(settings, Path(args.gold), extra, QUICK if args.quick else FULL, args.quick)
    text = markdown(report)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        (out / "bench.md").write_text(text, encoding="utf-8")
        _log(f"wrote {out / 'bench.json'} and {out / 'bench.md'}")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(text)
    return 0


def _bench_library(args: argparse.Namespace, settings: Settings) -> int:
    """``--library DIR``: build and measure the real library (``library.run_library``)."""
    from .library import library_markdown, run_library

    folders = [Path(p) for p in args.library]
    extra = [] if args.no_extra_corpus else [Path(args.extra_corpus)]
    corpus = tuple(dict.fromkeys([*settings.corpus_dirs, *extra, *folders]))
    gold = [Path(args.gold), *([Path(args.gold) / "library"] if (Path(args.gold) / "library").is_dir() else [])]
    from policyqa.evaluate import load_gold

    questions = [g.question for g in load_gold(gold)]
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-library-") as tmp:
        index_dir = Path(args.index_dir) if args.index_dir else Path(tmp) / "index"
        lib_settings = settings.replace(corpus_dirs=corpus, index_dir=index_dir)
        report: dict[str, object] = {
            "policyqa_version": __version__,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "library": [str(p) for p in folders],
            "corpus": [str(p) for p in corpus],
            "questions": len(questions),
        }
        _ = Assistant(lib_settings, auto_build=False).encoder
        report["machine"] = describe()
        report["results"] = run_library(
            lib_settings,
            questions,
            Path(tmp),
            passes=1 if args.quick else 3,
            skip_build=args.no_build,
            log=_log,
            add=Path(args.add) if args.add else None,
            only_add=args.only_add,
            http_workers=args.http_workers,
            only_http_workers=args.only_http_workers,
            http_seconds=args.http_seconds,
        )
    text = library_markdown(report["results"])  # type: ignore[arg-type]
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench-library.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
        (out / "bench-library.md").write_text(text, encoding="utf-8")
        _log(f"wrote {out / 'bench-library.json'} and {out / 'bench-library.md'}")
    print(json.dumps(report, ensure_ascii=False, indent=1) if args.json else text)
    return 0


def register(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``bench`` to the core's subcommands (entry point ``policyqa.commands``)."""
    parser = subparsers.add_parser(
        "bench", parents=[common_parent], help="measure latency, throughput and memory against the performance targets"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    parser.add_argument("--out", metavar="DIR", help="write bench.json and bench.md here")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 20,000 synthetic passages, 10 s of load")
    parser.add_argument("--gold", default=str(DEFAULT_GOLD), metavar="DIR", help="gold questions (default eval/)")
    parser.add_argument(
        "--extra-corpus",
        default=str(DEFAULT_EXTRA_CORPUS),
        metavar="DIR",
        help=f"a corpus added for the second latency run and the synthetic sentences (default {DEFAULT_EXTRA_CORPUS})",
    )
    parser.add_argument("--no-extra-corpus", action="store_true", help="measure the shipped corpus alone")
    parser.add_argument(
        "--library",
        action="append",
        metavar="DIR",
        help="benchmark a real library (repeatable): build, encoder floor, latency, memory, baseline",
    )
    parser.add_argument(
        "--no-build", action="store_true", help="with --library: measure the index already in --index-dir"
    )
    parser.add_argument(
        "--add",
        metavar="FILE",
        help="with --library: also time `policyqa add FILE` while a server answers, on a scratch copy of the index",
    )
    parser.add_argument(
        "--only-add", action="store_true", help="with --library and --add: measure the add alone (no other step)"
    )
    parser.add_argument(
        "--http-workers",
        action="store_true",
        help="with --library: also load /api/v1/search over HTTP against `policyqa serve --workers 1`, then 2",
    )
    parser.add_argument(
        "--only-http-workers",
        action="store_true",
        help="with --library: measure the HTTP search load against 1 and 2 workers alone (no other step)",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=DEFAULT_HTTP_SECONDS,
        metavar="S",
        help=f"with --http-workers: seconds of load against each server (default {DEFAULT_HTTP_SECONDS:.0f})",
    )
    parser.set_defaults(func=bench)
