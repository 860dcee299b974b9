"""`kgraph run`: compile a program, feed it, print its outputs."""
from __future__ import annotations

import argparse
import json
import sys

from .. import mesh as meshes
from .. import train, warm
from ..display import to_json, to_text
from ..errors import KGraphError
from ..feeds import parse_feeds
from ..state import save_state_file
from ..timing import format_timings, timed_run
from ..trace import format_steps, trace
from .options import add_compile_options, seed_value

NAME = "run"
HELP = "compile and run a program, printing its outputs"
DESCRIPTION = """\
Compile FILE.kg and run it once, printing every output.

feeds (--feed NAME=VALUE, one per placeholder):
  x=data.npy           a NumPy .npy file
  x=data.npz           the one array in a .npz file (x=data.npz:key to choose one)
  x=data.csv           a CSV file of numbers
  x='[[1, 2], [3, 4]]' a JSON literal (a number, or nested lists)
  x=-                  a .npy file read from standard input

examples:
  kgraph run examples/quickstart.kg
  kgraph run examples/logreg.kg --feed x='[[1, 2, 3, 4]]' --feed y='[[0, 0, 1]]'
  kgraph run model.kg --feed x=batch.npy --format json
  kgraph run model.kg --feed x=batch.npy --out results.npz -O0
  kgraph run examples/backend_tour.kg --trace     the value of every named step
  kgraph run model.kg --feed x=batch.npy --time   time per stage, parse to execute
  kgraph run examples/digits/train.kg --feed x=examples/digits/digits.npz:x_train \\
    --feed y=examples/digits/digits.npz:y_train --batch-size 32 --epochs 20 --state ckpt.npz
  kgraph run model.kg --feed x=batch.npy --mesh data=8   split the batch over 8 devices
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.kg", help="the program to run (or a .kgx from `kgraph export`)")
    p.add_argument("--feed", action="append", default=[], metavar="NAME=VALUE",
                   help="a value for a placeholder (repeat for each)")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="how to print outputs: readable text (default) or one JSON object")
    p.add_argument("--out", metavar="FILE.npz", help="write the outputs to a .npz file instead of printing")
    p.add_argument("--device", choices=("cpu", "gpu", "tpu"), default=None,
                   help="where to run (default: JAX's default device)")
    p.add_argument("--seed", type=seed_value, default=0,
                   help="seed for random ops that have no seed of their own, and for --shuffle (default 0)")
    p.add_argument("--learning-phase", type=int, choices=(0, 1), default=None,
                   help="the value of learning_phase(): 0 (test) or 1 (train); default 0 for one "
                        "run and 1 for the steps of --steps/--epochs")
    p.add_argument("--trace", action="store_true",
                   help="print every named step (name, type, value, source line) before the outputs")
    p.add_argument("--time", action="store_true",
                   help="print the time spent in parse, build, optimize, lower, XLA compile and execute")
    add_compile_options(p)
    train.add_arguments(p)
    meshes.add_arguments(p)


def cacheable(args, mesh) -> bool:
    """The program cache (docs/cache.md) serves runs that need no more than the executable:
    not --mesh, --trace, --time or a training loop."""
    return mesh is None and not (args.trace or args.time or train.is_training(args) or args.save_every)


def main(args) -> int:
    timings: dict = {}
    mesh = meshes.mesh_from_args(args)  # first: joining other processes precedes all JAX work
    if mesh is not None and not meshes.writes_files():
        args.quiet, args.out = True, None  # process 0 prints and writes for all of them
    options = {"mesh": mesh} if mesh is not None else {}
    program = warm.load(args.file, cache=None if cacheable(args, mesh) else False, opt_level=args.opt_level,
                        floatx=args.floatx, image_data_format=args.image_data_format, seed=args.seed,
                        device=args.device, timings=timings, disabled_passes=tuple(args.disable_pass),
                        fast_math=args.fast_math, fold_limit=args.fold_limit, **options)
    feeds = parse_feeds(program, args.feed)
    if args.learning_phase is not None:
        program.training = bool(args.learning_phase)
    code = train.prepare(program, args)  # reads --state, so --trace shows the loaded variables
    if code is not None:
        return code
    if args.trace:
        to = sys.stderr if args.format == "json" or args.out else sys.stdout
        print(format_steps(trace(program, feeds), program.filename), file=to, flush=True)

    def timed_once():
        outputs = timed_run(program, feeds, timings)
        print(format_timings(timings), file=sys.stderr)
        return outputs
    code, outputs = train.run_from_args(program, feeds, args, timed_once if args.time else None)
    if outputs is None:
        return code
    if args.out:
        # As np.savez: a name without .npz gets it; and the message names the file written.
        path = args.out if args.out.endswith(".npz") else args.out + ".npz"
        save_state_file(path, outputs, "outputs file", KGraphError)
        if not args.quiet:
            print(f"wrote {len(outputs)} outputs to {path}", file=sys.stderr)
        return 0
    if args.quiet:
        return 0
    if args.format == "json":
        print(json.dumps(to_json(outputs)))
    else:
        print(to_text(outputs))
    return 0
