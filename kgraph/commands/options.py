"""The command-line options several subcommands share, in a module of their own so that
the subcommands need not import kgraph.cli (which imports them)."""
from __future__ import annotations

import argparse

from ..passes import DEFAULT_FOLD_LIMIT, PASS_NAMES


def add_compile_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the subcommands that compile a program."""
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2), default=2, metavar="LEVEL",
                   help="optimisation level: -O0 nothing, -O1 dead code/CSE/folding, -O2 all (default)")
    p.add_argument("--floatx", default="float32", choices=("float16", "bfloat16", "float32", "float64"),
                   help="the default float dtype (floatx()), float32 unless set")
    p.add_argument("--image-data-format", default="channels_last",
                   choices=("channels_last", "channels_first"),
                   help="the image ops' data_format when none is given (image_data_format()), "
                        "channels_last unless set")
    p.add_argument("--disable-pass", action="append", default=[], choices=PASS_NAMES, metavar="NAME",
                   help=f"skip one optimizer pass (repeatable): {', '.join(PASS_NAMES)}")
    p.add_argument("--no-scan-blocks", dest="disable_pass", action="append_const", const="scan-blocks",
                   help="keep a chain of calls of one def (a layer stack) unrolled, not one scan "
                        "(the same as --disable-pass scan-blocks)")
    p.add_argument("--fast-math", action="store_true",
                   help="also apply rewrites that are not exact for NaN/inf (x * 0 -> 0, ...)")
    p.add_argument("--fold-limit", type=int, default=DEFAULT_FOLD_LIMIT, metavar="N",
                   help=f"largest constant (elements) folding may create (default {DEFAULT_FOLD_LIMIT})")


def seed_value(text: str) -> int:
    """--seed's type: an integer from 0 to 2**63 - 1 (NumPy's shuffle and JAX's keys take these)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to 2**63 - 1, got {text}")
    return value
