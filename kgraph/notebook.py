"""kgraph in IPython and Jupyter: `%load_ext kgraph`.

- `%%kgraph [options]` compiles the cell as a `.kg` program, feeds each placeholder from
  the notebook variable of the same name (or from `--feed NAME=VALUE`, as `kgraph run`
  takes it), runs it and shows the outputs as a table. `--name prog` keeps the compiled
  `Program` in the notebook as `prog`; `--no-run` only compiles, and shows the program.
- `%kgraph_ops NAME` shows one op's documentation and runs its example, as `kgraph ops`.
- A `KGraphError` shows as `file:line:col: error: ...`, the highlighted line and the caret,
  never a traceback, whatever `%xmode` says (IPython's custom exception hook).
- The training loop (`kgraph.train.train`) shows a live progress bar and, at the end of
  each epoch, a curve of the scalar outputs (`TrainingView`, in kgraph/training_view.py).
"""
from __future__ import annotations

import argparse
import html
import shlex

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import HTML, display

from .docgen import describe
from .display import Outputs, error_html
from .errors import FeedError, KGraphError
from .feeds import parse_feeds
from .ops import REGISTRY
from .program import compile as compile_program
from .values import did_you_mean


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
