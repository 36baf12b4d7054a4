"""``policyqa serve [--host] [--port]``: the UI and the API in one process.

The core's CLI calls :func:`register` through the ``policyqa.commands`` entry point.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from policyqa.cli import settings_from_args

if TYPE_CHECKING:
    from policyqa import Assistant, Settings

log = logging.getLogger(__name__)

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
    from .allocator import limit_malloc_arenas
    from .config import AppSettings
    from .server import create_app, server_options

    with private_gradio_temp_dir():
        security = AppSettings.from_env()
        # Before any thread starts (the forked workers inherit it): see allocator.py.
        limit_malloc_arenas(security.malloc_arenas)
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
            return _serve_workers(args, workers, logging_options)
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


def _serve_workers(args: argparse.Namespace, workers: int, logging_options: dict[str, object]) -> int:
    """``workers`` processes on one port, forked once the index is loaded, sharing limits, sessions and the queue.

    Without Redis they share one SQLite file. The index is built first, when missing, once and
    in a process of its own (see ``prefork``), so that the workers do not each build it.
    """
    import uvicorn

    from .affinity import SessionAffinity
    from .config import AppSettings
    from .metrics import MULTIPROC_ENV, mark_worker_metrics_dead
    from .prefork import Supervisor, bind_peer_sockets, bind_sockets
    from .server import create_app, server_options

    settings = settings_from_args(args)
    if not os.environ.get(MULTIPROC_ENV):
        # prometheus-client reads it at its import, before this command runs: the operator must set it.
        log.warning("%s is not set: /metrics counts the requests of whichever worker answers it.", MULTIPROC_ENV)
    if not os.environ.get("POLICYQA_REDIS_URL") and not os.environ.get("POLICYQA_STATE_DB"):
        os.environ["POLICYQA_STATE_DB"] = str(Path(DEFAULT_STATE_DB).resolve())
    security = AppSettings.from_env()
    try:
        sockets = bind_sockets(args.host, args.port, workers)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    # Each worker's own socket, for the UI's sessions passed on to the worker that holds them.
    peer_folder = tempfile.mkdtemp(prefix="policyqa-workers-")
    try:
        peer_sockets = bind_peer_sockets(peer_folder, workers)
        assistant = load_before_fork(settings, read_only=security.read_only)
    except BaseException:
        for sock in sockets:
            sock.close()
        shutil.rmtree(peer_folder, ignore_errors=True)
        raise
    peer_paths = [sock.getsockname() for sock in peer_sockets]
    from . import ui  # noqa: F401  (gradio's modules, imported once and shared by the workers)

    options = {
        "log_level": "info" if getattr(args, "verbose", False) else "warning",
        **server_options(),
        **logging_options,
    }

    # With the index loaded here, the supervisor follows new builds and forks the workers again
    # (they keep sharing one copy); otherwise (a replica before the first publish, Milvus) each
    # worker follows them itself.
    supervisor_follows = assistant.loaded
    # Built before the fork too, so that the workers share its pages (~25 MB a worker at the
    # whole library when each built its own); its state opens its connections per worker.
    prebuilt = create_app(settings, security=security, assistant=assistant) if supervisor_follows else None
    if prebuilt is not None:
        # Only a build a worker puts live itself (an upload) is loaded there, at once.
        prebuilt.state.service.refresh_interval = math.inf

    def serve_one(slot: int) -> int:
        app = prebuilt or create_app(settings, security=security, assistant=assistant)
        routed = SessionAffinity(app, slot, peer_paths)
        served = [sockets[slot], peer_sockets[slot]]
        uvicorn.Server(uvicorn.Config(routed, **options)).run(sockets=served)  # type: ignore[arg-type]
        return 0

    def follow_new_build() -> bool:
        if not assistant.has_new_build():
            return False
        try:
            return assistant.refresh()
        except Exception as exc:  # the workers go on serving the build they hold; tried again in a second
            log.error("Loading the new index build failed: %s", exc)
            return False

    print(f"PolicyQA: http://{args.host}:{args.port}/  ({workers} workers; API docs: /docs)", file=sys.stderr)
    reload = follow_new_build if supervisor_follows else None
    try:
        supervisor = Supervisor(
            sockets, serve_one, peer_sockets=peer_sockets, on_worker_exit=mark_worker_metrics_dead, reload=reload
        )
        return supervisor.run()
    finally:
        for sock in [*sockets, *peer_sockets]:
            sock.close()
        shutil.rmtree(peer_folder, ignore_errors=True)


def load_before_fork(settings: Settings, *, read_only: bool) -> Assistant:
    """An assistant with the index loaded and warmed, for workers to inherit; built first when needed.

    The build runs in a child process: FAISS builds its graph on OpenMP threads, and a process
    that has run them cannot safely fork workers that use FAISS. A read-only replica without a
    published index, and a Milvus store (its gRPC channel must not cross a fork), leave the
    loading to each worker.
    """
    from policyqa import Assistant
    from policyqa.errors import IndexMismatchError, IndexMissingError
    from policyqa.index import limit_search_threads

    from .prefork import run_in_child

    limit_search_threads(1)  # one thread a worker: the workers are the parallelism
    if settings.store != "faiss":
        if not read_only:
            run_in_child(lambda: _load_or_build(settings))
        return Assistant(settings, auto_build=not read_only)
    assistant = Assistant(settings, auto_build=False)
    try:
        assistant.generation  # noqa: B018  (loads the index)
    except (IndexMissingError, IndexMismatchError) as exc:
        if read_only:
            log.warning("%s The workers will load the index once it is published.", exc)
            return Assistant(settings, auto_build=False)
        run_in_child(lambda: _load_or_build(settings))
        assistant = Assistant(settings, auto_build=False)
        assistant.generation  # noqa: B018
    assistant.auto_build = not read_only  # later, as a single server: a changed corpus is rebuilt
    assistant.warm_up()  # the encoder, jieba and the dictionaries, loaded before the fork
    return assistant


def _load_or_build(settings: Settings) -> None:
    from policyqa import Assistant

    Assistant(settings).generation  # noqa: B018  (builds the index when missing or stale)


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
        default=0,
        help=(
            f"worker processes (default 0: one a core, at most {MAX_DEFAULT_WORKERS}); limits, sessions and"
            " the chat UI's conversations hold across them"
        ),
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
