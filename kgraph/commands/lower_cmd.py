"""`kgraph lower`: what kgraph hands to XLA (a jaxpr, StableHLO, or XLA's optimised HLO)."""
from __future__ import annotations

import argparse
import re
import sys

import numpy as np

from .. import limits
from .. import mesh as meshes
from ..errors import FeedError
from ..program import load
from ..types import DTYPES, TensorType, np_dtype
from .options import add_compile_options

NAME = "lower"
HELP = "show the jaxpr, StableHLO or compiled HLO that a program becomes"
DESCRIPTION = """\
Show what kgraph hands to XLA for FILE.kg, after the optimizer:
  --emit jaxpr       JAX's intermediate form (the default)
  --emit stablehlo   the StableHLO module XLA receives
  --emit hlo         XLA's optimised HLO, after its own compile

Lowering needs concrete shapes. A None or named dimension is taken as 1 (with a
note on standard error) unless --feed-shape gives the placeholder's shape; the
same name always gets the same size.

examples:
  kgraph lower examples/logreg.kg
  kgraph lower examples/logreg.kg --emit stablehlo --feed-shape x=float32[8,4] --feed-shape y=[8,3]
  kgraph lower model.kg --emit hlo -O0
  kgraph lower model.kg --emit stablehlo --mesh data=8   with the sharding annotations
"""

_SHAPE = re.compile(r"^\s*(?P<dtype>[a-z0-9]+)?\s*\[(?P<dims>[^\]]*)\]\s*$")


def feed_shape(text: str) -> tuple[str, str | None, tuple[int, ...]]:
    """'x=float32[8,4]' or 'x=[8,4]' → ('x', 'float32', (8, 4)); an argparse type."""
    name, sep, spec = text.partition("=")
    m = _SHAPE.match(spec)
    if not sep or not name.strip() or m is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=DTYPE[DIMS], e.g. x=float32[8,4] "
                                         f"or x=[8,4]")
    dtype = m.group("dtype")
    if dtype is not None and dtype not in DTYPES:
        raise argparse.ArgumentTypeError(f"{text!r}: unknown dtype {dtype!r} (dtypes: {', '.join(DTYPES)})")
    dims = [d.strip() for d in m.group("dims").split(",") if d.strip()]
    if not all(d.isdigit() for d in dims):
        raise argparse.ArgumentTypeError(f"{text!r}: dimensions must be non-negative integers")
    return name.strip(), dtype, tuple(int(d) for d in dims)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE.kg", help="the program to lower")
    p.add_argument("--emit", choices=("jaxpr", "stablehlo", "hlo"), default="jaxpr",
                   help="what to show (default: jaxpr)")
    p.add_argument("--feed-shape", action="append", default=[], type=feed_shape, metavar="NAME=DTYPE[DIMS]",
                   help="a concrete shape for a placeholder, e.g. x=float32[8,4] (repeat for each)")
    p.add_argument("--device", choices=("cpu", "gpu", "tpu"), default=None,
                   help="the device to lower for (default: JAX's default device)")
    add_compile_options(p)
    meshes.add_arguments(p)


def concrete_feeds(program, given: list[tuple[str, str | None, tuple[int, ...]]]) -> tuple[dict, list[str]]:
    """Zero arrays of each placeholder's concrete shape, and notes on the dims that were guessed."""
    placeholders = program._source_graph.placeholders
    spans = program.module.leaf_spans
    shapes: dict[str, tuple[int, ...]] = {}
    for name, dtype, dims in given:
        if name not in placeholders:
            raise FeedError(f"--feed-shape {name}=...: the program has no placeholder '{name}' "
                            f"(placeholders: {', '.join(placeholders) or 'none'})")
        declared: TensorType = placeholders[name].type
        if dtype is not None and dtype != declared.dtype:
            raise FeedError(f"--feed-shape {name}: the placeholder is {declared}, not {dtype}", spans.get(name))
        if len(dims) != declared.ndim:
            raise FeedError(f"--feed-shape {name}: the placeholder is {declared}, rank {declared.ndim}, "
                            f"not {len(dims)}", spans.get(name))
        limits.check("max_elements", limits.elements(dims), f"--feed-shape {name}: the element count")
        shapes[name] = dims
    named: dict[str, int] = {}
    for name, dims in shapes.items():  # named dims take their size from the shapes given
        for want, got in zip(placeholders[name].shape, dims):
            if isinstance(want, str):
                named.setdefault(want, got)
    feeds, notes = {}, []
    for name, node in placeholders.items():
        if name in shapes:
            dims = shapes[name]
        else:
            dims = tuple(d if isinstance(d, int) else named.setdefault(d, 1) if isinstance(d, str) else 1
                         for d in node.shape)
            if not node.type.is_static():
                notes.append(f"note: placeholder {name}: {node.type} lowered as "
                             f"{node.dtype}[{', '.join(map(str, dims))}]; "
                             f"choose with --feed-shape {name}={node.dtype}[...]")
        feeds[name] = np.zeros(dims, dtype=np_dtype(node.dtype))
    return feeds, notes


def lowered_text(program, feeds: dict, emit: str) -> str:
    arguments = program.arguments(feeds)
    with program.running():
        traced = program._function().trace(*arguments)
        if emit == "jaxpr":
            return str(traced.jaxpr)
        lowered = traced.lower()
        if emit == "stablehlo":
            return lowered.as_text()
        return lowered.compile().as_text()


def main(args) -> int:
    mesh = meshes.mesh_from_args(args)
    program = load(args.file, opt_level=args.opt_level, floatx=args.floatx,
                   image_data_format=args.image_data_format, disabled_passes=tuple(args.disable_pass),
                   device=args.device, mesh=mesh)
    feeds, notes = concrete_feeds(program, args.feed_shape)
    for note in notes:
        print(note, file=sys.stderr)
    text = lowered_text(program, feeds, args.emit)
    print(text.rstrip("\n"))
    return 0
