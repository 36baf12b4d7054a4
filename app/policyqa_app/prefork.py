"""``policyqa serve --workers N``: worker processes forked from one that has loaded the index.

Why fork rather than uvicorn's own workers: uvicorn starts each worker as a fresh interpreter,
which loads the encoder's weights, jieba's dictionary, CC-CEDICT and the index again (at the
whole library ~340 MB of private memory each). Forked after the load, the workers share those
pages with the supervisor copy-on-write, and ``gc.freeze()`` keeps the collector from writing
into them (a collection would touch every object's header and copy its page).

The supervisor itself serves nothing: it holds the listening sockets, starts the workers,
starts a new one when one dies (a worker that dies at once, again and again, stops the server
instead of looping), and passes SIGTERM or SIGINT on to them. It also follows the index: when
another build goes live it loads it and replaces every worker by one forked again, so that the
workers go on sharing one copy.

Forking a process that runs threads can copy a lock in the held state, so the supervisor
starts none: the index is built (when missing) in a child process, loaded and warmed here with
one FAISS thread, and the workers open their own database and Redis connections.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 2048  # uvicorn's default
STOP_TIMEOUT_SECONDS = 30.0  # SIGTERM, then this long for the workers' graceful shutdown, then SIGKILL
# A worker that exits within this many seconds of its start counts as failing to start;
# this many such exits in a row stop the server (a broken configuration, not a crash).
QUICK_EXIT_SECONDS = 5.0
QUICK_EXITS_TO_GIVE_UP = 5
# A new worker starts once every old one has closed the listening sockets (uvicorn does so as it
# begins its graceful shutdown, within 0.1 s of SIGTERM on an idle machine, later on a busy one),
# looked for this often and for at most this long; where /proc cannot tell, after the pause.
# The wait is as long as the stop timeout: connections wait in the backlog meanwhile, which is
# better than an old worker and a new one accepting side by side (a session split between them).
RETIRE_POLL_SECONDS = 0.02
RETIRE_WAIT_SECONDS = STOP_TIMEOUT_SECONDS
RETIRE_PAUSE_SECONDS = 0.25
REAP_INTERVAL_SECONDS = 1.0  # how often the supervisor reaps workers and looks for a new index build
CHILD_ERROR_BYTES = 4096  # of a child's error message, passed back through a pipe
SUPERVISOR_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def run_in_child(work: Callable[[], object]) -> None:
    """Run ``work()`` in a forked child and wait for it; its error raised here as a ``PolicyQAError``.

    For work that must not leave threads behind in this process (a build's OpenMP threads).
    """
    from policyqa import PolicyQAError

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            work()
        except BaseException as exc:
            message = str(exc) if isinstance(exc, PolicyQAError) else f"{type(exc).__name__}: {exc}"
            os.write(write_end, message.encode("utf-8", "replace")[:CHILD_ERROR_BYTES])
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as errors:
        message = errors.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise PolicyQAError(message or f"the child process failed ({_describe(status)})")


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to one address, one a worker; ``Supervisor.run`` makes them listen.

    Bound first, so that a port in use is an error before the index is loaded; listening only
    when the workers start, so that a client is refused while the index loads instead of waiting.

    With one shared socket, the worker whose event loop wakes first accepts every pending
    connection at once (asyncio accepts in batches), and kept-alive clients then stay on it:
    measured at the whole library, one of two workers served 96 % of 8 clients' requests.
    ``SO_REUSEPORT`` spreads connections over the sockets by their addresses. Where the system
    has no such option, the workers share one socket. ``port`` 0: a free port, the same for all.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    shared = not hasattr(socket, "SO_REUSEPORT")
    sockets: list[socket.socket] = []
    try:
        for _ in range(1 if shared else count):
            # IPPROTO_TCP named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
            # whose protocol says TCP, and with it on, a response's body waited for the client's
            # delayed ACK of its headers: 40 ms a request.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if not shared:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets * count if shared else sockets


def bind_peer_sockets(folder: str, count: int) -> list[socket.socket]:
    """``count`` Unix sockets in ``folder`` (``worker-N.sock``), one a worker, for the workers to reach each other.

    The chat UI's requests of one session go to one worker (see ``policyqa_app.affinity``);
    a worker started in place of another takes over its socket, as it does the port's.
    ``folder`` should be private to the server (``tempfile.mkdtemp``): whoever can connect
    to these sockets is believed about a request's client address.
    """
    sockets: list[socket.socket] = []
    try:
        for slot in range(count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(os.path.join(folder, f"worker-{slot}.sock"))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def holds_socket(pid: int, inodes: set[int]) -> bool | None:
    """Whether process ``pid`` has a socket with one of these inodes open; None where /proc cannot say.

    A process that has exited (a zombie too) holds nothing.
    """
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    except OSError:
        return None
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:[") and int(target[len("socket:[") : -1]) in inodes:
            return True
    return False


@dataclass
class Supervisor:
    """Forks one process a socket, each running ``serve_one(slot)``, and keeps one running on each.

    ``serve_one`` runs in the child, serves ``sockets[slot]`` (and ``peer_sockets[slot]``, the
    worker's own Unix socket, when there are such) and returns its exit code; ``on_worker_exit(pid)`` runs in
    the supervisor after a worker has gone (for example to mark its metrics dead). A worker
    started in place of one that died takes over its socket, with the connections waiting there.

    ``reload`` is asked once every ``REAP_INTERVAL_SECONDS`` whether the supervisor has loaded
    something new (a new index build); when it has, every worker is replaced by one forked from
    the reloaded supervisor, and the old ones finish their requests and exit (SIGTERM).
    """

    sockets: list[socket.socket]
    serve_one: Callable[[int], int]
    peer_sockets: list[socket.socket] = field(default_factory=list)
    on_worker_exit: Callable[[int], None] = lambda pid: None
    reload: Callable[[], bool] | None = None
    running: dict[int, tuple[int, float]] = field(default_factory=dict)  # pid -> (slot, monotonic start)
    retiring: set[int] = field(default_factory=set)  # replaced workers finishing their requests
    quick_exits: int = 0

    def run(self) -> int:
        """Start the workers and supervise them until SIGTERM or SIGINT; the exit code of the server."""
        for sock in {id(sock): sock for sock in [*self.sockets, *self.peer_sockets]}.values():
            sock.listen(LISTEN_BACKLOG)
        self._freeze()
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISOR_SIGNALS)
        try:
            for slot in range(len(self.sockets)):
                self._start_worker(slot, previous_mask)
            return self._supervise(previous_mask)
        finally:
            self._stop_workers()
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)

    @staticmethod
    def _freeze() -> None:
        alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if alive:  # a thread holding a lock at the fork would leave that lock held in every worker
            log.warning("Forking workers while other threads run: %s", ", ".join(alive))
        gc.collect()
        gc.freeze()

    def _start_worker(self, slot: int, child_mask: set[int | signal.Signals]) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, child_mask)
                own = {id(self.sockets[slot]), *(id(s) for s in self.peer_sockets[slot : slot + 1])}
                for sock in [*self.sockets, *self.peer_sockets]:
                    if id(sock) not in own:
                        sock.close()  # this worker's copies of the other workers' sockets
                code = self.serve_one(slot)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.running[pid] = (slot, time.monotonic())

    def _supervise(self, child_mask: set[int | signal.Signals]) -> int:
        checked = time.monotonic()
        while True:
            # With a timeout: a SIGCHLD taken by another thread (see run) would otherwise be missed.
            received = signal.sigtimedwait(SUPERVISOR_SIGNALS, REAP_INTERVAL_SECONDS)
            if received is not None and received.si_signo != signal.SIGCHLD:
                log.info("Received %s: stopping the workers.", signal.Signals(received.si_signo).name)
                return 0
            for pid, status in self._reap():
                slot, started = self.running.pop(pid)
                lived = time.monotonic() - started
                log.warning("Worker %d exited (%s) after %.1f s; starting another.", pid, _describe(status), lived)
                self.quick_exits = self.quick_exits + 1 if lived < QUICK_EXIT_SECONDS else 0
                if self.quick_exits >= QUICK_EXITS_TO_GIVE_UP:
                    log.error("Workers keep exiting as soon as they start; stopping the server.")
                    return 1
                self._start_worker(slot, child_mask)
            if self.reload is not None and time.monotonic() - checked >= REAP_INTERVAL_SECONDS:
                checked = time.monotonic()
                if self.reload():
                    # Unfrozen only now: a collection in between would write to every object's
                    # page and unshare it from the workers; now the old build can be collected.
                    gc.unfreeze()
                    self._replace_workers(child_mask)

    def _replace_workers(self, child_mask: set[int | signal.Signals]) -> None:
        """A new worker on each socket, forked from what the supervisor now holds; the old ones retire."""
        self._freeze()
        slots = sorted(slot for slot, _started in self.running.values())
        for pid in list(self.running):
            del self.running[pid]
            self.retiring.add(pid)
            _signal(pid, signal.SIGTERM)  # uvicorn's graceful shutdown: requests in flight are answered
        # The old workers stop accepting first: while an old and a new worker both accepted on one
        # socket, a UI session's question could reach one and its event stream the other, and the
        # page, told the session was unknown, would reload. Connections wait in the backlog meanwhile.
        self._wait_until_closed(sorted(self.retiring))
        for slot in slots:
            self._start_worker(slot, child_mask)
        log.info("Workers replaced: %d started, %d retiring.", len(self.running), len(self.retiring))

    def _wait_until_closed(self, pids: list[int]) -> None:
        """Until none of ``pids`` holds a listening socket of this server (a fixed 0.25 s pause had
        not been enough on a busy machine), at most ``RETIRE_WAIT_SECONDS``."""
        inodes = {os.fstat(sock.fileno()).st_ino for sock in [*self.sockets, *self.peer_sockets]}
        deadline = time.monotonic() + RETIRE_WAIT_SECONDS
        while time.monotonic() < deadline:
            held = [holds_socket(pid, inodes) for pid in pids]
            if None in held:
                time.sleep(RETIRE_PAUSE_SECONDS)
                return
            if not any(held):
                return
            time.sleep(RETIRE_POLL_SECONDS)
        log.warning("Old workers held the listening sockets for %.0f s; starting new ones.", RETIRE_WAIT_SECONDS)

    def _reap(self) -> list[tuple[int, int]]:
        """Every running worker that has exited, with its wait status (SIGCHLD signals may merge).

        Retired workers that have exited are collected on the way.
        """
        gone = []
        while self.running or self.retiring:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # none left
                break
            if pid == 0:
                break
            if pid in self.running:
                gone.append((pid, status))
            elif pid not in self.retiring:
                continue  # not a worker (a child of something else in this process)
            self.retiring.discard(pid)
            self.on_worker_exit(pid)
        return gone

    def _stop_workers(self) -> None:
        """SIGTERM to every worker; SIGKILL to those still running after ``STOP_TIMEOUT_SECONDS``."""
        for pid in [*self.running, *self.retiring]:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while (self.running or self.retiring) and time.monotonic() < deadline:
            for pid, _status in self._reap():
                self.running.pop(pid)
            time.sleep(0.05)
        for pid in [*self.running, *self.retiring]:
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.on_worker_exit(pid)
        self.running.clear()
        self.retiring.clear()


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"code {os.waitstatus_to_exitcode(status)}"
