"""kgraph in IPython and Jupyter: `%load_ext kgraph`.

- `%%kgraph [options]` compiles the cell as a `.kg` program, feeds each placeholder from
  the notebook variable of the same name (or from `--feed NAME=VALUE`, as `kgraph run`
  takes it), runs it and shows the outputs as a table. `--name prog` keeps the compiled
  `Program` in the notebook as `prog`; `--no-run` only compiles, and shows the program.
- `%kgraph_ops NAME` shows one op's documentation and runs its example, as `kgraph ops`.
- A `KGraphError` shows as `file:line:col: error: ...`, the highlighted line and the caret,
  never a traceback, whatever `%xmode` says (IPython's custom exception hook).
- The training loop (`kgraph.train.train`) shows a live progress bar and, at the end of
  each epoch, a curve of the scalar outputs (`TrainingView`).
"""
from __future__ import annotations

import argparse
import html
import math
import shlex
import time

import numpy as np
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import HTML, display

from .commands.ops_cmd import describe
from .commands.run import parse_feeds
from .display import Outputs, error_html
from .errors import FeedError, KGraphError
from .ops import REGISTRY
from .program import compile as compile_program
from .values import did_you_mean

REFRESH_S = 0.25  # the bar is redrawn at most this often
CURVE_POINTS = 200  # without epochs, about this many points on the curve


def cell_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%%kgraph", add_help=False,
                                description="compile and run the cell as a .kg program")
    p.add_argument("--feed", action="append", default=[], metavar="NAME=VALUE",
                   help="a feed as `kgraph run` takes it (a file, a literal); otherwise the "
                        "notebook variable named like the placeholder")
    p.add_argument("--name", metavar="VAR", help="keep the compiled Program as notebook variable VAR")
    p.add_argument("--no-run", action="store_true", help="compile only, and show the Program")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2), default=2)
    p.add_argument("--floatx", default="float32")
    p.add_argument("--seed", type=int, default=0)
    return p


class UsageError(KGraphError):
    """A `%%kgraph` line that does not parse."""


@magics_class
class KGraphMagics(Magics):
    @cell_magic
    def kgraph(self, line: str, cell: str):
        """%%kgraph [--feed NAME=VALUE] [--name VAR] [--no-run] [-O N] [--floatx T] [--seed S]"""
        args = _parse_line(line)
        count = getattr(self.shell, "execution_count", 0)
        # A blank first line stands for the %%kgraph line, so lines count as the cell shows them.
        prog = compile_program("\n" + cell, filename=f"<cell {count}>", opt_level=args.opt_level,
                               floatx=args.floatx, seed=args.seed)
        if args.name:
            self.shell.user_ns[args.name] = prog
        if args.no_run:
            return prog
        feeds = parse_feeds(prog, args.feed) if args.feed else {}
        for name in prog.placeholders:
            if name in feeds:
                continue
            if name not in self.shell.user_ns:
                raise FeedError(f"placeholder '{name}' has no feed: define a notebook variable "
                                f"`{name}` or add `--feed {name}=VALUE` to the %%kgraph line")
            feeds[name] = self.shell.user_ns[name]
        return Outputs(prog.run(**feeds))

    @line_magic
    def kgraph_ops(self, line: str):
        """%kgraph_ops NAME: one op's documentation and its example, run now."""
        name = line.strip()
        if name not in REGISTRY:
            hint = did_you_mean(name, list(REGISTRY))
            raise KGraphError(f"there is no op {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
        text, _ = describe(name)
        display(HTML(f"<pre>{html.escape(text)}</pre>"))


def _parse_line(line: str) -> argparse.Namespace:
    parser = cell_parser()
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(f"%%kgraph: {e}") from None
    try:
        args, extra = parser.parse_known_args(words)
    except SystemExit:  # argparse's way to reject a value
        raise UsageError(f"%%kgraph: cannot read the options {line.strip()!r}; "
                         f"{parser.format_usage().strip()}") from None
    if extra:
        raise UsageError(f"%%kgraph: unknown option {extra[0]!r}; {parser.format_usage().strip()}")
    return args


def show_error(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception hook for KGraphError: the located message, no traceback."""
    display(HTML(error_html(value)))
    return []


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(KGraphMagics)
    ipython.set_custom_exc((KGraphError,), show_error)


# ---- training you can watch ----------------------------------------------------------------

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
