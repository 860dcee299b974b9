"""Training metrics on disk: `kgraph run ... --log metrics.csv` (or `.jsonl`), read back by
`kgraph plot` and the notebook's live curve.

A row holds the step, the epoch, every scalar output of the step, the steps per second
since the previous row and the seconds since training began (the first step's compile
included). Rows are written every `every` steps and at the last step, and flushed as
they are written, so a crash or a Ctrl-C keeps what was logged. Copying the outputs to
the host waits for the step, which is why rows come on a cadence and not every step.
Outputs that are not scalars are not logged (a row is a line of numbers).
"""
from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import KGraphError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
ROWS_PER_RUN = 200  # the default cadence: about this many rows in a run
FIXED = ("step", "epoch")
TIMING = ("steps_per_second", "time")


def log_format(path: str | Path) -> str:
    """'csv' or 'jsonl' from the file's suffix; a KGraphError for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise KGraphError(f"--log {path}: the file's suffix says its format: .csv, or .jsonl "
                          f"(JSON lines); got {suffix or 'no suffix'!r}")
    return FORMATS[suffix]


def default_every(steps: int) -> int:
    return max(1, steps // ROWS_PER_RUN)


class MetricsLog:
    """Appends a row every `every` steps (and at `total`) to `path`, as CSV or JSON lines."""

    def __init__(self, path: str | Path, total: int, every: int, per_epoch: int = 1):
        self.path, self.total, self.every, self.per_epoch = Path(path), total, every, per_epoch
        self.format = log_format(path)
        self.columns: list[str] | None = None
        self.began = time.perf_counter()
        self.last = (0, self.began)  # (step, time) of the previous row
        self.rows: list[dict[str, float]] = []  # everything written, for a live curve

    def __enter__(self):
        try:
            self.file = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as e:
            raise KGraphError(f"--log: cannot write {self.path}: {e.strerror}") from None
        return self

    def __exit__(self, *exc):
        self.file.close()

    def step(self, step: int, started: float, names: list[str], outs: list[Any]) -> None:
        if step % self.every == 0 or step == self.total:
            self.write(step, names, outs)

    def done(self, steps: int, started: float, names: list[str], outs: list[Any]) -> None:
        if self.last[0] != steps:  # a Ctrl-C between two rows
            self.write(steps, names, outs)

    def write(self, step: int, names: list[str], outs: list[Any]) -> dict[str, float]:
        now = time.perf_counter()
        row: dict[str, float] = {"step": step, "epoch": (step - 1) // self.per_epoch + 1}
        for name, value in zip(names, outs):
            if getattr(value, "ndim", None) == 0:
                row[name] = _number(np.asarray(value))
        then_step, then = self.last
        rate = (step - then_step) / (now - then) if now > then else math.nan
        row["steps_per_second"] = round(rate, 3)
        row["time"] = round(now - self.began, 4)
        self.last = (step, now)
        if self.columns is None:
            self.columns = list(row)
            if self.format == "csv":
                self.writer = csv.DictWriter(self.file, self.columns)
                self.writer.writeheader()
        if self.format == "csv":
            self.writer.writerow(row)
        else:
            self.file.write(json.dumps({k: _json_number(v) for k, v in row.items()}) + "\n")
        self.file.flush()
        self.rows.append(row)
        return row


def _number(v: np.ndarray) -> float | int:
    return v.item() if v.dtype.kind in "iub" else float(v)


def _json_number(v: float) -> float | str | None:
    """JSON has no NaN or infinity: they are written as the strings Python reads back."""
    return v if not isinstance(v, float) or math.isfinite(v) else repr(v)


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """The rows of a metrics file written by `MetricsLog` (CSV or JSON lines)."""
    fmt = log_format(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            if fmt == "csv":
                rows = [{k: _float(v, path) for k, v in r.items()} for r in csv.DictReader(f)]
            else:
                rows = [{k: _float(v, path) for k, v in json.loads(line).items()}
                        for line in f if line.strip()]
    except OSError as e:
        raise KGraphError(f"cannot read {path}: {e.strerror}") from None
    except (json.JSONDecodeError, AttributeError, csv.Error) as e:
        raise KGraphError(f"{path} is not a metrics file written by `kgraph run --log`: {e}") from None
    if not rows:
        raise KGraphError(f"{path} has no rows: was the training run that writes it interrupted "
                          f"before its first row?")
    return rows


def _float(value: Any, path) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise KGraphError(f"{path}: {value!r} is not a number; a metrics file holds numbers only") from None


def metric_names(rows: list[dict[str, float]]) -> list[str]:
    """The logged outputs: every column but the step, epoch and timing ones."""
    return [k for k in rows[0] if k not in FIXED + TIMING]
