"""The server's malloc arenas: counted in a real process by glibc's own ``malloc_stats``."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from policyqa import ConfigError
from policyqa_app.allocator import limit_malloc_arenas
from policyqa_app.config import DEFAULT_MALLOC_ARENAS, AppSettings

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's arena limit is glibc's")

# Threads that allocate at once, alive together, then glibc's report of its arenas on stderr.
_THREADS_ALLOCATING = """
import ctypes, sys, threading
from policyqa_app.allocator import limit_malloc_arenas
print(limit_malloc_arenas(int(sys.argv[1])))
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
together = threading.Barrier(6)
def allocate():
    together.wait()
    pointer = libc.malloc(4096)
    together.wait()
    libc.free(pointer)
threads = [threading.Thread(target=allocate) for _ in range(6)]
for thread in threads: thread.start()
for thread in threads: thread.join()
sys.stderr.flush()
libc.malloc_stats()
"""


def _arenas_after_threads(limit: int) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _THREADS_ALLOCATING, str(limit)], capture_output=True, text=True, check=True, timeout=60
    )
    arenas = sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))
    return done.stdout.strip(), arenas


@glibc_only
def test_one_arena_is_shared_by_every_thread() -> None:
    taken, arenas = _arenas_after_threads(1)
    assert taken == "True"
    assert arenas == 1


@glibc_only
def test_without_a_limit_threads_take_arenas_of_their_own() -> None:
    # The case the limit is for: 0 leaves glibc's default, and threads allocating at once spread out.
    taken, arenas = _arenas_after_threads(0)
    assert taken == "False"
    assert arenas > 1


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        limit_malloc_arenas(-1)


def test_the_setting_is_read_from_the_environment_and_checked() -> None:
    assert AppSettings.from_env(environ={}).malloc_arenas == DEFAULT_MALLOC_ARENAS == 1
    assert AppSettings.from_env(environ={"POLICYQA_MALLOC_ARENAS": "0"}).malloc_arenas == 0
    with pytest.raises(ConfigError, match="POLICYQA_MALLOC_ARENAS='two' is not a whole number"):
        AppSettings.from_env(environ={"POLICYQA_MALLOC_ARENAS": "two"})
    with pytest.raises(ConfigError, match="malloc_arenas must be 0 or more"):
        AppSettings.from_env(environ={"POLICYQA_MALLOC_ARENAS": "-2"})
