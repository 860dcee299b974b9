"""Training progress: a rich progress bar on a terminal, plain lines otherwise, or nothing.

Reporters see each step's outputs as device arrays and copy the scalar ones to the
host only when they show them (a bar at most every REFRESH_S, lines every K steps),
so reporting does not make every step wait for the device.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from typing import Any

import numpy as np

REFRESH_S = 0.1


def make_reporter(log_every: int | None, total: int, out, per_epoch: int = 1, where: str = ""):
    """log_every: None for a progress bar (in a notebook, a live bar and curve), 0 for
    silence, K for a line every K steps. `where` ("on mesh data=8", say) is shown after
    the step count."""
    if log_every == 0:
        return Reporter()
    if log_every is None and in_notebook():
        from .training_view import TrainingView  # needs IPython, which a notebook has loaded

        return TrainingView(total, per_epoch)
    if log_every is None:
        return BarReporter(total, out, where)
    return LineReporter(total, log_every, out, where)


def in_notebook() -> bool:
    """True in a Jupyter kernel, where HTML displays are shown (not in a terminal IPython).
    IPython is only looked at if the process has imported it already."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def scalar_values(names: list[str], outs: list[Any]) -> str:
    """`loss=0.2031 acc=0.9` for the scalar outputs (this waits for them)."""
    parts = []
    for name, value in zip(names, outs):
        if getattr(value, "ndim", None) == 0:
            parts.append(f"{name}={_format(np.asarray(value))}")
    return "  ".join(parts)


def _format(v: np.ndarray) -> str:
    if v.dtype.kind in "iub":
        return str(v.item())
    return f"{float(v):.4g}"


class Rate:
    """Steps per second since the last time it was read, so one slow step (a compile for a
    new batch shape, say) shows as a dip and does not weigh on every later figure."""

    def __init__(self):
        self.step, self.elapsed = 1, 0.0  # timing starts when step 1 (with the compile) ends

    def read(self, step: int, elapsed: float) -> str:
        steps, seconds = step - self.step, elapsed - self.elapsed
        if steps <= 0 or seconds <= 0:
            return ""
        self.step, self.elapsed = step, elapsed
        return f"{steps / seconds:,.1f} steps/s"


class Reporter:
    """Reports nothing (--quiet)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def step(self, step: int, started: float, names: list[str], outs: list[Any]) -> None:
        """After each step; `started` is the perf_counter() time when step 1 ended."""

    def done(self, steps: int, started: float, names: list[str], outs: list[Any]) -> None:
        """After the last step (the last one asked for, or the one a Ctrl-C ended on)."""


class Tee(Reporter):
    """Several reporters as one: a progress bar and a metrics log, say."""

    def __init__(self, *reporters):
        self.reporters = reporters
        self.stack = contextlib.ExitStack()

    def __enter__(self):
        for r in self.reporters:
            self.stack.enter_context(r)
        return self

    def __exit__(self, *exc):
        return self.stack.__exit__(*exc)

    def step(self, step, started, names, outs):
        for r in self.reporters:
            r.step(step, started, names, outs)

    def done(self, steps, started, names, outs):
        for r in self.reporters:
            r.done(steps, started, names, outs)


class LineReporter(Reporter):
    def __init__(self, total: int, every: int, out, where: str = ""):
        self.total, self.every, self.out, self.where = total, every, out, where
        self.rate = Rate()

    def step(self, step, started, names, outs):
        if step % self.every == 0 or step == self.total:
            self._line(step, started, names, outs)

    def done(self, steps, started, names, outs):
        if steps % self.every and steps != self.total:  # interrupted between two lines
            self._line(steps, started, names, outs)

    def _line(self, step, started, names, outs):
        elapsed = time.perf_counter() - started
        parts = [f"step {step}/{self.total}", self.where, self.rate.read(step, elapsed),
                 scalar_values(names, outs)]
        print("  ".join(p for p in parts if p), file=self.out, flush=True)


class BarReporter(Reporter):
    def __init__(self, total: int, out, where: str = ""):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.total = total
        self.progress = Progress(TextColumn("step"), MofNCompleteColumn(), TextColumn(where), BarColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[rate]}"),
                                 TextColumn("{task.fields[values]}"),
                                 console=Console(file=out), refresh_per_second=10)
        self.task = self.progress.add_task("train", total=total, rate="", values="")
        self.shown = -math.inf
        self.rate = Rate()

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def step(self, step, started, names, outs):
        now = time.perf_counter()
        if now - self.shown >= REFRESH_S or step == self.total:
            self.shown = now
            self.progress.update(self.task, completed=step, rate=self.rate.read(step, now - started),
                                 values=scalar_values(names, outs))

    def done(self, steps, started, names, outs):
        rate = self.rate.read(steps, time.perf_counter() - started)
        self.progress.update(self.task, completed=steps, rate=rate or self.progress.tasks[0].fields["rate"],
                             values=scalar_values(names, outs))
