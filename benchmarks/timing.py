"""Repeat-and-summarise helpers shared by the benchmarks."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def measure(fn: Callable[[], object], repeats: int, number: int = 1) -> tuple[float, float]:
    """(min, median) seconds per call of `fn`, over `repeats` batches of `number` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times), statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, number: int = 1) -> dict:
    """Like `measure` for several functions, alternating them so that load hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - start) / number)
    return {k: (min(v), statistics.median(v)) for k, v in times.items()}


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def report(title: str, times: dict, ratios: list[tuple[str, str, str, str]]) -> list[str]:
    """Print and return the rows: each timing, then each ratio (label, numerator, denominator, note)."""
    rows = [title]
    for name, (lo, med) in times.items():
        rows.append(f"  {name:<20} min {fmt(lo):>10}  median {fmt(med):>10}")
    for label, top, bottom, note in ratios:
        (a_lo, a_med), (b_lo, b_med) = times[top], times[bottom]
        rows.append(f"  {label}: min {a_lo / b_lo:.3g}x  median {a_med / b_med:.3g}x  {note}".rstrip())
    print("\n".join(rows))
    return rows
