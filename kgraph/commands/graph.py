"""`kgraph graph`: a picture of the IR, drawn with Graphviz."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import KGraphError
from ..dot import FORMATS, render, to_dot
from ..program import load
from .options import add_compile_options

NAME = "graph"
HELP = "draw a program's IR as .svg, .png, .pdf or .dot"
DESCRIPTION = """\
Draw the IR of FILE.kg (after the optimizer, at the -O level given) with Graphviz.
Placeholders, variables, constants, outputs and gradients each have their own shape
and colour; every node shows its op and type; fused regions are boxed clusters.

.dot needs only Python; .svg, .png and .pdf need Graphviz's `dot` program
(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz;
conda: conda install graphviz). Without -o the .dot text goes to standard output.

examples:
  kgraph graph examples/logreg.kg -o logreg.svg
  kgraph graph examples/logreg.kg -o logreg.dot -O0    the graph as written
  kgraph graph model.kg | dot -Tpng > model.png
"""

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.kg", help="the program to draw")
    p.add_argument("-o", "--output", metavar="OUT", default=None,
                   help="where to write: OUT.svg, OUT.png, OUT.pdf or OUT.dot (default: .dot text "
                        "on standard output)")
    add_compile_options(p)


def main(args) -> int:
    fmt = "dot"
    if args.output is not None:
        fmt = Path(args.output).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            print(f"kgraph graph: error: cannot write {args.output!r}: the name must end in "
                  f"{', '.join('.' + f for f in FORMATS)}", file=sys.stderr)
            return 2
    program = load(args.file, opt_level=args.opt_level, floatx=args.floatx,
                   disabled_passes=tuple(args.disable_pass), image_data_format=args.image_data_format)
    dot = to_dot(program.graph, f"{Path(args.file).name} (-O{args.opt_level})")
    if args.output is None:
        sys.stdout.write(dot.source)
        return 0
    if fmt in ("dot", "gv"):
        _write(args.output, dot.source.encode())
        return 0
    _write(args.output, render(dot, fmt, args.output))
    return 0


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise KGraphError(f"cannot write {path}: {e.strerror or e}") from None
    print(f"wrote {path}", file=sys.stderr)
