"""The persistent compilation cache, measured: wall time of `kgraph run` in fresh processes.

    python benchmarks/cache.py [FILE.kg --feed ...]   (default: examples/mlp.kg with a batch of 8)

Runs the program three times in new processes with an empty cache directory: the first
run compiles and fills the cache, the second should find XLA's executable there, and a
third with --no-cache compiles again for comparison. Each run's --time breakdown is kept,
so the saving shows up in the "XLA compile" line. Not a unit test: timings depend on the
machine.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

def run(args: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kgraph", "run", *args, "--time"], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"kgraph run failed:\n{proc.stderr}")
    compile_line = re.search(r"XLA compile .*", proc.stderr)
    return wall, compile_line.group(0) if compile_line else ""


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            args = sys.argv[1:]
        else:
            rng = np.random.default_rng(0)
            np.save(Path(tmp) / "x.npy", rng.standard_normal((8, 784), dtype=np.float32))
            np.save(Path(tmp) / "y.npy", np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)])
            args = [str(ROOT / "examples" / "mlp.kg"), "--feed", f"x={Path(tmp) / 'x.npy'}",
                    "--feed", f"y={Path(tmp) / 'y.npy'}"]
        env = dict(os.environ, KGRAPH_CACHE_DIR=str(Path(tmp) / "cache"))
        print(f"program: {args[0]}  (cache in a new empty directory)")
        for label, extra in (("first run (compiles, fills the cache)", []),
                             ("second run (from the cache)", []),
                             ("--no-cache run (compiles again)", ["--no-cache"])):
            wall, compile_line = run(args + extra, env)
            print(f"  {label:<40} wall {wall:6.2f} s   {compile_line.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
