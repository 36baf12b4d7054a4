"""Encoding on every core: worker processes, one BLAS thread each, writing rows straight into a file.

A build's encoder time is numpy on one thread (``embed.limit_blas_threads``: a
second BLAS thread on two cores made small matrices slower, not faster), so the
cores are used by processes instead. Each worker loads the encoder once
(``embed.get_encoder``), takes batches of texts sorted by length and writes its
rows with ``os.pwrite`` at their place in the destination ``.npy``: the parent
never holds the vectors, and the only thing sent back is a count.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

# Below this many texts the pool costs more than it saves (a worker loads the
# encoder in ~1-2 s); the texts are encoded in this process.
POOL_MIN_TEXTS = 4_096
# Texts per task: USE packs a batch's tokens flat (no padding), so the size only
# trades progress granularity against per-task overhead.
BATCH_TEXTS = 256

EncodeFn = Callable[[list[str]], np.ndarray]


def worker_count(requested: int = 0) -> int:
    """The processes to use: ``requested``, or every core this process may run on when 0."""
    if requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def by_length(texts: Sequence[str]) -> list[int]:
    """Indices of ``texts``, shortest first: consecutive batches then hold texts of like length."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


def write_rows(fd: int, data_offset: int, first_row: int, rows: np.ndarray) -> None:
    """Write float32 ``rows`` at row ``first_row`` of the array whose data starts at ``data_offset``."""
    block = np.ascontiguousarray(rows, dtype=np.float32)
    view = memoryview(block.reshape(-1).view(np.uint8).data)
    offset = data_offset + first_row * block.shape[1] * 4
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


# --- the worker side -------------------------------------------------------------------------------

_worker: dict[str, object] = {}


def _init_worker(encoder_name: str, method: str, path: str) -> None:
    from ..embed import get_encoder

    encoder = get_encoder(encoder_name)  # sets this process's BLAS limit to one thread
    _worker["encode"] = getattr(encoder, method)
    _worker["fd"] = os.open(path, os.O_WRONLY)


def _encode_task(task: tuple[list[str], int, int]) -> int:
    texts, data_offset, first_row = task
    encode = _worker["encode"]
    assert callable(encode)
    fd = _worker["fd"]
    assert isinstance(fd, int)
    write_rows(fd, data_offset, first_row, encode(texts))
    return len(texts)


# --- the parent side -------------------------------------------------------------------------------


def encode_into(
    texts: Sequence[str],
    path: Path,
    data_offset: int,
    first_row: int,
    *,
    encode: EncodeFn,
    encoder_name: str | None,
    method: str,
    processes: int,
) -> Iterator[int]:
    """Encode ``texts`` into rows ``first_row + i`` of the array file ``path``; yield the count done so far.

    With ``encoder_name`` (a name ``embed.get_encoder`` accepts), ``processes`` > 1 and
    enough texts, batches of ``BATCH_TEXTS`` go to worker processes that call
    ``method`` of their own encoder; otherwise ``encode`` runs here. Give texts
    sorted by length (``by_length``) so that a batch's texts are alike.
    """
    starts = range(0, len(texts), BATCH_TEXTS)
    done = 0
    if encoder_name is None or processes <= 1 or len(texts) < POOL_MIN_TEXTS:
        fd = os.open(path, os.O_WRONLY)
        try:
            for start in starts:
                batch = list(texts[start : start + BATCH_TEXTS])
                write_rows(fd, data_offset, first_row + start, encode(batch))
                done += len(batch)
                yield done
        finally:
            os.close(fd)
        return
    tasks = [(list(texts[start : start + BATCH_TEXTS]), data_offset, first_row + start) for start in starts]
    context = multiprocessing.get_context("spawn")  # no inherited FAISS/OpenMP threads or locks
    with context.Pool(
        min(processes, len(tasks)), initializer=_init_worker, initargs=(encoder_name, method, str(path))
    ) as pool:
        for count in pool.imap_unordered(_encode_task, tasks):
            done += count
            yield done
