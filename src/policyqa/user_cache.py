"""Files one process prepares for the next in the user's cache folder (``$XDG_CACHE_HOME/policyqa/…``).

Tables that take a second to build from a package's data (CC-CEDICT's index, jieba's
dictionary, the encoder's tokenizer and its weights, uncompressed) are kept here. They are
kept only in a folder that this user alone can write: another local user must not be able
to plant a file that a later process reads. A cache is a cache: missing, malformed or
unwritable, it means building the table again.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_home", "private_folder", "replace_file"]


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/policyqa`` (``~/.cache/policyqa`` by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "policyqa"


def private_folder(folder: Path) -> bool:
    """Makes the folder if needed; True when only this user can write it."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.stat()
    except OSError:
        return False
    return folder.is_dir() and status.st_uid == os.getuid() and not status.st_mode & 0o022


def replace_file(path: Path, data: bytes, stale: str | None = None) -> bool:
    """Writes ``path`` whole or not at all (a reader never sees half a file); False when it cannot.

    ``stale`` is a glob of the folder's earlier versions of the file, removed first.
    """
    try:
        if stale:
            for old in path.parent.glob(stale):
                old.unlink(missing_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        return False  # a read-only home: the next process builds the table again
    return True
