"""`python -m benchmarks [--quick] [--only NAME ...]`: run the benchmarks and print ratios."""
from __future__ import annotations

import argparse
import os
import platform

from . import (cnn, compile_time, first_result, fusion, matrix_chain, mesh, mlp, overhead, pytensor_side, rnn,
               train_steps)

BENCHMARKS = {"first": first_result, "compile": compile_time, "pytensor": pytensor_side, "fusion": fusion,
              "chain": matrix_chain, "mlp": mlp, "cnn": cnn, "overhead": overhead, "train": train_steps,
              "mesh": mesh, "rnn": rnn}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    import jax

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
          f"{platform.python_version()}, jax {jax.__version__} on {jax.devices()[0].platform}")
    for name, module in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        module.run(args)
        print()


if __name__ == "__main__":
    main()
