"""Training you can watch in a notebook: a live HTML progress bar and a curve of the scalar
outputs (`kgraph.train.train` picks `TrainingView` in a Jupyter kernel; see progress.py).

It needs IPython, which a notebook has loaded: progress.py imports this module only there.
"""
from __future__ import annotations

import html
import math
import time

import numpy as np
from IPython.display import HTML, display

REFRESH_S = 0.25  # the bar is redrawn at most this often
CURVE_POINTS = 200  # without epochs, about this many points on the curve


class TrainingView:
    """A training loop reporter for notebooks: an HTML progress bar, and a curve of the scalar
    outputs redrawn at the end of each epoch (or every `total / CURVE_POINTS` steps)."""

    def __init__(self, total: int, per_epoch: int = 1):
        self.total, self.per_epoch = total, per_epoch
        self.every = per_epoch if per_epoch > 1 else max(1, total // CURVE_POINTS)
        self.points: list[tuple[int, dict[str, float]]] = []
        self.shown = -math.inf

    def __enter__(self):
        self.bar = display(HTML(self._bar(0, "")), display_id=True)
        self.curve = display(HTML(""), display_id=True)
        return self

    def __exit__(self, *exc):
        return None

    def step(self, step, started, names, outs):
        if step % self.every == 0 or step == self.total:
            self._record(step, names, outs)
            self.curve.update(HTML(curve_svg(self.points)))
        now = time.perf_counter()
        if now - self.shown >= REFRESH_S or step == self.total:
            self.shown = now
            rate = (step - 1) / (now - started) if step > 1 and now > started else 0.0
            self.bar.update(HTML(self._bar(step, f"{rate:,.1f} steps/s" if rate else "")))

    def done(self, steps, started, names, outs):
        if not self.points or self.points[-1][0] != steps:
            self._record(steps, names, outs)
            self.curve.update(HTML(curve_svg(self.points)))
        elapsed = time.perf_counter() - started
        rate = (steps - 1) / elapsed if steps > 1 and elapsed > 0 else 0.0
        self.bar.update(HTML(self._bar(steps, f"{rate:,.1f} steps/s" if rate else "")))

    def _record(self, step, names, outs) -> None:
        values = {n: float(np.asarray(v)) for n, v in zip(names, outs) if getattr(v, "ndim", None) == 0}
        self.points.append((step, values))

    def _bar(self, step: int, rate: str) -> str:
        last = self.points[-1][1] if self.points else {}
        values = "  ".join(f"{k}={v:.4g}" for k, v in last.items())
        epoch = f" · epoch {(max(step, 1) - 1) // self.per_epoch + 1}" if self.per_epoch > 1 else ""
        return (f"<div style='font-family:monospace'><progress value='{step}' max='{self.total}' "
                f"style='width:40%'></progress> step {step}/{self.total}{epoch}  {rate}  "
                f"{html.escape(values)}</div>")


def curve_svg(points: list[tuple[int, dict[str, float]]], width: int = 560, height: int = 140) -> str:
    """Each scalar output against the step, one small inline SVG panel per output."""
    if not points:
        return ""
    names = list(points[-1][1])
    panels = []
    for name in names:
        xy = [(s, v[name]) for s, v in points if name in v and math.isfinite(v[name])]
        if not xy:
            continue
        xs, ys = [p[0] for p in xy], [p[1] for p in xy]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(ys)
        y1 = y1 if y1 > y0 else y0 + 1
        left, pad = 56, 24  # room for the value labels on the left
        coords = " ".join(f"{left + (x - x0) / (x1 - x0) * (width - left - pad):.1f},"
                          f"{height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad):.1f}" for x, y in xy)
        panels.append(
            f"<svg width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg' "
            f"style='font-family:monospace;font-size:11px'>"
            f"<rect x='{left}' y='{pad}' width='{width - left - pad}' height='{height - 2 * pad}' "
            f"fill='none' stroke='#ccc'/>"
            f"<polyline points='{coords}' fill='none' stroke='#1f77b4' stroke-width='1.5'/>"
            f"<text x='{left}' y='{pad - 8}'>{html.escape(name)}: {ys[-1]:.4g} "
            f"(step {xs[-1]})</text>"
            f"<text x='2' y='{pad + 4}'>{y1:.3g}</text><text x='2' y='{height - pad}'>{y0:.3g}</text>"
            f"</svg>")
    return "<div>" + "".join(panels) + "</div>"
