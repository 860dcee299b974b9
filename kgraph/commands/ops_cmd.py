"""`kgraph ops`: every op with its signature and meaning; one op in full, its example run live."""
from __future__ import annotations

import argparse
import sys

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


def listing() -> str:
    from ..docgen import by_category, public_ops

    groups = by_category(public_ops())
    width = min(max(len(op.signature) for _, ops in groups for op in ops), 36)
    lines = []
    for category, ops in groups:
        lines.append(f"{category}:")
        for op in ops:
            if len(op.signature) > width:  # a long signature gets its own line
                lines += [f"  {op.signature}", f"  {'':<{width}}  {op.doc}"]
            else:
                lines.append(f"  {op.signature:<{width}}  {op.doc}")
    lines.append("\n`kgraph ops NAME` shows one op with an example.")
    return "\n".join(lines)


def describe(name: str, opt_level: int = 2) -> tuple[str, bool]:
    """One op's documentation and its example's output; (text, whether the example ran)."""
    from ..errors import KGraphError
    from ..ops import REGISTRY
    from ..program import compile
    from .run import to_text

    op = REGISTRY[name]
    lines = [op.signature, f"  {op.doc}"]
    if op.category:
        lines.append(f"  category: {op.category}")
    tensors = [p.name for p in op.params if p.kind in ("tensor", "tensors")]
    functions = [p.name for p in op.params if p.kind == "function"]
    if functions:
        lines.append(f"  function arguments: {', '.join(functions)} (a `def` name or a `lambda`)")
    if tensors:
        lines.append(f"  tensor arguments: {', '.join(tensors)}; the others are known at compile time")
    if not op.example:
        lines.append("\n(no example)")
        return "\n".join(lines), True
    lines += ["", "example:"] + ["  " + line for line in op.example.strip().splitlines()]
    try:
        outputs = compile(op.example, filename=f"<example of {name}>", opt_level=opt_level).run()
    except KGraphError as e:
        lines += ["", "the example failed (a bug in kgraph's documentation):", e.render()]
        return "\n".join(lines), False
    lines += ["", "result:"] + ["  " + line for line in to_text(outputs).splitlines()]
    return "\n".join(lines), True


def main(args) -> int:
    from ..values import did_you_mean
    from ..docgen import is_internal, ops_table
    from ..ops import REGISTRY

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
