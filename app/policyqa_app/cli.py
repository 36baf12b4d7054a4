"""``policyqa serve [--host] [--port]``: the UI and the API in one process.

The core's CLI calls :func:`register` through the ``policyqa.commands`` entry point.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from policyqa.cli import settings_from_args

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@contextmanager
def private_gradio_temp_dir() -> Iterator[Path]:
    """A folder for Gradio's temporary files that only this process uses, removed when the server stops.

    Gradio reads ``GRADIO_TEMP_DIR`` when it is imported and when it builds the UI, so this
    must be entered before either. An operator's ``GRADIO_TEMP_DIR`` becomes its parent.
    """
    previous = os.environ.get("GRADIO_TEMP_DIR")
    folder = Path(tempfile.mkdtemp(prefix="policyqa-gradio-", dir=previous or None))  # mode 0700
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


def serve(args: argparse.Namespace) -> int:
    """Start uvicorn with the app; the index is loaded (or built) in the background at startup."""
    try:
        import uvicorn
    except ImportError:
        print("error: the server needs the 'serve' extra: pip install 'policyqa[serve]'", file=sys.stderr)
        return 2
    from .config import AppSettings
    from .server import create_app, server_options

    with private_gradio_temp_dir():
        security = AppSettings.from_env()
        logging_options: dict[str, object] = {}
        if security.log_format == "json":
            from .logs import configure_logging

            # One JSON line per record; the request log is policyqa.access (with the request id), not uvicorn's.
            configure_logging("json")
            logging_options = {"log_config": None, "access_log": False}
        workers = getattr(args, "workers", 1)
        workers = default_workers() if workers == 0 else workers
        if getattr(args, "read_only", False):
            os.environ["POLICYQA_READ_ONLY"] = "1"
            security = AppSettings.from_env()
        if workers > 1:
            return _serve_workers(args, workers, security, logging_options)
        app = create_app(settings_from_args(args), security=security)
        print(f"PolicyQA: http://{args.host}:{args.port}/  (API docs: /docs)", file=sys.stderr)
        # Header and keep-alive timeouts, proxy headers off: see server_options.
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level="info" if getattr(args, "verbose", False) else "warning",
            **server_options(),
            **logging_options,  # type: ignore[arg-type]
        )
    return 0


MAX_DEFAULT_WORKERS = 4
DEFAULT_STATE_DB = "var/state.sqlite3"


def default_workers() -> int:
    """One worker a core, at most ``MAX_DEFAULT_WORKERS`` (each holds the index and the encoder in memory)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _serve_workers(args: argparse.Namespace, workers: int, security: object, logging_options: dict[str, object]) -> int:
    """``workers`` processes on one socket (uvicorn's supervisor), sharing limits, sessions and the queue.

    The workers import the app by name, so the options go to them as ``POLICYQA_*`` variables;
    without Redis they share one SQLite file. The index is built here first, once, so that the
    workers do not all build it at the same time.
    """
    import uvicorn

    from policyqa import Assistant

    from .server import HEADER_TIMEOUT_PROTOCOL, server_options

    settings = settings_from_args(args)
    os.environ["POLICYQA_INDEX_DIR"] = str(settings.index_dir.resolve())
    os.environ["POLICYQA_CORPUS_DIRS"] = os.pathsep.join(str(p.resolve()) for p in settings.corpus_dirs)
    os.environ["POLICYQA_ENCODER"] = settings.encoder
    if not os.environ.get("POLICYQA_REDIS_URL") and not os.environ.get("POLICYQA_STATE_DB"):
        os.environ["POLICYQA_STATE_DB"] = str(Path(DEFAULT_STATE_DB).resolve())
    if not getattr(security, "read_only", False):
        Assistant(settings).generation  # noqa: B018  (loads the index, building it when missing or stale)
    print(f"PolicyQA: http://{args.host}:{args.port}/  ({workers} workers; API docs: /docs)", file=sys.stderr)
    uvicorn.run(
        "policyqa_app.server:create_app_from_env",
        factory=True,
        workers=workers,
        host=args.host,
        port=args.port,
        log_level="info" if getattr(args, "verbose", False) else "warning",
        **{**server_options(), "http": HEADER_TIMEOUT_PROTOCOL},
        **logging_options,  # type: ignore[arg-type]
    )
    return 0


def register(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``serve`` to the core's subcommands."""
    parser = subparsers.add_parser(
        "serve", parents=[common_parent], help="start the chat UI and the HTTP API (index built on first use)"
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        # Default 1: the UI's Gradio queue needs a browser's requests on one process (see docs/deployment.md).
        help=f"worker processes (default 1; 0: one a core, at most {MAX_DEFAULT_WORKERS}); limits hold across them",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="a replica: serve the published index, never build it, refuse document uploads (POLICYQA_READ_ONLY=1)",
    )
    parser.set_defaults(func=serve)


def main(argv: list[str] | None = None) -> int:
    """``python -m policyqa_app``: the same command without the core CLI."""
    from policyqa import PolicyQAError

    parser = argparse.ArgumentParser(prog="python -m policyqa_app", description="PolicyQA chat UI and HTTP API.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", action="append", metavar="DIR", help="corpus folder (repeat for several)")
    common.add_argument("--index-dir", metavar="DIR", help="where indexes live (default: index/)")
    common.add_argument("--encoder", help="encoder id (default: the core's)")
    common.add_argument("-v", "--verbose", action="store_true", help="log requests and progress")
    sub = parser.add_subparsers(dest="command")
    register(sub, common)
    args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return int(args.func(args))
    except PolicyQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
