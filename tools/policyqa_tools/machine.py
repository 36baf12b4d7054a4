"""The machine a run is on, and what Linux's ``/proc`` says of a process (its memory and CPU time)."""

from __future__ import annotations

import os
import platform
import socket
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np


def describe() -> dict[str, object]:
    """Cores, CPU model, memory, Python, numpy/faiss versions, BLAS and OpenMP, and the load at the start."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    pools: list[dict[str, object]] = []
    try:
        from threadpoolctl import threadpool_info

        pools = [
            {k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
            for info in threadpool_info()
        ]
    except ImportError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "faiss": _package_version("faiss-cpu"),
        "blas": pools,
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _package_version(name: str) -> str:
    # Read from the installed distribution: importing faiss is the index package's business only.
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of a process in KiB; empty when it is gone."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line.split(":", 1)[0]] = int(line.split()[1])
    except (OSError, ValueError):
        return {}
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_env(scratch: Path) -> dict[str, str]:
    """This process's environment for a child ``policyqa`` process, its feedback database under ``scratch``."""
    env = dict(os.environ)
    env["POLICYQA_FEEDBACK_DB"] = str(scratch / "feedback.sqlite3")
    return env
