"""Command line: ``policyqa index | ask | search | eval | compare | add | remove | docs``.

Errors that policyqa raises on purpose, and bad arguments, print one line
``error: …`` on stderr and exit with status 2; a failing file system (``OSError``)
or an unexpected error prints one line and exits with 1 (``-v`` shows the
traceback of an unexpected one). The JSON written by ``--json`` is the same as
the HTTP API's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from .assistant import Assistant
from .errors import PolicyQAError
from .filters import make_filter
from .settings import Settings
from .types import SearchFilter
from .version import __version__

if TYPE_CHECKING:
    from .evaluate import GoldQuestion

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see `{self.prog} --help`)\n")


def _progress_bar():  # type: ignore[no-untyped-def]
    """A progress callback drawing one tqdm bar per stage on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="item", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the common options (also for plugin commands)."""
    overrides: dict[str, object] = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dirs"] = tuple(Path(p) for p in args.corpus)
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "encoder", None):
        overrides["encoder"] = args.encoder
    if getattr(args, "store", None):
        overrides["store"] = args.store
    return Settings.from_env(None, **overrides)


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _cmd_index(args: argparse.Namespace) -> int:
    assistant = Assistant(settings_from_args(args))
    report = assistant.build(progress=None if args.quiet else _progress_bar(), full=args.full)
    if report.skipped:  # each was named in a warning as it was skipped
        print(f"Skipped {len(report.skipped)} file(s) that cannot be indexed (named above).", file=sys.stderr)
    how = "Extended the index to" if report.extended else "Indexed"
    print(f"{how} {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f} s -> {report.folder}")
    return 0


def _print_passage(label: str, title: str, section: str, start: int, end: int, score: float, text: str) -> None:
    print(f"{label} {title} — {section}  (characters {start}–{end}, score {score:.3f})")
    for line in text.splitlines():
        print(f"    {line}")


def _filter(args: argparse.Namespace) -> SearchFilter | None:
    if not (args.doc or args.kind or args.region or args.year):
        return None
    return make_filter(kinds=args.kind or (), regions=args.region or (), years=args.year, doc_ids=args.doc or ())


def _cmd_ask(args: argparse.Namespace) -> int:
    answer = Assistant(settings_from_args(args)).ask(args.question, k=args.k, where=_filter(args), mode=args.mode)
    if args.json:
        _print_json(answer.to_dict())
        return 0
    if answer.generation is not None and answer.generation.note:
        print(f"({answer.generation.note})")
    print(answer.answer)
    if answer.citations:
        print()
    for c in answer.citations:
        _print_passage(f"[{c.n}]", c.title, c.section, c.char_start, c.char_end, c.score, c.text)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    result = Assistant(settings_from_args(args)).search(args.question, k=args.k, where=_filter(args))
    if args.json:
        _print_json(result.to_dict())
        return 0
    for rank, p in enumerate(result.passages, 1):
        _print_passage(f"{rank}.", p.title, p.section, p.char_start, p.char_end, p.score, p.text)
    return 0


def _gold(args: argparse.Namespace) -> list[GoldQuestion]:
    """The gold questions ``args.gold`` names, only those of ``args.split`` when it is given."""
    from .evaluate import load_gold

    gold = load_gold([Path(p) for p in args.gold])
    if args.split:
        # Tuning runs on dev only: the test half's failures stay unseen.
        gold = [g for g in gold if g.split == args.split]
    return gold


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import markdown_table, run_eval, write_artefacts

    gold = _gold(args)
    assistant = Assistant(settings_from_args(args))
    report = run_eval(assistant, gold, k=args.k)
    if args.mode == "llm":
        from .llm_eval import run_llm_eval

        scored = [g for g in gold if g.id not in report["left_out"]]
        report["llm"] = run_llm_eval(assistant, scored, k=args.k)
    if args.out:
        for path in write_artefacts(report, Path(args.out)):
            print(f"wrote {path}", file=sys.stderr)
    if args.json:
        _print_json({k: v for k, v in report.items() if k != "per_question"})
    else:
        print(markdown_table(report))
        if "llm" in report:
            print("\nLLM answers: " + json.dumps(report["llm"]["summary"], ensure_ascii=False))
        left_out = report["left_out"]
        print(f"\n{len(gold) - len(left_out)} questions in {report['seconds']} s")
        if left_out:
            print(f"left out, answered by a document of this index: {', '.join(left_out)}")
    return 0


def _cmd_verifier_eval(args: argparse.Namespace) -> int:
    from .llm_eval import verifier_report

    settings = settings_from_args(args)
    report = verifier_report(Path(args.labelled), settings.encoder, split=args.split, threshold=args.threshold)
    if args.json:
        _print_json(report)
    else:
        for key, value in report.items():
            if key != "items":
                print(f"{key}: {value}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare_configurations, comparison_table

    rows = compare_configurations(
        settings_from_args(args),
        _gold(args),
        quick=args.quick,
        progress=lambda m: print(m, file=sys.stderr),
        same_index=args.same_index,
        build_progress=_progress_bar(),
    )
    if args.json:
        _print_json(rows)
    else:
        print(comparison_table(rows))
    return 0


def _cmd_add(args: argparse.Namespace) -> int:
    from .library import DocumentLibrary

    report = DocumentLibrary(settings_from_args(args)).add([Path(p) for p in args.paths])
    for row in report.files:
        print(row.line())
    if report.build is not None:
        print(f"Indexed {report.build.documents} documents, {report.build.chunks} chunks.", file=sys.stderr)
    # 0 when a file went in or every file was there already; 2 when nothing went in and a file failed.
    return 0 if report.ok else EXIT_USAGE


def _cmd_remove(args: argparse.Namespace) -> int:
    from .library import DocumentLibrary

    report = DocumentLibrary(settings_from_args(args)).remove(args.doc_id)
    print(f"removed {report.doc_id} ({report.path})")
    print(f"Indexed {report.build.documents} documents, {report.build.chunks} chunks.", file=sys.stderr)
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from .library import DocumentLibrary, documents_table

    rows = DocumentLibrary(settings_from_args(args)).list()
    if args.json:
        _print_json([row.to_dict() for row in rows])
    else:
        print(documents_table(rows))
    return 0


CORE_COMMANDS = ("index", "ask", "search", "eval", "verifier-eval", "compare", "add", "remove", "docs")


def build_parser(load_plugins: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(prog="policyqa", description="Cited answers from Chinese policy texts.")
    parser.add_argument("--version", action="version", version=f"policyqa {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--corpus", action="append", metavar="DIR", help="corpus folder (repeat for several)")
    common.add_argument("--index-dir", metavar="DIR", help="where indexes live (default: index/)")
    common.add_argument("--encoder", help="use-multilingual-v3 (default), e5-small-q4, use+e5 or st:MODEL_FOLDER")
    common.add_argument("--store", help="faiss (default), milvus://HOST:PORT or milvus-lite:PATH.db (docs/milvus.md)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress and warnings")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="build or update the index")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--full", action="store_true", help="build afresh, even when the corpus only gained files (default: extend)"
    )
    p.set_defaults(func=_cmd_index)

    for name, func, help_text in (
        ("ask", _cmd_ask, "answer a question with citations"),
        ("search", _cmd_search, "list the best passages for a question"),
    ):
        p = sub.add_parser(name, parents=[common], help=help_text)
        p.add_argument("question")
        p.add_argument("--k", type=int, default=None, help="number of passages (1-50, default 5)")
        p.add_argument("--doc", action="append", metavar="DOC_ID", help="search only this document (repeatable)")
        p.add_argument("--kind", action="append", help="only this kind: law, local_regulation, paper… (repeatable)")
        p.add_argument("--region", action="append", help="only documents of this region: Beijing, 浙江… (repeatable)")
        p.add_argument("--year", help="only documents of this year or range: 2019, 2015-2021, 2015-")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "ask":
            p.add_argument(
                "--mode",
                choices=("extractive", "llm"),
                default="extractive",
                help="llm: written by the POLICYQA_LLM_URL model, every sentence verified (default extractive)",
            )
        p.set_defaults(func=func)

    p = sub.add_parser("eval", parents=[common], help="evaluate on a gold question set")
    p.add_argument("gold", nargs="+", help="gold JSONL file(s) or folder(s)")
    p.add_argument("--k", type=int, default=None, help="passages given to the answer (default 5)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", metavar="DIR", help="write report.json, report.md, per_question.jsonl and a chart")
    p.add_argument("--split", choices=("dev", "test"), help="only one half of the gold set (tune on dev)")
    p.add_argument(
        "--mode",
        choices=("extractive", "llm"),
        default="extractive",
        help="llm: also the share of generated sentences kept, the fallback rate and the answer-language match",
    )
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("verifier-eval", parents=[common], help="the LLM-answer verifier on a labelled set")
    p.add_argument("labelled", nargs="?", default="eval/verifier/labelled.jsonl", help="labelled JSONL")
    p.add_argument("--split", choices=("dev", "test"), default="test", help="which half (calibrate on dev)")
    p.add_argument("--threshold", type=float, default=None, help="similarity threshold (default: the calibrated one)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_verifier_eval)

    p = sub.add_parser("compare", parents=[common], help="compare retrieval configurations on a gold set")
    p.add_argument("gold", nargs="+", help="gold JSONL file(s) or folder(s)")
    p.add_argument("--quick", action="store_true", help="only the default encoder's variants")
    p.add_argument(
        "--same-index",
        action="store_true",
        help="only variants that search the default index (no other build: for a library)",
    )
    p.add_argument("--split", choices=("dev", "test"), help="only one half of the gold set")
    p.add_argument("--json", action="store_true", help="print rows as JSON")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("add", parents=[common], help="copy documents into the managed folder and index them")
    p.add_argument("paths", nargs="+", metavar="PATH", help=".txt, .md, .pdf, .docx or .html file(s)")
    p.set_defaults(func=_cmd_add)

    p = sub.add_parser("remove", parents=[common], help="remove a document added with `policyqa add`")
    p.add_argument("doc_id", metavar="DOC_ID", help="the id `policyqa add` or `policyqa docs` printed")
    p.set_defaults(func=_cmd_remove)

    p = sub.add_parser("docs", parents=[common], help="list the indexed documents")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_docs)
    if load_plugins:
        _add_plugin_commands(sub, common)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Commands that installed packages register (``policyqa serve`` comes from the app).

    Discovery by entry point keeps imports one-way: the core never names the app.
    """
    from importlib.metadata import entry_points

    for entry in entry_points(group="policyqa.commands"):
        try:
            register = entry.load()
        except ImportError as exc:  # the command's optional dependencies are missing
            logging.getLogger("policyqa").debug("command %s unavailable: %s", entry.name, exc)
            continue
        register(sub, common)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # A core command needs no plugin: importing the web app would only slow it down.
    parser = build_parser(load_plugins=not (arguments and arguments[0] in CORE_COMMANDS))
    args = parser.parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    # Third-party debug chatter (bm25s, jieba) is not ours to show.
    for name in ("bm25s", "jieba"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except PolicyQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a full disk, a folder without write permission
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:
        if getattr(args, "verbose", False):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (run again with -v to see where)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
