"""`kgraph check`: parse and type-check a program without running it."""
from __future__ import annotations

import argparse

from .. import mesh as meshes
from ..errors import KGraphError
from ..program import load
from .options import add_compile_options

NAME = "check"
HELP = "parse and type-check a program, print its signature and warnings"
DESCRIPTION = """\
Parse and type-check FILE.kg without running it. Prints the program's signature
(placeholders, variables and outputs with their dtypes and shapes; None and named
dimensions are kept) and every warning. Exits 1 on an error, or on a warning with
--strict.

examples:
  kgraph check examples/logreg.kg
  kgraph check model.kg --floatx float64
  kgraph check model.kg --strict         warnings count as errors
  kgraph check model.kg --mesh data=4,model=2   each leaf's layout and bytes per device
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.kg", help="the program to check")
    p.add_argument("--strict", action="store_true", help="exit 1 when there is any warning")
    add_compile_options(p)
    meshes.add_arguments(p)


def signature_lines(program) -> list[str]:
    graph = program._source_graph
    sections = [
        ("placeholders", [(name, node.type) for name, node in graph.placeholders.items()]),
        ("variables", [(name, node.type) for name, node in graph.variables.items()]),
        ("outputs", [(name, node.type) for name, node in graph.outputs]),
        ("updates", [(name, node.type) for name, node in graph.updates]),
    ]
    lines = []
    for title, entries in sections:
        if not entries and title == "updates":
            continue
        lines.append(f"{title}:" if entries else f"{title}: none")
        width = max(len(name) for name, _ in entries) if entries else 0
        lines += [f"  {name:<{width}}  {t}" for name, t in entries]
    return lines


def main(args) -> int:
    mesh = meshes.mesh_from_args(args)
    program = load(args.file, opt_level=args.opt_level, floatx=args.floatx,
                   image_data_format=args.image_data_format, disabled_passes=tuple(args.disable_pass),
                   mesh=mesh)
    print(f"{args.file}: ok, {len(program.warnings)} warning{'s' * (len(program.warnings) != 1)}")
    print("\n".join(signature_lines(program)))
    if mesh is not None:
        print("\n".join(program._layout.lines(program._source_graph)))
    if args.strict and program.warnings:
        raise KGraphError(f"{len(program.warnings)} warning(s), and --strict makes them errors")
    return 0
