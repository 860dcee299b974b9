"""`kgraph plot`: the curves of a metrics file written by `kgraph run --log`."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import KGraphError
from ..metrics import metric_names, read_metrics

NAME = "plot"
HELP = "draw the training curves of a `kgraph run --log` metrics file (needs kgraph[plot])"
DESCRIPTION = """\
Draws each logged output of a metrics file (CSV or JSON lines, written by
`kgraph run --log FILE`) against the step, one panel per output, into a PNG
(or SVG or PDF, by the suffix of -o). Needs matplotlib: pip install 'kgraph[plot]'.

examples:
  kgraph run examples/digits/train.kg --feed x=examples/digits/digits.npz:x_train \\
      --feed y=examples/digits/digits.npz:y_train --batch-size 32 --epochs 5 --log metrics.csv
  kgraph plot metrics.csv -o loss.png
  kgraph plot metrics.csv -o loss.png --y loss --x epoch --log-y
"""

X_AXES = ("step", "epoch", "time")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="METRICS", help="a .csv or .jsonl file written by `kgraph run --log`")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the picture to write: .png, .svg or .pdf")
    p.add_argument("--y", action="append", metavar="NAME",
                   help="an output to draw (repeatable; default: every logged output)")
    p.add_argument("--x", choices=X_AXES, default="step", help="the horizontal axis (default step)")
    p.add_argument("--log-y", action="store_true", help="a logarithmic vertical axis")
    p.add_argument("--width", type=int, default=800, metavar="PX", help="width in pixels (default 800)")
    p.add_argument("--height", type=int, default=None, metavar="PX",
                   help="height in pixels (default 260 per panel)")


def figure(rows: list[dict[str, float]], names: list[str], x: str = "step", log_y: bool = False,
           width: int = 800, height: int | None = None):
    """A matplotlib Figure with one panel per name, drawn against `x`."""
    from matplotlib.figure import Figure  # an optional extra: imported only when drawing

    dpi = 100
    height = height or 260 * len(names)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    xs = [r[x] for r in rows]
    for i, name in enumerate(names):
        ax = fig.add_subplot(len(names), 1, i + 1)
        ax.plot(xs, [r.get(name, float("nan")) for r in rows], linewidth=1.5)
        ax.set_ylabel(name)
        if log_y:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    ax.set_xlabel({"time": "seconds"}.get(x, x))
    return fig


def main(args) -> int:
    if args.width < 16 or (args.height is not None and args.height < 16):
        raise KGraphError("--width and --height are pixels: at least 16 each")
    try:
        import matplotlib  # noqa: F401 - is the optional extra there?
    except ImportError:
        raise KGraphError("kgraph plot needs matplotlib, an optional extra: "
                          "pip install 'kgraph[plot]'") from None
    rows = read_metrics(args.file)
    logged = metric_names(rows)
    names = args.y or logged
    unknown = [n for n in names if n not in logged]
    if unknown:
        raise KGraphError(f"there is no output {unknown[0]!r} in the file; it logs "
                          f"{', '.join(logged) or 'no outputs'}")
    if not names:
        raise KGraphError(f"{args.file} logs no outputs (only scalar outputs are logged)")
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise KGraphError(f"-o {out}: the suffix says the format: .png, .svg or .pdf")
    try:
        figure(rows, names, args.x, args.log_y, args.width, args.height).savefig(out)
    except OSError as e:
        raise KGraphError(f"cannot write {out}: {e.strerror}") from None
    print(f"wrote {out} ({', '.join(names)} against {args.x}, {len(rows)} rows)")
    return 0
