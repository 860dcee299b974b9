"""`kgraph ir`: the IR before and after the optimizer, with what each pass did."""
from __future__ import annotations

import argparse

from ..diagnostics import print_code
from ..frontend import frontend
from ..ir import format_ir, toposort
from ..passes import run_pipeline
from ..program import read_source
from .options import add_compile_options

NAME = "ir"
HELP = "print a program's IR before and after optimisation, pass by pass"
DESCRIPTION = """\
Compile FILE.kg and print its IR as the front end built it, one line per pass
(nodes before → after, time taken, the rules that fired and how often), and the
IR that is lowered to JAX.

examples:
  kgraph ir examples/logreg.kg
  kgraph ir model.kg -O1                      only dce, cse and fold
  kgraph ir model.kg --disable-pass fuse      everything but fusion
  kgraph ir model.kg --fast-math --after      rules that are not exact for NaN/inf too
"""

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.kg", help="the program")
    p.add_argument("--after", action="store_true", help="print only the optimised IR")
    add_compile_options(p)


def main(args) -> int:
    graph = frontend(read_source(args.file), args.file, args.floatx,
                     image_data_format=args.image_data_format).graph
    optimised, reports = run_pipeline(graph, args.opt_level, args.disable_pass, args.fast_math,
                                      args.fold_limit)
    if args.after:
        print_code(format_ir(optimised), ir=True)
        return 0
    print(f"before ({len(toposort(graph.roots()))} nodes):")
    print_code(format_ir(graph), ir=True)
    print(f"passes (-O{args.opt_level}{', fast-math' if args.fast_math else ''}):")
    print(f"  {'pass':<13} {'before':>7} → {'after':<7} {'time':>11}  rules fired")
    for r in reports:
        print("  " + r.line())
    if not reports:
        print("  (none)")
    print(f"after ({len(toposort(optimised.roots()))} nodes):")
    print_code(format_ir(optimised), ir=True)
    return 0

