"""`kgraph export`: compile a program once into a portable `.kgx` artifact."""
from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import KGraphError
from ..export import PLATFORMS, export_program, initial_values_warning
from ..program import load
from .options import add_compile_options, seed_value

NAME = "export"
HELP = "compile a program into a self-contained .kgx file (StableHLO + variables)"
DESCRIPTION = """\
Compile FILE.kg and write it with jax.export as a .kgx file: the serialized
StableHLO (None and named dimensions stay symbolic, so one file serves every
batch size), the variables' values and the signature. --state bakes the
values of a state file (from `kgraph run --state`) in; without it the
variables keep their initial values, and a program with `update` statements
(a training step) is exported with a warning that says so. `kgraph run model.kgx`
and kgraph.load("model.kgx") run it without the source or the compiler.
print_tensor cannot be exported.

examples:
  kgraph export examples/logreg.kg -o logreg.kgx
  kgraph export evaluate.kg -o digits.kgx --state digits_mlp.npz
  kgraph run logreg.kgx --feed x=examples/data/x.npy --feed y=examples/data/y.npy
  kgraph export model.kg -o model.kgx --platform cpu
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.kg", help="the program to export")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.kgx", help="the file to write")
    p.add_argument("--state", metavar="FILE.npz",
                   help="the variables' values to bake in (a state file from `kgraph run --state`)")
    p.add_argument("--platform", action="append", choices=("cpu", "cuda", "rocm", "tpu"), default=None,
                   help="a platform the artifact runs on (repeat for several; default: cpu and cuda)")
    p.add_argument("--seed", type=seed_value, default=0,
                   help="seed for random ops that have no seed of their own (default 0)")
    add_compile_options(p)


def main(args) -> int:
    program = load(args.file, opt_level=args.opt_level, floatx=args.floatx,
                   image_data_format=args.image_data_format, disabled_passes=tuple(args.disable_pass),
                   seed=args.seed)
    if not hasattr(program, "load_state"):
        raise KGraphError(f"{args.file} is already an exported program; export its .kg source")
    if args.state:
        program.load_state(args.state)
    elif program.updates:
        warnings.warn(initial_values_warning(program))
    path = export_program(program, args.output, platforms=args.platform or PLATFORMS)
    print(f"wrote {path} ({len(program.placeholders)} placeholders, {len(program.outputs)} outputs, "
          f"{len(program.variables)} variables)", file=sys.stderr)
    return 0
