"""`kgraph run --time`: where the time goes, stage by stage.

`compile(..., timings=)` records parse, build and optimize. The jitted function is
then lowered and compiled ahead of time (`.lower(...).compile()`), which splits
tracing to StableHLO from XLA's compile; the run that follows finds the executable
in JAX's in-memory cache, so its time is execution (plus a little dispatch).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

import jax

STAGES = ("parse", "build", "optimize", "lower", "XLA compile", "execute")

_cache_events: dict[str, int] = {}


def _count_event(event: str, **_: Any) -> None:
    if event.startswith("/jax/compilation_cache/cache_"):
        name = event.rsplit("_", 1)[-1]  # "hits" or "misses"
        _cache_events[name] = _cache_events.get(name, 0) + 1


_listening = False


def _listen_to_cache() -> None:
    global _listening
    if not _listening:
        jax.monitoring.register_event_listener(_count_event)
        _listening = True


@contextmanager
def timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def timed_run(program, feeds: dict[str, Any], timings: dict[str, float]) -> dict:
    """Run `program` once, adding lower / XLA compile / execute to `timings`."""
    _listen_to_cache()
    arguments = program.arguments(feeds)
    before = dict(_cache_events)
    with program.running():
        with timed(timings, "lower"):
            lowered = program._function().lower(*arguments)
        with timed(timings, "XLA compile"):
            lowered.compile()
    hits = _cache_events.get("hits", 0) - before.get("hits", 0)
    misses = _cache_events.get("misses", 0) - before.get("misses", 0)
    timings["_cache"] = "hit" if hits and not misses else "miss" if misses else ""
    with timed(timings, "execute"):
        return program.run(**feeds)


def format_timings(timings: dict[str, Any]) -> str:
    lines = ["time:"]
    total = 0.0
    for stage in STAGES:
        if stage not in timings:
            continue
        seconds = timings[stage]
        total += seconds
        note = ""
        if stage == "XLA compile" and timings.get("_cache"):
            note = f"  (persistent cache {timings['_cache']})"
        lines.append(f"  {stage:<12} {seconds * 1000:9.1f} ms{note}")
    lines.append(f"  {'total':<12} {total * 1000:9.1f} ms")
    return "\n".join(lines)
