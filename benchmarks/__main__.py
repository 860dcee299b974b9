"""`python -m benchmarks [--quick] [--only NAME ...]`: run the benchmarks and print ratios.

`--quick` runs the benchmarks that measure issue 16's goals (GOALS below) at smaller sizes and
ends with their table (benchmarks/goals.py); the full run runs every benchmark, 10k-node rows
included. A benchmark is a module of this package with `run(args) -> list[str]`; to add one,
add a line to BENCHMARKS (name -> module, imported only when it runs) and, if it measures one
of issue 16's goals, to GOALS, and have it call `goals.record` with its figure.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import time

from . import goals

BENCHMARKS = {
    "first": "first_result",
    "warm": "warm_start",
    "compile": "compile_time",
    "pytensor": "pytensor_side",
    "fusion": "fusion",
    "chain": "matrix_chain",
    "mlp": "mlp",
    "cnn": "cnn",
    "overhead": "overhead",
    "train": "train_steps",
    "mesh": "mesh",
    "rnn": "rnn",
    "deep": "deep_stack",
    "startup": "startup",
}

# The benchmarks that `--quick` runs: every figure of issue 16's goals, in the issue's order.
GOALS = ["first", "warm", "deep", "overhead", "mlp", "train", "startup", "chain"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="issue 16's goal benchmarks only, smaller sizes and fewer repeats")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    import jax

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
          f"{platform.python_version()}, jax {jax.__version__} on {jax.devices()[0].platform}, "
          f"load average {os.getloadavg()[0]:.1f}")
    names = args.only or (GOALS if args.quick else list(BENCHMARKS))
    start = time.perf_counter()
    for name in names:
        importlib.import_module(f".{BENCHMARKS[name]}", __package__).run(args)
        print(flush=True)
    goals.summary(quick=args.quick)
    print(f"\n{len(names)} benchmarks in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
