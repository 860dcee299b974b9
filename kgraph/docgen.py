"""The ops' documentation, generated from the op registry: the table of docs/language.md,
`kgraph ops`' listing and one op's page (`describe`, its example run live).

The registry is the one source of every op's signature and meaning: `kgraph ops`
prints it, and this module writes it into docs/language.md between the markers
below. A test checks that the committed table is the generated one.

    python -m kgraph.docgen            rewrite the table in docs/language.md
    python -m kgraph.docgen --check    exit 1 if it is out of date
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .display import to_text
from .errors import KGraphError
from .ops import REGISTRY, Op
from .program import compile as compile_program

START = "<!-- ops-table:start -->"
END = "<!-- ops-table:end -->"
DEFAULT_DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"

CATEGORY_ORDER = ("creation", "elementwise", "reduction", "reductions", "linalg", "shape", "nn",
                  "conv", "pool", "image", "gradients", "static", "debugging", "core")


def is_internal(op: Op) -> bool:
    """IR-only ops (leaves, grad, seeded random twins, the optimizer's): never called by name."""
    return op.category == "internal"


def public_ops() -> list[Op]:
    return [op for op in REGISTRY.values() if not is_internal(op)]


def by_category(ops: list[Op]) -> list[tuple[str, list[Op]]]:
    """Ops grouped by category (a fixed order, then any new ones A-Z), each group A-Z."""
    groups: dict[str, list[Op]] = {}
    for op in ops:
        groups.setdefault(op.category or "other", []).append(op)
    rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    order = sorted(groups, key=lambda c: (rank.get(c, len(rank)), c))
    return [(c, sorted(groups[c], key=lambda op: op.name)) for c in order]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def ops_table() -> str:
    lines = ["| category | op | meaning |", "| --- | --- | --- |"]
    for category, ops in by_category(public_ops()):
        for op in ops:
            lines.append(f"| {category} | `{_cell(op.signature)}` | {_cell(op.doc)} |")
    return "\n".join(lines)


def with_table(text: str, table: str) -> str:
    """`text` with the part between the markers replaced by `table`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} and {END} are missing or out of order")
    return text[: start + len(START)] + "\n" + table + "\n" + text[end:]


def listing() -> str:
    """`kgraph ops`: every public op by category, its signature and one line on what it does."""
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
        outputs = compile_program(op.example, filename=f"<example of {name}>", opt_level=opt_level).run()
    except KGraphError as e:
        lines += ["", "the example failed (a bug in kgraph's documentation):", e.render()]
        return "\n".join(lines), False
    lines += ["", "result:"] + ["  " + line for line in to_text(outputs).splitlines()]
    return "\n".join(lines), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kgraph.docgen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("doc", nargs="?", type=Path, default=DEFAULT_DOC)
    parser.add_argument("--check", action="store_true", help="exit 1 if the table is out of date")
    args = parser.parse_args(argv)
    old = args.doc.read_text(encoding="utf-8")
    new = with_table(old, ops_table())
    if args.check:
        if new != old:
            print(f"{args.doc}: the op table is out of date; run python -m kgraph.docgen", file=sys.stderr)
            return 1
        return 0
    if new != old:
        args.doc.write_text(new, encoding="utf-8")
        print(f"updated the op table in {args.doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
