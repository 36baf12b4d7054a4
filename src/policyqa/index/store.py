"""Build folders: written aside, made live by an atomic pointer switch, old ones removed.

Layout under ``<index_dir>/<fingerprint>/``: ``CURRENT`` names the live
``build-<time>-<pid>-<n>/`` folder; a build in progress is a hidden ``.build-….tmp``
folder, removed by a later build once its process is gone. A crash at any point
leaves the previous build live.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..errors import IndexCorruptError, IndexMissingError
from ..settings import Settings

_CURRENT = "CURRENT"


def index_home(settings: Settings) -> Path:
    return settings.index_dir / settings.index_fingerprint()


def new_build_folder(home: Path) -> tuple[str, Path]:
    """A fresh hidden folder to write a build into, and the name it will go live under."""
    home.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(home)
    build_name = f"build-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    tmp = home / f".{build_name}.tmp"
    tmp.mkdir()
    return build_name, tmp


def publish_build(home: Path, build_name: str, tmp: Path) -> Path:
    """Make a finished build live: flush it, move it in place, switch ``CURRENT``, drop older builds."""
    _fsync_tree(tmp)
    os.replace(tmp, home / build_name)
    _write_current(home, build_name)
    _remove_old_builds(home, keep=build_name)
    return home / build_name


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def _write_current(home: Path, build_name: str) -> None:
    tmp = home / f".{_CURRENT}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(build_name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, home / _CURRENT)


def _remove_abandoned_builds(home: Path) -> None:
    """Remove half-written builds of crashed runs (only those whose process is gone)."""
    for path in home.glob(".*.tmp"):
        pid_text = path.name.split("-")[2] if path.name.startswith(".build-") else ""
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_old_builds(home: Path, keep: str) -> None:
    for path in home.glob("build-*"):
        if path.name != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def current_build(settings: Settings) -> Path:
    """The live build's folder; IndexMissingError when none was built."""
    home = index_home(settings)
    pointer = home / _CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"No index for this configuration under {home}.")
    name = pointer.read_text(encoding="utf-8").strip()
    if not name.startswith("build-") or "/" in name or "\\" in name or ".." in name:
        raise IndexCorruptError(f"{pointer} names no build ({name[:40]!r}).")
    folder = home / name
    if not folder.is_dir():
        raise IndexCorruptError(f"{pointer} names {name}, which does not exist.")
    return folder
