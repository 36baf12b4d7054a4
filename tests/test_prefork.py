"""The supervisor behind ``policyqa serve --workers N``: real forks, real signals, real sockets.

The supervisor runs in a subprocess of its own (a pytest process may run threads, which take
signals meant for the supervisor's main thread); its workers here are small functions in place
of uvicorn, so that what is tested is the supervision. tests/test_workers.py runs the real server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from policyqa import PolicyQAError

pytest.importorskip("uvicorn", reason="serving needs the 'serve' extra")

from policyqa_app.prefork import QUICK_EXITS_TO_GIVE_UP, bind_sockets, holds_socket, run_in_child  # noqa: E402


def test_run_in_child_returns_after_the_work_and_leaves_this_process_unchanged(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    run_in_child(lambda: marker.write_text(str(os.getpid())))
    assert int(marker.read_text()) != os.getpid()


def test_a_workers_connections_send_at_once_without_nagles_delay() -> None:
    # As a worker's uvicorn serves them: asyncio's server on a socket bound here. With Nagle's
    # algorithm on, a response's body waited for the client's delayed ACK of its headers (40 ms).
    served, *others = bind_sockets("127.0.0.1", 0, 2)
    for other in others:  # SO_REUSEPORT could hand the connection to another socket of the port
        other.close()
    port = served.getsockname()[1]

    async def accepted_nodelay() -> int:
        options: list[int] = []
        connected = asyncio.Event()

        def on_connection(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            options.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            connected.set()
            writer.close()

        async with await asyncio.start_server(on_connection, sock=served):
            _, client = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.wait_for(connected.wait(), 10)
            client.close()
        return options[0]

    try:
        assert asyncio.run(accepted_nodelay()) != 0
    finally:
        served.close()


def test_run_in_child_raises_the_childs_error_here() -> None:
    def fail() -> None:
        raise PolicyQAError("the corpus folder is empty")

    with pytest.raises(PolicyQAError, match="the corpus folder is empty"):
        run_in_child(fail)
    with pytest.raises(PolicyQAError, match="ZeroDivisionError"):
        run_in_child(lambda: 1 / 0)


SUPERVISED = """
import logging, os, signal, socket, sys, time
from pathlib import Path
from policyqa_app.prefork import Supervisor, bind_sockets, holds_socket

logging.basicConfig(level=logging.INFO)
mode, folder = sys.argv[1], Path(sys.argv[2])

def unsignalled(old_workers):  # those still running and not sent SIGTERM
    found = []
    for pid in old_workers:
        try:
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        except OSError:
            continue  # gone
        pending = int(status["SigPnd"], 16) | int(status["ShdPnd"], 16)
        if status["State"].split()[0] not in "ZX" and not pending & (1 << (signal.SIGTERM - 1)):
            found.append(pid)
    return found

def serve_one(slot):
    sock = sockets[slot]
    if (folder / "reloaded").exists():  # a replacement: the old workers must have been told to stop
        old_workers = (folder / "reloaded").read_text().split()
        (folder / f"old-running-{os.getpid()}").write_text(" ".join(unsignalled(old_workers)))
        inodes = {os.fstat(sock.fileno()).st_ino}
        holding = [pid for pid in old_workers if holds_socket(int(pid), inodes)]
        (folder / f"old-holding-{os.getpid()}").write_text(" ".join(holding))
    (folder / str(os.getpid())).write_text("started")
    if mode == "fail":
        return 3
    if mode == "slow":  # a busy worker: it notices SIGTERM late, then closes its socket and finishes
        # Later than the 5 s the supervisor once waited at most before forking the new workers anyway.
        closes_after = 6.0
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        sock.settimeout(0.05)
        while not stopping:
            try:
                connection, _ = sock.accept()
            except socket.timeout:
                continue
            with connection:
                connection.sendall(str(os.getpid()).encode())
        time.sleep(closes_after)
        sock.close()
        time.sleep(1.0)
        return 0
    while True:  # answer each connection with this worker's pid
        connection, _ = sock.accept()
        with connection:
            connection.sendall(str(os.getpid()).encode())

def reload():  # "a new build": once, when the test drops a file
    signal_file = folder / "reload"
    if signal_file.exists():
        signal_file.unlink()
        (folder / "reloaded").write_text(" ".join(p.name for p in folder.iterdir() if p.name.isdigit()))
        return True
    return False

sockets = bind_sockets("127.0.0.1", 0, 2)
(folder / "port").write_text(str(sockets[0].getsockname()[1]))
sys.exit(Supervisor(sockets, serve_one, reload=reload).run())
"""


def _supervisor(tmp_path: Path, mode: str) -> subprocess.Popen[bytes]:
    script = tmp_path / "supervised.py"
    script.write_text(textwrap.dedent(SUPERVISED))
    folder = tmp_path / "workers"
    folder.mkdir()
    return subprocess.Popen([sys.executable, str(script), mode, str(folder)], stderr=subprocess.PIPE)


def _started(tmp_path: Path) -> set[int]:
    return {int(p.name) for p in (tmp_path / "workers").iterdir() if p.name.isdigit()}


def _wait(condition: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds  # a wait for processes to start, not a measurement
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_workers_that_exit_at_once_stop_the_server_instead_of_looping(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path, "fail")
    assert supervisor.wait(timeout=60) == 1
    # The two first workers, then one new worker for each exit until the give-up (the last one
    # may be stopped before it has written its file).
    assert QUICK_EXITS_TO_GIVE_UP <= len(_started(tmp_path)) <= QUICK_EXITS_TO_GIVE_UP + 1
    assert b"keep exiting as soon as they start" in (supervisor.stderr.read() if supervisor.stderr else b"")


def test_workers_share_the_socket_a_killed_one_is_replaced_and_sigterm_stops_all(tmp_path: Path) -> None:
    import socket

    supervisor = _supervisor(tmp_path, "serve")
    try:
        _wait(lambda: len(_started(tmp_path)) == 2 and (tmp_path / "workers" / "port").exists())
        port = int((tmp_path / "workers" / "port").read_text())

        def answer() -> int:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                return int(connection.recv(32))

        first = _started(tmp_path)
        # Each worker listens on a socket of its own (SO_REUSEPORT): new connections reach both.
        assert {answer() for _ in range(40)} == first
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: len(_started(tmp_path)) == 3)
        replacement = _started(tmp_path) - first
        assert len(replacement) == 1
        survivors = (first - {victim}) | replacement
        _wait(lambda: not Path(f"/proc/{victim}").exists())
        # The new worker took over the socket of the one that died.
        assert {answer() for _ in range(40)} == survivors
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        assert not [pid for pid in survivors if Path(f"/proc/{pid}").exists()]
        log = supervisor.stderr.read() if supervisor.stderr else b""
        assert f"Worker {victim} exited (signal SIGKILL)".encode() in log
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_a_reload_replaces_every_worker_and_retires_the_old_ones(tmp_path: Path) -> None:
    import socket

    supervisor = _supervisor(tmp_path, "serve")
    try:
        _wait(lambda: len(_started(tmp_path)) == 2 and (tmp_path / "workers" / "port").exists())
        port = int((tmp_path / "workers" / "port").read_text())
        first = _started(tmp_path)
        (tmp_path / "workers" / "reload").write_text("")
        _wait(lambda: len(_started(tmp_path)) == 4)
        replacements = _started(tmp_path) - first
        assert len(replacements) == 2
        # Each new worker started after every old one had been sent SIGTERM (uvicorn then stops
        # accepting): never an old and a new worker accepting on one socket at once.
        _wait(lambda: len(list((tmp_path / "workers").glob("old-running-*"))) == 2)
        seen = {p.name: p.read_text() for p in (tmp_path / "workers").glob("old-running-*")}
        assert len(seen) == 2 and set(seen.values()) == {""}, seen
        _wait(lambda: not any(Path(f"/proc/{pid}").exists() for pid in first))
        assert not any(Path(f"/proc/{pid}").exists() for pid in first), "the old workers exited"

        def answer() -> int:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                return int(connection.recv(32))

        assert {answer() for _ in range(40)} == replacements
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        # Retired workers are not restarted: nothing in the log says a worker exited unexpectedly.
        assert b"starting another" not in (supervisor.stderr.read() if supervisor.stderr else b"")
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_new_workers_start_only_once_the_old_ones_have_closed_the_listening_socket(tmp_path: Path) -> None:
    # The old workers take six seconds to close their sockets after SIGTERM, as uvicorn can on a
    # busy machine; a fixed pause, or a wait of at most 5 s, before forking the new ones let both
    # accept on one socket meanwhile.
    supervisor = _supervisor(tmp_path, "slow")
    try:
        _wait(lambda: len(_started(tmp_path)) == 2 and (tmp_path / "workers" / "port").exists())
        (tmp_path / "workers" / "reload").write_text("")
        _wait(lambda: len(list((tmp_path / "workers").glob("old-holding-*"))) == 2)
        holding = {p.name: p.read_text() for p in (tmp_path / "workers").glob("old-holding-*")}
        assert len(holding) == 2 and set(holding.values()) == {""}, holding
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_a_process_holds_a_socket_until_it_closes_it_and_one_that_is_gone_holds_none() -> None:
    listener = socket.socket()
    inodes = {os.fstat(listener.fileno()).st_ino}
    assert holds_socket(os.getpid(), inodes) is True
    listener.close()
    assert holds_socket(os.getpid(), inodes) is False
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert holds_socket(gone.pid, inodes) is False
