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


def register(subparsers: argparse._SubParsersAction, common_parent: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``serve`` to the core's subcommands."""
    parser = subparsers.add_parser(
        "serve", parents=[common_parent], help="start the chat UI and the HTTP API (index built on first use)"
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
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
