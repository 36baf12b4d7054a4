"""Opening a SQLite file that several processes open at once (the feedback store, the shared state)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_RETRY_SECONDS = 0.05


def opened_while_locked(open_file: Callable[[], T], timeout_seconds: float) -> T:
    """``open_file()``, run again while SQLite refuses it as locked, for up to ``timeout_seconds``.

    Turning WAL on takes the file for itself, and SQLite refuses a second process that opens the
    file at that moment at once, without its busy timeout (two replicas starting together under
    load): the second waits for the first here instead of exiting. Any other error is raised at once.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            return open_file()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(_RETRY_SECONDS)
