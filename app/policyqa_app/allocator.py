"""Fewer malloc arenas for the server's request threads (glibc).

glibc gives a thread that allocates an arena of its own, up to eight a core, and memory freed in
one arena is kept there for that arena's next allocations. A server runs its requests on a pool
of threads, so each of them came to hold its own free memory: at the whole library a worker of
``policyqa serve --workers 2`` held 155–182 MB of private memory after a minute of searches, and
grew as long as the load went on; with one arena, 114–117 MB, flat (docs/performance.md). The
requests take turns on Python's lock anyway, so they seldom wait for the arena's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # malloc.h's mallopt parameter


def limit_malloc_arenas(count: int) -> bool:
    """Let threads started from now on share at most ``count`` malloc arenas; whether it took effect.

    0 leaves the C library's default. Nothing is changed where the C library is not glibc
    (musl, macOS): they manage threads' memory their own way.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more. Currently, it is {count}.")
    if count == 0 or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        taken = bool(libc.mallopt(_M_ARENA_MAX, count))
    except (OSError, AttributeError) as exc:  # a glibc that cannot be opened or has no mallopt: keep its default
        log.warning("Could not limit malloc arenas: %s", exc)
        return False
    if not taken:
        log.warning("glibc refused to limit malloc arenas to %d.", count)
    return taken
