"""`kgraph ops`: every op with its signature and meaning; one op in full, its example run live."""
from __future__ import annotations

import argparse
import sys

from ..docgen import describe, is_internal, listing, ops_table
from ..ops import REGISTRY
from ..values import did_you_mean

NAME = "ops"
HELP = "list the ops, or show one op's documentation and run its example"
DESCRIPTION = """\
Without NAME: every op of the language, by category, with its Keras signature and
what it does. With NAME: that op's documentation and an example, compiled and run
here and now.

examples:
  kgraph ops
  kgraph ops tile
  kgraph ops categorical_crossentropy -O0
  kgraph ops --markdown          the table that docs/language.md holds
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="an op to describe")
    p.add_argument("--markdown", action="store_true", help="print the op table as Markdown")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2), default=2, metavar="LEVEL",
                   help="optimisation level for running the example (default 2)")


def main(args) -> int:
    if args.markdown:
        print(ops_table())
        return 0
    if args.name is None:
        print(listing())
        return 0
    if args.name not in REGISTRY or is_internal(REGISTRY[args.name]):
        public = [n for n, op in REGISTRY.items() if not is_internal(op)]
        print(f"kgraph ops: error: there is no op '{args.name}'{did_you_mean(args.name, public)} "
              f"(`kgraph ops` lists them all)", file=sys.stderr)
        return 2
    text, ok = describe(args.name, args.opt_level)
    print(text)
    return 0 if ok else 1
