"""`kgraph import`: a saved Keras model as a .kg program and a state file."""
from __future__ import annotations

import argparse
import sys

from ..keras_import import write_import

NAME = "import"
HELP = "translate a saved tf_keras model (.keras or legacy .h5) into a .kg program and its weights"
DESCRIPTION = """\
Read a saved tf_keras Sequential or functional model (a .keras file, or a
legacy .h5) without TensorFlow, and write a readable .kg program (one statement
or small def per layer) and its weights as a state file beside it (MODEL.npz,
unless --state names another). Needs h5py: pip install 'kgraph[keras]'.
A layer, activation or argument kgraph cannot translate exactly is an error
that names the layer, its class and its place in the model.

examples:
  kgraph import model.keras -o model.kg
  kgraph run model.kg --state model.npz --feed image=batch.npy
  kgraph run model.kg --state model.npz --feed image=batch.npy --learning-phase 1
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="MODEL.keras", help="the saved model (.keras or legacy .h5)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.kg", help="the program to write")
    p.add_argument("--state", metavar="FILE.npz",
                   help="where to write the weights (default: the output with the suffix .npz)")


def main(args) -> int:
    program, state = write_import(args.file, args.output, args.state)
    print(f"wrote {program} and {state}", file=sys.stderr)
    return 0
