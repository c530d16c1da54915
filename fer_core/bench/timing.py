"""Measurement helpers: repeated timings, min/median/max, ratios, peak memory, the machine.

Why ratios: the benchmark machine is shared (a training job and other engineers use the same two
cores), so absolute times drift by 2x within minutes. Contenders are therefore timed side by side
in one process, interleaved round-robin within each repeat, and each repeat yields a ratio; the
spread of those ratios (min / median / max) is what we report.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Stats:
    """min / median / max of repeated measurements."""

    min: float
    median: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if not values:
            raise ValueError("no measurements")
        return cls(min(values), statistics.median(values), max(values), len(values))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def fmt(self, digits: int = 2) -> str:
        """``median (min-max)``, the form every table in docs/benchmarks.md uses."""
        return f"{self.median:.{digits}f} ({self.min:.{digits}f}-{self.max:.{digits}f})"


def time_once(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_time(fn: Callable[[], Any], calls: int, warmup: int = 1) -> float:
    """Median wall seconds of ``calls`` calls after ``warmup`` untimed ones.

    The median of several short calls is the per-repeat figure: it ignores the odd call that the
    other jobs on the machine preempted.
    """
    for _ in range(warmup):
        fn()
    return statistics.median(time_once(fn) for _ in range(max(calls, 1)))


def rotate(items: Sequence[Any], k: int) -> list[Any]:
    """``items`` rotated by ``k``: repeat k runs contenders in a different order, so a slow spell
    of the machine does not always hit the same contender."""
    if not items:
        return []
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def rss_bytes() -> int:
    """Current resident set size of this process."""
    return _status_kb("VmRSS") * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident set size since the last :func:`reset_peak_rss` (or process start)."""
    kb = _status_kb("VmHWM")
    if kb:
        return kb * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_kb(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_info(threads: int) -> dict[str, Any]:
    """What ran the benchmark: CPU model, cores, memory, library versions, torch threads."""
    import cv2
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "torch_threads": threads,
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_avg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
