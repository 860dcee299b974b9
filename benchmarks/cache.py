"""The persistent compilation cache, measured: wall time of `kgraph run` in fresh processes.

    python benchmarks/cache.py [FILE.kg --feed ...]   (default: examples/mlp.kg, else a built-in MLP)

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

ROOT = Path(__file__).resolve().parent.parent

# A two-layer MLP with its gradients, for when examples/mlp.kg is not there.
MLP = """\
placeholder x: float32[None, 64]
placeholder y: float32[None, 10]
variable W1 = random_normal_variable((64, 128), mean=0.0, scale=0.1, seed=0)
variable b1 = zeros((128,))
variable W2 = random_normal_variable((128, 10), mean=0.0, scale=0.1, seed=1)
variable b2 = zeros((10,))
h = softmax(dot(x, W1) + b1)
p = softmax(dot(h, W2) + b2)
loss = sum(categorical_crossentropy(y, p))
dW1, db1, dW2, db2 = gradients(loss, [W1, b1, W2, b2])
output loss, dW1, db1, dW2, db2
"""
MLP_FEEDS = ["--feed", "x=" + str([[0.5] * 64] * 8), "--feed", "y=" + str([[1] + [0] * 9] * 8)]


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
        elif (ROOT / "examples" / "mlp.kg").exists():
            args = [str(ROOT / "examples" / "mlp.kg")]
        else:
            path = Path(tmp) / "mlp.kg"
            path.write_text(MLP)
            args = [str(path), *MLP_FEEDS]
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
